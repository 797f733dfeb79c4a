"""Run an optimizer program on torch tensors and wrap it as a ``torch.optim.Optimizer``.

This file depends on torch only, never on the rest of the project, because
:func:`programs.export.to_source` copies it verbatim into every standalone torch module it
writes; the in-memory :func:`programs.export.to_torch` imports it. One implementation serves
both, so a generated file behaves exactly like the in-memory export.

A tensor value is a :class:`Leaves`: the parameters of one param group, one tensor each, with
arithmetic applied tensor by tensor. With ``foreach`` set, operations that torch offers as
``torch._foreach_*`` kernels run as one call over the whole list (one dispatch instead of one
per parameter); the rest, and everything when ``foreach`` is off, loop over the parameters.
Scalar values (constants, the learning rate) stay Python floats, which every torch operation
accepts; a function of scalars alone, or a reduction, gives a 0-d tensor. A per-tensor
reduction such as ``norm`` is a :class:`Leaves` of 0-d tensors, broadcasting against its own
parameter. Reductions over all parameters (``global_norm``, ``dot``...) cover the param group.

Copied into generated code, so it avoids the builtins ``abs``, ``max`` and ``min``: a generated
module defines functions with those names.
"""

import operator
from collections.abc import Callable, Iterable
from typing import Any

import torch

array_kind = "torch"
"""What this backend's arrays are: functions with a torch form of their own use it."""


class Leaves:
    """One tensor per parameter; arithmetic maps over them, scalars broadcast."""

    __slots__ = ("foreach", "items")

    def __init__(self, items: Iterable[torch.Tensor], foreach: bool) -> None:
        self.items = list(items)
        self.foreach = foreach

    def __add__(self, other: Any) -> "Leaves":
        return _binary("add", self, other)

    def __radd__(self, other: Any) -> "Leaves":
        return _binary("add", other, self)

    def __sub__(self, other: Any) -> "Leaves":
        return _binary("sub", self, other)

    def __rsub__(self, other: Any) -> "Leaves":
        return _binary("sub", other, self)

    def __mul__(self, other: Any) -> "Leaves":
        return _binary("mul", self, other)

    def __rmul__(self, other: Any) -> "Leaves":
        return _binary("mul", other, self)

    def __truediv__(self, other: Any) -> "Leaves":
        return _binary("div", self, other)

    def __rtruediv__(self, other: Any) -> "Leaves":
        return _binary("div", other, self)

    def __ge__(self, other: Any) -> "Leaves":
        return _binary("ge", self, other)

    def __neg__(self) -> "Leaves":
        if self.foreach:
            return Leaves(torch._foreach_neg(self.items), True)
        return Leaves([-x for x in self.items], False)


def _first_leaves(args: tuple) -> Leaves | None:
    return next((a for a in args if isinstance(a, Leaves)), None)


def _per_tensor(fn: Callable[..., Any], args: tuple, like: Leaves) -> Leaves:
    columns = [a.items if isinstance(a, Leaves) else [a] * len(like.items) for a in args]
    return Leaves([fn(*row) for row in zip(*columns, strict=True)], like.foreach)


_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "div": operator.truediv,
    "ge": operator.ge,
}
_FOREACH_BINARY: dict[str, Callable[..., Any]] = {
    "add": torch._foreach_add,
    "sub": torch._foreach_sub,
    "mul": torch._foreach_mul,
    "div": torch._foreach_div,
    "maximum": torch._foreach_maximum,
    "minimum": torch._foreach_minimum,
    "power": torch._foreach_pow,
}
_COMMUTATIVE = frozenset({"add", "mul", "maximum", "minimum"})
_TAKES_SCALAR_TENSOR = frozenset({"add", "mul", "div"})  # have a (TensorList, Tensor) overload


