"""Mutations: each kind does what it says; children are valid, new, and reproducible."""

from __future__ import annotations

import numpy as np
import pytest

from evosearch.config import Config, MutationSettings, MutationWeights, apply_overrides
from evosearch.engine.mutation import EDITS, KINDS, Mutator, _Random, perturb
from programs import INPUTS, OPS, check, fingerprint, functional_fingerprint, library

ADAMW = library.load("adamw")
LION = library.load("lion")


def _apply(kind, program, seed, settings=None):
    r = _Random(settings or MutationSettings())
    return EDITS[kind](program, np.random.default_rng(seed), r, 20)


def _differences(a, b):
    return [(i, x, y) for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]


@pytest.mark.parametrize("program", [ADAMW, LION], ids=["adamw", "lion"])
def test_each_edit_changes_what_it_names(program):
    for seed in range(60):
        inserted = _apply("insert", program, seed)
        if inserted is not None:
            new, detail = inserted
            assert len(new) == len(program) + 1 and detail.startswith("insert")
            index = next(i for i, s in enumerate(new.statements)
                         if i >= len(program) or s != program.statements[i])
            s = new.statements[index]
            defined = set(INPUTS) | {t.target for t in new.statements[:index]}
            assert all(a in defined for a in s.reads), (s, defined)
            assert len(s.args) == OPS[s.op].arity

        new, detail = _apply("delete", program, seed)
        assert len(new) == len(program) - 1 and detail.startswith("delete")

        changed = _apply("argument", program, seed)
        if changed is not None:
            new, _ = changed
            diffs = _differences(program.statements, new.statements)
            assert len(diffs) == 1
            _, old, now = diffs[0]
            assert old.op == now.op and len(_differences(old.args, now.args)) == 1

        changed = _apply("function", program, seed)
        if changed is not None:
            new, _ = changed
            (_, old, now), = _differences(program.statements, new.statements)
            assert old.op != now.op and OPS[old.op].arity == OPS[now.op].arity
            assert old.args == now.args

        changed = _apply("constant", program, seed)
        if changed is not None:
            new, _ = changed
            (_, old, now), = _differences(program.statements, new.statements)
            (_, a, b), = _differences(old.args, now.args)
            assert isinstance(a, float) and isinstance(b, float) and a != b

        new, detail = _apply("output", program, seed)
        assert new.statements == program.statements
        assert len(_differences(program.outputs, new.outputs)) == 1


def test_insert_respects_the_function_subset_and_the_length_cap():
    settings = MutationSettings(functions=("sign", "interp"))
    ops = set()
    for seed in range(50):
        result = _apply("insert", ADAMW, seed, settings)
        if result:
            ops |= {s.op for s in result[0].statements} - {s.op for s in ADAMW.statements}
    assert ops and ops <= {"sign", "interp"}
    r = _Random(MutationSettings())
    assert EDITS["insert"](ADAMW, np.random.default_rng(0), r, len(ADAMW)) is None


def test_interp_weights_perturbed_in_one_minus_b_stay_below_one():
    rng = np.random.default_rng(1)
    log_space = MutationSettings(constant_redraw=0.0)
    linear = MutationSettings(constant_redraw=0.0, interp_log_space=False)
    a = np.array([perturb(0.9, rng, log_space, interp_weight=True) for _ in range(4000)])
    b = np.array([perturb(0.9, rng, linear, interp_weight=True) for _ in range(4000)])
    assert np.all((a > 0) & (a < 1))
    assert 0.35 < np.mean(b > 1) < 0.53  # P(a > log2(1/0.9)) = 0.44 for a ~ N(0, 1)
    # Symmetric in log(1 - b): as many moves towards 1 as away from it.
    assert 0.45 < np.mean(a > 0.9) < 0.55
    # Other constants are multiplied by 2^N(0, 1).
    c = np.array([perturb(0.01, rng, log_space, interp_weight=False) for _ in range(4000)])
    assert abs(np.median(np.log2(c / 0.01))) < 0.1 and 0.9 < np.std(np.log2(c / 0.01)) < 1.1


def test_children_are_valid_new_and_reproducible():
    config = apply_overrides(Config(), ["evolution.neutral=0"])  # neutral children: below
    mutator = Mutator(config.mutation, config.evolution)
    parent_fp = fingerprint(ADAMW)
    rng = np.random.default_rng(0)
    children = [mutator.child(ADAMW, rng, parent_fp) for _ in range(300)]
    assert all(c is not None for c in children)
    for c in children:
        assert not check(c.program)
        assert c.fingerprint == fingerprint(c.program) != parent_fp
        assert 1 <= len(c.edits) == len(c.kinds) <= config.evolution.mutations_max
        assert c.tries == 1 + c.invalid + c.unchanged
    counts = np.bincount([len(c.kinds) for c in children], minlength=4)
    assert counts[1] > counts[2] > counts[3] > 0  # 1, then one more with probability 0.5
    again = np.random.default_rng(0)
    assert [c.program for c in children[:50]] == [
        mutator.child(ADAMW, again, parent_fp).program for _ in range(50)
    ]


def test_weights_select_the_kinds():
    only = {k: 0.0 for k in KINDS} | {"constant": 1.0}
    config = Config()
    settings = MutationSettings(weights=MutationWeights(**only))
    mutator = Mutator(settings, config.evolution)
    rng = np.random.default_rng(2)
    kinds = {k for _ in range(100) for k in mutator.child(LION, rng).kinds}
    assert kinds == {"constant"}


