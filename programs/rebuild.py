"""From sympy expressions back to a program: the inverse of :func:`programs.to_sympy`.

The simplifier rewrites a program's outputs as sympy expressions and then needs statements
again. Each sympy node becomes the cheapest statement(s) of the language that compute it:
``(1 - b) x + b y`` is one ``interp``, ``c / x`` one ``div``, ``sqrt(|x|)`` one ``sqrt`` (the
language's ``sqrt`` already takes ``|x|``), ``|x|**y`` one ``power``. Equal subexpressions are
computed once. A node the language cannot express exactly (``sqrt`` of a possibly negative value,
a complex result) raises :class:`Unrepresentable`; the caller then keeps another form.

The result is in SSA form: every statement assigns a fresh name ``t1, t2, ...``;
:func:`programs.naming.readable` gives the outputs their usual names.
"""

from __future__ import annotations

import math

import numpy as np
import sympy

from programs.ops import INPUTS, OPS, derived
from programs.program import Arg, Program, Statement
from programs.symbolic import SYMBOLS

_NAME_OF_SYMBOL = {sym: name for name, sym in SYMBOLS.items()}
_TENSOR_SYMBOLS = frozenset(SYMBOLS[name] for name in ("w", "g", "m", "v"))

_TOLERANCE = 1e-12
"""Two float coefficients closer than this count as equal (``0.1 + 0.9 == 1``)."""



@derived
def _functions() -> dict[type, str]:
    """sympy function class -> the one-argument function of the language whose sympy form is
    exactly that class applied to its argument (``sympy.tanh`` -> ``tanh``), read off the ops
    table. Forms that are not a plain application (``log|x|``, ``2**x``) are rebuilt from their
    parts below; the undefined functions (``norm``) by name."""
    x = sympy.Symbol("x", real=True)
    found: dict[type, str] = {}
    for name, op in OPS.items():
        if op.arity != 1:
            continue
        try:
            form = op.symbolic(x)
        except (ValueError, TypeError, ArithmeticError):
            continue
        if (
            isinstance(form, sympy.Function)
            and not isinstance(form, sympy.core.function.AppliedUndef)
            and form.args == (x,)
        ):
            found.setdefault(type(form), name)
    return found


class Unrepresentable(ValueError):
    """A sympy expression with no exact form in the language."""


def from_sympy(update: sympy.Expr, m: sympy.Expr, v: sympy.Expr, *, cse: bool = False) -> Program:
    """A program whose outputs are the given expressions (in SSA form, names ``t1, t2, ...``).

    Pass the current slot's own symbol for a state slot the program does not write. With
    ``cse``, ``sympy.cse`` first pulls out common subexpressions (sometimes shorter, sometimes
    not: it can split an interpolation apart). Raises :class:`Unrepresentable`.
    """
    emitter = _Emitter()
    exprs = [update, m, v]
    if cse:
        replacements, exprs = sympy.cse(exprs, optimizations=None)
        for sym, sub in replacements:
            emitter.alias(sym, sub)
    outputs = tuple(emitter.variable(e) for e in exprs)
    return Program(tuple(emitter.statements), outputs)  # type: ignore[arg-type]


