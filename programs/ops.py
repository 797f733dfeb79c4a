"""The function library: one table, read by everything else.

Each entry (:class:`Op`) says how many arguments a function takes, which kinds they may be (a
per-tensor *scalar* or a *tensor* of the parameters' shape), the kind of its result, and how to
compute it: on arrays (one implementation shared by numpy and jax through the ``xp`` array
module, with a torch form where numpy's does not carry over), as a sympy expression, and as
Python source for a standalone exported module. Adding a function to the language is adding one
entry here (or :func:`register` at run time); the parser, abstract execution, the one statement
loop (:mod:`programs.execute`), the compiled interpreter's branches, the simplifier and its way
back from sympy, and the exporters all read this table, and whatever they keep derived from it is
rebuilt when it changes (:func:`derived`).

Semantics follow the Lion paper's search space (arXiv 2302.06675, google/automl ``hero``), with
domains guarded so that no function itself returns NaN on finite input: ``log`` and ``sqrt`` take
``|x|``, the inverse trigonometric functions clip their argument into their domain, division and
``reciprocal`` keep their denominator at least ``eps`` away from zero. Overflow to ``inf`` is
still possible (``exp(100)``); evaluation treats a non-finite result as a failed program.

Values live on *leaves*: a program may run on a single array or on a tree of parameter tensors.
Elementwise functions act leaf by leaf; ``norm`` is a per-leaf reduction (one scalar per tensor),
while ``global_norm``, ``dot``, ``cosine_sim`` and ``clip_by_global_norm`` reduce over all leaves,
as in the paper. An array backend supplies the two reductions (:class:`ArrayBackend`).
"""

from __future__ import annotations

import ast
import keyword
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from functools import cached_property, wraps
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

import numpy as np
import sympy

EPS = 1e-8
"""The guard of division, ``reciprocal``, ``rsqrt`` and ``cosine_sim``; the value of ``get_eps``."""


class Kind(Enum):
    """What a value is, as far as abstract execution cares."""

    SCALAR = "scalar"  # one number (per tensor leaf); broadcasts against tensors
    TENSOR = "tensor"  # one number per parameter

    def __str__(self) -> str:
        return self.value


class ArgKind(Enum):
    """What a function accepts in one argument position."""

    ANY = "any"
    SCALAR = "scalar"
    TENSOR = "tensor"

    def accepts(self, kind: Kind) -> bool:
        return self is ArgKind.ANY or self.value == kind.value


class ResultKind(Enum):
    """How a function's result kind follows from its arguments' kinds."""

    BROADCAST = "broadcast"  # tensor if any argument is a tensor, else scalar
    SCALAR = "scalar"  # always a scalar (constants, reductions)
    FIRST = "first"  # the kind of the first argument


class ArrayBackend(Protocol):
    """What an array implementation must provide besides its array module ``xp``.

    ``leaf_sum(x)`` sums ``x`` over each parameter tensor and broadcasts the sum back to ``x``'s
    shape; ``total_sum(x)`` sums over all of them. Both receive tensors only (abstract execution
    guarantees it). A backend may also say what its arrays are, ``array_kind = "torch"``, to get
    the functions' torch forms (:meth:`Op.array_for`).
    """

    xp: Any

    def leaf_sum(self, x: Any) -> Any: ...

    def total_sum(self, x: Any) -> Any: ...