def test_a_child_gives_up_when_no_new_valid_program_exists():
    # Only output re-pointing on a program whose every alternative output is invalid or equal.
    config = apply_overrides(Config(), [f"mutation.weights.{k}=0" for k in KINDS if k != "output"]
                             + ["evolution.max_tries=5"])
    mutator = Mutator(config.mutation, config.evolution)
    from programs import parse

    tiny = parse("def train(w, g, m, v, lr):\n  u = g * lr\n  return u, m, v\n")
    rng = np.random.default_rng(0)
    results = [mutator.child(tiny, rng) for _ in range(20)]
    # Some re-pointings are valid and new (update = g), others never are: bounded, no hang.
    assert any(r is None for r in results) or all(not check(r.program) for r in results)


def test_duplicate_copies_a_statement_and_changes_no_behaviour():
    from evosearch.engine.mutation import duplicate

    adamw = library.load("adamw")
    rng = np.random.default_rng(3)
    r = _Random(MutationSettings())
    seen = 0
    for _ in range(40):
        edit = duplicate(adamw, rng, r, 20)
        if edit is None:
            continue
        child, detail = edit
        seen += 1
        assert detail.startswith("duplicate") and len(child) == len(adamw) + 1
        assert not check(child)
        # The copy stands in for the original in one place: same updates, step after step.
        assert functional_fingerprint(child) == functional_fingerprint(adamw)
        copy = next(s for s in child.statements if s.target not in adamw.variables)
        assert any(copy.target in s.args for s in child.statements) or copy.target in child.outputs
    assert seen > 30


def test_edge_routes_a_read_value_through_a_new_function():
    from evosearch.engine.mutation import edge

    sgd = library.load("sgd")  # lr = lr * 0.1; update = g * lr
    rng = np.random.default_rng(5)
    r = _Random(MutationSettings(functions=("tanh",)))
    child, detail = edge(sgd, rng, r, 20)
    assert detail.startswith("edge") and len(child) == len(sgd) + 1
    new = next(s for s in child.statements if s.op == "tanh")
    readers = [s for s in child.statements if new.target in s.args]
    assert readers or new.target in child.outputs


def test_duplicate_of_a_program_left_invalid_by_an_earlier_edit_does_not_apply():
    # Inside one child an edit may leave a read before any write (a later edit may repair it);
    # a search with duplicate on crashed here before.
    from evosearch.engine.mutation import duplicate
    from programs import Program, Statement

    broken = Program((Statement("u", "mul", ("g", "lr")), Statement("x", "mul", ("update", 2.0)),
                      Statement("update", "add", ("u", "x"))))
    rng = np.random.default_rng(0)
    r = _Random(MutationSettings())
    assert all(duplicate(broken, rng, r, 20) is None for _ in range(20))


@pytest.mark.parametrize("program", [ADAMW, LION], ids=["adamw", "lion"])
def test_children_with_every_kind_on_are_valid_and_never_raise(program):
    weights = MutationWeights(duplicate=1.0, edge=1.0)
    config = Config()
    mutator = Mutator(MutationSettings(weights=weights), config.evolution)
    rng = np.random.default_rng(1)
    parent = program
    for _ in range(400):
        child = mutator.child(parent, rng)
        if child is not None:
            assert not check(child.program)
            parent = child.program  # a lineage, so that edits pile up as in a search


def test_rewrite_changes_arity_and_keeps_the_arguments_that_fit():
    from evosearch.engine.mutation import rewrite

    r = _Random(MutationSettings(functions=("sign", "clip", "interp")))
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(300):
        edit = rewrite(ADAMW, rng, r, 20)
        if edit is None:
            continue
        child, detail = edit
        assert detail.startswith("rewrite") and len(child) == len(ADAMW)
        assert not check(child), detail
        (i, old, new), = _differences(ADAMW.statements, child.statements)
        assert len(new.args) == OPS[new.op].arity
        kept = [a for a in new.args if a in old.args]
        assert kept, (old, new)  # a tensor argument always fits the new function's first slot
        seen.add(new.op)
        if old.op == "div" and new.op == "sign":
            assert new.args == ("m",)  # update = m / sqrt_v  ->  update = sign(m)
    assert seen == {"sign", "clip", "interp"}



def test_neutral_children_are_kept_only_when_asked():
    """``evolution.neutral``: a child with its parent's fingerprint but other text (a
    duplicated statement, dead code) is kept with that probability, never otherwise."""
    only_duplicate = [f"mutation.weights.{k}=0" for k in KINDS if k != "duplicate"]
    parent_fp = fingerprint(ADAMW)
    assert Config().evolution.neutral == 1.0  # the default (experiments/reachability)
    for neutral, expect_some in ((0.0, False), (1.0, True)):
        config = apply_overrides(Config(), only_duplicate + ["evolution.mutations_max=1",
                                                             f"evolution.neutral={neutral}"])
        mutator = Mutator(config.mutation, config.evolution)
        rng = np.random.default_rng(0)
        children = [mutator.child(ADAMW, rng, parent_fp) for _ in range(20)]
        kept = [c for c in children if c is not None and c.neutral]
        assert bool(kept) == expect_some
        for c in kept:
            assert c.fingerprint == parent_fp and c.program != ADAMW
            assert c.kinds == ("duplicate",)
    with pytest.raises(ValueError, match="evolution.neutral"):
        apply_overrides(Config(), ["evolution.neutral=1.5"])
