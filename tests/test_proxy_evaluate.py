"""evaluate(): scores, learning-rate tuning, failed runs, determinism, compile counts, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from programs import Program, ProgramError, is_valid, library, parse
from proxy_tasks import CoarseToFine, Grid, compile_count, evaluate, get_task
from proxy_tasks.encoding import CAPACITIES

TASK = "teacher/xs"
HEAD = "def train(w, g, m, v, lr):\n"
EXPLODES = parse(HEAD + "  a = g * 1000000.0\n  b = exp(a)\n  update = b * lr\n"
                        "  return update, m, v\n")
# The update stays finite (tanh saturates), but the state overflows to inf within a few steps.
STATE_OVERFLOWS = parse(HEAD + "  v2 = v * 10000000000.0\n  v3 = v2 + 1e+30\n  t = tanh(v)\n"
                               "  z = t * 0.0\n  u = g + z\n  update = u * lr\n"
                               "  update = update * 0.1\n  return update, m, v3\n")


def test_scores_hold_every_run_and_each_programs_best_lr():
    progs = [library.load("adamw"), library.load("sgd")]
    s = evaluate(TASK, progs, lrs=[0.3, 1.0, 3.0], seeds=(0, 1))
    assert s.losses.shape == (2, 3, 2) and s.lrs.shape == (2, 3)
    assert s.task == TASK and s.seeds == (0, 1)
    mean = s.losses.mean(axis=2)
    np.testing.assert_array_equal(s.best_index, mean.argmin(axis=1))
    np.testing.assert_allclose(s.best_loss, mean.min(axis=1))
    np.testing.assert_array_equal(s.best_lr, s.lrs[[0, 1], s.best_index])
    assert s.best_seed_losses.shape == (2, 2)
    assert not s.failed.any() and not s.failed_runs.any()
    # Training helps: each program's best beats the (practically) untrained model.
    untrained = evaluate(TASK, progs, lrs=[1e-9], seeds=(0, 1)).best_loss
    assert (s.best_loss < untrained - 0.2).all()


def test_default_lrs_are_a_quarter_decade_grid_around_the_tasks_lr_scale():
    s = evaluate(TASK, [library.load("lion")], seeds=(0,))
    assert s.lrs.shape == (1, 9)
    relative = s.lrs[0] / get_task(TASK).lr_scale
    np.testing.assert_allclose(np.log10(relative), np.arange(-1, 1.01, 0.25), atol=1e-9)
    # Explicit multipliers are taken as they are.
    np.testing.assert_array_equal(evaluate(TASK, [library.load("lion")], lrs=[2.0]).lrs, [[2.0]])


def test_lrs_may_differ_per_program_and_coarse_to_fine_follows_each_program():
    progs = [library.load("adamw"), library.load("lion")]
    s = evaluate(TASK, progs, lrs=np.array([[1.0, 2.0], [0.5, 4.0]]))
    np.testing.assert_array_equal(s.lrs, [[1.0, 2.0], [0.5, 4.0]])
    policy = CoarseToFine(coarse=Grid.around(1.0, 1.0), fine_step=0.25, fine_points=3)
    c2f = evaluate(TASK, progs, lrs=policy, seeds=(0, 1))
    assert c2f.coarse is not None and c2f.coarse.losses.shape == (2, 3, 1)
    for p in range(2):  # the fine grid is centred on the coarse winner
        np.testing.assert_allclose(c2f.lrs[p, 1], c2f.coarse.best_lr[p])


def test_a_diverging_run_scores_the_worst_loss_and_spoils_nothing_else():
    task = get_task(TASK)
    adamw = library.load("adamw")
    alone = evaluate(task, [adamw], lrs=[1.0, 3.0], seeds=(0, 1))
    batch = evaluate(task, [adamw, EXPLODES, STATE_OVERFLOWS, adamw], lrs=[1.0, 3.0],
                     seeds=(0, 1))
    for p in (1, 2):
        assert batch.failed[p] and batch.failed_runs[p].all()
        np.testing.assert_array_equal(batch.losses[p], np.float32(task.worst_loss))
        assert batch.worst_loss == float(np.float32(task.worst_loss))
    for p in (0, 3):
        np.testing.assert_array_equal(batch.losses[p], alone.losses[0])
        assert not batch.failed_runs[p].any()
    assert np.isfinite(batch.losses).all()


def test_same_programs_lrs_and_seeds_give_identical_scores_in_this_process():
    progs = [library.load("lion"), library.load("rmsprop")]
    a = evaluate(TASK, progs, lrs=[1.0, 3.0], seeds=(3, 4))
    b = evaluate(TASK, progs, lrs=[1.0, 3.0], seeds=(3, 4))
    np.testing.assert_array_equal(a.losses, b.losses)
    # A different seed is a different initialisation and data order.
    c = evaluate(TASK, progs, lrs=[1.0, 3.0], seeds=(5, 4))
    assert not np.array_equal(a.losses[:, :, 0], c.losses[:, :, 0])
    np.testing.assert_array_equal(a.losses[:, :, 1], c.losses[:, :, 1])


def test_same_scores_in_another_process():
    here = evaluate(TASK, [library.load("lion")], lrs=[2.0], seeds=(7,)).losses
    code = (
        "import json; from programs import library; from proxy_tasks import evaluate; "
        f"s = evaluate({TASK!r}, [library.load('lion')], lrs=[2.0], seeds=(7,)); "
        "print(json.dumps(s.losses.tolist()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=dict(os.environ), timeout=300)
    there = np.array(json.loads(out.stdout.strip().splitlines()[-1]), np.float32)
    np.testing.assert_array_equal(here, there)


def _mutants(n: int, seed: int = 0) -> list[Program]:
    """``n`` different valid programs: library programs with perturbed constants and swapped
    functions, as a search would make them."""
    rng = np.random.default_rng(seed)
    bases = [library.load(name) for name in library.names()]
    unary = ["sign", "tanh", "arctan", "abs", "square", "sqrt", "negative", "exp"]
    out: list[Program] = []
    seen: set[str] = set()
    while len(out) < n:
        p = bases[rng.integers(len(bases))]
        statements = list(p.statements)
        for i, st in enumerate(statements):
            args = tuple(a * float(2.0 ** rng.normal()) if not isinstance(a, str) else a
                         for a in st.args)
            op = st.op
            if len(args) == 1 and rng.random() < 0.3:
                op = unary[rng.integers(len(unary))]
            statements[i] = st.replace(op=op, args=args)
        child = p.with_statements(statements)
        if is_valid(child) and str(child) not in seen:
            seen.add(str(child))
            out.append(child)
    return out


def test_a_thousand_different_programs_compile_a_small_constant_number_of_times():
    backend_compiles = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, duration, **kw: backend_compiles.append(event)
        if event == "/jax/core/compile/backend_compile_duration" else None
    )
    programs = _mutants(1000)
    evaluate(TASK, programs[:2], lrs=[1.0])  # warm: the task's first compile
    ours, xla = compile_count(), len(backend_compiles)
    scores = evaluate(TASK, programs, lrs=[1.0], seeds=(0,))
    assert scores.losses.shape == (1000, 1, 1)
    assert len({float(x) for x in scores.losses.ravel()}) > 500  # they really differ
    # At most one more training function per capacity; a few tiny helpers at most.
    assert compile_count() - ours <= len(CAPACITIES) - 1
    assert len(backend_compiles) - xla <= len(CAPACITIES) + 2


def test_bad_input_gets_a_clear_error():
    good = library.load("sgd")
    invalid = parse(HEAD + "  u = sign(lr)\n  update = u * lr\n  return update, m, v\n")
    with pytest.raises(ProgramError, match=r"programs\[1\].*update"):
        evaluate(TASK, [good, invalid])
    with pytest.raises(KeyError, match="did you mean"):
        evaluate("teacher/sm", [good])
    with pytest.raises(ValueError, match="positive and finite"):
        evaluate(TASK, [good], lrs=[1.0, -2.0])
    with pytest.raises(ValueError, match="at least one seed"):
        evaluate(TASK, [good], seeds=())
    with pytest.raises(ValueError, match=r"lrs must be 1-D or \(programs=1"):
        evaluate(TASK, [good], lrs=np.ones((2, 3)))
    with pytest.raises(TypeError, match="not a programs.Program"):
        evaluate(TASK, [str(good)])


def test_the_vmap_layout_for_accelerators_gives_the_same_scores():
    """Programs and runs batched with vmap (a select over every function): slow on CPU, kept
    for GPUs; it must score exactly what the per-run layout scores, to float32 rounding."""
    progs = [library.load("lion"), EXPLODES, library.load("adamw")]
    runs = evaluate(TASK, progs, lrs=[1.0, 3.0], seeds=(0, 1), layout="runs")
    vmapped = evaluate(TASK, progs, lrs=[1.0, 3.0], seeds=(0, 1), layout="vmap")
    np.testing.assert_allclose(vmapped.losses, runs.losses, rtol=1e-5)
    np.testing.assert_array_equal(vmapped.failed_runs, runs.failed_runs)
