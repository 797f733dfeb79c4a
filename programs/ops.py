"""The function library: one table, read by everything else.

Each entry says how many arguments a function takes, which kinds they may be (a per-tensor
*scalar* or a *tensor* of the parameters' shape), the kind of its result, and how to compute it
three ways: on arrays (one implementation shared by numpy and jax through the ``xp`` array
module), and as a sympy expression. Adding a function to the language is adding one entry here;
the parser, abstract execution, the reference interpreter, the compiled interpreter, the
simplifier and the exporters all read this table.

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

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

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
    guarantees it).
    """

    xp: Any

    def leaf_sum(self, x: Any) -> Any: ...

    def total_sum(self, x: Any) -> Any: ...


@dataclass(frozen=True)
class Op:
    """One function of the language.

    ``array`` computes it on arrays: ``array(backend, *args)``. ``symbolic`` builds its sympy
    expression from sympy arguments; it mirrors ``array`` but drops the ``eps`` guards, which
    exist for numerical safety, not meaning. ``infix`` is the operator symbol for the four
    arithmetic operators, which the text form writes as ``a + b``.
    """

    name: str
    arg_kinds: tuple[ArgKind, ...]
    result: ResultKind
    array: Callable[..., Any]
    symbolic: Callable[..., Any]
    commutative: bool = False
    infix: str | None = None
    doc: str = ""

    @property
    def arity(self) -> int:
        return len(self.arg_kinds)

    def array_for(self, backend: ArrayBackend) -> Callable[..., Any]:
        """The array form to run on ``backend``."""
        return self.array

    def result_kind(self, kinds: tuple[Kind, ...]) -> Kind:
        if self.result is ResultKind.SCALAR:
            return Kind.SCALAR
        if self.result is ResultKind.FIRST:
            return kinds[0]
        return Kind.TENSOR if Kind.TENSOR in kinds else Kind.SCALAR


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


def _unary(name: str, array: Callable, symbolic: Callable, doc: str) -> Op:
    return Op(name, (_A,), _B, lambda b, x: array(b.xp, x), symbolic, doc=doc)


