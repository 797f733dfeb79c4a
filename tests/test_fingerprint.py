"""Fingerprints: blind to cosmetics, sensitive to behaviour."""

import pytest

import programs
from programs import fingerprint, functional_fingerprint, parse


def body(*lines: str, ret: str = "return u, m, v") -> programs.Program:
    return parse("def train(w, g, m, v, lr):\n" + "".join(f"  {x}\n" for x in lines) + f"  {ret}\n")


LION = body(
    "c = interp(g, m, 0.9)",
    "s = sign(c)",
    "wd = w * 0.1",
    "s = s + wd",
    "r = lr * 0.0001",
    "u = s * r",
    "m = interp(g, m, 0.99)",
)

SAME_AS_LION = {
    "renamed": body(
        "mix = interp(g, m, 0.9)",
        "dir = sign(mix)",
        "decay = w * 0.1",
        "dir = dir + decay",
        "rate = lr * 0.0001",
        "step = dir * rate",
        "m = interp(g, m, 0.99)",
        ret="return step, m, v",
    ),
    "dead code": body(
        "junk = cos(w)",
        "c = interp(g, m, 0.9)",
        "s = sign(c)",
        "wd = w * 0.1",
        "s = s + wd",
        "r = lr * 0.0001",
        "u = s * r",
        "v = interp(junk, v, 0.3)",  # dead across steps: v is never read
        "m = interp(g, m, 0.99)",
    ),
    "reordered": body(
        "r = lr * 0.0001",
        "wd = w * 0.1",
        "c = interp(g, m, 0.9)",
        "m = interp(g, m, 0.99)",
        "s = sign(c)",
        "s = wd + s",
        "u = r * s",
    ),
    "state in v": body(
        "c = interp(g, v, 0.9)",
        "s = sign(c)",
        "wd = w * 0.1",
        "s = s + wd",
        "r = lr * 0.0001",
        "u = s * r",
        "v = interp(g, v, 0.99)",
    ),
}

DIFFERENT_FROM_LION = {
    "b2 changed": body(
        "c = interp(g, m, 0.9)",
        "s = sign(c)",
        "wd = w * 0.1",
        "s = s + wd",
        "r = lr * 0.0001",
        "u = s * r",
        "m = interp(g, m, 0.98)",
    ),
    "non-commutative order": body(
        "c = interp(m, g, 0.9)",
        "s = sign(c)",
        "wd = w * 0.1",
        "s = s + wd",
        "r = lr * 0.0001",
        "u = s * r",
        "m = interp(g, m, 0.99)",
    ),
    "no weight decay": body(
        "c = interp(g, m, 0.9)",
        "s = sign(c)",
        "r = lr * 0.0001",
        "u = s * r",
        "m = interp(g, m, 0.99)",
    ),
    "signum": body(
        "m = interp(g, m, 0.9)",
        "s = sign(m)",
        "wd = w * 0.1",
        "s = s + wd",
        "r = lr * 0.0001",
        "u = s * r",
    ),
}


@pytest.mark.parametrize("variant", sorted(SAME_AS_LION))
def test_cosmetic_variants_share_the_structural_fingerprint(variant: str) -> None:
    assert fingerprint(SAME_AS_LION[variant]) == fingerprint(LION)


@pytest.mark.parametrize("variant", sorted(DIFFERENT_FROM_LION))
def test_behavioural_changes_change_the_structural_fingerprint(variant: str) -> None:
    assert fingerprint(DIFFERENT_FROM_LION[variant]) != fingerprint(LION)


def test_library_programs_are_pairwise_distinct() -> None:
    prints = {name: fingerprint(programs.library.load(name)) for name in programs.library.names()}
    assert len(set(prints.values())) == len(prints)
    functional = {
        name: functional_fingerprint(programs.library.load(name))
        for name in programs.library.names()
    }
    assert len(set(functional.values())) == len(functional)


def test_a_never_written_state_is_zero() -> None:
    # Reading m that is never written means reading zeros: same as using 0.0.
    reads_zero_state = body("a = g + m", "u = a * lr")
    reads_constant_zero = body("a = g + 0.0", "u = a * lr")
    assert fingerprint(reads_zero_state) != fingerprint(body("u = g * lr"))
    assert functional_fingerprint(reads_zero_state) == functional_fingerprint(reads_constant_zero)


@pytest.mark.parametrize("variant", sorted(SAME_AS_LION))
def test_functional_fingerprint_agrees_on_cosmetic_variants(variant: str) -> None:
    assert functional_fingerprint(SAME_AS_LION[variant]) == functional_fingerprint(LION)


def test_functional_fingerprint_sees_through_algebra() -> None:
    doubled = body("u = g * 2.0", "u = u * lr")
    added = body("a = g + g", "u = a * lr")
    assert fingerprint(doubled) != fingerprint(added)
    assert functional_fingerprint(doubled) == functional_fingerprint(added)
    sign_by_division = body("a = abs(g)", "s = g / a", "u = s * lr")
    sign = body("s = sign(g)", "u = s * lr")
    # g / (|g| + eps) differs from sign(g) by about 1e-8 relative: equal at 5 digits.
    assert functional_fingerprint(sign_by_division) == functional_fingerprint(sign)


@pytest.mark.parametrize("variant", sorted(DIFFERENT_FROM_LION))
def test_functional_fingerprint_distinguishes_behaviour(variant: str) -> None:
    assert functional_fingerprint(DIFFERENT_FROM_LION[variant]) != functional_fingerprint(LION)


def test_per_tensor_and_global_norm_differ_functionally() -> None:
    per_tensor = body("n = norm(g)", "a = g / n", "u = a * lr")
    overall = body("n = global_norm(g)", "a = g / n", "u = a * lr")
    assert functional_fingerprint(per_tensor) != functional_fingerprint(overall)


def test_fingerprints_of_invalid_programs() -> None:
    bad = body("u = w * lr")
    with pytest.raises(ValueError):
        functional_fingerprint(bad)
