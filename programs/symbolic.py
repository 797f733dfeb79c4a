"""The sympy view of a program: one expression per output, and LaTeX.

``to_sympy`` runs a program on sympy symbols instead of arrays, reading each function's sympy form
from the ops table (eps guards dropped: they exist for numerical safety, not meaning). The state
inputs are the symbols ``m`` and ``v``; the outputs are the update and the next ``m`` and ``v``
of one step, so a recurrence reads as written on paper (``m' = 0.1 g + 0.9 m``).

sympy already folds numbers, merges interpolation chains (``(1 - b) ((1 - a) g + a m) + b m``
becomes one linear form) and turns ``sqrt(x**2)`` into ``|x|`` for real symbols. ``tidy`` adds
the few rewrites it lacks and that optimizer programs need: ``x / |x|`` is ``sign(x)``, the
argument of ``sign`` is normalised so that its coefficients sum to one (``sign(0.2 g + 1.8 m)`` is
``sign(0.1 g + 0.9 m)``, an interpolation), and float noise such as ``1 - 0.9 =
0.09999999999999998`` is rounded away. All of these are exact for nonzero arguments; where
they are not (``0 / |0|``), the program's own guarded form gives the same answer (0).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import sympy

from programs.analysis import check, liveness
from programs.ops import INPUTS, OPS, OUTPUTS, STATE, ArgKind
from programs.program import Program, ProgramError

SYMBOLS: dict[str, sympy.Symbol] = {
    "w": sympy.Symbol("w", real=True),
    "g": sympy.Symbol("g", real=True),
    "m": sympy.Symbol("m", real=True),
    "v": sympy.Symbol("v", real=True),
    # The learning rate is positive in every use, which lets sympy drop |lr| and sign(lr).
    "lr": sympy.Symbol("lr", positive=True),
}
"""The program's inputs as sympy symbols (elementwise values: real; ``lr`` positive)."""

assert tuple(SYMBOLS) == INPUTS

_SIGNIFICANT = 12
"""Floats are rounded to this many significant digits: enough for any hyperparameter, few
enough to erase the last-bit noise of float arithmetic (``1 - 0.9``)."""


class SymbolicStep(NamedTuple):
    """One step of a program as sympy expressions in ``w, g, m, v, lr``.

    ``m`` and ``v`` are the *next* values of the state slots; a slot the program never writes
    is its own symbol (unchanged).
    """

    update: sympy.Expr
    m: sympy.Expr
    v: sympy.Expr


def to_sympy(program: Program, *, tidy: bool = True) -> SymbolicStep:
    """The update and next state of one step, as sympy expressions.

    With ``tidy`` (the default) the light canonical rewrites of :func:`tidy` are applied. Invalid
    programs raise :class:`ProgramError`. Results are cached per program (programs are values).
    """
    return _to_sympy_cached(program, tidy)


@lru_cache(maxsize=4096)
def _to_sympy_cached(program: Program, tidy_: bool) -> SymbolicStep:
    problems = check(program)
    if problems:
        raise ProgramError("invalid program: " + "; ".join(map(str, problems)))
    env: dict[str, sympy.Expr] = dict(SYMBOLS)
    for s in program.statements:
        args = [env[a] if isinstance(a, str) else sympy.Float(a) for a in s.args]
        constant = _constant(s.op, args)
        env[s.target] = constant if constant is not None else _apply(s.op, args)
    exprs = [env[name] for name in program.outputs]
    if tidy_:
        exprs = [_tidy_or_keep(e) for e in exprs]
    return SymbolicStep(*exprs)


_SYMPY_ERRORS = (ValueError, TypeError, ArithmeticError)


def _apply(op: str, args: list[sympy.Expr]) -> sympy.Expr:
    """The op's sympy form, or, where sympy cannot build it (``Max(zoo, x)`` after a
    ``log(0)``), the op as an opaque function ``op(args)``: exact, just not simplified."""
    try:
        value = OPS[op].symbolic(*args)
    except _SYMPY_ERRORS:
        return sympy.Function(op)(*args)
    if isinstance(value, int | float):  # a Python number from a form like ``lambda: 1``
        return sympy.Float(value)
    return value


