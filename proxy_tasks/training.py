"""Training runs with the compiled interpreter: one compile per task and shape, never per program.

A *run* trains a task's model from one seed's initial weights and data order with one program at
one learning-rate multiplier, then reports the validation loss. The program, the multiplier and
the seed's arrays are all *arguments* of one compiled function, so any number of programs reuse
it. Two layouts (:data:`LAYOUTS`):

``"runs"`` (the CPU default)
    one compiled function per (task, capacity) trains one run; the host calls it once per
    (program, lr, seed) and jax's asynchronous dispatch keeps the device busy. The switch
    stays a real conditional: only the chosen function runs. Measured on the 2-core CPU
    (``benchmarks/eval_bench.py``): faster than batching runs with ``vmap``, because one run's
    register file stays in cache.
``"vmap"`` (for accelerators)
    programs *and* runs batched with ``vmap`` in chunks of fixed size; the switch then computes
    every function and selects: ~180x slower per run-step than ``"runs"`` on the 2-core CPU
    (``benchmarks/eval_bench.py``, teacher/s; the research note's smaller function table cost
    2.5-3.5x), but on a GPU wide batches may win. Same scores (tested). One compile per (task,
    capacity, programs per call, runs per program).

Failed runs: a NaN or inf in any step's training loss, or in the final parameters, state or
validation loss, gives the task's ``worst_loss``; so does any finite loss above it. A non-finite
training loss turns that step's gradient into NaN, and NaN or inf in the parameters is sticky
(``w - update`` keeps it), so a failure at any step shows in the final check; the one thing
this misses is an inf in the state that a saturating function (``sign``, ``tanh``) washes out
before the end without ever reaching the parameters. Each run is independent, so a failed run
never touches another.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from programs.ops import version as ops_version
from proxy_tasks.encoding import (
    ARGS_PER_STATEMENT,
    REG_G,
    REG_M,
    REG_V,
    Capacity,
    EncodedProgram,
    scalar_table,
)
from proxy_tasks.interpreter import make_chunking, make_interpreter, tensor_step
from proxy_tasks.task import Task

LAYOUTS = ("runs", "vmap")


def default_layout() -> str:
    """``"runs"`` on CPU (measured), ``"vmap"`` on an accelerator."""
    return "runs" if jax.default_backend() == "cpu" else "vmap"


# --- compile accounting ----------------------------------------------------------------------

_COMPILES = 0
_COMPILE_SECONDS = 0.0
_LOCK = threading.Lock()


def compile_count() -> int:
    """How many training functions this process has compiled (each task and shape once)."""
    return _COMPILES


def compile_seconds() -> float:
    """Total seconds spent compiling training functions in this process."""
    return _COMPILE_SECONDS


@dataclass(frozen=True)
class RunFunction:
    """A compiled training function and what it was compiled for."""

    task: str
    capacity: Capacity
    layout: str
    batch: tuple[int, int]  # (programs, runs per program) per call; (1, 1) for "runs"
    compiled: Any
    seconds: float


_CACHE: dict[tuple[Any, ...], RunFunction] = {}


# --- the training function --------------------------------------------------------------------


def _program_arrays(capacity: Capacity) -> dict[str, jax.ShapeDtypeStruct]:
    i32 = jnp.int32
    t = capacity.tensor_statements
    return {
        "tensor_branch": jax.ShapeDtypeStruct((t,), i32),
        "tensor_args": jax.ShapeDtypeStruct((t, ARGS_PER_STATEMENT), i32),
        "tensor_target": jax.ShapeDtypeStruct((t,), i32),
        "n_tensor": jax.ShapeDtypeStruct((), i32),
        "phase_start": jax.ShapeDtypeStruct((capacity.phases + 1,), i32),
        "reduce_branch": jax.ShapeDtypeStruct((capacity.phases,), i32),
        "n_phases": jax.ShapeDtypeStruct((), i32),
        "update": jax.ShapeDtypeStruct((2,), i32),
    }


DEFAULT_CHUNK: int | None = 2048
"""Parameters per chunk of the interpreter (``None``: one chunk). See
:mod:`proxy_tasks.interpreter` for the measurement; ``benchmarks/eval_bench.py`` sweeps it."""


def make_run(task: Task, capacity: Capacity, chunk: int | None = DEFAULT_CHUNK,
             record: bool = False) -> Callable[..., Any]:
    """The (uncompiled) function of one run.

    ``run(prog, table, w0, idx, data) -> (val_loss, ok)`` where ``prog`` holds the padded
    tensor-program arrays, ``table`` the ``(steps, slots)`` uniform values of each step
    (:func:`proxy_tasks.encoding.scalar_table`, which folds in the lr schedule and multiplier),
    ``w0`` the flat initial weights and ``idx`` the ``(steps, batch)`` training examples. With
    ``record``, it also returns each step's ``(w, g, m, v)`` before the update and the final
    ``(w, m, v)`` (tests check every step against the reference with these).

    The weights are a flat vector of their own, outside the register file (``g``, ``m``, ``v``
    and the temporaries): the update writes them in place while reading the register file.
    """
    chunking = make_chunking(task.leaf_sizes, chunk)
    interp = make_interpreter(chunking)
    n, padded = chunking.n, chunking.padded
    worst = jnp.float32(task.worst_loss)
    grad = jax.value_and_grad(task.train_loss)

    def step(w: jax.Array, rows: jax.Array, slots: jax.Array, prog: dict[str, Any],
             idx_t: jax.Array, data: dict[str, Any]) -> tuple:
        loss, grads = grad(task.unflatten(w[:n]), data, idx_t)
        # A non-finite loss poisons the gradient: NaN then reaches the weights or the state,
        # where the final check sees it. (A loop-carried flag instead makes XLA copy the whole
        # register file twice per step.)
        g = task.flatten(grads) + jnp.where(jnp.isfinite(loss), 0.0, jnp.nan)
        rows = lax.dynamic_update_slice(rows, g[None], (REG_G, 0))
        rows, w = tensor_step(interp, rows, w, slots, prog)
        return w, rows, g

    def run(prog: dict[str, Any], table: jax.Array, w0: jax.Array, idx: jax.Array,
            data: dict[str, Any]) -> Any:
        w = jnp.zeros((padded,), jnp.float32).at[:n].set(w0)
        rows = jnp.zeros((capacity.rows, padded), jnp.float32)
        if record:
            def scan_step(carry: tuple, xs: tuple[jax.Array, jax.Array]) -> Any:
                w, rows = carry
                slots, idx_t = xs
                new_w, new_rows, g = step(w, rows, slots, prog, idx_t, data)
                seen = jnp.stack([w[:n], g, rows[REG_M, :n], rows[REG_V, :n]])
                return (new_w, new_rows), seen

            (w, rows), history = lax.scan(scan_step, (w, rows), (table, idx))
        else:
            def loop_step(t: jax.Array, carry: tuple) -> tuple:
                return step(*carry, table[t], prog, idx[t], data)[:2]

            w, rows = lax.fori_loop(0, idx.shape[0], loop_step, (w, rows))
        val = task.val_loss(task.unflatten(w[:n]), data)
        final = jnp.stack([w[:n], rows[REG_M, :n], rows[REG_V, :n]])
        ok = jnp.isfinite(val) & jnp.all(jnp.isfinite(final))
        score = jnp.where(ok, jnp.minimum(val, worst), worst)
        if record:
            return score, ok, history, final
        return score, ok

    return run


def _shapes(task: Task, capacity: Capacity, programs: int | None, runs: int | None) -> tuple:
    f32, i32 = jnp.float32, jnp.int32
    steps, batch = task.budget.steps, task.budget.batch_size
    pr = tuple(d for d in (programs, runs) if d is not None)
    prog = {k: jax.ShapeDtypeStruct(pr[:1] + v.shape, v.dtype)
            for k, v in _program_arrays(capacity).items()}
    data = {k: jax.ShapeDtypeStruct(v.shape, v.dtype) for k, v in task.data.items()}
    return (
        prog,
        jax.ShapeDtypeStruct((*pr, steps, capacity.scalar_slots), f32),
        jax.ShapeDtypeStruct((*pr, task.n_params), f32),
        jax.ShapeDtypeStruct((*pr, steps, batch), i32),
        data,
    )


def compiled_run(task: Task, capacity: Capacity, layout: str = "runs",
                 batch: tuple[int, int] = (1, 1), chunk: int | None = None) -> RunFunction:
    """The compiled training function for ``task`` at ``capacity`` (cached per process).

    ``layout="runs"``: one run per call. ``layout="vmap"``: ``batch = (programs, runs)`` per
    call: program arrays gain a programs axis, tables, initial weights and batch indices
    gain both. ``chunk``: parameters per interpreter chunk (default: :data:`DEFAULT_CHUNK` for
    ``"runs"``; the parameter count, i.e. unchunked, for ``"vmap"``).
    """
    global _COMPILES, _COMPILE_SECONDS
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; use one of {LAYOUTS}")
    if layout == "runs":
        batch = (1, 1)
    if chunk is None:  # unchunked in the vmap layout: a select computes every branch anyway
        chunk = DEFAULT_CHUNK if layout == "runs" else task.n_params
    # The function table's version: a function added to it changes the interpreter's switch.
    key = (task.name, id(task), capacity, layout, batch, chunk, ops_version())
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            return hit
        run = make_run(task, capacity, chunk)
        if layout == "runs":
            fn, shapes = run, _shapes(task, capacity, None, None)
        else:
            per_program = jax.vmap(run, in_axes=(None, 0, 0, 0, None))
            fn = jax.vmap(per_program, in_axes=(0, 0, 0, 0, None))
            shapes = _shapes(task, capacity, batch[0], batch[1])
        start = time.perf_counter()
        compiled = jax.jit(fn).lower(*shapes).compile()
        seconds = time.perf_counter() - start
        _COMPILES += 1
        _COMPILE_SECONDS += seconds
        out = RunFunction(task.name, capacity, layout, batch, compiled, seconds)
        _CACHE[key] = out
        return out


# --- per-task device arrays, built once -------------------------------------------------------


class TaskArrays:
    """A task's data, schedule, and per-seed initial weights and batch indices, on the device."""

    def __init__(self, task: Task) -> None:
        self.task = task
        self.data = {k: jnp.asarray(v) for k, v in task.data.items()}
        self.schedule = task.budget.lr_schedule()  # host: the prologue runs there
        self._seeds: dict[int, tuple[jax.Array, jax.Array]] = {}

    def seed(self, seed: int) -> tuple[jax.Array, jax.Array]:
        got = self._seeds.get(seed)
        if got is None:
            got = (jnp.asarray(self.task.init_params(seed)),
                   jnp.asarray(self.task.batch_indices(seed)))
            self._seeds[seed] = got
        return got


