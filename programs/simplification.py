"""``simplify``: the shortest program we can find that behaves the same.

Two routes, and the shortest result that passes the numeric check wins:

* **structural**, on the statements themselves: dead code removed, statements whose arguments are
  all constants folded into a constant, identities dropped (``x * 1.0``, ``x + 0.0``,
  ``interp(x, y, 0.0)``), repeated statements computed once. It keeps the author's names and
  order, so it wins ties.
* **algebraic**, through sympy: the tidied expressions of the live outputs
  (:mod:`programs.symbolic`: numbers folded, ``lr * 0.001 * x * 10.0`` one constant,
  interpolation chains merged, ``x / |x|`` as ``sign(x)``), also expanded, each rebuilt as
  statements with and without ``sympy.cse`` (:mod:`programs.rebuild`).

Every candidate must pass abstract execution and compute the same updates as the original on
random inputs over several steps (:func:`programs.equivalence.same_behaviour`), so a rewrite that
sympy believes but the language's guarded semantics do not (``sqrt(x**2)``, ``sign(0)``, eps)
is dropped, never returned.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count

import sympy

from programs.analysis import check, liveness, remove_dead_code
from programs.equivalence import same_behaviour
from programs.naming import readable
from programs.ops import INPUT_KINDS, INPUTS, OPS, STATE, Kind
from programs.program import Arg, Program, ProgramError, Statement
from programs.rebuild import Unrepresentable, from_sympy
from programs.symbolic import SYMBOLS, constant_value, tidy, to_sympy

_SEEDS = (0, 1)
"""Two draws of random inputs: an eps guard that matters only near a singular point (``rsqrt(x)``
against ``|x|**-0.5`` at tiny ``x``) rarely shows in one draw, more rarely in both."""

_MAX_EXPAND_OPS = 80
"""Expand only expressions this small: expansion of products of sums can explode."""


def simplify(program: Program) -> Program:
    """The shortest equivalent program found (see the module docstring).

    The result is valid and computes the same updates as ``program`` on two draws of random
    inputs (to a relative 1e-4, except at the rare points near a singularity where the language's
    eps guards make forms differ). Invalid programs raise :class:`ProgramError`.
    """
    problems = check(program)
    if problems:
        raise ProgramError("invalid program: " + "; ".join(map(str, problems)))
    base = remove_dead_code(program)
    best = base
    for candidate in _candidates(base):
        if len(candidate) >= len(best):
            continue
        if not check(candidate) and all(same_behaviour(base, candidate, seed=s) for s in _SEEDS):
            best = candidate
    return best


def _candidates(base: Program) -> Iterator[Program]:
    """Structural first (it keeps names and wins ties), then the sympy rebuilds."""
    try:
        folded = fold(base)
    except _CannotFold:
        folded = None
    if folded is not None:
        yield folded
    yield from _algebraic(base)


# --- structural ----------------------------------------------------------------------------------


class _CannotFold(Exception):
    """Folding would leave an output that is a constant, which a program cannot return."""


def fold(program: Program) -> Program:
    """Constant folding, identities and repeated statements, in one pass over SSA form.

    The program must be valid and free of dead code. A replacement is made only when it keeps
    the value's kind (a scalar never stands in for a tensor).
    """
    statements, outputs, base_names = _ssa(program)
    kinds: dict[str, Kind] = dict(INPUT_KINDS)
    replace: dict[str, Arg] = {}
    seen: dict[tuple, str] = {}
    kept: list[Statement] = []
    defs: dict[str, Statement] = {}
    for s in statements:
        args = tuple(replace.get(a, a) if isinstance(a, str) else a for a in s.args)
        if s.op == "sign":
            args = (_sign_argument(args[0], defs),)
        op = OPS[s.op]
        arg_kinds = tuple(kinds[a] if isinstance(a, str) else Kind.SCALAR for a in args)
        kind = op.result_kind(arg_kinds)
        kinds[s.target] = kind
        value = _constant_value(s.op, args)
        if value is not None and kind is Kind.SCALAR:
            replace[s.target] = value
            continue
        same = _identity(s.op, args)
        if same is not None and _kind_of(same, kinds) is kind:
            replace[s.target] = same
            continue
        key = (s.op, tuple(sorted(args, key=repr)) if op.commutative else args)
        if key in seen:
            replace[s.target] = seen[key]
            continue
        seen[key] = s.target
        kept.append(Statement(s.target, s.op, args))
        defs[s.target] = kept[-1]
    new_outputs = tuple(replace.get(name, name) for name in outputs)
    if any(not isinstance(name, str) for name in new_outputs):
        raise _CannotFold
    folded = remove_dead_code(Program(tuple(kept), new_outputs))  # type: ignore[arg-type]
    return readable(list(folded.statements), folded.outputs, base_names)


def _sign_argument(arg: Arg, defs: dict[str, Statement]) -> Arg:
    """What ``sign(arg)`` may take instead of ``arg``: through sign-keeping functions
    (:attr:`programs.ops.Op.keeps_sign`: odd, increasing, zero only at zero) and multiplication
    or division by a positive constant (so ``sign(tanh(c * 2.0))`` is ``sign(c)``). Searches
    reach a sign through them (``sign(arcsinh(c))``), and Lion must be recognised there."""
    while isinstance(arg, str) and arg in defs:
        s = defs[arg]
        positive_divisor = isinstance(s.args[-1], float) and s.args[-1] > 0
        if OPS[s.op].keeps_sign or (s.op in ("mul", "div") and positive_divisor):
            arg = s.args[0]
        elif s.op == "mul" and isinstance(s.args[0], float) and s.args[0] > 0:
            arg = s.args[1]
        else:
            break
    return arg


def _ssa(program: Program) -> tuple[list[Statement], tuple[str, str, str], dict[str, str]]:
    """Every statement assigns a fresh name (``x#1``); returns the statements, the outputs and
    each fresh name's original name."""
    current = {name: name for name in INPUTS}
    fresh = count(1)
    base: dict[str, str] = {}
    out = []
    for s in program.statements:
        args = tuple(current[a] if isinstance(a, str) else a for a in s.args)
        name = f"{s.target}#{next(fresh)}"
        base[name] = s.target
        current[s.target] = name
        out.append(Statement(name, s.op, args))
    outputs = tuple(current[name] for name in program.outputs)
    return out, outputs, base  # type: ignore[return-value]


def _constant_value(op_name: str, args: tuple[Arg, ...]) -> float | None:
    """The value of a statement whose arguments are all constants, if finite."""
    if any(isinstance(a, str) for a in args):
        return None
    return constant_value(op_name, [float(a) for a in args])


def _identity(op: str, args: tuple[Arg, ...]) -> Arg | None:
    """The argument a statement merely passes through, if it does."""
    if op == "mul":
        if args[1] == 1.0:
            return args[0]
        if args[0] == 1.0:
            return args[1]
    elif op == "add":
        if args[1] == 0.0:
            return args[0]
        if args[0] == 0.0:
            return args[1]
    elif op in ("sub", "div"):
        if args[1] == (0.0 if op == "sub" else 1.0):
            return args[0]
    elif op == "interp":
        x, y, t = args
        if t == 0.0 or x == y:
            return x
        if t == 1.0:
            return y
    elif op in ("max", "min") and args[0] == args[1]:
        return args[0]
    return None


def _kind_of(arg: Arg, kinds: dict[str, Kind]) -> Kind:
    return kinds[arg] if isinstance(arg, str) else Kind.SCALAR


# --- algebraic -----------------------------------------------------------------------------------


_SYMPY_FAILURES = (Unrepresentable, TypeError, ValueError, ArithmeticError, RecursionError)
"""What the algebraic route may raise on odd input (a complex constant that sympy refuses to
compare, ``zoo``, a deep expression). It only proposes candidates, so a failure drops one."""


def _algebraic(base: Program) -> Iterator[Program]:
    """Rebuilds of the live outputs' sympy expressions, plain and expanded, with and without
    ``cse``."""
    try:
        variants = _expression_variants(base)
    except _SYMPY_FAILURES:
        return
    for variant in variants:
        for cse in (False, True):
            try:
                rebuilt = from_sympy(*variant, cse=cse)
            except _SYMPY_FAILURES:
                continue
            yield readable(list(rebuilt.statements), rebuilt.outputs, _numbered(rebuilt))


def _expression_variants(base: Program) -> list[list[sympy.Expr]]:
    step = to_sympy(base)
    live = liveness(base).state
    exprs = [step.update] + [
        getattr(step, slot) if slot in live else SYMBOLS[slot] for slot in STATE
    ]
    variants = [exprs]
    if all(sympy.count_ops(e) <= _MAX_EXPAND_OPS for e in exprs):
        expanded = [tidy(sympy.expand(e)) for e in exprs]
        if expanded != exprs:
            variants.append(expanded)
    return variants


def _numbered(program: Program) -> dict[str, str]:
    """Temporaries renumbered ``t1, t2, ...`` in order (some become outputs and are renamed)."""
    outputs = set(program.outputs)
    temps = [s.target for s in program.statements if s.target not in outputs]
    return {name: f"t{i}" for i, name in enumerate(temps, 1)}