@dataclass(frozen=True)
class Op:
    """One function of the language, with everything every part of the software needs from it.

    ``array`` computes it on arrays: ``array(backend, *args)``, one implementation for numpy and
    jax through the backend's array module ``backend.xp``. ``symbolic`` builds its sympy
    expression from sympy arguments; it mirrors ``array`` but drops the ``eps`` guards, which
    exist for numerical safety, not meaning (the simplifier's way back from sympy,
    :mod:`programs.rebuild`, is derived from it). ``source`` is the same function as Python
    source for a standalone exported module: the body of ``def <name>(<params>):`` over ``xp``,
    ``leaf_sum``, ``total_sum``, ``EPS`` and ``_away_from_zero(y)``, its last line the value
    returned; ``params`` names the arguments in it (default ``x``, ``y``, ``z``).

    ``torch`` and ``torch_source`` replace ``array`` and ``source`` on torch, for a function
    whose numpy form has no torch counterpart (torch has no ``cbrt``). ``infix`` is the operator
    symbol of the four arithmetic operators, which the text form writes as ``a + b``.
    ``keeps_sign`` marks a function that is odd, increasing and zero only at zero, so that
    ``sign(f(x))`` is ``sign(x)``: the simplifier sees through it. Whether a function is a
    *reduction* (sums over a parameter tensor or over all of them) is not declared: it is
    observed, :attr:`sums`.
    """

    name: str
    arg_kinds: tuple[ArgKind, ...]
    result: ResultKind
    array: Callable[..., Any]
    symbolic: Callable[..., Any]
    source: str
    commutative: bool = False
    infix: str | None = None
    doc: str = ""
    params: tuple[str, ...] | None = None
    keeps_sign: bool = False
    torch: Callable[..., Any] | None = None
    torch_source: str | None = None

    @property
    def arity(self) -> int:
        return len(self.arg_kinds)

    @property
    def source_params(self) -> tuple[str, ...]:
        """The argument names ``source`` uses."""
        return self.params if self.params is not None else ("x", "y", "z")[: self.arity]

    def array_for(self, backend: ArrayBackend) -> Callable[..., Any]:
        """The array form to run on ``backend``: the torch form on a backend whose
        ``array_kind`` is ``"torch"`` (where there is one), else ``array``."""
        if self.torch is not None and getattr(backend, "array_kind", None) == "torch":
            return self.torch
        return self.array

    def source_for(self, target: str) -> str:
        """``source`` for an exported module of ``target`` (``"optax"`` or ``"torch"``)."""
        if target == "torch" and self.torch_source is not None:
            return self.torch_source
        return self.source

    @cached_property
    def sums(self) -> int:
        """How many sums (``leaf_sum``/``total_sum``) one call asks its backend for: 0 for an
        elementwise function, at least 1 for a reduction. Observed by running ``array`` once
        on numpy (array code cannot branch on data, so the count is the same on every call)."""
        backend = _CountingBackend()
        args = [np.ones(4) if k is not ArgKind.SCALAR else np.float64(0.5) for k in self.arg_kinds]
        with np.errstate(all="ignore"):
            self.array(backend, *args)
        return backend.calls

    @property
    def reduction(self) -> bool:
        """Does this function sum over a whole parameter tensor (or all of them)? A compiled
        interpreter that cuts vectors into chunks must then compute the sums first."""
        return self.sums > 0

    def result_kind(self, kinds: tuple[Kind, ...]) -> Kind:
        if self.result is ResultKind.SCALAR:
            return Kind.SCALAR
        if self.result is ResultKind.FIRST:
            return kinds[0]
        return Kind.TENSOR if Kind.TENSOR in kinds else Kind.SCALAR


class _CountingBackend:
    """numpy, counting the sums a function asks for (see :attr:`Op.sums`)."""

    xp = np

    def __init__(self) -> None:
        self.calls = 0

    def leaf_sum(self, x: Any) -> Any:
        self.calls += 1
        return np.broadcast_to(np.sum(x), np.shape(x))

    def total_sum(self, x: Any) -> Any:
        self.calls += 1
        return np.sum(x)


# --- guarded helpers shared by numpy and jax ------------------------------------------------------


def _away_from_zero(xp: Any, y: Any) -> Any:
    """``y`` pushed at least EPS away from zero, keeping its sign (0 counts as positive)."""
    return xp.where(y >= 0, y + EPS, y - EPS)


def _div(b: ArrayBackend, x: Any, y: Any) -> Any:
    return x / _away_from_zero(b.xp, y)


def _cosine_sim(b: ArrayBackend, x: Any, y: Any) -> Any:
    xp = b.xp
    nx = xp.sqrt(b.total_sum(x * x))
    ny = xp.sqrt(b.total_sum(y * y))
    return b.total_sum(x * y) / (nx * ny + EPS)