def _foreach_binary(name: str, x: Any, y: Any) -> Leaves | None:
    """``name(x, y)`` as one ``torch._foreach_*`` call where an overload fits, else ``None``."""
    fn = _FOREACH_BINARY.get(name)
    if fn is None:
        return None
    if not isinstance(x, Leaves):
        if name in _COMMUTATIVE:
            return _foreach_binary(name, y, x)
        if name == "sub" and isinstance(y, Leaves) and isinstance(x, float | int):
            return Leaves(torch._foreach_add(torch._foreach_neg(y.items), x), True)  # exact
        if name == "power" and isinstance(y, Leaves) and isinstance(x, float | int):
            return Leaves(torch._foreach_pow(x, y.items), True)
        return None
    if isinstance(y, Leaves):
        return Leaves(fn(x.items, y.items), True)
    if isinstance(y, float | int):
        return Leaves(fn(x.items, y), True)
    if (
        isinstance(y, torch.Tensor)
        and y.dim() == 0
        and name in _TAKES_SCALAR_TENSOR
        and x.items
        and y.device == x.items[0].device
    ):
        return Leaves(fn(x.items, y), True)
    return None


def _binary(name: str, x: Any, y: Any) -> Any:
    like = _first_leaves((x, y))
    if like.foreach:
        fast = _foreach_binary(name, x, y)
        if fast is not None:
            return fast
    fn = _OPERATORS.get(name) or _function(name)
    return _per_tensor(fn, (x, y), like)


_FOREACH_UNARY: dict[str, Callable[..., Any]] = {
    name: getattr(torch, f"_foreach_{torch_name}")
    for name, torch_name in {
        "abs": "abs", "cos": "cos", "sin": "sin", "tan": "tan", "arcsin": "asin",
        "arccos": "acos", "arctan": "atan", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh",
        "exp": "exp", "expm1": "expm1", "log": "log", "log10": "log10", "log2": "log2",
        "sqrt": "sqrt", "sign": "sign",
    }.items()
}  # fmt: skip


_RENAMED: dict[str, Callable[..., Any]] = {"power": torch.pow}


def _as_tensor(x: Any, dtype: torch.dtype) -> Any:
    if isinstance(x, bool):
        return torch.tensor(x)
    return torch.tensor(x, dtype=dtype) if isinstance(x, float | int) else x


def _function(name: str) -> Callable[..., Any]:
    """The torch function behind ``xp.<name>``, taking Python floats where torch wants tensors.

    A float becomes a tensor of the dtype of the call's first tensor argument, so that the
    computation happens in the parameters' dtype as in the reference; of torch's default dtype
    in a call on scalars alone.
    """
    fn = _RENAMED.get(name) or getattr(torch, name)

    def call(*args: Any) -> Any:
        like = next((a for a in args if isinstance(a, torch.Tensor)), None)
        dtype = torch.get_default_dtype() if like is None else like.dtype
        return fn(*[_as_tensor(a, dtype) for a in args])

    return call


def _mapped(name: str) -> Callable[..., Any]:
    """``xp.<name>``: the torch function over :class:`Leaves`, one ``_foreach_*`` call if any."""
    fn = _function(name)
    unary = _FOREACH_UNARY.get(name)

    def mapped(*args: Any) -> Any:
        like = _first_leaves(args)
        if like is None:
            return fn(*args)
        if like.foreach:
            if unary is not None and len(args) == 1:
                return Leaves(unary(like.items), True)
            fast = _foreach_binary(name, *args) if len(args) == 2 else None
            if fast is not None:
                return fast
        return _per_tensor(fn, args, like)

    return mapped


_clip_per_tensor = _mapped("clip")


class _LeafTorch:
    """torch with every function mapped over :class:`Leaves` (the ``xp`` of a program)."""

    def __getattr__(self, name: str) -> Callable[..., Any]:
        mapped = _mapped(name)
        setattr(self, name, mapped)
        return mapped

    @staticmethod
    def asarray(x: Any) -> Any:
        return x

    @staticmethod
    def clip(x: Any, low: Any, high: Any) -> Any:
        if isinstance(x, Leaves) and x.foreach and isinstance(low, float | int) and isinstance(
            high, float | int
        ):
            low_clipped = torch._foreach_clamp_min(x.items, low)
            return Leaves(torch._foreach_clamp_max(low_clipped, high), True)
        return _clip_per_tensor(x, low, high)


