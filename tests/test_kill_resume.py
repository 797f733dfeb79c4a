"""kill -9 at any moment, checkpoint writes included, then ``--resume``: the run ends with the
same files as a run never interrupted (wall-clock fields aside)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from search_state import saved

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = [
    "search.suite=numpy", "search.max_evaluations=240", "evolution.population=16",
    "evolution.tournament=3", "executor.backend=inprocess", "executor.batch_size=3",
    "executor.in_flight=3", "restart.plateau=60", "progress.recognize=false",
    # A checkpoint after every batch, so that kills often land inside a write.
    "checkpoint.every_evaluations=1",
]
KILLS = 7
CLOCK_FIELDS = ("time", "evaluated", "driver_seconds")
"""Log fields that measure this session's wall clock or work, not the search."""


def _command(out: Path) -> list[str]:
    resume = ["--resume"] if (out / "checkpoint.json").exists() else []
    sets = [a for s in SETTINGS for a in ("--set", s)]
    return [sys.executable, "-m", "evosearch", "search", "--out", str(out), "--quiet", *resume,
            *sets]


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _temporaries(out: Path) -> list[str]:
    return [p.name for p in out.glob(".*.tmp")] if out.exists() else []


def _kill_during_a_write(process: subprocess.Popen, out: Path, deadline: float) -> None:
    """SIGKILL as soon as a temporary file of an atomic write is seen (or at the deadline)."""
    while time.monotonic() < deadline and process.poll() is None:
        if _temporaries(out):
            break
        time.sleep(0.0005)
    process.send_signal(signal.SIGKILL)


def _log(out: Path) -> list[dict]:
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in CLOCK_FIELDS} for r in records]


def test_kill_9_loop_then_resume_ends_as_the_uninterrupted_run(tmp_path):
    whole = tmp_path / "whole"
    done = subprocess.run(_command(whole), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr

    out = tmp_path / "killed"
    rng = random.Random(7)
    hit_writes = 0
    for kill in range(KILLS):
        target = _lines(out / "log.jsonl") + rng.randint(1, 6)
        process = subprocess.Popen(_command(out), cwd=ROOT, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        # Let the session get somewhere (a few new log lines), then kill it at a random moment
        # or, every other time, inside an atomic write.
        deadline = time.monotonic() + 120
        while (process.poll() is None and time.monotonic() < deadline
               and _lines(out / "log.jsonl") < target):
            time.sleep(0.002)
        assert process.poll() is None, f"the search ended before kill {kill}"
        if kill % 2:
            _kill_during_a_write(process, out, time.monotonic() + 2)
        else:
            time.sleep(rng.uniform(0, 0.1))
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        process.stderr.close()
        hit_writes += bool(_temporaries(out))
    assert hit_writes >= 1  # some kills landed inside a checkpoint or artifact write

    done = subprocess.run(_command(out), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert saved(out) == saved(whole)
    assert _log(out) == _log(whole)
    for name in ("best.prog", "lineage.txt", "lineage.graphml", "hall_of_fame.txt",
                 "summary.json", "config.json"):
        assert (out / name).read_bytes() == (whole / name).read_bytes(), name
    assert not _temporaries(out)  # the resume cleaned up after the kills
    assert sorted(os.listdir(out)) == sorted(os.listdir(whole))
