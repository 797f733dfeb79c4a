"""What a running search tells its user: one live line on stderr, one JSON line per batch.

The live line (AutoML-Zero and PySR both have one) shows evaluations per second, the cache hit
rate, how many evaluations each funnel stage got, the best fitness and what the best program is
(``Lion-like``, ``AdamW``), refreshed at most once per ``interval`` seconds. On a terminal it
rewrites itself in place and fits the terminal's width (a line that wraps can no longer be
rewritten: the details go first, the evaluations and the best never); into a file or pipe it
prints a full line every ten intervals.

The JSON log (``log.jsonl``) has one object per consumed batch with cumulative counters, from
which ``evosearch report`` derives rates over any window, plus one object per event (restart,
migration, dead worker, new best).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any, TextIO

from evosearch.engine.evolution import Evolution


def batch_record(engine: Evolution, evaluated: int, driver_seconds: float) -> dict[str, Any]:
    """The log line after a batch: cumulative counters and the population's state."""
    c = engine.counters
    best = engine.best()
    return {
        "batch": c.batches,
        "time": round(engine.elapsed, 3),
        "children": c.children,
        "evaluations": c.evaluations,
        "evaluated": evaluated,
        "by_stage": list(c.by_stage),
        "reached": list(c.reached),
        "hits": c.hits,
        "in_flight_hits": c.in_flight_hits,
        "cache_size": len(engine.cache),
        "tries": c.tries,
        "invalid": c.invalid,
        "unchanged": c.unchanged,
        "neutral": c.neutral,
        "gave_up": c.gave_up,
        "failed": c.failed,
        "redundancy_sum": round(c.redundancy_sum, 6),
        "restarts": c.restarts,
        "migrations": c.migrations,
        "population": engine.population_stats(),
        "best": None if best is None else {
            "id": best.id, "stage": best.stage, "fitness": best.fitness,
            "fingerprint": best.fingerprint,
        },
        "driver_seconds": round(driver_seconds, 4),
    }


class JsonLog:
    """Appends one JSON object per line, flushed at once (a crash loses at most one line)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def write(self, record: dict[str, Any]) -> None:
        self.file.write(json.dumps(record, allow_nan=False, separators=(",", ":")) + "\n")
        self.file.flush()

    def close(self) -> None:
        self.file.close()


def truncate_log(path: Path, batches: int) -> int:
    """Drop log lines written after the checkpoint being resumed (batch > ``batches``): the
    resumed search will do those batches again, identically. Returns how many were dropped."""
    if not path.exists():
        return 0
    from evosearch.run.checkpoint import write_atomic

    kept, dropped = [], 0
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            dropped += 1  # a line cut short by a crash
            continue
        if record.get("batch", 0) > batches or record.get("after_batch", 0) > batches:
            dropped += 1
            continue
        kept.append(line)
    if dropped:
        write_atomic(path, "".join(line + "\n" for line in kept))
    return dropped


def read_log(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(batch records, event records) of a run's log; unreadable lines are skipped."""
    batches, events = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        (events if "event" in record else batches).append(record)
    return batches, events


class ProgressLine:
    """The live line on stderr."""

    def __init__(self, interval: float = 1.0, stream: TextIO | None = None,
                 enabled: bool = True) -> None:
        self.interval = interval
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.last = 0.0
        self.last_full = 0.0
        self.window: deque[tuple[float, int]] = deque()
        self.best_label = ""
        self.width = 0

    def rate(self, now: float, evaluated: int) -> float:
        """Evaluations per second over the last minute."""
        self.window.append((now, evaluated))
        while len(self.window) > 2 and now - self.window[0][0] > 60.0:
            self.window.popleft()
        t0, e0 = self.window[0]
        return (evaluated - e0) / (now - t0) if now > t0 else 0.0

    def update(self, engine: Evolution, evaluated: int, force: bool = False) -> None:
        now = time.monotonic()
        rate = self.rate(now, evaluated)
        if not self.enabled or (not force and now - self.last < self.interval):
            return
        self.last = now
        if not self.tty and not force and now - self.last_full < 10 * self.interval:
            return
        self.last_full = now
        text = format_line(engine, rate, self.best_label,
                           width=self.columns() if self.tty else None)
        if self.tty:
            pad = max(0, self.width - len(text))
            self.stream.write("\r" + text + " " * pad)
            self.width = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def columns(self) -> int:
        """The terminal's width less one (writing the last column wraps on some terminals)."""
        try:
            width = os.get_terminal_size(self.stream.fileno()).columns
        except (AttributeError, OSError, ValueError):
            width = shutil.get_terminal_size().columns
        return max(20, width - 1)

    def message(self, text: str) -> None:
        """A line of its own (an event), without breaking the live line."""
        if not self.enabled:
            return
        if self.tty and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.width = 0
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty and self.width:
            self.stream.write("\n")
            self.stream.flush()
            self.width = 0


def format_line(engine: Evolution, rate: float, best_label: str = "",
                width: int | None = None) -> str:
    """The live line; within ``width`` characters if given: first the best program's label
    loses its hyperparameters, then the details go (children, funnel, restarts, hit rate,
    elapsed time), and only then is the line cut."""
    c = engine.counters
    hit = c.hits / c.children if c.children else 0.0
    minutes = engine.elapsed / 60.0
    funnel = "/".join(str(n) for n in c.by_stage)
    best = engine.best()
    # (text, rank): the part with the highest rank goes first when the line is too wide.
    parts: list[tuple[str, int]] = [
        (f"{minutes:6.1f} min", 1),
        (f"{c.evaluations} evals ({rate:.2f}/s)", 0),
        (f"{c.children} children", 5),
        (f"hits {100 * hit:.0f}%", 2),
        (f"funnel {funnel}", 4),
    ]
    if best is not None:
        stage = engine.stage_names[best.stage]
        label = f" {best_label}" if best_label else ""
        parts.append((f"best {best.fitness:.5g}@{stage}{label}", 0))
    if c.restarts:
        parts.append((f"restarts {c.restarts}", 3))
    if engine.phase == "meta":
        parts.append(("meta-validating", 0))

    def line() -> str:
        return " | ".join(text for text, _ in parts)

    if width is None or len(line()) <= width:
        return line()
    if best is not None and "(" in best_label:  # "lion(b1=0.9, ...)" -> "lion"
        short = best_label.split("(", 1)[0]
        parts = [(text.replace(best_label, short), rank) if text.startswith("best ") else
                 (text, rank) for text, rank in parts]
    while len(line()) > width and max(rank for _, rank in parts) > 0:
        worst = max(range(len(parts)), key=lambda i: parts[i][1])
        del parts[worst]
    text = line()
    return text if len(text) <= width else text[: width - 3] + "..."