def _clip_by_global_norm(b: ArrayBackend, x: Any, c: Any) -> Any:
    xp = b.xp
    n = xp.sqrt(b.total_sum(x * x))
    return x * xp.minimum(1.0, xp.abs(c) / (n + EPS))


_ONE_MINUS = 1.0 - 1e-6  # keeps arctanh finite in float32


_A, _S, _T = ArgKind.ANY, ArgKind.SCALAR, ArgKind.TENSOR
_B, _SC, _F = ResultKind.BROADCAST, ResultKind.SCALAR, ResultKind.FIRST

_sym_abs = sympy.Abs


def _unary(
    name: str, array: Callable, symbolic: Callable, doc: str, source: str, **more: Any
) -> Op:
    return Op(name, (_A,), _B, lambda b, x: array(b.xp, x), symbolic, source, doc=doc, **more)


_ARCTANH_SOURCE = f"xp.arctanh(xp.clip(x, -{_ONE_MINUS!r}, {_ONE_MINUS!r}))"

_TABLE: list[Op] = [
    # constants
    Op("get_pi", (), _SC, lambda b: b.xp.asarray(math.pi), lambda: sympy.pi,
       f"xp.asarray({math.pi!r})", doc="pi"),
    Op("get_e", (), _SC, lambda b: b.xp.asarray(math.e), lambda: sympy.E,
       f"xp.asarray({math.e!r})", doc="e"),
    Op("get_eps", (), _SC, lambda b: b.xp.asarray(EPS), lambda: sympy.Float(EPS),
       "xp.asarray(EPS)", doc="1e-8"),
    # elementwise unary
    _unary("abs", lambda xp, x: xp.abs(x), _sym_abs, "|x|", "xp.abs(x)"),
    _unary("cos", lambda xp, x: xp.cos(x), sympy.cos, "cos(x)", "xp.cos(x)"),
    _unary("sin", lambda xp, x: xp.sin(x), sympy.sin, "sin(x)", "xp.sin(x)"),
    _unary("tan", lambda xp, x: xp.tan(x), sympy.tan, "tan(x)", "xp.tan(x)"),
    _unary("arcsin", lambda xp, x: xp.arcsin(xp.clip(x, -1.0, 1.0)), sympy.asin,
           "arcsin(x), x clipped to [-1, 1]", "xp.arcsin(xp.clip(x, -1.0, 1.0))"),
    _unary("arccos", lambda xp, x: xp.arccos(xp.clip(x, -1.0, 1.0)), sympy.acos,
           "arccos(x), x clipped to [-1, 1]", "xp.arccos(xp.clip(x, -1.0, 1.0))"),
    _unary("arctan", lambda xp, x: xp.arctan(x), sympy.atan, "arctan(x)", "xp.arctan(x)",
           keeps_sign=True),
    _unary("sinh", lambda xp, x: xp.sinh(x), sympy.sinh, "sinh(x)", "xp.sinh(x)",
           keeps_sign=True),
    _unary("cosh", lambda xp, x: xp.cosh(x), sympy.cosh, "cosh(x)", "xp.cosh(x)"),
    _unary("tanh", lambda xp, x: xp.tanh(x), sympy.tanh, "tanh(x)", "xp.tanh(x)",
           keeps_sign=True),
    _unary("arcsinh", lambda xp, x: xp.arcsinh(x), sympy.asinh, "arcsinh(x)", "xp.arcsinh(x)",
           keeps_sign=True),
    _unary("arccosh", lambda xp, x: xp.arccosh(xp.maximum(xp.abs(x), 1.0)),
           lambda x: sympy.acosh(_sym_abs(x)), "arccosh(max(|x|, 1))",
           "xp.arccosh(xp.maximum(xp.abs(x), 1.0))"),
    _unary("arctanh", lambda xp, x: xp.arctanh(xp.clip(x, -_ONE_MINUS, _ONE_MINUS)), sympy.atanh,
           "arctanh(x), x clipped into (-1, 1)", _ARCTANH_SOURCE, keeps_sign=True),
    _unary("exp", lambda xp, x: xp.exp(x), sympy.exp, "e^x", "xp.exp(x)"),
    _unary("exp2", lambda xp, x: xp.exp2(x), lambda x: 2**x, "2^x", "xp.exp2(x)"),
    _unary("exp10", lambda xp, x: xp.power(10.0, x), lambda x: 10**x, "10^x",
           "xp.power(10.0, x)"),
    _unary("expm1", lambda xp, x: xp.expm1(x), lambda x: sympy.exp(x) - 1, "e^x - 1",
           "xp.expm1(x)"),
    _unary("log", lambda xp, x: xp.log(xp.abs(x)), lambda x: sympy.log(_sym_abs(x)), "log|x|",
           "xp.log(xp.abs(x))"),
    _unary("log10", lambda xp, x: xp.log10(xp.abs(x)),
           lambda x: sympy.log(_sym_abs(x), 10), "log10|x|", "xp.log10(xp.abs(x))"),
    _unary("log2", lambda xp, x: xp.log2(xp.abs(x)),
           lambda x: sympy.log(_sym_abs(x), 2), "log2|x|", "xp.log2(xp.abs(x))"),
    _unary("log1p", lambda xp, x: xp.log(xp.abs(1.0 + x)),
           lambda x: sympy.log(_sym_abs(1 + x)), "log|1 + x|", "xp.log(xp.abs(1.0 + x))"),
    _unary("square", lambda xp, x: x * x, lambda x: x**2, "x^2", "x * x"),
    _unary("sqrt", lambda xp, x: xp.sqrt(xp.abs(x)), lambda x: sympy.sqrt(_sym_abs(x)),
           "sqrt|x|", "xp.sqrt(xp.abs(x))"),
    _unary("rsqrt", lambda xp, x: 1.0 / (xp.sqrt(xp.abs(x)) + EPS),
           lambda x: 1 / sympy.sqrt(_sym_abs(x)), "1 / (sqrt|x| + eps)",
           "1.0 / (xp.sqrt(xp.abs(x)) + EPS)"),
    _unary("cube", lambda xp, x: x * x * x, lambda x: x**3, "x^3", "x * x * x"),
    _unary("cbrt", lambda xp, x: xp.cbrt(x),
           lambda x: sympy.sign(x) * _sym_abs(x) ** sympy.Rational(1, 3), "real cube root",
           "xp.cbrt(x)", keeps_sign=True,
           # torch has no cube root; this is the real one, odd like numpy's.
           torch=lambda b, x: b.xp.sign(x) * b.xp.power(b.xp.abs(x), 1.0 / 3.0),
           torch_source="xp.sign(x) * xp.power(xp.abs(x), 1.0 / 3.0)"),
    _unary("sign", lambda xp, x: xp.sign(x), sympy.sign, "-1, 0 or 1", "xp.sign(x)",
           keeps_sign=True),
    _unary("reciprocal", lambda xp, x: 1.0 / _away_from_zero(xp, x), lambda x: 1 / x,
           "1 / x, denominator kept eps away from 0", "1.0 / _away_from_zero(x)"),
    _unary("invert", lambda xp, x: 1.0 - x, lambda x: 1 - x,
           "1 - x (the paper's bitwise invert means nothing on floats)", "1.0 - x"),
    _unary("negative", lambda xp, x: -x, lambda x: -x, "-x", "-x"),
    # reductions
    Op("norm", (_T,), _SC, lambda b, x: b.xp.sqrt(b.leaf_sum(x * x)),
       lambda x: sympy.Function("norm")(x), "xp.sqrt(leaf_sum(x * x))",
       doc="L2 norm of each parameter tensor"),
    Op("global_norm", (_T,), _SC, lambda b, x: b.xp.sqrt(b.total_sum(x * x)),
       lambda x: sympy.Function("global_norm")(x), "xp.sqrt(total_sum(x * x))",
       doc="L2 norm over all parameters"),
    Op("dot", (_T, _T), _SC, lambda b, x, y: b.total_sum(x * y),
       lambda x, y: sympy.Function("dot")(*sorted((x, y), key=sympy.default_sort_key)),
       "total_sum(x * y)", commutative=True, doc="sum of x * y over all parameters"),
    Op("cosine_sim", (_T, _T), _SC, _cosine_sim,
       lambda x, y: sympy.Function("cosine_sim")(*sorted((x, y), key=sympy.default_sort_key)),
       "nx = xp.sqrt(total_sum(x * x))\n"
       "ny = xp.sqrt(total_sum(y * y))\n"
       "total_sum(x * y) / (nx * ny + EPS)",
       commutative=True, doc="dot(x, y) / (|x| |y| + eps)"),
    Op("clip_by_global_norm", (_T, _S), _F, _clip_by_global_norm,
       lambda x, c: sympy.Function("clip_by_global_norm")(x, c),
       "n = xp.sqrt(total_sum(x * x))\n"
       "x * xp.minimum(1.0, xp.abs(c) / (n + EPS))",
       params=("x", "c"), doc="x scaled down so that its global norm is at most |c|"),
    # binary and ternary
    Op("interp", (_A, _A, _S), _B, lambda b, x, y, a: (1.0 - a) * x + a * y,
       lambda x, y, a: (1 - a) * x + a * y, "(1.0 - a) * x + a * y", params=("x", "y", "a"),
       doc="(1 - a) * x + a * y"),
    Op("power", (_A, _A), _B, lambda b, x, y: b.xp.power(b.xp.abs(x), y),
       lambda x, y: _sym_abs(x) ** y, "xp.power(xp.abs(x), y)", doc="|x|^y"),
    Op("add", (_A, _A), _B, lambda b, x, y: x + y, lambda x, y: x + y, "x + y",
       commutative=True, infix="+", doc="x + y"),
    Op("sub", (_A, _A), _B, lambda b, x, y: x - y, lambda x, y: x - y, "x - y", infix="-",
       doc="x - y"),
    Op("mul", (_A, _A), _B, lambda b, x, y: x * y, lambda x, y: x * y, "x * y",
       commutative=True, infix="*", doc="x * y"),
    Op("div", (_A, _A), _B, _div, lambda x, y: x / y, "x / _away_from_zero(y)", infix="/",
       doc="x / y, denominator kept eps away from 0"),
    Op("max", (_A, _A), _B, lambda b, x, y: b.xp.maximum(x, y), sympy.Max,
       "xp.maximum(x, y)", commutative=True, doc="elementwise maximum"),
    Op("min", (_A, _A), _B, lambda b, x, y: b.xp.minimum(x, y), sympy.Min,
       "xp.minimum(x, y)", commutative=True, doc="elementwise minimum"),
    Op("clip", (_A, _S), _F, lambda b, x, c: b.xp.clip(x, -b.xp.abs(c), b.xp.abs(c)),
       lambda x, c: sympy.Max(-_sym_abs(c), sympy.Min(_sym_abs(c), x)),
       "xp.clip(x, -xp.abs(c), xp.abs(c))", params=("x", "c"),
       doc="x clipped elementwise to [-|c|, |c|]"),
]

