"""What every suite is: one protocol, one score type, one worst fitness.

A suite turns programs into fitness at the stages of a funnel (cheapest first). The search does
not know which kind it runs: *discovery* (:class:`~proxy_tasks.suites.trained.TrainingSuite`:
train on proxy tasks, validation loss relative to a baseline program) or a suite that compares a
program's behaviour with a target's (:mod:`proxy_tasks.identification`), or the tiny numpy suite
the engine's own tests use. All of them satisfy :class:`Suite` and return :class:`Score`.
Lower fitness is better everywhere.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from programs import Program, ProgramError, check

WORST_FITNESS = 1000.0
"""The fitness of a program that failed (NaN or inf at every lr, an exception, a crash). Every
suite keeps the fitness of anything that ran below it: a training suite clips each task's loss to
twice a trivial predictor's (a few times the baseline's), a distance suite is bounded by
construction."""


class SuiteError(ValueError):
    """A suite that cannot be built: an unknown name, a malformed definition, a bad target. The
    message names where the definition came from and what is wrong."""


@dataclass(frozen=True)
class Score:
    """One program's result at one funnel stage. LOWER fitness is better.

    ``per_task``: the raw value behind the fitness on each task (a loss, a distance);
    ``best_lr``: the learning-rate multiplier each task chose, where lrs are tuned; ``error``:
    why a program could not be scored (a crashed worker, an exception). Plain data, so that
    scores cross process boundaries and go into checkpoints without pickles.
    """

    fitness: float
    failed: bool = False
    seconds: float = 0.0
    per_task: dict[str, float] = field(default_factory=dict)
    error: str = ""
    best_lr: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not math.isfinite(self.fitness):
            raise ValueError(f"a score's fitness must be finite, got {self.fitness!r}")

    def to_json(self) -> list[Any]:
        """Compact: ``[fitness, failed, seconds]`` plus per-task values and an error if any.
        ``best_lr`` stays out: the search does not keep it."""
        per_task = {k: v for k, v in self.per_task.items() if math.isfinite(v)}
        out: list[Any] = [self.fitness, self.failed, round(self.seconds, 4)]
        if per_task or self.error:
            out.append(per_task)
        if self.error:
            out.append(self.error)
        return out

    @classmethod
    def from_json(cls, data: Any) -> Score:
        """The inverse of :meth:`to_json`; anything else raises ``ValueError``."""
        if not isinstance(data, list) or not 3 <= len(data) <= 5:
            raise ValueError(f"malformed score {data!r}")
        fitness, failed, seconds = data[0], data[1], data[2]
        per_task = data[3] if len(data) > 3 else {}
        error = data[4] if len(data) > 4 else ""
        if (isinstance(fitness, bool) or not isinstance(fitness, int | float)
                or not isinstance(failed, bool)
                or isinstance(seconds, bool) or not isinstance(seconds, int | float)
                or not isinstance(per_task, dict) or not isinstance(error, str)
                or not all(isinstance(k, str) and isinstance(v, int | float)
                           and not isinstance(v, bool) for k, v in per_task.items())):
            raise ValueError(f"malformed score {data!r}")
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"malformed score {data!r}: seconds must be finite and >= 0")
        return cls(float(fitness), failed, float(seconds),
                   {k: float(v) for k, v in per_task.items()}, error)


def failed_score(error: str = "", seconds: float = 0.0) -> Score:
    """The score of a program that could not be scored, with the reason."""
    return Score(WORST_FITNESS, failed=True, seconds=seconds, error=error)


@runtime_checkable
class Suite(Protocol):
    """What the search needs of a suite.

    ``evaluate`` scores programs at one stage (a batch in one call, so that a suite can train
    them together); it raises ``ValueError`` for an unknown stage or an invalid program and
    gives a diverging program a failed, finite score. ``baseline`` is the baseline program's
    score at a stage: the funnel's promotion threshold.
    """

    name: str

    @property
    def stage_names(self) -> tuple[str, ...]: ...

    def evaluate(self, programs: Sequence[Program], stage: int) -> list[Score]: ...

    def baseline(self, stage: int) -> Score: ...


def check_request(programs: Sequence[Program], stage: Any, stage_names: Sequence[str],
                  suite: str) -> int:
    """What every suite refuses before scoring: an unknown stage, something that is not a
    program, an invalid program (with its index). Returns the stage as an ``int``."""
    try:
        index = None if isinstance(stage, bool) else operator.index(stage)
    except TypeError:
        index = None
    if index is None or not 0 <= index < len(stage_names):
        raise ValueError(f"suite {suite!r} has stages 0..{len(stage_names) - 1} "
                         f"({', '.join(stage_names)}), got {stage!r}")
    for i, p in enumerate(programs):
        if not isinstance(p, Program):
            raise TypeError(f"programs[{i}] is a {type(p).__name__}, not a Program")
        problems = check(p)
        if problems:
            raise ProgramError(f"programs[{i}] is invalid: " + "; ".join(map(str, problems)))
    return index