_ARRAYS: dict[int, TaskArrays] = {}


def task_arrays(task: Task) -> TaskArrays:
    got = _ARRAYS.get(id(task))
    if got is None or got.task is not task:
        got = _ARRAYS[id(task)] = TaskArrays(task)
    return got


# --- running many ----------------------------------------------------------------------------


def train_runs(
    task: Task,
    encoded: Sequence[EncodedProgram],
    lr_mults: np.ndarray,
    seeds: Sequence[int],
    layout: str | None = None,
    programs_per_call: int = 8,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train every program at each of its lr multipliers and every seed.

    ``lr_mults`` is ``(n_programs, n_lrs)``. Returns ``(losses, ok, seconds)``: losses and ok
    flags ``(n_programs, n_lrs, n_seeds)`` and the wall seconds spent per program.
    ``programs_per_call``: the batch of the ``"vmap"`` layout.
    """
    layout = layout or default_layout()
    lr_mults = np.asarray(lr_mults, np.float32)
    n_prog, n_lrs = lr_mults.shape
    seeds = [int(s) for s in seeds]
    arrays = task_arrays(task)
    losses = np.empty((n_prog, n_lrs, len(seeds)), np.float32)
    ok = np.empty((n_prog, n_lrs, len(seeds)), bool)
    seconds = np.zeros(n_prog)
    if layout == "vmap":
        return _train_vmapped(task, encoded, lr_mults, seeds, programs_per_call, losses, ok,
                              seconds)
    for p, enc in enumerate(encoded):
        start = time.perf_counter()
        capacity = enc.capacity()
        fn = compiled_run(task, capacity).compiled
        prog = {k: jnp.asarray(v) for k, v in enc.padded(capacity).items()}
        pending = []
        for i in range(n_lrs):
            table = jnp.asarray(scalar_table(enc, arrays.schedule * lr_mults[p, i],
                                             capacity.scalar_slots))
            for j, s in enumerate(seeds):
                w0, idx = arrays.seed(s)
                pending.append((i, j, fn(prog, table, w0, idx, arrays.data)))
        for i, j, (loss, good) in pending:  # jax dispatches asynchronously: wait once here
            losses[p, i, j] = float(loss)
            ok[p, i, j] = bool(good)
        seconds[p] = time.perf_counter() - start
    return losses, ok, seconds


def _train_vmapped(task: Task, encoded: Sequence[EncodedProgram], lr_mults: np.ndarray,
                   seeds: list[int], chunk: int, losses: np.ndarray, ok: np.ndarray,
                   seconds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    arrays = task_arrays(task)
    n_lrs, n_seeds = lr_mults.shape[1], len(seeds)
    runs = n_lrs * n_seeds  # run r: lr r // n_seeds, seed r % n_seeds
    w0 = jnp.tile(jnp.stack([arrays.seed(s)[0] for s in seeds]), (n_lrs, 1))
    idx = jnp.tile(jnp.stack([arrays.seed(s)[1] for s in seeds]), (n_lrs, 1, 1))
    by_capacity: dict[Capacity, list[int]] = {}
    for p, enc in enumerate(encoded):
        by_capacity.setdefault(enc.capacity(), []).append(p)
    for capacity, members in by_capacity.items():
        fn = compiled_run(task, capacity, "vmap", (chunk, runs)).compiled
        w0s = jnp.broadcast_to(w0, (chunk, *w0.shape))
        idxs = jnp.broadcast_to(idx, (chunk, *idx.shape))
        for first in range(0, len(members), chunk):
            start = time.perf_counter()
            group = members[first : first + chunk]
            padded = group + [group[-1]] * (chunk - len(group))  # fixed shape: repeat the last
            progs = [encoded[p].padded(capacity) for p in padded]
            prog = {k: jnp.asarray(np.stack([a[k] for a in progs])) for k in progs[0]}
            tables = np.stack([
                np.repeat(np.stack([scalar_table(encoded[p], arrays.schedule * m,
                                                 capacity.scalar_slots)
                                    for m in lr_mults[p]]), n_seeds, axis=0)
                for p in padded
            ])
            loss, good = fn(prog, jnp.asarray(tables), w0s, idxs, arrays.data)
            loss = np.asarray(loss).reshape(chunk, n_lrs, n_seeds)
            good = np.asarray(good).reshape(chunk, n_lrs, n_seeds)
            for k, p in enumerate(group):
                losses[p], ok[p] = loss[k], good[k]
                seconds[p] = (time.perf_counter() - start) / len(group)
    return losses, ok, seconds


# --- a recorded run, for checking every step against the reference ---------------------------


@dataclass(frozen=True)
class Trace:
    """One run step by step: ``history[t]`` is ``(w, g, m, v)`` as step ``t`` saw them (flat),
    ``final`` the ``(w, m, v)`` after the last step, ``lrs[t]`` the ``lr`` input of step
    ``t``."""

    history: np.ndarray
    final: np.ndarray
    lrs: np.ndarray
    score: float
    ok: bool


_TRACE_CACHE: dict[tuple[Any, ...], Any] = {}


def trace_run(task: Task, program: Any, lr_mult: float = 1.0, seed: int = 0,
              chunk: int | None = DEFAULT_CHUNK) -> Trace:
    """Train ``program`` once on ``task`` with the interpreter and record every step. A
    separate compile from :func:`compiled_run` (same code, plus the recording)."""
    from proxy_tasks.encoding import encode

    enc = encode(program)
    capacity = enc.capacity()
    key = (task.name, id(task), capacity, chunk)
    fn = _TRACE_CACHE.get(key)
    if fn is None:
        fn = _TRACE_CACHE[key] = jax.jit(make_run(task, capacity, chunk, record=True))
    arrays = task_arrays(task)
    lrs = (arrays.schedule * np.float32(lr_mult)).astype(np.float32)
    table = scalar_table(enc, lrs, capacity.scalar_slots)
    w0, idx = arrays.seed(seed)
    prog = {k: jnp.asarray(v) for k, v in enc.padded(capacity).items()}
    score, ok, history, final = fn(prog, jnp.asarray(table), w0, idx, arrays.data)
    return Trace(np.asarray(history), np.asarray(final), lrs, float(score), bool(ok))