MAX_ARITY = 3
"""The most arguments a function may take (the compiled interpreter's argument tables)."""

_OPS: dict[str, Op] = {}
_VERSION = 0

OPS: MappingProxyType[str, Op] = MappingProxyType(_OPS)
"""Every function of the language by name, in a fixed order (the compiled interpreter's ids).
Read-only: :func:`register` and :func:`unregister` change it, so that tables derived from it
(:func:`version`) know when to rebuild."""

INFIX: dict[str, str] = {op.infix: op.name for op in _TABLE if op.infix}
"""Operator symbol -> function name for the four arithmetic operators."""

INPUTS: tuple[str, ...] = ("w", "g", "m", "v", "lr")
"""The program's arguments, in order: weights, gradient, two state slots, learning rate."""

INPUT_KINDS: dict[str, Kind] = {
    "w": Kind.TENSOR,
    "g": Kind.TENSOR,
    "m": Kind.TENSOR,
    "v": Kind.TENSOR,
    "lr": Kind.SCALAR,
}
STATE: tuple[str, ...] = ("m", "v")
"""The state slots: zeros at the first step, carried from one step's outputs to the next."""

OUTPUTS: tuple[str, ...] = ("update", "m", "v")
"""What a program returns, in order. Training does ``w = w - update``."""

