"""One program's result at one funnel stage, as the search keeps it.

The suite returns ``proxy_tasks.ProgramScore``; the search keeps the part it needs as plain,
JSON-able data, so that scores cross process boundaries and go into checkpoints without pickles
of anything a worker built. Lower fitness is better.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Score:
    fitness: float
    failed: bool = False
    seconds: float = 0.0
    per_task: dict[str, float] = field(default_factory=dict)
    error: str = ""  # why a program could not be scored (a crashed worker, an exception)

    def __post_init__(self) -> None:
        if not math.isfinite(self.fitness):
            raise ValueError(f"a score's fitness must be finite, got {self.fitness!r}")

    @classmethod
    def from_suite(cls, result: Any) -> Score:
        """From a ``proxy_tasks.ProgramScore`` (or anything with its fields)."""
        per_task = {str(k): float(v) for k, v in dict(getattr(result, "per_task", {})).items()}
        return cls(
            fitness=float(result.fitness),
            failed=bool(result.failed),
            seconds=float(getattr(result, "seconds", 0.0)),
            per_task={k: v for k, v in per_task.items() if math.isfinite(v)},
        )

    def to_json(self) -> list[Any]:
        """Compact: ``[fitness, failed, seconds]`` plus per-task values and an error if any."""
        out: list[Any] = [self.fitness, self.failed, round(self.seconds, 4)]
        if self.per_task or self.error:
            out.append(self.per_task)
        if self.error:
            out.append(self.error)
        return out

    @classmethod
    def from_json(cls, data: list[Any]) -> Score:
        if not isinstance(data, list) or not 3 <= len(data) <= 5:
            raise ValueError(f"malformed score {data!r}")
        per_task = data[3] if len(data) > 3 else {}
        error = data[4] if len(data) > 4 else ""
        return cls(float(data[0]), bool(data[1]), float(data[2]), dict(per_task), str(error))
