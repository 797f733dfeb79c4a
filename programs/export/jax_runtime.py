"""Run an optimizer program on a jax pytree and wrap it as an optax transformation.

This file depends on jax and optax only, never on the rest of the project, because
:func:`programs.export.to_source` copies it verbatim into every standalone optax module it
writes; the in-memory :func:`programs.export.to_optax` imports it. One implementation serves
both, so a generated file behaves exactly like the in-memory export.

A tensor value is a :class:`Leaves`: the list of a pytree's leaves, one array per parameter
tensor, with arithmetic applied leaf by leaf. Nothing is flattened into one vector (that copy
would cost a pass over every parameter each step); under ``jax.jit`` the per-leaf operations
fuse as well as a hand-written ``jax.tree.map`` would. Scalar values (constants, the learning
rate, reductions over all leaves) stay plain scalars; a per-tensor reduction such as ``norm``
is a :class:`Leaves` of 0-d arrays, which broadcasts against its own leaf.

Copied into generated code, so it avoids the builtins ``abs``, ``max`` and ``min``: a generated
module defines functions with those names.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax


class Leaves:
    """One value per parameter tensor; arithmetic maps over the leaves, scalars broadcast."""

    __slots__ = ("items",)

    def __init__(self, items: Any) -> None:
        self.items = list(items)

    def __add__(self, other: Any) -> "Leaves":
        return leafwise(lambda x, y: x + y, self, other)

    def __radd__(self, other: Any) -> "Leaves":
        return leafwise(lambda x, y: x + y, other, self)

    def __sub__(self, other: Any) -> "Leaves":
        return leafwise(lambda x, y: x - y, self, other)

    def __rsub__(self, other: Any) -> "Leaves":
        return leafwise(lambda x, y: x - y, other, self)

    def __mul__(self, other: Any) -> "Leaves":
        return leafwise(lambda x, y: x * y, self, other)

    def __rmul__(self, other: Any) -> "Leaves":
        return leafwise(lambda x, y: x * y, other, self)

    def __truediv__(self, other: Any) -> "Leaves":
        return leafwise(lambda x, y: x / y, self, other)

    def __rtruediv__(self, other: Any) -> "Leaves":
        return leafwise(lambda x, y: x / y, other, self)

    def __ge__(self, other: Any) -> "Leaves":
        return leafwise(lambda x, y: x >= y, self, other)

    def __neg__(self) -> "Leaves":
        return Leaves([-x for x in self.items])


def leafwise(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn`` applied leaf by leaf where an argument is :class:`Leaves`, directly otherwise."""
    count = next((len(a.items) for a in args if isinstance(a, Leaves)), None)
    if count is None:
        return fn(*args)
    columns = [a.items if isinstance(a, Leaves) else [a] * count for a in args]
    return Leaves([fn(*row) for row in zip(*columns, strict=True)])


class _LeafNumpy:
    """``jax.numpy`` with every function mapped over :class:`Leaves` (the ``xp`` of a program)."""

    def __getattr__(self, name: str) -> Callable[..., Any]:
        fn = getattr(jnp, name)
        mapped = lambda *args: leafwise(fn, *args)  # noqa: E731
        setattr(self, name, mapped)
        return mapped

    @staticmethod
    def asarray(x: Any) -> Any:
        # A Python float stays one: jax then treats it as weakly typed and keeps the leaves' dtype.
        return x


xp = _LeafNumpy()


def leaf_sum(x: Leaves) -> Leaves:
    """The sum of each leaf (a 0-d array per leaf, broadcasting against that leaf)."""
    return Leaves([jnp.sum(leaf) for leaf in x.items])


def total_sum(x: Leaves) -> Any:
    """The sum over every element of every leaf."""
    return sum(jnp.sum(leaf) for leaf in x.items)


def _full_leaves(value: Any, like: list) -> list:
    """``value`` broadcast to each leaf's shape and cast to its dtype (state and updates must
    match the parameters even where a program returns a scalar)."""
    items = value.items if isinstance(value, Leaves) else [value] * len(like)
    pairs = zip(items, like, strict=True)
    return [jnp.broadcast_to(x, ref.shape).astype(ref.dtype) for x, ref in pairs]


class ProgramState(NamedTuple):
    """The state of an exported program; a field is ``None`` when the program does not need it.

    ``count``: the step number, kept only when the learning rate is a schedule. ``m``, ``v``:
    trees shaped like the parameters, kept only for the slots the program reads.
    """

    count: Any
    m: Any
    v: Any


def program_transformation(
    program_step: Callable[..., tuple[Any, Any, Any]],
    slots: tuple[str, ...],
    reads_params: bool,
    learning_rate: Any,
) -> optax.GradientTransformation:
    """An optax transformation running ``program_step(w, g, m, v, lr) -> (update, m, v)``.

    ``slots`` names the state the program reads (the others are passed as ``None`` and never
    stored); ``reads_params`` says whether it reads ``w``. ``learning_rate`` is a number
    or an optax schedule evaluated at the step count. Following optax, the transformation returns
    ``-update``, to be added to the parameters with ``optax.apply_updates``.
    """
    schedule = learning_rate if callable(learning_rate) else None

    def init(params: Any) -> ProgramState:
        def zeros(slot: str) -> Any:
            return jax.tree.map(jnp.zeros_like, params) if slot in slots else None

        count = jnp.zeros([], jnp.int32) if schedule is not None else None
        return ProgramState(count=count, m=zeros("m"), v=zeros("v"))

    def update(updates: Any, state: ProgramState, params: Any = None) -> tuple[Any, ProgramState]:
        if reads_params and params is None:
            raise ValueError("this optimizer reads the parameters (w): pass params to update()")
        grads, treedef = jax.tree.flatten(updates)
        w = Leaves(treedef.flatten_up_to(params)) if reads_params else None
        carried = {slot: treedef.flatten_up_to(getattr(state, slot)) for slot in slots}
        lr = schedule(state.count) if schedule is not None else learning_rate
        step, m, v = program_step(
            w,
            Leaves(grads),
            Leaves(carried["m"]) if "m" in carried else None,
            Leaves(carried["v"]) if "v" in carried else None,
            lr,
        )
        new = {"m": m, "v": v}
        kept = {slot: treedef.unflatten(_full_leaves(new[slot], carried[slot])) for slot in slots}
        count = optax.safe_increment(state.count) if schedule is not None else None
        updates_out = treedef.unflatten([-u for u in _full_leaves(step, grads)])
        return updates_out, ProgramState(count=count, m=kept.get("m"), v=kept.get("v"))

    return optax.GradientTransformation(init, update)
