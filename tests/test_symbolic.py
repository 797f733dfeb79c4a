"""The sympy view (to_sympy, tidy, to_latex) and simplify, against real sympy and the reference
semantics."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

import programs
from programs import OPS, Program, ProgramError, Statement, library, parse
from programs.analysis import check, remove_dead_code
from programs.equivalence import same_behaviour
from programs.ops import INPUT_KINDS, ArgKind, Kind
from programs.symbolic import SYMBOLS, tidy, to_latex, to_sympy

w, g, m, v, lr = (SYMBOLS[n] for n in ("w", "g", "m", "v", "lr"))


def numerically_equal(a: sympy.Expr, b: sympy.Expr, seed: int = 0) -> bool:
    """Equal at a few random points (no lambdify: it execs generated code)."""
    rng = np.random.default_rng(seed)
    for _ in range(5):
        point = {s: sympy.Float(x) for s, x in zip((w, g, m, v), rng.normal(size=4), strict=True)}
        point[lr] = sympy.Float(rng.uniform(0.1, 2.0))
        x, y = complex(a.xreplace(point).evalf()), complex(b.xreplace(point).evalf())
        if abs(x - y) > 1e-9 * max(1.0, abs(x)):
            return False
    return True


# --- to_sympy ------------------------------------------------------------------------------------


def test_lion_sympy_form_is_the_papers_formula():
    step = to_sympy(library.load("lion"))
    expected_update = 1e-4 * lr * (sympy.sign(0.1 * g + 0.9 * m) + 0.1 * w)
    assert numerically_equal(step.update, expected_update)
    assert numerically_equal(step.m, 0.01 * g + 0.99 * m)
    assert step.v == v  # a slot the program never writes is unchanged
    assert step.update.atoms(sympy.sign), "the update keeps its sign"


def test_adabelief_update_uses_the_new_m():
    step = to_sympy(library.load("adabelief"))
    m_new = 0.1 * g + 0.9 * m
    v_new = 0.999 * v + 0.001 * (g - m_new) ** 2
    assert numerically_equal(step.v, v_new)
    assert numerically_equal(step.update, 1e-3 * lr * m_new / sympy.sqrt(sympy.Abs(v_new)))


@pytest.mark.parametrize(
    "body",
    [
        "a = abs(x)\n  u = x / a",
        "s = square(x)\n  r = sqrt(s)\n  u = x / r",
        "s = x * x\n  r = sqrt(s)\n  u = x / r",
        "a = abs(x)\n  u = a / x",
        "x2 = x * 2.0\n  a = abs(x2)\n  u = x / a\n  u = u * 2.0",
    ],
)
def test_quotients_by_the_absolute_value_become_sign(body):
    p = parse(
        "def train(w, g, m, v, lr):\n  x = interp(g, m, 0.9)\n"
        f"  {body}\n  update = u * lr\n  return update, m, v\n"
    )
    update = to_sympy(p).update
    assert not update.atoms(sympy.Abs), update
    assert update == lr * sympy.sign(0.1 * g + 0.9 * m)


def test_sign_argument_is_normalised_to_an_interpolation():
    expr = tidy(sympy.sign(sympy.Float(0.2) * g + sympy.Float(1.8) * m))
    assert expr == sympy.sign(sympy.Float(0.1) * g + sympy.Float(0.9) * m)
    assert tidy(sympy.sign(-1.0 * g - 9.0 * m)) == -sympy.sign(0.1 * g + 0.9 * m)


def test_float_noise_is_rounded_away():
    p = parse("def train(w, g, m, v, lr):\n  m = interp(g, m, 0.9)\n  update = m * lr\n"
              "  return update, m, v\n")
    coefficient = to_sympy(p).m.coeff(g)
    assert coefficient == sympy.Float(0.1)  # not 0.09999999999999998
    raw = to_sympy(p, tidy=False).m.coeff(g)
    assert float(raw) == 1.0 - 0.9


def test_constants_follow_the_languages_guarded_semantics():
    # arccos clips its argument into [-1, 1]: arccos(3.0) is 0 in the language, complex in sympy.
    p = parse("def train(w, g, m, v, lr):\n  c = arccos(3.0)\n  c = c + 2.0\n  u = g * c\n"
              "  update = u * lr\n  return update, m, v\n")
    assert to_sympy(p).update == sympy.Float(2.0) * g * lr


def test_to_sympy_rejects_invalid_programs():
    bad = Program((Statement("update", "mul", ("m", 2.0)),))
    with pytest.raises(ProgramError, match="does not depend on the gradient"):
        to_sympy(bad)


def test_to_sympy_agrees_with_the_reference_step_on_every_library_program():
    rng = np.random.default_rng(1)
    for name in library.names():
        p = library.load(name)
        step = to_sympy(p)
        values = {"w": 0.7, "g": -1.3, "m": 0.4, "v": 2.1, "lr": 0.5}
        point = {SYMBOLS[k]: sympy.Float(x) for k, x in values.items()}
        ref = programs.step(p, *(np.array([values[k]]) for k in "wgmv"), values["lr"])
        for expr, expected in zip(step, ref, strict=True):
            got = float(expr.xreplace(point).evalf())
            assert got == pytest.approx(float(expected[0]), rel=1e-6), name
        rng.normal()


# --- to_latex ------------------------------------------------------------------------------------


def test_latex_has_one_line_per_live_output():
    lion = to_latex(library.load("lion"))
    assert lion.startswith("\\begin{aligned}") and lion.endswith("\\end{aligned}")
    assert r"\mathrm{update} &=" in lion and "m' &=" in lion
    assert "v'" not in lion  # Lion never reads v
    assert r"\operatorname{sign}" in lion and r"\mathrm{lr}" in lion
    adam = to_latex(library.load("adam"))
    assert "m' &=" in adam and "v' &=" in adam and r"\sqrt" in adam
    assert "m'" not in to_latex(library.load("sgd"))


# --- simplify ------------------------------------------------------------------------------------

MESSY_LION = """
def train(w, g, m, v, lr):
  junk = exp(w)
  a = 1.0 - 0.9
  gg = g * a
  mm = m * 0.9
  c = gg + mm
  c2 = square(c)
  r = sqrt(c2)
  u = c / r
  k = lr * 0.001
  k = k * 10.0
  k = k * 0.01
  wd = w * 0.1
  u = u + wd
  update = u * k
  t = m - g
  t = t * 0.99
  z = g + t
  junk2 = z * junk
  return update, z, v
