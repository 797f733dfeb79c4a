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


class LogMismatch(ValueError):
    """A log that does not belong with the checkpoint being resumed."""


def _log_lines(path: Path) -> list[tuple[str, dict[str, Any] | None]]:
    """Each line of a log with its record, or None where the line is not a record (cut short
    by a crash, or not ours)."""
    from evosearch.run.checkpoint import parse_json

    lines = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            try:
                record = parse_json(line)
            except ValueError:
                record = None
            lines.append((line, record if isinstance(record, dict) else None))
    return lines


def _position(record: dict[str, Any]) -> int | None:
    """The batch after which a record was written (0 if it does not say: a record from
    before the first batch), or None if it says something that is no batch number."""
    value = record.get("after_batch", record.get("batch", 0))
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _is_batch(record: dict[str, Any]) -> bool:
    return "event" not in record


def plan_truncation(path: Path, batches: int) -> int:
    """How many lines :func:`truncate_log` would drop before resuming at ``batches``: lines
    written after the checkpoint (the resumed search writes them again, identically) and lines
    that are not records. Raises :class:`LogMismatch` if the batch lines up to ``batches``
    are not exactly batches 1 .. ``batches``, in order: then the log is another run's, or
    lines were lost, and appending to it would mix two runs in one log. No log: 0."""
    if not path.exists():
        return 0
    kept_batches, dropped = [], 0
    for _, record in _log_lines(path):
        at = None if record is None else _position(record)
        if at is None or at > batches:
            dropped += 1
        elif _is_batch(record):
            kept_batches.append(at)
    if kept_batches != list(range(1, batches + 1)):
        have = (f"batch lines {_ranges(kept_batches)}" if kept_batches else "no batch lines")
        raise LogMismatch(
            f"{path}: has {have}, but the checkpoint is after batch {batches}: the log is "
            f"not this checkpoint's (lines lost, or another run's log); move {path.name} "
            "away to resume with a new log"
        )
    return dropped


def has_batch_lines(path: Path) -> bool:
    """Does a log hold a batch line (is it a search's log, not only a failed start's)?"""
    return any(record is not None and _is_batch(record) and _position(record) is not None
               for _, record in _log_lines(path))


def _ranges(numbers: list[int]) -> str:
    """``1-40, 45, 50-52``; a list out of order is shown as it is, shortened."""
    if numbers != sorted(set(numbers)):
        shown = ", ".join(map(str, numbers[:8]))
        return f"{shown}{', ...' if len(numbers) > 8 else ''} (out of order or repeated)"
    parts, start = [], numbers[0]
    for a, b in zip(numbers, [*numbers[1:], None], strict=True):
        if b != a + 1:
            parts.append(str(start) if start == a else f"{start}-{a}")
            start = b
    return ", ".join(parts[:6]) + (", ..." if len(parts) > 6 else "")


def truncate_log(path: Path, batches: int) -> int:
    """Drop the lines :func:`plan_truncation` counts (it is called first, and raises if the
    log does not fit the checkpoint). The log keeps its mode. Returns how many were dropped."""
    dropped = plan_truncation(path, batches)
    if not dropped:
        return 0
    from evosearch.run.checkpoint import write_atomic

    kept = []
    for line, record in _log_lines(path):
        at = None if record is None else _position(record)
        if at is not None and at <= batches:
            kept.append(line + "\n")
    write_atomic(path, "".join(kept))
    return dropped


BATCH_NUMBERS = ("batch", "evaluations", "children", "hits", "unchanged", "redundancy_sum")
"""Fields every batch line has, as numbers (the plots read them)."""


def read_log(path: Path, stages: int | None = None
             ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(batch records, event records) of a run's log; lines that are not records of ours
    (cut short by a crash, edited; with ``stages``, not of a suite with that many stages) are
    skipped, so that whatever the log holds, the plots can draw what remains."""
    batches, events = [], []
    for _, record in _log_lines(path):
        if record is None or _position(record) is None:
            continue
        if not _is_batch(record):
            # A restart is drawn where it happened: it must say after which batch.
            if isinstance(record["event"], str) and (
                    record["event"] != "restart" or "after_batch" in record):
                events.append(record)
        elif _plottable(record, stages):
            batches.append(record)
    return batches, events


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _plottable(record: dict[str, Any], stages: int | None) -> bool:
    by_stage = record.get("by_stage")
    if not (all(_number(record.get(k)) for k in BATCH_NUMBERS) and isinstance(by_stage, list)
            and all(_number(v) for v in by_stage)
            and (stages is None or len(by_stage) == stages)):
        return False
    population = record.get("population", {})
    if not isinstance(population, dict) or not all(
            _number(population[k]) for k in ("median_stage0", "best_stage0") if k in population):
        return False
    best = record.get("best")
    return best is None or (
        isinstance(best, dict) and _number(best.get("fitness"))
        and isinstance(best.get("stage"), int) and not isinstance(best.get("stage"), bool)
        and 0 <= best["stage"] < (stages if stages is not None else best["stage"] + 1))


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
        self.waiting = ""  # what the search waits for, shown instead of the rate
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
                           width=self.columns() if self.tty else None, waiting=self.waiting)
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
                width: int | None = None, waiting: str = "") -> str:
    """The live line; within ``width`` characters if given: first the best program's label
    loses its hyperparameters, then the details go (children, funnel, restarts, hit rate,
    elapsed time), and only then is the line cut. ``waiting`` (what the search waits for)
    replaces the rate, which says nothing before the first results."""
    c = engine.counters
    hit = c.hits / c.children if c.children else 0.0
    minutes = engine.elapsed / 60.0
    funnel = "/".join(str(n) for n in c.by_stage)
    best = engine.best()
    # (text, rank): the part with the highest rank goes first when the line is too wide.
    parts: list[tuple[str, int]] = [
        (f"{minutes:6.1f} min", 1),
        (f"{c.evaluations} evals ({waiting or f'{rate:.2f}/s'})", 0),
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
