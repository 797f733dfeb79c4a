"""Fitting a found program's constants to the target, then writing them as people would.

Evolution finds structure well and constants poorly: a constant mutation multiplies by
``2**N(0, 1)``, so a search that has found Lion's dataflow with ``b1 = 0.87`` may never reach
0.9 exactly, and on the way other structures with slightly better constants overtake it. This
module does what symbolic regression tools do to a candidate expression: optimise its numeric
constants directly against the data, here the target's updates on the suite's streams.

The distance of a sign-based program is a step function of its constants at fine scales (a
sign flips or not), so gradients are useless, and constants are coupled (Lion's best ``b1``
depends on its ``b2``), so one constant at a time stalls in valleys. :func:`polish` runs a
Nelder-Mead simplex over all constants at once, then a pattern search over each constant for
the last digits, both in a transformed space where steps are relative: ``log(1 - b)`` for an
``interp`` weight in ``(0, 1)`` (0.99 and 0.999 are one step apart), ``log|x|`` otherwise. The
overall scale is not searched (it is fitted in closed form and then baked into the program as
one multiplication of the update). Finally :func:`round_constants` writes each constant with as
few significant digits as keep the distance where it was, so that ``0.899999987`` reads
``0.9`` when 0.9 is as good.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy.optimize import minimize

from programs import Program, Statement, simplify

Objective = Callable[[Program], tuple[float, float]]
"""``program -> (distance, fitted scale)``."""

STEPS = tuple(10.0 ** -k for k in range(1, 9))
"""Pattern-search step sizes in the transformed space, after the simplex."""


def constant_slots(program: Program) -> list[tuple[int, int]]:
    """``(statement, argument)`` positions of every float constant."""
    return [(i, j) for i, s in enumerate(program.statements)
            for j, a in enumerate(s.args) if a.__class__ is float]


def with_constants(program: Program, slots: Sequence[tuple[int, int]],
                   values: Sequence[float]) -> Program:
    statements = list(program.statements)
    for (i, j), value in zip(slots, values, strict=True):
        s = statements[i]
        args = list(s.args)
        args[j] = float(value)
        statements[i] = Statement(s.target, s.op, tuple(args))
    return Program(tuple(statements), program.outputs)


def _to_space(x: float, interp_weight: bool) -> tuple[str, float]:
    if interp_weight and 0.0 < x < 1.0:
        return "unit", math.log(1.0 - x)
    return "log", math.log(abs(x)) if x != 0.0 else -30.0


def _from_space(kind: str, sign: float, y: float) -> float:
    if kind == "unit":
        return 1.0 - math.exp(min(y, 0.0))
    return sign * math.exp(max(min(y, 300.0), -300.0))


def polish(program: Program, objective: Objective, *, budget: int = 600,
           good_enough: float = 1e-14, fixed: frozenset[int] = frozenset(),
           simplex_step: float = 0.5) -> tuple[Program, float]:
    """Fit the program's constants (see the module docstring), all but the ``fixed`` ones
    (indices into :func:`constant_slots`); at most about ``budget`` objective calls; the
    simplex starts ``simplex_step`` wide in the transformed space (small to refine a program
    that is nearly right). Returns the best program found and its distance."""
    slots = [slot for k, slot in enumerate(constant_slots(program)) if k not in fixed]
    values = [float(program.statements[i].args[j]) for i, j in slots]
    if not slots:
        return program, objective(program)[0]
    kinds = [_to_space(x, program.statements[i].op == "interp" and j == 2)[0]
             for x, (i, j) in zip(values, slots, strict=True)]
    signs = [math.copysign(1.0, x) if x != 0.0 else 1.0 for x in values]
    calls = 0

    def decode(y: Sequence[float]) -> list[float]:
        return [_from_space(k, s, float(yi)) for k, s, yi in zip(kinds, signs, y, strict=True)]

    def distance(y: Sequence[float]) -> float:
        nonlocal calls
        calls += 1
        return objective(with_constants(program, slots, decode(y)))[0]

    start = np.array([_to_space(x, k == "unit")[1] for x, k in zip(values, kinds, strict=True)])
    best_y, best = start, distance(start)
    if best > good_enough:
        simplex = np.vstack([start] + [start + simplex_step * row for row in np.eye(len(start))])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = minimize(distance, start, method="Nelder-Mead", options={
                "initial_simplex": simplex, "maxfev": max(1, budget * 2 // 3),
                "xatol": 1e-8, "fatol": good_enough})
        if result.fun < best:
            best_y, best = np.asarray(result.x, float), float(result.fun)
    for step in STEPS:
        improved = True
        while improved and calls < budget and best > good_enough:
            improved = False
            for k in range(len(slots)):
                for direction in (1.0, -1.0):
                    trial = best_y.copy()
                    trial[k] += direction * step
                    d = distance(trial)
                    if d < best:
                        best_y, best, improved = trial, d, True
                        break
    return with_constants(program, slots, decode(best_y)), best


def bake_scale(program: Program, scale: float) -> Program:
    """The program with its update multiplied by ``scale`` (then simplified, which folds the
    factor into the program's own lr constant where there is one)."""
    if scale == 1.0:
        return program
    update = program.outputs[0]
    taken = {s.target for s in program.statements} | set(program.outputs)
    name, k = "update_scaled", 2
    while name in taken:
        name, k = f"update_scaled_{k}", k + 1
    scaled = Program(program.statements + (Statement(name, "mul", (update, float(scale))),),
                     (name, *program.outputs[1:]))
    try:
        return simplify(scaled)
    except Exception:  # noqa: BLE001 - simplification is a nicety; the scaled program is right
        return scaled


REFIT_DIGITS = 3
"""Roundings to at most this many significant digits may re-fit the other constants."""


def round_constants(program: Program, objective: Objective, tolerance: float,
                    refit_budget: int = 150) -> Program:
    """Each constant, in turn, with the fewest significant digits (1 to 8) that keep the
    objective's distance within ``tolerance`` of the program's own; a rounding to a few digits
    that alone costs too much is tried again with the constants not yet rounded re-fitted
    (:func:`polish`, ``refit_budget`` calls): coupled constants (Lion's two betas) only round
    together, and ``b1 = 0.90006`` becomes 0.9 once ``b2`` may follow to 0.99."""
    slots = constant_slots(program)
    reference, _ = objective(program)
    current, done = program, set()
    for k, (i, j) in enumerate(slots):
        value = float(current.statements[i].args[j])
        for digits in range(1, 9):
            rounded = float(f"{value:.{digits - 1}e}")
            if rounded == value:
                break
            trial = with_constants(current, [(i, j)], [rounded])
            distance, _ = objective(trial)
            if distance > reference + tolerance and digits <= REFIT_DIGITS and refit_budget:
                trial, distance = polish(trial, objective, budget=refit_budget,
                                         fixed=frozenset(done | {k}), simplex_step=0.01)
            if distance <= reference + tolerance:
                current = trial
                break
        done.add(k)
    return current


LINEAR_FEATURES: dict[str, tuple[str, bool]] = {
    "lr * w": ("w", True),
    "lr * g": ("g", True),
    "w": ("w", False),
    "g": ("g", False),
}
"""Terms that a target's update often contains as a plain addend, by the input and whether the
learning rate multiplies it: decoupled weight decay (``c * lr * w``, optax's AdamW and Lion), a
decay outside the schedule (``c * w``), a gradient share."""


def add_linear_term(program: Program, runs: Sequence[np.ndarray], experiments: Sequence[Any],
                    min_gain: float = 0.2) -> Program | None:
    """The program with ``update + c * x`` for the term ``x`` of :data:`LINEAR_FEATURES` that
    explains the most of what it misses, with ``c`` fitted in closed form (jointly with the
    overall scale: two-parameter weighted least squares), if that removes at least
    ``min_gain`` of the remaining distance; else None.

    Why: evolution builds Lion's sign step long before it finds its weight decay, a second
    statement whose constant must also be right within a factor of a few to help; the mutation
    that adds it is blind, while the target's updates say exactly how much ``w`` is missing.
    ``runs`` are the program's updates on ``experiments`` (with ``stream``, ``target``,
    ``weights``, ``mask``)."""
    best: tuple[float, str, float] | None = None
    base = None
    for name, (source, scaled) in LINEAR_FEATURES.items():
        sums = np.zeros((2, 2))
        rhs = np.zeros(2)
        total = 0.0
        for u, e in zip(runs, experiments, strict=True):
            x = getattr(e.stream, source)
            if scaled:
                x = x * e.stream.lr[:, None]
            k, mask = e.weights, e.mask
            t = e.target[mask]
            cols = (u[mask], x[mask])
            tt = float(np.sum(k * np.sum(t * t, axis=0)))
            if tt == 0.0:
                continue
            for a in range(2):
                rhs[a] += float(np.sum(k * np.sum(cols[a] * t, axis=0))) / tt
                for b in range(2):
                    sums[a, b] += float(np.sum(k * np.sum(cols[a] * cols[b], axis=0))) / tt
            total += 1.0
        if total == 0.0 or not np.all(np.isfinite(sums)):
            return None
        if base is None:  # the program alone: one column
            base = 1.0 - (rhs[0] ** 2 / sums[0, 0] / total if sums[0, 0] > 0 else 0.0)
        try:
            coef = np.linalg.solve(sums, rhs)
        except np.linalg.LinAlgError:
            continue
        distance = 1.0 - float(coef @ rhs) / total
        if coef[0] != 0.0 and np.isfinite(distance) and (best is None or distance < best[0]):
            best = (distance, name, float(coef[1] / coef[0]))
    if best is None or base is None or not best[0] < (1.0 - min_gain) * base:
        return None
    _, name, c = best
    source, scaled = LINEAR_FEATURES[name]
    update = program.outputs[0]
    taken = {s.target for s in program.statements} | set(program.outputs)
    added: list[Statement] = []
    if scaled:
        taken.add(base_name := _fresh("lr_" + source, taken))
        added.append(Statement(base_name, "mul", ("lr", source)))
        source = base_name
    taken.add(term := _fresh("term", taken))
    added.append(Statement(term, "mul", (source, c)))
    added.append(Statement(_fresh("update_plus", taken), "add", (update, term)))
    return Program((*program.statements, *added), (added[-1].target, *program.outputs[1:]))


def _fresh(stem: str, taken: set[str]) -> str:
    name, k = stem, 2
    while name in taken:
        name, k = f"{stem}_{k}", k + 1
    return name


def swap_function(program: Program, objective: Objective, min_gain: float = 0.2
                  ) -> tuple[Program, float] | None:
    """The best program made by giving one statement another function of the same argument
    kinds (all tried), if it removes at least ``min_gain`` of the distance; else None.

    Why: evolution often finds a stand-in for the right function that is nearly as good on the
    streams (``arctan(c / eps)`` for ``sign(c)``, ``tanh`` of a large value for a sign), and a
    random function mutation rarely lands on the one right swap; here every swap is tried,
    about forty per statement, each costing one run of the program."""
    from programs import check
    from programs.ops import OPS

    base, _ = objective(program)
    best: tuple[float, Program] | None = None
    for i, s in enumerate(program.statements):
        kinds = OPS[s.op].arg_kinds
        for name, op in OPS.items():
            if name == s.op or op.arg_kinds != kinds:
                continue
            statements = list(program.statements)
            statements[i] = Statement(s.target, name, s.args)
            candidate = Program(tuple(statements), program.outputs)
            if check(candidate):
                continue
            distance, _ = objective(candidate)
            if best is None or distance < best[0]:
                best = (distance, candidate)
    if best is None or not best[0] < (1.0 - min_gain) * base:
        return None
    return best[1], best[0]


OFFSETS = (1e-8, 1e-7, 1e-6, 1e-3, 0.1, 1.0)
"""Starting values of an offset tried inside a unary function (``sqrt(v + eps)``): the
``eps`` of the libraries (1e-8, 1e-7, 1e-6), Adagrad's initial accumulator (0.1), one; the
constant fitting then finds the exact value."""


def add_offset(program: Program, objective: Objective, min_gain: float = 0.2
               ) -> tuple[Program, float] | None:
    """The best program made by adding a constant to the argument of one unary function
    (``sqrt(v)`` -> ``sqrt(v + c)``, ``c`` from :data:`OFFSETS`), if it removes at least
    ``min_gain`` of the distance; else None.

    Why: optimizers put their ``eps`` inside a square root (optax's RMSProp, Adadelta) or start
    a sum of squares at a constant (Adagrad's 0.1), and the language's own guard (division
    ``eps`` away from zero) is outside; the two differ exactly where gradients are tiny, which
    the streams make visible, and no single mutation inserts the offset where it belongs."""
    from programs import check
    from programs.ops import OPS

    base, _ = objective(program)
    taken = {s.target for s in program.statements} | set(program.outputs)
    name = _fresh("offset", taken)
    best: tuple[float, Program] | None = None
    for i, s in enumerate(program.statements):
        if len(OPS[s.op].arg_kinds) != 1 or s.args[0].__class__ is not str:
            continue
        for c in OFFSETS:
            statements = list(program.statements)
            statements[i:i + 1] = [Statement(name, "add", (s.args[0], c)),
                                   Statement(s.target, s.op, (name,))]
            candidate = Program(tuple(statements), program.outputs)
            if check(candidate):
                continue
            distance, _ = objective(candidate)
            if best is None or distance < best[0]:
                best = (distance, candidate)
    if best is None or not best[0] < (1.0 - min_gain) * base:
        return None
    return best[1], best[0]
