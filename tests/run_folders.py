"""Run folders for tests: a small search stopped by a real Ctrl-C with work still out, and a
snapshot of a folder's files to check that a refused command changed nothing."""

from __future__ import annotations

import hashlib
import os
import signal
from pathlib import Path

from evosearch.backends.local import InProcessExecutor
from evosearch.config import Config, apply_overrides
from evosearch.run.progress import ProgressLine
from evosearch.run.runner import Runner

SETTINGS = [
    "search.suite=numpy", "search.max_evaluations=16", "search.hall_of_fame=4",
    "search.meta_validate=1", "evolution.population=6", "evolution.tournament=2",
    "executor.backend=inprocess", "executor.batch_size=2", "executor.in_flight=2",
    "checkpoint.every_evaluations=1000", "restart.plateau=15", "progress.recognize=false",
]


class StopAfter(InProcessExecutor):
    """The in-process executor, with a real Ctrl-C (SIGINT to this process) after ``batches``
    batches: the runner checkpoints with batches in flight and children on their way."""

    def __init__(self, batches: int) -> None:
        super().__init__("numpy")
        self.left = batches

    def completed(self, timeout: float | None) -> list:
        done = super().completed(timeout)
        self.left -= len(done)
        if done and self.left == 0:
            os.kill(os.getpid(), signal.SIGINT)
        return done


def interrupted_run(out: Path, batches: int, *overrides: str) -> Path:
    """``out`` holding a search of :data:`SETTINGS` stopped by Ctrl-C after ``batches``."""
    config = apply_overrides(Config(), [*SETTINGS, *overrides])
    outcome = Runner(config, out, executor=StopAfter(batches),
                     progress=ProgressLine(enabled=False)).run()
    assert outcome.status == "interrupted"
    return out


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Each file's content hash and mode."""
    return {p.name: (hashlib.sha256(p.read_bytes()).digest(), p.stat().st_mode)
            for p in sorted(folder.iterdir())}