"""


def test_simplify_turns_a_messy_lion_into_seven_statements():
    p = parse(MESSY_LION)
    q = programs.simplify(p)
    assert len(p) == 18 and len(q) == 7
    assert not check(q)
    assert same_behaviour(p, q, seed=3)  # a seed simplify did not use
    ops = sorted(s.op for s in q.statements)
    assert ops == ["add", "interp", "interp", "mul", "mul", "mul", "sign"]
    assert sorted(q.constants) == pytest.approx(sorted([1e-4, 0.1, 0.9, 0.99]))


def test_simplify_folds_interp_chains_and_identities():
    p = parse("""
def train(w, g, m, v, lr):
  a = interp(g, m, 0.5)
  b = interp(a, m, 0.8)
  s = sign(b)
  s = s * 1.0
  s = s + 0.0
  s = interp(s, w, 0.0)
  update = s * lr
  m = interp(g, m, 0.99)
  return update, m, v
""")
    q = programs.simplify(p)
    assert len(q) == 4
    interps = [s.args[2] for s in q.statements if s.op == "interp"]
    assert sorted(interps) == pytest.approx([0.9, 0.99])
    assert same_behaviour(p, q, seed=5)


def test_simplify_sees_through_sign_keeping_functions():
    # The shape an imitation search reached Lion in: a sign through arcsinh and a positive scale.
    p = parse("""
def train(w, g, m, v, lr):
  c = interp(g, m, 0.9)
  a = arcsinh(c)
  b = a * 3.0
  t = tanh(b)
  s = sign(t)
  update = s * lr
  m = interp(g, m, 0.99)
  return update, m, v
""")
    q = programs.simplify(p)
    assert sorted(s.op for s in q.statements) == ["interp", "interp", "mul", "sign"]
    assert str(programs.recognize(q)).startswith("lion(")
    # A negative scale flips the sign: it stays.
    flipped = parse(programs.format(p).replace("a * 3.0", "a * -3.0"))
    assert not str(programs.recognize(programs.simplify(flipped))).startswith("lion(")


def test_simplify_merges_scale_constants():
    p = parse("""
def train(w, g, m, v, lr):
  a = lr * 0.001
  b = a * g
  c = b * 10.0
  update = c * 2.0
  return update, m, v
""")
    q = programs.simplify(p)
    assert len(q) == 2
    assert q.constants == pytest.approx((0.02,))


def test_simplify_folds_constant_statements_with_guarded_semantics():
    p = parse("""
