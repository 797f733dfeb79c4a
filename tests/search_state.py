"""A search's saved state without its wall-clock fields, for comparing two trajectories."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def deterministic(search: dict[str, Any]) -> dict[str, Any]:
    """``search`` (an ``Evolution.to_json()``) with seconds and elapsed time zeroed."""
    data = json.loads(json.dumps(search))
    for stages in data["cache"]["entries"].values():
        for score in stages.values():
            score[2] = 0  # seconds spent evaluating
    data["elapsed"] = 0
    return data


def saved(run_dir: Path) -> dict[str, Any]:
    """The deterministic part of a run directory's checkpoint."""
    return deterministic(json.loads((run_dir / "checkpoint.json").read_text())["search"])
