"""Empirical simplification: candidates are valid, and removals that cost nothing are kept."""

import numpy as np

import programs
from programs import parse
from proxy_tasks.ablation import (
    empirical_simplify,
    paired_worse_p_value,
    removal_candidates,
    to_ssa,
)


def body(*lines: str, ret: str = "return u, m, v") -> programs.Program:
    return parse("def train(w, g, m, v, lr):\n" + "".join(f"  {x}\n" for x in lines) + f"  {ret}\n")


def test_ssa_keeps_behaviour_and_makes_names_unique() -> None:
    p = programs.library.load("adamw")
    q = to_ssa(p)
    targets = [s.target for s in q.statements]
    assert len(set(targets)) == len(targets)
    assert not set(targets) & set(programs.INPUTS)
    assert programs.functional_fingerprint(p) == programs.functional_fingerprint(q)


def test_candidates_are_valid_and_each_one_statement_shorter() -> None:
    p = programs.library.load("adamw")
    candidates = removal_candidates(p)
    assert candidates
    for c in candidates:
        assert programs.check(c.program) == []
        assert len(c.program) <= len(p) - 1
    # Replacing `sqrt_v = sqrt(v)` by v is one of them; so is dropping the weight decay.
    texts = {(c.statement, c.replacement) for c in candidates}
    assert ("sqrt_v = sqrt(v_2)", "v_2") in texts
    assert any(stmt.startswith("update_2 = update + wd") for stmt, _ in texts)


def test_paired_test() -> None:
    base = np.array([1.0, 1.1, 0.9, 1.05, 0.95])
    assert paired_worse_p_value(base, base) == 1.0
    assert paired_worse_p_value(base + 0.1 + 0.001 * np.arange(5), base) < 0.01
    assert paired_worse_p_value(base - 0.1, base) > 0.99


def _quadratic_scorer(seeds=(0, 1, 2, 3, 4), steps=40):
    """A real (tiny) task where momentum matters: an ill-conditioned quadratic, few steps, the
    best of three learning rates, per seed (the reference step does the training)."""

    def score(progs):
        out = np.zeros((len(progs), len(seeds)))
        for j, seed in enumerate(seeds):
            rng = np.random.default_rng(seed)
            curvature = np.logspace(-3, 0, 8)
            w0 = rng.normal(size=8)
            optimum = rng.normal(size=8)  # away from 0, so that weight-decay-like terms hurt
            for i, p in enumerate(progs):
                best = np.inf
                for lr in (0.3, 1.0, 3.0):
                    w = w0.copy()
                    m = v = np.zeros(8)
                    for _ in range(steps):
                        u, m, v = programs.step(p, w, curvature * (w - optimum), m, v, lr)
                        w = w - u
                    loss = float(np.sum(curvature * (w - optimum) ** 2))
                    best = min(best, loss if np.isfinite(loss) else 1e9)
                out[i, j] = best
        return out

    return score


def test_useless_statements_are_removed_and_useful_ones_kept() -> None:
    # Momentum SGD plus an arcsin of a tiny value and a clip that never bites.
    p = body(
        "m = m * 0.9",
        "m = m + g",
        "tiny = w * 1e-9",
        "a = arcsin(tiny)",
        "s = m + a",
        "s = clip(s, 1000.0)",
        "r = lr * 0.1",
        "u = s * r",
    )
    result = empirical_simplify(p, _quadratic_scorer(), analytic=False)
    final = result.program
    ops = {s.op for s in final.statements}
    assert "arcsin" not in ops and "clip" not in ops
    assert len(final) < len(p)
    # The momentum is what makes it work: the final program still reads its state.
    assert "m" in programs.liveness(final).state
    fitness = [s.fitness for s in result.steps]
    assert fitness[-1] <= fitness[0] * 1.05