RESERVED: frozenset[str] = frozenset(INPUTS)
"""Names a function may not have."""


def version() -> int:
    """A number that changes whenever :data:`OPS` does: tables derived from the function table
    (the compiled interpreter's branches, the exporters' lists) are cached under it."""
    return _VERSION


T = TypeVar("T")


def derived(build: Callable[[], T]) -> Callable[[], T]:
    """``build()`` (a table computed from :data:`OPS`), cached until the table changes.

    What other modules derive from the table (per-function facts in the shape a hot loop wants,
    the compiled interpreter's branches, the simplifier's inverse of the sympy forms) is
    declared with this decorator instead of being computed at import, so that a function added
    with :func:`register` shows up everywhere. A cache hit costs one integer comparison."""
    cached: list[Any] = [None, None]

    @wraps(build)
    def get() -> T:
        if cached[0] != _VERSION:
            cached[1] = build()
            cached[0] = _VERSION
        return cached[1]

    return get


def _validate(op: Op) -> None:
    """Refuse an entry that some part of the software could not handle, naming what is wrong."""
    if not isinstance(op, Op):
        raise TypeError(f"expected an Op, got {type(op).__name__}")
    if (
        not op.name.isidentifier()
        or not op.name.isascii()
        or keyword.iskeyword(op.name)
        or op.name.startswith("_")
        or op.name in RESERVED
    ):
        raise ValueError(
            f"function name {op.name!r} must be an ASCII identifier, not a keyword, not private "
            "and not an input"
        )
    if op.name in _OPS:
        raise ValueError(f"a function called {op.name!r} exists already")
    if op.arity > MAX_ARITY:
        raise ValueError(f"{op.name}: at most {MAX_ARITY} arguments, got {op.arity}")
    if op.infix is not None and INFIX.get(op.infix) != op.name:
        raise ValueError(f"{op.name}: the text form has only the operators + - * /")
    if len(op.source_params) != op.arity:
        raise ValueError(f"{op.name}: params {op.source_params} do not match arity {op.arity}")
    for target in ("optax", "torch"):
        body = op.source_for(target)
        try:
            ast.parse(function_source(op, target))
        except SyntaxError as e:
            raise ValueError(f"{op.name}: source does not parse ({e.msg}): {body!r}") from None


