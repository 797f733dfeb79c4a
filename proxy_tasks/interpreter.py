"""The compiled interpreter: runs an encoded program (:mod:`proxy_tasks.encoding`) in jax.

The functions of the language come from :data:`programs.ops.OPS` (their ``array`` forms with
``jax.numpy`` as ``xp``); nothing here re-implements them. The uniform statements ran on the
host before the run (:func:`proxy_tasks.encoding.scalar_table`); here:

* :func:`tensor_step` runs one step's full statements and the weight update. A statement is a
  ``lax.switch`` on its branch (never batched in the per-run layout, so only the chosen
  function runs); each branch reads its own arguments, which XLA fuses into the function.
* Statements run **chunk by chunk**: for each chunk of ``chunk`` parameters, every statement
  of the phase, then the weight update of that chunk, so that a statement's temporaries stay in
  cache instead of making ~5 passes over vectors larger than L2. Measured on the 2-core CPU (15
  interleaved repetitions, teacher/m, 74k parameters): chunks of 2048 cut a training step from
  1232 to 989 us with Lion and from 1389 to 1062 us with AdamW (hand-written: 919 and 835); on
  tasks of 30k parameters or fewer it makes no difference.

Reductions (``norm``, ``global_norm``, ``dot``, ``cosine_sim``, ``clip_by_global_norm``) need
whole vectors, so they split the program into *phases*, each starting at a reduction. Before a
phase, one full pass evaluates the reduction's function from the table with a *recording*
backend that keeps the sums it asks for; the chunked pass then evaluates the same function
with a *replay* backend that returns those sums (per-tensor sums gathered by each element's
tensor). The parameter vector is padded to whole chunks; the padding is never read back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from programs.ops import OPS
from proxy_tasks.encoding import (
    ARG_WIDTH,
    FULL,
    SCALED,
    UNIFORM,
    WEIGHTS,
    Branch,
    branch_table,
)


@dataclass(frozen=True)
class Chunking:
    """How the flat parameter vector is cut: leaves (for ``norm``) and chunks (for speed)."""

    leaf_sizes: tuple[int, ...]
    chunk: int

    @property
    def n(self) -> int:
        return sum(self.leaf_sizes)

    @property
    def n_chunks(self) -> int:
        return -(-self.n // self.chunk)

    @property
    def padded(self) -> int:
        return self.n_chunks * self.chunk

    @property
    def boundaries(self) -> np.ndarray:
        """Where each leaf after the first starts."""
        return np.cumsum(self.leaf_sizes)[:-1].astype(np.int32)


def make_chunking(leaf_sizes: Sequence[int], chunk: int | None = 2048) -> Chunking:
    """``chunk=None`` (or one at least the parameter count) runs statements unchunked."""
    sizes = tuple(int(n) for n in leaf_sizes)
    total = sum(sizes)
    if chunk is None or chunk >= total:
        chunk = total
    if chunk < 1:
        raise ValueError(f"chunk must be positive, got {chunk}")
    return Chunking(sizes, int(chunk))


# --- reductions: record the sums over whole vectors, replay them chunk by chunk ----------------


class _Recording:
    """Computes each sum a function asks for on whole vectors and keeps it."""

    xp = jnp

    def __init__(self, chunking: Chunking) -> None:
        self.chunking = chunking
        self.sums: list[jax.Array] = []

    def leaf_sum(self, x: jax.Array) -> jax.Array:
        sizes = self.chunking.leaf_sizes
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        per_leaf = jnp.stack([jnp.sum(x[s : s + n]) for s, n in zip(starts, sizes,
                                                                       strict=True)])
        self.sums.append(jnp.concatenate([per_leaf, jnp.zeros(1, per_leaf.dtype)]))
        return jnp.repeat(per_leaf, np.array(sizes), total_repeat_length=self.chunking.n)

    def total_sum(self, x: jax.Array) -> jax.Array:
        total = jnp.sum(x)
        self.sums.append(jnp.broadcast_to(total, (len(self.chunking.leaf_sizes) + 1,)))
        return total


class _Replay:
    """Returns recorded sums, in the order the function asks for them, on one chunk."""

    xp = jnp

    def __init__(self, sums: jax.Array, leaf_of: jax.Array) -> None:
        self.sums, self.leaf_of, self.calls = sums, leaf_of, 0

    def _next(self) -> jax.Array:
        row = self.sums[self.calls]
        self.calls += 1
        return row

    def leaf_sum(self, x: jax.Array) -> jax.Array:
        return self._next()[self.leaf_of]

    def total_sum(self, x: jax.Array) -> jax.Array:
        return self._next()[0]


def _reduce_branch(branch: Branch | None, chunking: Chunking,
                   max_sums: int) -> Callable[..., jax.Array]:
    """The sums one reduction statement needs, ``(max_sums, leaves + 1)``, from whole rows
    (``max_sums``: the most any function of the table asks for)."""
    width = len(chunking.leaf_sizes) + 1

    def run(rows: jax.Array, slots: jax.Array, args: jax.Array) -> jax.Array:
        if branch is None:
            return jnp.zeros((max_sums, width), rows.dtype)
        vals, i = [], 0
        for kind in branch.pattern:
            if kind == FULL:
                row = lax.dynamic_index_in_dim(rows, args[i], axis=0, keepdims=False)
                vals.append(row[: chunking.n])
            else:
                vals.append(slots[args[i]])
            i += ARG_WIDTH[kind]
        backend = _Recording(chunking)
        OPS[branch.op].array_for(backend)(backend, *vals)
        sums = backend.sums + [jnp.zeros(width, rows.dtype)] * (max_sums - len(backend.sums))
        return jnp.stack(sums).astype(rows.dtype)

    return run


# --- the chunked tensor program ----------------------------------------------------------------


def _chunk_branch(branch: Branch, chunking: Chunking) -> Callable[..., jax.Array]:
    op = OPS.get(branch.op)  # None for the pseudo-functions
    pattern, n = branch.pattern, chunking.chunk
    bounds = jnp.asarray(chunking.boundaries)

    def run(rows: jax.Array, slots: jax.Array, w: jax.Array, sums: jax.Array,
            args: jax.Array, start: jax.Array) -> jax.Array:
        def row(i: jax.Array) -> jax.Array:
            return lax.dynamic_slice(rows, (i, start), (1, n))[0]

        def weights() -> jax.Array:
            return lax.dynamic_slice(w, (start,), (n,))

        vals, i = [], 0
        for kind in pattern:
            if kind == FULL:
                vals.append(row(args[i]))
            elif kind == UNIFORM:
                vals.append(slots[args[i]])
            elif kind == SCALED:
                vals.append(row(args[i]) * slots[args[i + 1]])
            elif kind == WEIGHTS:
                vals.append(weights())
            else:  # SCALED_WEIGHTS
                vals.append(weights() * slots[args[i]])
            i += ARG_WIDTH[kind]
        if op is None:
            out = vals[0]
        else:
            position = start + jnp.arange(n, dtype=jnp.int32)
            leaf_of = jnp.sum(position[:, None] >= bounds[None, :], axis=1) if bounds.size \
                else jnp.zeros(n, jnp.int32)
            replay = _Replay(sums, leaf_of)
            out = op.array_for(replay)(replay, *vals)
        return jnp.broadcast_to(out, (n,)).astype(rows.dtype)

    return run


@dataclass(frozen=True)
class Interpreter:
    """The compiled-in parts for one task: how it is chunked, and the switch's cases."""

    chunking: Chunking
    chunk_branches: tuple[Callable[..., jax.Array], ...]
    reduce_branches: tuple[Callable[..., jax.Array], ...]


