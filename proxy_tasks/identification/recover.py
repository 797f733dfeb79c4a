"""From a found program to the emitted one: simplify, fit constants, try every one-function swap
and every offset inside a unary function, complete a missing linear term, drop statements that
change nothing, bake the lr scale, round.

:func:`finish` is what identification does to the search's best programs (and, during a search,
to each new one that comes close): it returns the program a user gets, with its held-out
assessment *at scale 1*, i.e. what the exported optimizer does with the target's own learning
rate. The fitting uses the suite's stage-``m`` probe stream, never the held-out experiments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from programs import Program, remove_dead_code, simplify
from proxy_tasks.identification.polish import (
    add_linear_term,
    add_offset,
    bake_scale,
    polish,
    round_constants,
    swap_function,
)
from proxy_tasks.identification.suite import Assessment, IdentificationSuite, run_program


@dataclass(frozen=True)
class Recovery:
    """The emitted ``program`` and its held-out ``assessment`` (at scale 1)."""

    program: Program
    assessment: Assessment

    @property
    def exact(self) -> bool:
        return self.assessment.exact


def _simplified(program: Program) -> Program:
    try:
        return simplify(program)
    except Exception:  # noqa: BLE001 - simplification is a nicety
        return remove_dead_code(program)


def _shortened(program: Program, objective: Any, distance: float) -> Program:
    """Drop statements that change nothing measurable (``arcsinh`` of a tiny value, a ``clip``
    that never bites): the empirical ablation of :mod:`proxy_tasks.ablation` with the
    distance as the score and a tolerance of a thousandth of it."""
    from proxy_tasks.ablation import empirical_simplify

    def scorer(candidates: Any) -> np.ndarray:
        return np.array([[objective(c)[0]] for c in candidates])

    tolerance = max(1e-13, 1e-3 * distance)
    try:
        return empirical_simplify(program, scorer, tolerance=tolerance, max_relative_loss=0.0,
                                  analytic=False).program
    except Exception:  # noqa: BLE001 - a shorter program is a nicety
        return program


def finish(program: Program, suite: IdentificationSuite, budget: int = 600) -> Recovery:
    """See the module docstring; ``budget`` bounds the constant fitting's evaluations."""
    fitting = suite.stages[1][:1]  # the m stage's probe stream: 120 steps, ~3 ms a run

    def free(p: Program) -> tuple[float, float]:
        return suite.distance(p, fitting)

    def fixed(p: Program) -> tuple[float, float]:
        return suite.distance(p, fitting, scale=1.0)

    current = _simplified(program)
    current, distance = polish(current, free, budget=budget)
    for _ in range(2):  # one-statement changes the mutations miss: the better one, twice
        if distance <= 1e-12:
            break
        changes = [c for c in (swap_function(current, free), add_offset(current, free)) if c]
        if not changes:
            break
        changed, _ = min(changes, key=lambda c: c[1])
        current, distance = polish(changed, free, budget=budget // 2)
    runs = [run_program(current, e.stream) for e in fitting]
    if distance > 1e-12 and all(u is not None for u in runs):
        extended = add_linear_term(current, runs, fitting)
        if extended is not None:
            extended, extended_distance = polish(extended, free, budget=budget // 2)
            if extended_distance < distance:
                current, distance = extended, extended_distance
    current = _shortened(current, free, distance)
    current = round_constants(current, free, tolerance=max(1e-13, 1e-3 * distance))
    _, scale = free(current)
    current = bake_scale(current, scale)
    distance, _ = fixed(current)
    current = round_constants(current, fixed, tolerance=max(1e-13, 1e-3 * distance))
    recovery = Recovery(current, suite.assess(current, fit_scale=False))
    named = _canonical(current)
    if named is not None:
        named = round_constants(named, fixed, tolerance=max(1e-13, 1e-3 * distance))
        alternative = Recovery(named, suite.assess(named, fit_scale=False))
        if alternative.assessment.distance <= recovery.assessment.distance + 1e-13:
            return alternative
    return recovery


def _canonical(program: Program) -> Program | None:
    """The textbook program of the known optimizer ``program`` is (``arcsin(c / eps)`` written
    as ``sign(c)``), if it is one: emitted instead when it is as close to the target."""
    from programs import recognize

    try:
        match = recognize(program)
        return None if match is None else match.program()
    except Exception:  # noqa: BLE001 - a name is a nicety
        return None