xp = _LeafTorch()


def leaf_sum(x: Leaves) -> Leaves:
    """The sum of each tensor (a 0-d tensor per parameter, broadcasting against it)."""
    return Leaves([t.sum() for t in x.items], x.foreach)


def total_sum(x: Leaves) -> Any:
    """The sum over every element of every tensor."""
    return sum(t.sum() for t in x.items)


def _full(value: Any, params: list, inputs: tuple) -> list:
    """``value`` as one fresh tensor per parameter, of its shape and dtype.

    A program may return a scalar, a per-tensor scalar, or one of its own inputs (the weights,
    the gradient); state must not alias a tensor that ``step`` or ``backward`` mutates in place.
    """
    items = value.items if isinstance(value, Leaves) else [value] * len(params)
    out = []
    for i, (x, p) in enumerate(zip(items, params, strict=True)):
        if not isinstance(x, torch.Tensor):
            x = torch.full_like(p, x)
        elif x.shape != p.shape or any(x is leaves.items[i] for leaves in inputs):
            x = x.to(p.dtype).expand_as(p).clone(memory_format=torch.contiguous_format)
        out.append(x if x.dtype == p.dtype else x.to(p.dtype))
    return out


class ProgramOptimizer(torch.optim.Optimizer):
    """A ``torch.optim.Optimizer`` running ``train(w, g, m, v, lr) -> (update, m, v)``.

    A subclass sets ``train`` (a staticmethod), ``slots`` (the state slots the program reads:
    only those are stored per parameter), ``reads_params`` and ``default_lr`` (the ``lr`` when
    none is given). Each step does
    ``p -= update`` for every parameter with a gradient. Reductions over all parameters
    (``global_norm``, ``dot``, ``cosine_sim``, ``clip_by_global_norm``) cover the parameters of
    one param group that have gradients. ``foreach`` (default: on) uses ``torch._foreach_*``
    kernels where torch has them.
    """

    slots: tuple[str, ...] = ()
    reads_params: bool = True
    default_lr: float = 1.0

    @staticmethod
    def train(w: Any, g: Any, m: Any, v: Any, lr: Any) -> tuple[Any, Any, Any]:
        raise NotImplementedError("a ProgramOptimizer subclass sets train")

    def __init__(
        self, params: Any, lr: float | None = None, *, foreach: bool | None = None
    ) -> None:
        if lr is None:
            lr = type(self).default_lr
        if not isinstance(lr, float | int) or lr != lr or lr < 0:
            raise ValueError(f"lr must be a non-negative number, got {lr!r}")
        super().__init__(params, {"lr": float(lr), "foreach": foreach})

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                self._step_group(params, group)
        return loss

    def _step_group(self, params: list, group: dict) -> None:
        name = type(self).__name__
        for p in params:
            if p.grad.is_sparse:
                raise RuntimeError(f"{name} does not support sparse gradients")
            if not torch.is_floating_point(p):
                raise RuntimeError(f"{name} needs floating-point parameters, got {p.dtype}")
        foreach = group["foreach"] is not False
        states = [self.state[p] for p in params]
        for p, state in zip(params, states, strict=True):
            for slot in self.slots:
                if slot not in state:
                    state[slot] = torch.zeros_like(p, memory_format=torch.preserve_format)
        w = Leaves(params, foreach)
        g = Leaves([p.grad for p in params], foreach)
        carried = {slot: Leaves([s[slot] for s in states], foreach) for slot in self.slots}
        update, m, v = type(self).train(
            w if self.reads_params else None, g, carried.get("m"), carried.get("v"), group["lr"]
        )
        new = {"m": m, "v": v}
        for slot in self.slots:
            for state, value in zip(states, _full(new[slot], params, (w, g)), strict=True):
                state[slot] = value
        updates = _full(update, params, ())
        if foreach:
            torch._foreach_sub_(params, updates)
        else:
            for p, u in zip(params, updates, strict=True):
                p.sub_(u)
