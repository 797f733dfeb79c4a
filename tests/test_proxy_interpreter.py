"""The compiled interpreter agrees with the reference ``programs.step`` over whole training runs.

Two checks per program, on a real task (``teacher/xs``: 4 parameter tensors, 100 steps):

* every step: the interpreter's recorded ``(w, g, m, v)`` fed to ``programs.step`` (with the
  weights as a tree of tensors, so per-tensor ``norm`` means what it means there) gives the
  interpreter's next ``(w, m, v)``, to float32 tolerance. Run with small chunks, so that chunk
  boundaries fall inside tensors and reductions span chunks;
* the whole run: an independent loop (``programs.step`` and separately compiled gradients)
  reaches the same validation loss as the production training function.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import programs
from programs import library, liveness, parse
from proxy_tasks import evaluate, get_task
from proxy_tasks.encoding import CAPACITIES, encode
from proxy_tasks.training import task_arrays, trace_run

TASK = "teacher/xs"
HEAD = "def train(w, g, m, v, lr):\n"
TRICKY = {
    "reductions": "  n = norm(g)\n  a = g / n\n  c = global_norm(m)\n  d = dot(g, m)\n"
                  "  e = a * c\n  f = e + d\n  m = interp(g, m, 0.9)\n  update = f * lr\n"
                  "  update = update * 0.001\n  return update, m, v\n",
    "clip_cosine": "  c = clip_by_global_norm(g, 0.5)\n  m = interp(c, m, 0.9)\n"
                   "  k = cosine_sim(g, m)\n  s = k + 1.0\n  u = m * s\n  update = u * lr\n"
                   "  update = update * 0.01\n  return update, m, v\n",
    "swapped_state": "  a = g * 0.5\n  b = m + a\n  update = b * lr\n  update = update * 0.1\n"
                     "  return update, v, b\n",
    "uniform_state": "  a = lr * 2.0\n  b = g * a\n  c = b + m\n  update = c * 0.01\n"
                     "  return update, a, v\n",
    "weights_read": "  s = sign(w)\n  t = s * 0.001\n  u = g + t\n  x = tanh(w)\n  y = x * u\n"
                    "  z = y + u\n  update = z * lr\n  update = update * 0.1\n"
                    "  return update, m, v\n",
    "weights_as_state": "  d = w - m\n  e = d * 0.01\n  u = g + e\n  update = u * lr\n"
                        "  update = update * 0.1\n  return update, w, v\n",
}
PROGRAMS = {name: library.load(name) for name in library.names()}
PROGRAMS.update({name: parse(HEAD + body) for name, body in TRICKY.items()})
# 40 live statements: beyond the small capacity, so it runs the second compiled function.
PROGRAMS["long"] = parse(
    HEAD + "  m = interp(g, m, 0.9)\n  a0 = m * 1.01\n"
    + "".join(f"  a{i} = a{i - 1} * 1.01\n" for i in range(1, 40))
    + "  update = a39 * lr\n  update = update * 0.01\n  return update, m, v\n")


@pytest.fixture(scope="module")
def task():
    return get_task(TASK)


def _leaves(task, flat):
    out, start = [], 0
    for size in task.leaf_sizes:
        out.append(np.asarray(flat[start : start + size]))
        start += size
    return out


def _close(ours, ref, what):
    scale = float(np.max(np.abs(ref))) if np.isfinite(ref).all() else 1.0
    np.testing.assert_allclose(ours, ref, rtol=2e-5, atol=2e-5 * max(scale, 1e-6),
                               err_msg=what)


@pytest.mark.parametrize("name", sorted(set(PROGRAMS) - {"long"}))
def test_every_step_agrees_with_programs_step(task, name):
    program = PROGRAMS[name]
    trace = trace_run(task, program, lr_mult=1.0, seed=0, chunk=96)
    assert trace.ok, "the run diverged: pick a program that trains"
    live_state = liveness(program).state
    steps = len(trace.history)
    assert steps == task.budget.steps
    for t in range(steps):
        w, g, m, v = trace.history[t]
        update, m2, v2 = programs.step(program, _leaves(task, w), _leaves(task, g),
                                       _leaves(task, m), _leaves(task, v), float(trace.lrs[t]))
        nxt = trace.history[t + 1] if t + 1 < steps else None
        w_next = nxt[0] if nxt is not None else trace.final[0]
        m_next = nxt[2] if nxt is not None else trace.final[1]
        v_next = nxt[3] if nxt is not None else trace.final[2]
        _close(w_next, w - np.concatenate(update), f"{name}: w after step {t}")
        if "m" in live_state:
            _close(m_next, np.concatenate(m2), f"{name}: m after step {t}")
        if "v" in live_state:
            _close(v_next, np.concatenate(v2), f"{name}: v after step {t}")


def _reference_run(task, program, seed):
    """Training with programs.step and separately compiled gradients: nothing shared with the
    interpreter but the task."""
    arrays = task_arrays(task)
    data = {k: jnp.asarray(v) for k, v in task.data.items()}
    grad = jax.jit(lambda w, idx: task.flatten(jax.grad(task.train_loss)(
        task.unflatten(w), data, idx)))
    w = task.init_params(seed)
    m = [np.zeros_like(x) for x in _leaves(task, w)]
    v = [np.zeros_like(x) for x in _leaves(task, w)]
    for t, idx in enumerate(task.batch_indices(seed)):
        g = np.asarray(grad(jnp.asarray(w), jnp.asarray(idx)))
        update, m, v = programs.step(program, _leaves(task, w), _leaves(task, g), m, v,
                                     float(arrays.schedule[t]))
        w = w - np.concatenate(update)
    return float(task.val_loss(task.unflatten(jnp.asarray(w)), data))


@pytest.mark.parametrize("name", ["adamw", "lion", "momentum", "rmsprop", "reductions",
                                  "long"])
def test_whole_run_matches_an_independent_reference_loop(task, name):
    program = PROGRAMS[name]
    assert encode(program).capacity() == (CAPACITIES[1] if name == "long" else CAPACITIES[0])
    ours = evaluate(task, [program], lrs=[1.0], seeds=(1,)).losses[0, 0, 0]
    assert float(ours) == pytest.approx(_reference_run(task, program, seed=1), rel=1e-3)


@pytest.mark.parametrize("name", ["lion", "reductions"])
def test_the_specialized_baseline_trains_like_the_interpreter(task, name):
    from proxy_tasks.baselines import specialized_run

    program = PROGRAMS[name]
    arrays = task_arrays(task)
    w0, idx = arrays.seed(1)
    run = jax.jit(specialized_run(task, program))
    ours = float(run(jnp.float32(1.0), jnp.asarray(arrays.schedule), w0, idx, arrays.data))
    interpreted = evaluate(task, [program], lrs=[1.0], seeds=(1,)).losses[0, 0, 0]
    assert ours == pytest.approx(float(interpreted), rel=1e-3)
