"""What the interpreter is measured against (``benchmarks/eval_bench.py``) and cross-checked with.

* :func:`handwritten_run`: Lion and AdamW written by hand the way one would in jax (parameters
  as a tree, one fused update), trained by the same loop on the same task, data and schedule.
  Their formulas are the library programs' (``lion.prog``, ``adamw.prog``: no bias correction,
  the same ``eps`` guard), so they also agree with the interpreter numerically.
* :func:`specialized_run`: one program compiled *as code* (its statements traced straight into
  jax, no interpretation): the "one ``jax.jit`` per program" engine the research note timed at
  0.43 programs/s, mostly compile time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from programs.analysis import check, remove_dead_code
from programs.execute import step_function
from programs.ops import EPS
from programs.program import Program, ProgramError
from proxy_tasks.task import Task

HANDWRITTEN = ("lion", "adamw")


class FlatBackend:
    """:class:`programs.ops.ArrayBackend` on one flat vector of contiguous leaves of static
    sizes: ``leaf_sum`` sums each static range and broadcasts it back."""

    xp = jnp

    def __init__(self, leaf_sizes: Sequence[int]) -> None:
        self.leaf_sizes = tuple(int(n) for n in leaf_sizes)

    def leaf_sum(self, x: jax.Array) -> jax.Array:
        parts, start = [], 0
        for n in self.leaf_sizes:
            parts.append(jnp.broadcast_to(jnp.sum(x[start : start + n]), (n,)))
            start += n
        return jnp.concatenate(parts)

    def total_sum(self, x: jax.Array) -> jax.Array:
        return jnp.sum(x)


def _lion(p: jax.Array, g: jax.Array, m: jax.Array, v: jax.Array, lr: jax.Array) -> tuple:
    update = (jnp.sign(0.1 * g + 0.9 * m) + 0.1 * p) * (lr * 1e-4)
    return p - update, 0.01 * g + 0.99 * m, v


def _adamw(p: jax.Array, g: jax.Array, m: jax.Array, v: jax.Array, lr: jax.Array) -> tuple:
    m = 0.1 * g + 0.9 * m
    v = 0.001 * (g * g) + 0.999 * v
    update = (m / (jnp.sqrt(v) + EPS) + 0.01 * p) * (lr * 1e-3)
    return p - update, m, v


_RULES = {"lion": _lion, "adamw": _adamw}


def handwritten_run(task: Task, optimizer: str) -> Callable[..., Any]:
    """``run(lr_mult, schedule, w0, idx, data) -> val_loss`` for a hand-written optimizer."""
    if optimizer not in _RULES:
        raise ValueError(f"no hand-written {optimizer!r}; have {', '.join(HANDWRITTEN)}")
    rule = _RULES[optimizer]
    grad = jax.grad(task.train_loss)

    def run(lr_mult: jax.Array, schedule: jax.Array, w0: jax.Array, idx: jax.Array,
            data: dict[str, Any]) -> jax.Array:
        params = task.unflatten(w0)
        zeros = jax.tree.map(jnp.zeros_like, params)

        def step(t: jax.Array, carry: tuple) -> tuple:
            params, m, v = carry
            grads = grad(params, data, idx[t])
            lr = schedule[t] * lr_mult
            out = {k: rule(params[k], grads[k], m[k], v[k], lr) for k in params}
            return tuple({k: out[k][i] for k in out} for i in range(3))

        params, _, _ = lax.fori_loop(0, idx.shape[0], step, (params, zeros, zeros))
        return task.val_loss(params, data)

    return run


def specialized_run(task: Task, program: Program) -> Callable[..., Any]:
    """``run(lr_mult, schedule, w0, idx, data) -> val_loss`` with ``program``'s statements
    traced into the step as jax code: one compile per program."""
    problems = check(program)
    if problems:
        raise ProgramError("invalid program: " + "; ".join(map(str, problems)))
    program = remove_dead_code(program)
    backend = FlatBackend(task.leaf_sizes)
    n = task.n_params
    grad = jax.grad(task.train_loss)

    train = step_function(program, backend, constant=jnp.float32)

    def optimizer(w: jax.Array, g: jax.Array, m: jax.Array, v: jax.Array,
                  lr: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        return tuple(jnp.broadcast_to(x, (n,)).astype(jnp.float32)
                     for x in train(w, g, m, v, lr))  # type: ignore[return-value]

    def run(lr_mult: jax.Array, schedule: jax.Array, w0: jax.Array, idx: jax.Array,
            data: dict[str, Any]) -> jax.Array:
        def step(t: jax.Array, carry: tuple) -> tuple:
            w, m, v = carry
            g = task.flatten(grad(task.unflatten(w), data, idx[t]))
            update, m, v = optimizer(w, g, m, v, schedule[t] * lr_mult)
            return w - update, m, v

        zeros = jnp.zeros((n,), jnp.float32)
        w, _, _ = lax.fori_loop(0, idx.shape[0], step, (w0, zeros, zeros))
        return task.val_loss(task.unflatten(w), data)

    return run
