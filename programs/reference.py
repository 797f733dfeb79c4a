"""The reference semantics: one optimizer step on numpy arrays.

Slow and simple on purpose: every other implementation (the compiled interpreter in
``proxy_tasks``, the optax and torch exports) is tested against this one.

Parameters may be a single array or a tree (dict, list, tuple) of arrays. All leaves are
flattened into one vector with a segment id per element, which is exactly how the compiled
interpreter sees them: elementwise functions do not care, ``norm`` sums per segment, the global
reductions sum over everything.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from programs.analysis import check
from programs.execute import run
from programs.ops import OUTPUTS, STATE
from programs.program import Program, ProgramError


class NumpyBackend:
    """The two reductions of :class:`programs.ops.ArrayBackend` for a flattened parameter vector."""

    xp = np

    def __init__(self, segments: np.ndarray, n_segments: int) -> None:
        self.segments = segments
        self.n_segments = n_segments

    def leaf_sum(self, x: np.ndarray) -> np.ndarray:
        x = np.broadcast_to(x, self.segments.shape)
        sums = np.bincount(self.segments, weights=x, minlength=self.n_segments).astype(x.dtype)
        return sums[self.segments]

    def total_sum(self, x: np.ndarray) -> np.ndarray:
        return np.sum(x, dtype=x.dtype)


# --- a minimal tree flattening (numpy only: the language does not import jax) -------------------


def _leaves(tree: Any) -> list[np.ndarray]:
    if isinstance(tree, dict):
        return [leaf for key in sorted(tree) for leaf in _leaves(tree[key])]
    if isinstance(tree, list | tuple):
        return [leaf for item in tree for leaf in _leaves(item)]
    return [np.asarray(tree)]


def _rebuild(tree: Any, leaves: list[np.ndarray]) -> Any:
    it = iter(leaves)

    def build(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: build(node[key]) for key in sorted(node)}
        if isinstance(node, list | tuple):
            return type(node)(build(item) for item in node)
        return next(it)

    return build(tree)


class _Layout:
    """How a tree of parameters maps onto one flat vector."""

    def __init__(self, w: Any) -> None:
        self.tree = w
        self.leaves = _leaves(w)
        if not self.leaves:
            raise ValueError("no parameters: w is an empty tree")
        self.shapes = [leaf.shape for leaf in self.leaves]
        self.sizes = [leaf.size for leaf in self.leaves]
        dtypes = {leaf.dtype for leaf in self.leaves}
        dtype = np.result_type(*dtypes)
        self.dtype = dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float32)
        self.segments = np.repeat(np.arange(len(self.sizes)), self.sizes)

    def flatten(self, tree: Any, name: str) -> np.ndarray:
        leaves = _leaves(tree)
        if len(leaves) != len(self.leaves):
            raise ValueError(f"{name} has {len(leaves)} leaves, w has {len(self.leaves)}")
        parts = []
        for leaf, shape in zip(leaves, self.shapes, strict=True):
            if leaf.shape != shape:
                leaf = np.broadcast_to(leaf, shape)
            parts.append(np.asarray(leaf, self.dtype).ravel())
        return np.concatenate(parts) if parts else np.zeros(0, self.dtype)

    def unflatten(self, flat: np.ndarray) -> Any:
        flat = np.broadcast_to(np.asarray(flat, self.dtype), self.segments.shape)
        out, start = [], 0
        for shape, size in zip(self.shapes, self.sizes, strict=True):
            out.append(np.array(flat[start : start + size]).reshape(shape))
            start += size
        if isinstance(self.tree, dict | list | tuple):
            return _rebuild(self.tree, out)
        return out[0]


def run_flat_env(
    program: Program,
    w: np.ndarray,
    g: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    lr: float,
    backend: NumpyBackend,
) -> dict[str, np.ndarray]:
    """One step on flat vectors, keeping every named value (the program must be valid).

    Constants, ``lr`` and every statement's value are in ``w``'s dtype, as the compiled
    interpreter computes them."""
    dtype = w.dtype.type
    with np.errstate(all="ignore"):
        return run(
            program, backend, w, g, m, v, dtype(lr),
            constant=dtype, result=lambda x: np.asarray(x, dtype=w.dtype),
        )  # fmt: skip


def run_flat(
    program: Program,
    w: np.ndarray,
    g: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    lr: float,
    backend: NumpyBackend,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One step on flat vectors, without validation (the program must be valid)."""
    env = run_flat_env(program, w, g, m, v, lr, backend)
    shape = w.shape
    return tuple(np.broadcast_to(env[name], shape) for name in program.outputs)  # type: ignore[return-value]


def step(program: Program, w: Any, g: Any, m: Any, v: Any, lr: float) -> tuple[Any, Any, Any]:
    """One optimizer step: returns ``(update, m, v)``; the caller does ``w = w - update``.

    ``w, g, m, v`` are numpy arrays of one shape, or trees of them with one structure; scalars
    broadcast. Computation happens in ``w``'s floating dtype. Invalid programs raise
    :class:`ProgramError` naming the problem.
    """
    problems = check(program)
    if problems:
        raise ProgramError("invalid program: " + "; ".join(map(str, problems)))
    layout = _Layout(w)
    flat = [layout.flatten(x, name) for x, name in zip((w, g, m, v), "wgmv", strict=True)]
    backend = NumpyBackend(layout.segments, len(layout.sizes))
    outs = run_flat(program, *flat, lr, backend)
    return tuple(layout.unflatten(o) for o in outs)  # type: ignore[return-value]


def zeros_like_state(w: Any) -> Any:
    """The initial value of each state slot: zeros shaped like ``w``."""
    layout = _Layout(w)
    return layout.unflatten(np.zeros(layout.segments.shape, layout.dtype))


def train(
    program: Program,
    w: Any,
    grads: list[Any],
    lr: float | list[float],
) -> tuple[Any, list[Any]]:
    """Apply ``program`` for ``len(grads)`` steps with given gradients; return the final weights
    and every update. A convenience for tests and the functional fingerprint."""
    m = v = zeros_like_state(w)
    lrs = lr if isinstance(lr, list) else [lr] * len(grads)
    updates = []
    for grad, rate in zip(grads, lrs, strict=True):
        update, m, v = step(program, w, grad, m, v, rate)
        w = _rebuild_like(w, [a - b for a, b in zip(_leaves(w), _leaves(update), strict=True)])
        updates.append(update)
    return w, updates


def _rebuild_like(tree: Any, leaves: list[np.ndarray]) -> Any:
    return _rebuild(tree, leaves) if isinstance(tree, dict | list | tuple) else leaves[0]


assert OUTPUTS[1:] == STATE