class _Emitter:
    def __init__(self) -> None:
        self.statements: list[Statement] = []
        self.memo: dict[sympy.Basic, Arg] = {}
        self.aliases: dict[sympy.Symbol, sympy.Expr] = {}

    # --- bookkeeping -----------------------------------------------------------------------
    def alias(self, symbol: sympy.Symbol, expr: sympy.Expr) -> None:
        self.aliases[symbol] = expr

    def is_tensor(self, expr: sympy.Expr) -> bool:
        """Does ``expr`` depend on a tensor input (directly or through a cse alias)?"""
        for sym in expr.free_symbols:
            if sym in _TENSOR_SYMBOLS:
                return True
            if sym in self.aliases and self.is_tensor(self.aliases[sym]):
                return True
        return False

    def emit(self, op: str, *args: Arg) -> str:
        key = (op, tuple(sorted(args, key=repr)) if OPS[op].commutative else args)
        name = self.memo.get(key)  # type: ignore[call-overload]
        if isinstance(name, str):
            return name
        name = f"t{len(self.statements) + 1}"
        self.statements.append(Statement(name, op, args))
        self.memo[key] = name  # type: ignore[index]
        return name

    def variable(self, expr: sympy.Expr) -> str:
        """``expr`` as a variable (outputs must be variables, not constants)."""
        value = self.value(expr)
        if not isinstance(value, str):
            raise Unrepresentable(f"an output is the constant {value!r}")
        return value

    def value(self, expr: sympy.Expr) -> Arg:
        done = self.memo.get(expr)
        if done is not None:
            return done
        result = self._value(expr)
        self.memo[expr] = result
        return result

    # --- the translation -------------------------------------------------------------------
    def _value(self, e: sympy.Expr) -> Arg:
        if e in self.aliases:
            return self.value(self.aliases[e])
        if isinstance(e, sympy.Symbol):
            name = _NAME_OF_SYMBOL.get(e)
            if name is None:
                raise Unrepresentable(f"unknown symbol {e}")
            return name
        if e.is_number:
            return _number(e)
        if isinstance(e, sympy.Add):
            return self._add(e)
        if isinstance(e, sympy.Mul):
            return self._mul(e)
        if isinstance(e, sympy.Pow):
            return self._pow(e.base, e.exp)
        return self._function(e)

    def _add(self, e: sympy.Add) -> Arg:
        reuse = self._reuse_linear_form(e)
        if reuse is not None:
            return reuse
        terms = [t.as_coeff_Mul() for t in e.args]
        constant = sum((float(c) for c, x in terms if x == 1), 0.0)
        terms = [(float(c), x) for c, x in terms if x != 1]
        if len(terms) == 2 and constant == 0.0:
            (a, x), (b, y) = sorted(terms, key=lambda t: t[0])
            total = a + b
            if abs(total - 1.0) < _TOLERANCE and a != 1.0 and b != 1.0:
                return self.emit("interp", self.value(x), self.value(y), b)
            if (
                abs(total) > _TOLERANCE
                and abs(abs(a) - 1.0) > _TOLERANCE
                and abs(abs(b) - 1.0) > _TOLERANCE
            ):
                # a x + b y = (a + b) interp(x, y, b / (a + b)): two statements instead of three.
                mixed = self.emit("interp", self.value(x), self.value(y), b / total)
                return self.emit("mul", mixed, total)
        # Positive terms first, so that negative ones become subtractions.
        terms.sort(key=lambda t: t[0] < 0)
        acc: Arg | None = None
        for c, x in terms:
            if acc is None:
                acc = self._scaled(c, x)
            elif c < 0:
                acc = self.emit("sub", acc, self._scaled(-c, x))
            else:
                acc = self.emit("add", acc, self._scaled(c, x))
        if acc is None:
            return constant
        if constant > 0:
            acc = self.emit("add", acc, constant)
        elif constant < 0:
            acc = self.emit("sub", acc, -constant)
        return acc

    def _reuse_linear_form(self, e: sympy.Add) -> Arg | None:
        """``e`` as ``r + c * B`` with ``B`` a sum already computed, where that is cheaper.

        AdaBelief's ``(g - m')^2`` reaches sympy as ``(0.9 g - 0.9 m)^2``; with ``m' = 0.1 g +
        0.9 m`` computed, ``0.9 g - 0.9 m = g - m'`` is one statement instead of two.
        """
        target = _linear_terms(e)
        best: tuple[int, float, sympy.Expr, dict] | None = None
        for known, value in list(self.memo.items()):
            if not isinstance(known, sympy.Add) or not isinstance(value, str) or known == e:
                continue
            form = _linear_terms(known)
            for pivot in (x for x in form if x in target):  # the term that c * B cancels
                c = target[pivot] / form[pivot]
                rest = _snap({x: target.get(x, 0.0) - c * form.get(x, 0.0)
                              for x in target.keys() | form})
                cost = 1 + (abs(abs(c) - 1.0) > _TOLERANCE) + _linear_cost(rest) - (not rest)
                if cost < _linear_cost(target) and (best is None or cost < best[0]):
                    best = (cost, c, known, rest)
        if best is None:
            return None
        _, c, known, rest = best
        base = self.memo[known]
        scaled = base if abs(abs(c) - 1.0) <= _TOLERANCE else self.emit("mul", base, abs(c))
        if not rest:
            return scaled if c > 0 else self.emit("negative", scaled)
        remainder = self.value(sympy.Add(*(sympy.Float(k) * x for x, k in rest.items())))
        return self.emit("add" if c > 0 else "sub", remainder, scaled)

    def _scaled(self, c: float, x: sympy.Expr) -> Arg:
        if c == 1.0:
            return self.value(x)
        return self.value(sympy.Float(c) * x)

    def _mul(self, e: sympy.Mul) -> Arg:
        coeff = 1.0
        scalars: list[sympy.Expr] = []
        tensors: list[sympy.Expr] = []
        denominators: list[sympy.Expr] = []
        for f in e.args:
            if f.is_number:
                coeff *= _number(f)
                continue
            base, exp = f.as_base_exp()
            if exp.is_negative is True and not isinstance(base, sympy.Number):
                denominators.append(base ** (-exp))
            elif self.is_tensor(f):
                tensors.append(f)
            else:
                scalars.append(f)
        numerator = scalars + tensors  # scalars first: the constant joins ``lr``, as people write
        if not numerator:
            if not denominators:
                return coeff
            return self.emit("div", coeff, self._product(denominators))
        if coeff == -1.0 and not denominators:
            return self.emit("negative", self._product(numerator))
        acc = self.value(numerator[0])
        if coeff != 1.0:
            acc = self.emit("mul", acc, coeff)
        for f in numerator[1:]:
            acc = self.emit("mul", acc, self.value(f))
        if denominators:
            acc = self.emit("div", acc, self._product(denominators))
        return acc

    def _product(self, factors: list[sympy.Expr]) -> Arg:
        acc = self.value(factors[0])
        for f in factors[1:]:
            acc = self.emit("mul", acc, self.value(f))
        return acc

    def _pow(self, base: sympy.Expr, exp: sympy.Expr) -> Arg:
        if base.is_number:
            b = _number(base)
            if b == 2.0:
                return self.emit("exp2", self.value(exp))
            if b == 10.0:
                return self.emit("exp10", self.value(exp))
            if b > 0:
                return self.emit("power", b, self.value(exp))
            raise Unrepresentable(f"power of a negative number: {base}**{exp}")
        inner = base.args[0] if isinstance(base, sympy.Abs) else None
        if exp == 2:
            return self.emit("square", self.value(base if inner is None else inner))
        if exp == 3:
            return self.emit("cube", self.value(base))
        if exp == -1:
            return self.emit("reciprocal", self.value(base))
        if exp == sympy.Rational(1, 2) or exp == -sympy.Rational(1, 2):
            op = "sqrt" if exp > 0 else "rsqrt"
            if inner is not None:
                return self.emit(op, self.value(inner))
            if base.is_nonnegative:
                return self.emit(op, self.value(base))
            raise Unrepresentable(f"square root of a value of unknown sign: {base}")
        if exp.is_number:
            e = _number(exp)
            if inner is not None:
                return self.emit("power", self.value(inner), e)
            if base.is_nonnegative or (e.is_integer() and int(e) % 2 == 0):
                return self.emit("power", self.value(base), e)
            if e.is_integer() and e > 0:  # odd: x**k = |x|**(k-1) * x
                even = self.emit("power", self.value(base), e - 1.0)
                return self.emit("mul", even, self.value(base))
            raise Unrepresentable(f"fractional power of a value of unknown sign: {base}**{exp}")
        if inner is not None:
            return self.emit("power", self.value(inner), self.value(exp))
        if base.is_nonnegative:
            return self.emit("power", self.value(base), self.value(exp))
        raise Unrepresentable(f"symbolic power of a value of unknown sign: {base}**{exp}")

    def _function(self, e: sympy.Expr) -> Arg:
        op = _functions().get(type(e))
        if op is not None:
            return self.emit(op, self.value(e.args[0]))
        if isinstance(e, sympy.log):
            arg = e.args[0]
            if isinstance(arg, sympy.Abs):
                return self.emit("log", self.value(arg.args[0]))
            if arg.is_nonnegative:
                return self.emit("log", self.value(arg))
            raise Unrepresentable(f"log of a value of unknown sign: {e}")
        if isinstance(e, sympy.acosh) and isinstance(e.args[0], sympy.Abs):
            return self.emit("arccosh", self.value(e.args[0].args[0]))
        if isinstance(e, sympy.Max | sympy.Min):
            clipped = _clip_form(e)
            if clipped is not None:
                x, c = clipped
                return self.emit("clip", self.value(x), self.value(c))
            op = "max" if isinstance(e, sympy.Max) else "min"
            args = sorted(e.args, key=sympy.default_sort_key)
            acc = self.value(args[0])
            for a in args[1:]:
                acc = self.emit(op, acc, self.value(a))
            return acc
        # An undefined function named after an op: the reductions (``norm``, ``dot``, ...) and any
        # op that sympy could not build (see programs.symbolic).
        name = getattr(e.func, "__name__", "")
        if isinstance(e, sympy.core.function.AppliedUndef) and name in OPS:
            if OPS[name].arity != len(e.args):
                raise Unrepresentable(f"{name} with {len(e.args)} arguments")
            return self.emit(name, *(self.value(a) for a in e.args))
        raise Unrepresentable(f"no function of the language computes {e.func}")