def _tidy_or_keep(expr: sympy.Expr) -> sympy.Expr:
    try:
        return tidy(expr)
    except _SYMPY_ERRORS:
        return expr


class _NoReductions:
    """A backend for constants: reductions take tensors, so they never see one."""

    xp = np

    def leaf_sum(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - unreachable
        raise AssertionError("reductions take tensors")

    total_sum = leaf_sum


def constant_value(op_name: str, args: Sequence[float]) -> float | None:
    """The value of a function of constants with the language's own guarded semantics, if
    finite. The sympy forms drop the guards: ``arccos(3.14)`` is complex there but 0 here."""
    op = OPS[op_name]
    if ArgKind.TENSOR in op.arg_kinds:
        return None
    with np.errstate(all="ignore"):
        value = float(op.array(_NoReductions(), *(np.float64(a) for a in args)))
    return value if math.isfinite(value) else None


def _constant(op_name: str, args: list[sympy.Expr]) -> sympy.Float | None:
    if not all(isinstance(a, sympy.Float) for a in args):
        return None
    value = constant_value(op_name, [float(a) for a in args])
    return None if value is None else sympy.Float(value)


# --- tidy: the rewrites sympy does not do by itself -------------------------------------------


def tidy(expr: sympy.Expr) -> sympy.Expr:
    """``expr`` with floats rounded, ``x / |x|`` as ``sign(x)`` and sign arguments normalised.

    Bottom-up over the expression DAG (shared subexpressions are visited once).
    """
    memo: dict[sympy.Basic, sympy.Basic] = {}
    return _tidy(expr, memo)


def _tidy(expr: sympy.Basic, memo: dict[sympy.Basic, sympy.Basic]) -> sympy.Basic:
    done = memo.get(expr)
    if done is not None:
        return done
    if isinstance(expr, sympy.Float):
        out: sympy.Basic = round_float(expr)
    elif not expr.args or isinstance(expr, sympy.Number):
        out = expr
    else:
        args = [_tidy(a, memo) for a in expr.args]
        out = expr.func(*args) if args != list(expr.args) else expr
        if isinstance(out, sympy.Mul):
            out = _unit_coefficient(_signs_from_quotients(out))
        if isinstance(out, sympy.sign):
            out = _normalised_sign(out)
    memo[expr] = out
    return out


def round_float(x: sympy.Float) -> sympy.Float:
    """``x`` rounded to 12 significant digits (``0.09999999999999998`` is ``0.1``)."""
    return sympy.Float(float(f"{float(x):.{_SIGNIFICANT}g}"))


def _primitive(expr: sympy.Expr) -> tuple[sympy.Expr, sympy.Expr]:
    """``(c, p)`` with ``expr == c * p``, ``c`` a number and ``p`` a canonical representative:
    a sum is divided by the coefficient of its first term (in sympy's order), so that
    ``0.2 g + 1.8 m`` and ``0.1 g + 0.9 m`` share ``p = g + 9 m``."""
    if isinstance(expr, sympy.Add):
        first = expr.as_ordered_terms()[0]
        c, _ = first.as_coeff_Mul()
        if c.is_zero:
            return sympy.Integer(1), expr
        return c, tidy_numbers(sympy.expand(expr / c))
    c, rest = expr.as_coeff_Mul()
    return c, rest


def tidy_numbers(expr: sympy.Expr) -> sympy.Expr:
    """``expr`` with every float rounded (see :func:`round_float`)."""
    floats = expr.atoms(sympy.Float)
    if not floats:
        return expr
    return expr.xreplace({f: round_float(f) for f in floats})


def _signs_from_quotients(mul: sympy.Mul) -> sympy.Expr:
    """In a product, ``x / |y|`` and ``|y| / x`` with ``x = c * y`` become ``sign(y)`` times
    a number (exact for ``y != 0``)."""
    factors = list(mul.args)
    changed = True
    while changed:
        changed = False
        for i, f in enumerate(factors):
            base, exp = f.as_base_exp()
            if not isinstance(base, sympy.Abs) or exp not in (1, -1):
                continue
            cy, py = _primitive(base.args[0])
            for j, h in enumerate(factors):
                hb, he = h.as_base_exp()
                if j == i or he != -exp or isinstance(hb, sympy.Number | sympy.Abs):
                    continue
                cx, px = _primitive(hb)
                if px != py or cx == 0 or cy == 0:
                    continue
                ratio = cx / abs(cy) if exp == -1 else abs(cy) / cx
                if float(ratio) in (1.0, -1.0):
                    ratio = sympy.Integer(int(ratio))  # no ``1.0 * sign(x)``
                rest = [k for n, k in enumerate(factors) if n not in (i, j)]
                factors = [*rest, ratio, _normalised_sign(sympy.sign(py))]
                changed = True
                break
            if changed:
                break
    return mul if factors == list(mul.args) else sympy.Mul(*factors)


def _unit_coefficient(expr: sympy.Expr) -> sympy.Expr:
    """``1.0 * x`` is ``x`` (and ``-1.0 * x`` is ``-x``): float products that come out at one."""
    if not isinstance(expr, sympy.Mul):
        return expr
    c, rest = expr.as_coeff_Mul()
    if isinstance(c, sympy.Float) and float(c) in (1.0, -1.0):
        return rest if float(c) > 0 else -rest
    return expr


def _normalised_sign(expr: sympy.Expr) -> sympy.Expr:
    """``sign(a x + b y)`` with ``s = a + b != 0`` becomes ``sign(s) * sign((a x + b y) / s)``,
    whose coefficients sum to one: an interpolation when they are positive."""
    if not isinstance(expr, sympy.sign):
        return expr
    arg = expr.args[0]
    if not isinstance(arg, sympy.Add):
        return expr
    coeffs = [t.as_coeff_Mul()[0] for t in arg.args]
    total = sympy.Add(*coeffs)
    if not isinstance(total, sympy.Number) or float(total) in (0.0, 1.0):
        return expr
    if any(isinstance(t.as_coeff_Mul()[1], sympy.Number) for t in arg.args):
        return expr  # a constant term: the sum of coefficients means nothing here
    scaled = tidy_numbers(sympy.expand(arg / total))
    return (1 if total > 0 else -1) * sympy.sign(scaled)


# --- LaTeX -------------------------------------------------------------------------------------

_LATEX_NAMES = {
    SYMBOLS["w"]: "w",
    SYMBOLS["g"]: "g",
    SYMBOLS["m"]: "m",
    SYMBOLS["v"]: "v",
    SYMBOLS["lr"]: r"\mathrm{lr}",
}


def live_outputs(program: Program) -> tuple[str, ...]:
    """The roles that matter across steps: ``update`` and each state slot a live statement reads."""
    state = liveness(program).state
    return ("update",) + tuple(slot for slot in STATE if slot in state)


def to_latex(program: Program) -> str:
    """One ``aligned`` block: the update and each live state slot's next value.

    Uses the tidied sympy form; ``m'`` and ``v'`` are the next state, ``m`` and ``v`` the
    current one. Training does ``w \\leftarrow w - \\mathrm{update}``.
    """
    step = to_sympy(program)
    rows = []
    for role in live_outputs(program):
        expr = getattr(step, role)
        left = r"\mathrm{update}" if role == "update" else f"{role}'"
        body = sympy.latex(expr, symbol_names=_LATEX_NAMES, full_prec=False)
        rows.append(f"{left} &= {body}")
    return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"


assert OUTPUTS == ("update",) + STATE