def function_source(op: Op, target: str, name: str | None = None) -> str:
    """``op`` as a Python function for an exported module of ``target``: ``def name(params):``,
    its docstring, the body of :meth:`Op.source_for` with ``return`` before its last line."""
    lines = op.source_for(target).strip().split("\n")
    lines[-1] = "return " + lines[-1]
    doc = op.doc.encode("unicode_escape").decode("ascii").replace('"', '\\"')
    head = [f"def {name or op.name}({', '.join(op.source_params)}):", f'    """{doc}."""']
    return "\n".join(head + [f"    {line}" for line in lines]) + "\n"


def register(op: Op) -> None:
    """Add a function to the language (see :class:`Op` for what an entry carries). Everything
    that reads the table sees it from now on: the parser, abstract execution, the reference
    step, the simplifier, the exporters and, at its next build, the compiled interpreter."""
    global _VERSION
    _validate(op)
    _OPS[op.name] = op
    _VERSION += 1


def unregister(name: str) -> Op:
    """Remove a function added with :func:`register` (the built-in table stays whole)."""
    global _VERSION
    if name in _BUILT_IN:
        raise ValueError(f"{name!r} is a built-in function of the language")
    op = _OPS.pop(name)
    _VERSION += 1
    return op


@contextmanager
def extended(*ops: Op) -> Iterator[None]:
    """The language with ``ops`` added, for the duration of a ``with`` block."""
    added: list[str] = []
    try:
        for op in ops:
            register(op)
            added.append(op.name)
        yield
    finally:
        for name in reversed(added):
            unregister(name)


def __getattr__(name: str) -> Any:
    if name == "OP_NAMES":  # the current function names, in table order
        return tuple(_OPS)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


for _op in _TABLE:
    register(_op)
_BUILT_IN = frozenset(_OPS)