def train(w, g, m, v, lr):
  p = get_pi()
  h = p / 2.0
  one = sin(h)
  c = arcsin(4.0)
  u = g * one
  u = u * c
  update = u * lr
  return update, m, v
""")
    q = programs.simplify(p)
    assert len(q) == 2
    assert q.constants == pytest.approx((np.pi / 2,))  # arcsin(4.0) is arcsin(1.0) here
    assert same_behaviour(p, q, seed=2)


def test_simplify_keeps_what_sympy_alone_would_get_wrong():
    # sin(arcsin(g)) is g in sympy, but the language clips arcsin's argument into [-1, 1].
    p = parse("def train(w, g, m, v, lr):\n  a = arcsin(g)\n  b = sin(a)\n"
              "  update = b * lr\n  return update, m, v\n")
    q = programs.simplify(p)
    assert same_behaviour(p, q, seed=9)
    assert any(s.op == "arcsin" for s in q.statements)


def test_simplify_leaves_the_library_alone():
    for name in library.names():
        p = library.load(name)
        q = programs.simplify(p)
        assert len(q) == len(p), name
        assert same_behaviour(p, q, seed=4), name
        assert q.outputs[0] == "update"


def test_simplify_rejects_invalid_programs():
    with pytest.raises(ProgramError):
        programs.simplify(Program((Statement("update", "sign", ("nope",)),)))


def _random_program(rng: np.random.Generator, length: int) -> Program:
    """A random valid program over the whole function library (retrying invalid draws)."""
    names = list(OPS)
    while True:
        kinds = dict(INPUT_KINDS)
        statements = []
        for i in range(length):
            op = OPS[names[rng.integers(len(names))]]
            args = []
            for want in op.arg_kinds:
                pool = [n for n, k in kinds.items() if want is ArgKind.ANY or k.value == want.value]
                if want is not ArgKind.TENSOR and (not pool or rng.random() < 0.3):
                    args.append(float(np.round(rng.normal(), 2)))
                else:
                    args.append(pool[rng.integers(len(pool))])
            target = f"x{i}" if rng.random() < 0.7 else ("m", "v")[rng.integers(2)]
            arg_kinds = tuple(kinds[a] if isinstance(a, str) else Kind.SCALAR for a in args)
            kinds[target] = op.result_kind(arg_kinds)
            statements.append(Statement(target, op.name, tuple(args)))
        targets = [s.target for s in statements]
        p = Program(tuple(statements), (targets[-1], "m", "v"))
        if not check(p):
            return p


def test_simplify_on_random_programs_is_valid_equivalent_and_never_longer():
    rng = np.random.default_rng(0)
    shorter = 0
    for _ in range(30):
        p = _random_program(rng, int(rng.integers(3, 10)))
        q = programs.simplify(p)
        base = remove_dead_code(p)
        assert not check(q), (p, q)
        assert len(q) <= len(base)
        assert same_behaviour(base, q, seed=11), (p, q)
        shorter += len(q) < len(base)
    assert shorter > 0  # the random programs do leave room for simplification


# --- the numeric check behind simplify ----------------------------------------------------------


def _update_program(*lines: str) -> Program:
    body = "".join(f"  {line}\n" for line in lines)
    return parse(f"def train(w, g, m, v, lr):\n{body}  update = u * lr\n  return update, m, v\n")


def test_same_behaviour_accepts_rewrites_up_to_eps_guards():
    doubled = _update_program("u = g * 2.0")
    assert same_behaviour(doubled, _update_program("u = g + g"))
    sign = _update_program("c = interp(g, m, 0.9)", "u = sign(c)", "m = interp(g, m, 0.99)")
    guarded = _update_program("c = interp(g, m, 0.9)", "a = abs(c)", "u = c / a",
                              "m = interp(g, m, 0.99)")
    assert same_behaviour(sign, guarded) and same_behaviour(sign, guarded, seed=1)


@pytest.mark.parametrize(
    "wrong",
    [
        ("s = square(g)", "u = sqrt(s)"),  # |g|, not g
        ("u = clip(g, 3.0)",),  # differs only where |g| > 3
        ("u = tanh(g)",),
        ("u = g * 1.001",),
    ],
)
def test_same_behaviour_rejects_what_differs(wrong):
    assert not same_behaviour(_update_program("u = g * 1.0"), _update_program(*wrong))
