"""The compiled interpreter: runs an encoded program (:mod:`proxy_tasks.encoding`) in jax.

The functions of the language come from :data:`programs.ops.OPS` (their ``array`` forms with
``jax.numpy`` as ``xp``): nothing here re-implements them. Two pieces:

* :func:`scalar_prologue` evaluates the uniform statements for every step of a run at once
  (columns of a ``(steps, slots)`` table), before the step loop.
* :func:`tensor_program` runs the full statements of one step on the register file
  ``rows`` (``(rows, n_params)``): a ``lax.fori_loop`` over the program's real length whose body
  is a ``lax.switch`` on the statement's branch. The branch index is never batched in the
  per-program layout, so the switch stays a real conditional that runs one function, and each
  branch reads its own argument rows, which XLA fuses into the function.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from programs.ops import OP_NAMES, OPS
from proxy_tasks.encoding import COPY, FULL, SPLAT, TENSOR_BRANCHES, Branch


class FlatBackend:
    """:class:`programs.ops.ArrayBackend` on one flat parameter vector made of contiguous leaves
    of static sizes: ``leaf_sum`` sums each static range and broadcasts it back."""

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


class _ScalarBackend:
    """Backend of the scalar prologue. Reductions never reach it: the encoder stores their
    results full, so the prologue only sees functions of uniform values."""

    xp = jnp

    def leaf_sum(self, x: jax.Array) -> jax.Array:  # pragma: no cover - unreachable by encoding
        return x

    def total_sum(self, x: jax.Array) -> jax.Array:  # pragma: no cover - unreachable by encoding
        return x


def _scalar_branch(name: str) -> Callable[..., jax.Array]:
    op = OPS[name]
    backend = _ScalarBackend()

    def run(table: jax.Array, args: jax.Array) -> jax.Array:
        cols = [lax.dynamic_index_in_dim(table, args[j], axis=1, keepdims=False)
                for j in range(op.arity)]
        out = op.array(backend, *cols)
        return jnp.broadcast_to(out, table.shape[:1]).astype(table.dtype)

    return run


def scalar_prologue(prog: dict[str, jax.Array], lrs: jax.Array) -> jax.Array:
    """Every uniform value at every step: ``(steps, slots)``. ``lrs`` is the ``lr`` input of
    each step; slot 0 holds it, constants come from ``slot_init``."""
    init = prog["slot_init"]
    table = jnp.broadcast_to(init, (lrs.shape[0], init.shape[0]))
    table = table.at[:, 0].set(lrs.astype(init.dtype))
    branches = [_scalar_branch(name) for name in OP_NAMES]

    def body(k: jax.Array, table: jax.Array) -> jax.Array:
        col = lax.switch(prog["scalar_op"][k], branches, table, prog["scalar_args"][k])
        return lax.dynamic_update_index_in_dim(table, col, prog["scalar_target"][k], axis=1)

    return lax.fori_loop(0, prog["n_scalar"], body, table)


def _tensor_branch(branch: Branch, backend: FlatBackend, n: int) -> Callable[..., jax.Array]:
    op = None if branch.op in (COPY, SPLAT) else OPS[branch.op]
    pattern = branch.pattern

    def run(rows: jax.Array, slots: jax.Array, args: jax.Array) -> jax.Array:
        vals = [
            lax.dynamic_index_in_dim(rows, args[j], axis=0, keepdims=False)
            if kind == FULL
            else slots[args[j]]
            for j, kind in enumerate(pattern)
        ]
        out = vals[0] if op is None else op.array(backend, *vals)
        return jnp.broadcast_to(out, (n,)).astype(rows.dtype)

    return run


def tensor_branches(leaf_sizes: Sequence[int]) -> list[Callable[..., jax.Array]]:
    """The switch's cases for parameters made of leaves of these sizes."""
    backend = FlatBackend(leaf_sizes)
    n = sum(backend.leaf_sizes)
    return [_tensor_branch(b, backend, n) for b in TENSOR_BRANCHES]


def tensor_program(
    rows: jax.Array,
    slots: jax.Array,
    prog: dict[str, Any],
    branches: list[Callable[..., jax.Array]],
) -> jax.Array:
    """One step's full statements, ending with ``w -= update`` and the state moves."""

    def body(k: jax.Array, rows: jax.Array) -> jax.Array:
        out = lax.switch(prog["tensor_branch"][k], branches, rows, slots, prog["tensor_args"][k])
        return lax.dynamic_update_slice(rows, out[None], (prog["tensor_target"][k], 0))

    return lax.fori_loop(0, prog["n_tensor"], body, rows)
