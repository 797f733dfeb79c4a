"""A program's constant learning-rate factor, and the program with it divided out.

A program receives ``lr`` and usually scales it by a constant of its own (Lion:
``lr = lr * 0.0001``), so that one learning-rate grid serves every program in a search. An
exported optimizer must not keep that convention: a user of optax or torch expects
``learning_rate`` to be the step size, so that the exported Lion with ``learning_rate=3e-4`` is
``optax.lion(3e-4, ...)``, not a step of ``3e-8``. :func:`split_lr_factor` finds the factor and
the program without it; the exporters run the latter and make the factor the default learning
rate, so that the default reproduces the program as searched (at ``lr = 1``).

The factor can be divided out when ``lr`` reaches the update linearly and nothing else: ``lr``
times constants gives one *scale* (``lr * 0.0001``), which is multiplied into lr-free values,
and what comes out reaches the update only through sums, differences, interpolations,
negation, products with lr-free values and division by lr-free values; the state never sees
it. Then the update is exactly ``factor * lr * (an lr-free expression)``. Otherwise (``sqrt(lr)``,
``lr + 1``, ``lr`` in the state, two different scales, a factor that is not positive, or an
update that ignores ``lr``) there is no single factor, and the exported optimizer feeds its
learning rate to the program's ``lr`` as it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from programs.analysis import Source, check, reaching_definitions, remove_dead_code
from programs.naming import readable, to_ssa
from programs.ops import EPS
from programs.program import Program, Statement
from programs.reference import NumpyBackend, run_flat

_FREE, _SCALE, _LINEAR = "free", "scale", "linear"
_LINEAR_IN_ALL = frozenset({"add", "sub", "negative"})
"""Functions linear in all their arguments together: lr-linear inputs, lr-linear result."""


@dataclass(frozen=True)
class LrSplit:
    """``program`` computes ``original(lr = x)`` at ``lr = factor * x``: its update is ``lr``
    times an lr-free expression, with no constant factor of its own (``factor`` is it)."""

    program: Program
    factor: float


def split_lr_factor(program: Program) -> LrSplit | None:
    """The program's constant lr factor and the program without it, or ``None`` if ``lr`` does
    not reach the update as one constant factor (see the module docstring). ``program`` must
    be valid. A program whose factor is already 1 comes back unchanged (without dead code)."""
    if check(program):
        return None
    live = remove_dead_code(program)
    ssa = to_ssa(live)
    found = _single_scale(ssa)
    if found is None:
        return None
    entry, factor = found
    if not (math.isfinite(factor) and factor > 0.0):
        return None
    if entry == "lr":
        return LrSplit(live, 1.0) if factor == 1.0 else None
    for divided in (_divided_in_place(live, entry), _divided_by_name(live, ssa, entry)):
        if not check(divided) and _single_scale(to_ssa(divided)) == ("lr", 1.0) and _same_steps(
            live, divided, factor
        ):
            return LrSplit(divided, factor)
    return None  # a safeguard: the rules above should make this unreachable


def _divided_in_place(live: Program, entry: int) -> Program:
    """Reads of the scale statement ``entry`` read ``lr`` instead, and the statements that
    computed the scale go: the program keeps its own order and names (Lion loses its
    ``lr = lr * 0.0001``). Wrong if a name ``lr`` assigned elsewhere is read there: checked."""
    arg_sources, _ = reaching_definitions(live)
    statements = []
    for i, (s, sources) in enumerate(zip(live.statements, arg_sources, strict=True)):
        if i == entry:
            continue  # what computed the scale is dead once nothing reads it
        it = iter(sources)
        args = tuple(
            ("lr" if next(it) == entry else a) if isinstance(a, str) else a for a in s.args
        )
        statements.append(Statement(s.target, s.op, args))
    return remove_dead_code(Program(tuple(statements), live.outputs))


def _divided_by_name(live: Program, ssa: Program, entry: int) -> Program:
    """The same on the SSA form (where no name is assigned twice), given readable names."""
    target = ssa.statements[entry].target
    statements = [
        Statement(s.target, s.op, tuple("lr" if a == target else a for a in s.args))
        for s in ssa.statements
    ]
    divided = remove_dead_code(Program(tuple(statements), ssa.outputs))
    original_names = {
        new.target: old.target for old, new in zip(live.statements, ssa.statements, strict=True)
    }
    return readable(list(divided.statements), divided.outputs, original_names)


def _single_scale(program: Program) -> tuple[Source, float] | None:
    """For an SSA program: the one scale value (``lr`` times constants) that enters the update,
    as ``(its source, its factor)``, if the update is linear in it and the state lr-free."""
    arg_sources, out_sources = reaching_definitions(program)
    kind: dict[Source, str] = {"lr": _SCALE}
    factor: dict[Source, float] = {"lr": 1.0}
    entries: set[Source] = set()
    for i, s in enumerate(program.statements):
        sources = iter(arg_sources[i])
        args: list[tuple[str, Source | float]] = []
        for a in s.args:
            if isinstance(a, str):
                src = next(sources)
                args.append((kind.get(src, _FREE), src))
            else:
                args.append(("const", a))
        kinds = [k for k, _ in args]
        if all(k in (_FREE, "const") for k in kinds):
            continue  # lr-free
        result = _classify(s.op, args, factor)
        if result is None:
            return None
        kind[i], value, used = result
        if kind[i] == _SCALE:
            factor[i] = value
        entries |= used
    update, m_out, v_out = out_sources
    if kind.get(update, _FREE) != _LINEAR or len(entries) != 1:
        return None
    if kind.get(m_out, _FREE) != _FREE or kind.get(v_out, _FREE) != _FREE:
        return None
    (entry,) = entries
    return entry, factor[entry]


def _classify(
    op: str, args: list[tuple[str, Source | float]], factor: dict[Source, float]
) -> tuple[str, float, set[Source]] | None:
    """The kind of a statement that reads an lr-dependent value: ``(kind, scale factor,
    scales it lets into lr-linear values)``, or ``None`` if it is not linear in ``lr``."""
    kinds = [k for k, _ in args]
    if op in ("mul", "div") and kinds[0] == _SCALE and kinds[1] == "const":
        c = float(args[1][1])  # type: ignore[arg-type]
        if op == "div":
            c = 1.0 / (c + EPS if c >= 0 else c - EPS)  # the language's guarded division
        return _SCALE, factor[args[0][1]] * c, set()  # type: ignore[index]
    if op == "mul" and kinds[0] == "const" and kinds[1] == _SCALE:
        return _SCALE, factor[args[1][1]] * float(args[0][1]), set()  # type: ignore[index,arg-type]

    def lr_linear(positions: list[int]) -> set[Source] | None:
        """The scales entering through ``positions`` (each lr-dependent); ``None`` if one is
        not lr-dependent."""
        used: set[Source] = set()
        for p in positions:
            k, src = args[p]
            if k == _SCALE:
                used.add(src)  # type: ignore[arg-type]
            elif k != _LINEAR:
                return None
        return used

    def free(positions: list[int]) -> bool:
        return all(kinds[p] in (_FREE, "const") for p in positions)

    dependent = [p for p, k in enumerate(kinds) if k in (_SCALE, _LINEAR)]
    used: set[Source] | None = None
    if op == "mul" and len(dependent) == 1:
        used = lr_linear(dependent)
    elif op == "div" and dependent == [0]:
        used = lr_linear([0])
    elif op in _LINEAR_IN_ALL and len(dependent) == len(kinds):
        used = lr_linear(dependent)
    elif op == "interp" and dependent == [0, 1] and free([2]):
        used = lr_linear([0, 1])
    if used is None:
        return None
    return _LINEAR, 0.0, used


def _same_steps(original: Program, divided: Program, factor: float) -> bool:
    """Do ``original`` at ``lr`` and ``divided`` at ``factor * lr`` agree on random inputs?"""
    rng = np.random.default_rng(0)
    sizes = (5, 3)
    backend = NumpyBackend(np.repeat(np.arange(len(sizes)), sizes), len(sizes))
    n = sum(sizes)
    m0 = v0 = np.zeros(n)
    m1 = v1 = np.zeros(n)
    with np.errstate(all="ignore"):
        for lr in (0.7, 1.3, 2.9):
            w, g = rng.normal(size=n), rng.normal(size=n)
            u0, m0, v0 = run_flat(original, w, g, m0, v0, lr, backend)
            u1, m1, v1 = run_flat(divided, w, g, m1, v1, factor * lr, backend)
            for a, b in ((u0, u1), (m0, m1), (v0, v1)):
                if not np.allclose(a, b, rtol=1e-9, atol=0.0, equal_nan=True):
                    return False
    return True