def _linear_terms(e: sympy.Add) -> dict[sympy.Expr, float]:
    """A sum as ``{term: coefficient}`` (a constant term under the key ``1``)."""
    terms: dict[sympy.Expr, float] = {}
    for t in e.args:
        c, x = t.as_coeff_Mul()
        terms[x] = terms.get(x, 0.0) + _number(c)
    return terms


def _snap(terms: dict[sympy.Expr, float]) -> dict[sympy.Expr, float]:
    """Coefficients within float noise of 0 dropped and of +-1 made exact."""
    out = {}
    for x, k in terms.items():
        if abs(k) <= _TOLERANCE:
            continue
        out[x] = float(np.sign(k)) if abs(abs(k) - 1.0) <= _TOLERANCE else k
    return out


def _linear_cost(terms: dict[sympy.Expr, float]) -> int:
    """Statements a sum of these terms costs at most, its terms' own cost aside."""
    if not terms:
        return 0
    coefficients = list(terms.values())
    nonunit = sum(abs(abs(c) - 1.0) > _TOLERANCE for c in coefficients)
    if len(terms) == 2 and nonunit == 2:
        return 1 if abs(sum(coefficients) - 1.0) < _TOLERANCE else 2  # (scaled) interp
    return len(terms) - 1 + nonunit


def _clip_form(e: sympy.Expr) -> tuple[sympy.Expr, sympy.Expr] | None:
    """``Max(-|c|, Min(|c|, x))`` (the sympy form of ``clip(x, c)``) as ``(x, c)``."""
    if not isinstance(e, sympy.Max) or len(e.args) != 2:
        return None
    for low, high in (e.args, e.args[::-1]):
        if isinstance(high, sympy.Min) and len(high.args) == 2:
            for bound, x in (high.args, high.args[::-1]):
                c = bound.args[0] if isinstance(bound, sympy.Abs) else bound
                if bound == abs(c) and low == -bound:
                    return x, c
    return None


def _number(e: sympy.Expr) -> float:
    value = complex(e.evalf())
    if value.imag != 0 or not math.isfinite(value.real):
        raise Unrepresentable(f"the constant {e} is not a finite real number")
    return float(value.real)


assert set(_NAME_OF_SYMBOL.values()) == set(INPUTS)
