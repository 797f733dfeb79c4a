"""The funnel: promotion across the suite's stages, cheapest first.

Every child is scored on stage 0. It is scored on stage k+1 only if its stage-k fitness passes
that stage's threshold: the baseline's (AdamW's) fitness there, loosened or tightened by a
factor, or a quantile of the population's fitness at that stage; optionally also within a margin
of the population's best there (``best_margins``). Selection compares programs by
the highest stage they reached, then by their fitness there (:func:`selection_key`), so a
program that survived a larger task outranks any that did not, and a one-task hack has to keep
winning as the tasks grow.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from evosearch.config import FunnelSettings
from proxy_tasks.suites import Score

Key = tuple[int, float]


def selection_key(stage: int, fitness: float) -> Key:
    """Smaller is better: the highest stage reached first, then the fitness there."""
    return (-stage, fitness)


class Funnel:
    """Thresholds per stage. ``baselines[k]`` is the baseline's fitness on stage k (or None
    where unknown, e.g. a suite without a baseline, in which case every program passes)."""

    def __init__(
        self, settings: FunnelSettings, n_stages: int, baselines: Sequence[float | None]
    ) -> None:
        if n_stages < 1:
            raise ValueError("a suite needs at least one stage")
        if len(baselines) != n_stages:
            raise ValueError(f"{len(baselines)} baselines for {n_stages} stages")
        self.settings = settings
        self.n_stages = n_stages
        self.baselines = tuple(baselines)

    @property
    def last(self) -> int:
        return self.n_stages - 1

    def baseline_threshold(self, stage: int) -> float | None:
        base = self.baselines[stage]
        if base is None:
            return None
        factors = self.settings.stage_factors
        factor = factors[stage] if stage < len(factors) else self.settings.factor
        return base + (factor - 1.0) * abs(base)

    def threshold(self, stage: int, population: Callable[[int], list[float]]) -> float | None:
        """The fitness a program must reach (<=) on ``stage`` to go on; None: no bound.
        ``population(stage)`` gives the fitness of the members scored on that stage; it is
        called only for the quantile threshold and the ``best_margins`` gate."""
        bound = None
        if self.settings.threshold == "quantile":
            values = population(stage)
            if len(values) >= self.settings.min_members:
                bound = float(np.quantile(values, self.settings.quantile, method="lower"))
        if bound is None:
            bound = self.baseline_threshold(stage)
        gate = self.best_gate(stage, population)
        if gate is not None:
            bound = gate if bound is None else min(bound, gate)
        return bound

    def best_gate(self, stage: int, population: Callable[[int], list[float]]) -> float | None:
        """``best + margin * |best|`` over the population's fitness on ``stage``; None where
        no margin is set for this promotion or nobody is scored there yet."""
        margins = self.settings.best_margins
        if stage >= len(margins):
            return None
        values = [v for v in population(stage) if math.isfinite(v)]
        if not values:
            return None
        best = min(values)
        return best + margins[stage] * abs(best)

    def promotes(
        self, stage: int, score: Score, population: Callable[[int], list[float]]
    ) -> bool:
        """Does a program with ``score`` on ``stage`` go on to ``stage + 1``?"""
        if stage >= self.last or score.failed:
            return False
        bound = self.threshold(stage, population)
        return bound is None or score.fitness <= bound
