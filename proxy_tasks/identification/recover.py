"""From a found program to the emitted one: simplify, fit constants, bake the lr scale, round.

:func:`finish` is what identification does to the search's best programs (and, during a search,
to each new one that comes close): it returns the program a user gets, with its held-out
assessment *at scale 1*, i.e. what the exported optimizer does with the target's own learning
rate. The fitting uses the suite's stage ``s`` and ``m`` experiments, never the held-out ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from programs import Program, remove_dead_code, simplify
from proxy_tasks.identification.polish import bake_scale, polish, round_constants
from proxy_tasks.identification.suite import Assessment, IdentificationSuite


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


def finish(program: Program, suite: IdentificationSuite, budget: int = 600) -> Recovery:
    """See the module docstring; ``budget`` bounds the constant fitting's evaluations."""
    fitting = [*suite.stages[0], *suite.stages[1]]

    def free(p: Program) -> tuple[float, float]:
        return suite.distance(p, fitting)

    def fixed(p: Program) -> tuple[float, float]:
        return suite.distance(p, fitting, scale=1.0)

    current = _simplified(program)
    current, distance = polish(current, free, budget=budget)
    current = round_constants(current, free, tolerance=max(1e-13, 1e-3 * distance))
    _, scale = free(current)
    current = bake_scale(current, scale)
    distance, _ = fixed(current)
    current = round_constants(current, fixed, tolerance=max(1e-13, 1e-3 * distance))
    return Recovery(current, suite.assess(current, fit_scale=False))