def make_interpreter(chunking: Chunking) -> Interpreter:
    """The switch's cases for the function table as it is now (:func:`branch_table`): a
    function added to the table is a case of every interpreter built afterwards."""
    table = branch_table()
    return Interpreter(
        chunking,
        tuple(_chunk_branch(b, chunking) for b in table.tensor_branches),
        tuple(_reduce_branch(b, chunking, table.max_sums) for b in table.reduce_branches),
    )


def tensor_step(
    interp: Interpreter,
    rows: jax.Array,
    w: jax.Array,
    slots: jax.Array,
    prog: dict[str, Any],
) -> tuple[jax.Array, jax.Array]:
    """One step's full statements (state moves included) and ``w -= row[u] * slot[s]``.

    ``rows`` is ``(rows, padded)`` with ``g`` in its row; ``w`` is ``(padded,)``. Returns the new
    ``(rows, w)``. The weight update runs per chunk after the last phase's statements.
    """
    chunking = interp.chunking
    n = chunking.chunk
    starts, branches, kinds = prog["phase_start"], prog["tensor_branch"], prog["tensor_args"]
    targets, n_phases = prog["tensor_target"], prog["n_phases"]
    update_row, update_slot = prog["update"][0], prog["update"][1]

    def phase(p: jax.Array, carry: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        rows, w = carry
        first, stop = starts[p], starts[p + 1]
        sums = lax.switch(prog["reduce_branch"][p], interp.reduce_branches, rows, slots,
                          kinds[first])
        last = p == n_phases - 1

        def chunk(c: jax.Array, carry: tuple[jax.Array, jax.Array]) -> tuple:
            rows, w = carry
            start = c * n

            def statement(k: jax.Array, rows: jax.Array) -> jax.Array:
                out = lax.switch(branches[k], interp.chunk_branches, rows, slots, w, sums,
                                 kinds[k], start)
                return lax.dynamic_update_slice(rows, out[None], (targets[k], start))

            rows = lax.fori_loop(first, stop, statement, rows)
            old = lax.dynamic_slice(w, (start,), (n,))
            update = lax.dynamic_slice(rows, (update_row, start), (1, n))[0]
            new = jnp.where(last, old - update * slots[update_slot], old)
            return rows, lax.dynamic_update_slice(w, new, (start,))

        return lax.fori_loop(0, chunking.n_chunks, chunk, (rows, w))

    return lax.fori_loop(0, n_phases, phase, (rows, w))