_TABLE: list[Op] = [
    # constants
    Op("get_pi", (), _SC, lambda b: b.xp.asarray(math.pi), lambda: sympy.pi, doc="pi"),
    Op("get_e", (), _SC, lambda b: b.xp.asarray(math.e), lambda: sympy.E, doc="e"),
    Op("get_eps", (), _SC, lambda b: b.xp.asarray(EPS), lambda: sympy.Float(EPS), doc="1e-8"),
    # elementwise unary
    _unary("abs", lambda xp, x: xp.abs(x), _sym_abs, "|x|"),
    _unary("cos", lambda xp, x: xp.cos(x), sympy.cos, "cos(x)"),
    _unary("sin", lambda xp, x: xp.sin(x), sympy.sin, "sin(x)"),
    _unary("tan", lambda xp, x: xp.tan(x), sympy.tan, "tan(x)"),
    _unary("arcsin", lambda xp, x: xp.arcsin(xp.clip(x, -1.0, 1.0)), sympy.asin,
           "arcsin(x), x clipped to [-1, 1]"),
    _unary("arccos", lambda xp, x: xp.arccos(xp.clip(x, -1.0, 1.0)), sympy.acos,
           "arccos(x), x clipped to [-1, 1]"),
    _unary("arctan", lambda xp, x: xp.arctan(x), sympy.atan, "arctan(x)"),
    _unary("sinh", lambda xp, x: xp.sinh(x), sympy.sinh, "sinh(x)"),
    _unary("cosh", lambda xp, x: xp.cosh(x), sympy.cosh, "cosh(x)"),
    _unary("tanh", lambda xp, x: xp.tanh(x), sympy.tanh, "tanh(x)"),
    _unary("arcsinh", lambda xp, x: xp.arcsinh(x), sympy.asinh, "arcsinh(x)"),
    _unary("arccosh", lambda xp, x: xp.arccosh(xp.maximum(xp.abs(x), 1.0)),
           lambda x: sympy.acosh(_sym_abs(x)), "arccosh(max(|x|, 1))"),
    _unary("arctanh", lambda xp, x: xp.arctanh(xp.clip(x, -_ONE_MINUS, _ONE_MINUS)), sympy.atanh,
           "arctanh(x), x clipped into (-1, 1)"),
    _unary("exp", lambda xp, x: xp.exp(x), sympy.exp, "e^x"),
    _unary("exp2", lambda xp, x: xp.exp2(x), lambda x: 2**x, "2^x"),
    _unary("exp10", lambda xp, x: xp.power(10.0, x), lambda x: 10**x, "10^x"),
    _unary("expm1", lambda xp, x: xp.expm1(x), lambda x: sympy.exp(x) - 1, "e^x - 1"),
    _unary("log", lambda xp, x: xp.log(xp.abs(x)), lambda x: sympy.log(_sym_abs(x)), "log|x|"),
    _unary("log10", lambda xp, x: xp.log10(xp.abs(x)),
           lambda x: sympy.log(_sym_abs(x), 10), "log10|x|"),
    _unary("log2", lambda xp, x: xp.log2(xp.abs(x)),
           lambda x: sympy.log(_sym_abs(x), 2), "log2|x|"),
    _unary("log1p", lambda xp, x: xp.log(xp.abs(1.0 + x)),
           lambda x: sympy.log(_sym_abs(1 + x)), "log|1 + x|"),
    _unary("square", lambda xp, x: x * x, lambda x: x**2, "x^2"),
    _unary("sqrt", lambda xp, x: xp.sqrt(xp.abs(x)), lambda x: sympy.sqrt(_sym_abs(x)),
           "sqrt|x|"),
    _unary("rsqrt", lambda xp, x: 1.0 / (xp.sqrt(xp.abs(x)) + EPS),
           lambda x: 1 / sympy.sqrt(_sym_abs(x)), "1 / (sqrt|x| + eps)"),
    _unary("cube", lambda xp, x: x * x * x, lambda x: x**3, "x^3"),
    _unary("cbrt", lambda xp, x: xp.cbrt(x),
           lambda x: sympy.sign(x) * _sym_abs(x) ** sympy.Rational(1, 3), "real cube root"),
    _unary("sign", lambda xp, x: xp.sign(x), sympy.sign, "-1, 0 or 1"),
    _unary("reciprocal", lambda xp, x: 1.0 / _away_from_zero(xp, x), lambda x: 1 / x,
           "1 / x, denominator kept eps away from 0"),
    _unary("invert", lambda xp, x: 1.0 - x, lambda x: 1 - x,
           "1 - x (the paper's bitwise invert means nothing on floats)"),
    _unary("negative", lambda xp, x: -x, lambda x: -x, "-x"),
    # reductions
    Op("norm", (_T,), _SC, lambda b, x: b.xp.sqrt(b.leaf_sum(x * x)),
       lambda x: sympy.Function("norm")(x), doc="L2 norm of each parameter tensor"),
    Op("global_norm", (_T,), _SC, lambda b, x: b.xp.sqrt(b.total_sum(x * x)),
       lambda x: sympy.Function("global_norm")(x), doc="L2 norm over all parameters"),
    Op("dot", (_T, _T), _SC, lambda b, x, y: b.total_sum(x * y),
       lambda x, y: sympy.Function("dot")(*sorted((x, y), key=sympy.default_sort_key)),
       commutative=True, doc="sum of x * y over all parameters"),
    Op("cosine_sim", (_T, _T), _SC, _cosine_sim,
       lambda x, y: sympy.Function("cosine_sim")(*sorted((x, y), key=sympy.default_sort_key)),
       commutative=True, doc="dot(x, y) / (|x| |y| + eps)"),
    Op("clip_by_global_norm", (_T, _S), _F, _clip_by_global_norm,
       lambda x, c: sympy.Function("clip_by_global_norm")(x, c),
       doc="x scaled down so that its global norm is at most |c|"),
    # binary and ternary
    Op("interp", (_A, _A, _S), _B, lambda b, x, y, a: (1.0 - a) * x + a * y,
       lambda x, y, a: (1 - a) * x + a * y, doc="(1 - a) * x + a * y"),
    Op("power", (_A, _A), _B, lambda b, x, y: b.xp.power(b.xp.abs(x), y),
       lambda x, y: _sym_abs(x) ** y, doc="|x|^y"),
    Op("add", (_A, _A), _B, lambda b, x, y: x + y, lambda x, y: x + y, commutative=True,
       infix="+", doc="x + y"),
    Op("sub", (_A, _A), _B, lambda b, x, y: x - y, lambda x, y: x - y, infix="-", doc="x - y"),
    Op("mul", (_A, _A), _B, lambda b, x, y: x * y, lambda x, y: x * y, commutative=True,
       infix="*", doc="x * y"),
    Op("div", (_A, _A), _B, _div, lambda x, y: x / y, infix="/",
       doc="x / y, denominator kept eps away from 0"),
    Op("max", (_A, _A), _B, lambda b, x, y: b.xp.maximum(x, y), sympy.Max, commutative=True,
       doc="elementwise maximum"),
    Op("min", (_A, _A), _B, lambda b, x, y: b.xp.minimum(x, y), sympy.Min, commutative=True,
       doc="elementwise minimum"),
    Op("clip", (_A, _S), _F, lambda b, x, c: b.xp.clip(x, -b.xp.abs(c), b.xp.abs(c)),
       lambda x, c: sympy.Max(-_sym_abs(c), sympy.Min(_sym_abs(c), x)),
       doc="x clipped elementwise to [-|c|, |c|]"),
]

OPS: dict[str, Op] = {op.name: op for op in _TABLE}
"""Every function of the language by name, in a fixed order (the compiled interpreter's ids)."""

OP_NAMES: tuple[str, ...] = tuple(OPS)
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

assert len(_TABLE) == len(OPS), "duplicate function name in the table"
