"""Running a search: the loop between the engine and an executor, and everything around it.

Order makes the trajectory: batches are consumed strictly in the order they were made, and
right after each one is consumed the engine makes the next (keeping ``in_flight`` batches out).
So batch ``k + in_flight`` is always made from the population as it stood after batch ``k``,
whichever evaluator finished first: the same seed gives the same search on one worker or many,
and a resumed search continues exactly as if never stopped.

Stopping: Ctrl-C (SIGINT) or SIGTERM sets a flag that the loop reads between batches; the loop
then writes a checkpoint holding the batches still in flight (they are submitted again on
resume) and returns ``interrupted``. A second Ctrl-C stops at once, keeping the last checkpoint.
Creating a file named ``RESTART`` in the run directory (containing ``best`` or ``initial``, or
nothing for the configured source) restarts the population at the next batch.

A run directory holds ``checkpoint.json`` (the whole state), ``log.jsonl`` (a line per batch and
per event), ``config.json``, and, refreshed at each checkpoint, ``best.prog``, ``lineage.txt``,
``lineage.graphml`` and ``hall_of_fame.txt``; at the end ``summary.json`` with the
meta-validation.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx

from evosearch import config as config_module
from evosearch.backends import (
    Executor,
    ExecutorError,
    SuiteInfo,
    check_executor,
    make_executor,
)
from evosearch.config import Config
from evosearch.engine.evolution import Evolution
from evosearch.run import checkpoint
from evosearch.run.checkpoint import CheckpointError
from evosearch.run.progress import JsonLog, ProgressLine, batch_record, truncate_log
from programs import Program, ProgramError, library
from proxy_tasks.suites import SuiteRef, check_program, check_reference

CHECKPOINT = "checkpoint.json"
LOG = "log.jsonl"
RESTART_FILE = "RESTART"
RECOGNITION_INTERVAL = 20.0
"""Seconds between two recognitions of the best program for the progress line."""


def load_warm_start(spec: str, suite: SuiteRef | None = None) -> Program:
    """A library program by name, or a program file by path (errors name file and line),
    checked against what ``suite`` can evaluate: a warm start it never could would make every
    child fail, so it is refused before anything starts."""
    try:
        program = library.resolve(spec)
    except LookupError as e:
        raise config_module.ConfigError(f"search.warm_start: {e.args[0]}") from None
    if suite is not None:
        try:
            check_program(suite, program)
        except ProgramError as e:
            raise config_module.ConfigError(f"search.warm_start {spec!r}: {e}") from None
    return program


def resume_config(saved: Config, requested: Config | None) -> Config:
    """The config of a resumed run: the saved one, with changes allowed only to budgets and
    machinery (:data:`evosearch.config.RESUMABLE`), since anything else would make the resumed
    search a different search."""
    if requested is None:
        return saved
    changed = config_module.differences(saved, requested)
    forbidden = [k for k in changed if k not in config_module.RESUMABLE]
    if forbidden:
        raise config_module.ConfigError(
            "a resumed search keeps its settings; these differ from the checkpoint: "
            + ", ".join(forbidden)
            + f" (changeable on resume: {', '.join(sorted(config_module.RESUMABLE))})"
        )
    return requested


class _StopFlag:
    """SIGINT/SIGTERM set a flag; a second signal raises KeyboardInterrupt at once."""

    def __init__(self) -> None:
        self.requested: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


Watch = Callable[[Evolution], "str | None"]
"""Called after every consumed batch with the search state; a string it returns stops the
search (checkpoint first) with that status. Identification stops at an exact recovery this way.
It must decide from the state alone, so that a resumed search stops where an uninterrupted one
would."""


@dataclass
class RunOutcome:
    status: str  # "finished", "interrupted", or a watch's status
    out: Path
    engine: Evolution
    suite: SuiteInfo


class Runner:
    """One search in one run directory. ``executor`` defaults to the one the config names;
    ``config`` may be None when resuming (the checkpoint's settings are used)."""

    def __init__(
        self,
        config: Config | None,
        out: str | Path,
        *,
        resume: bool = False,
        executor: Executor | None = None,
        progress: ProgressLine | None = None,
        restart: str | None = None,
        watch: Watch | None = None,
    ) -> None:
        self.out = Path(out)
        self.watch = watch
        self.resume = resume
        self.restart_request = restart
        self.engine: Evolution | None = None
        if resume:
            data = checkpoint.load(self.out / CHECKPOINT)
            checkpoint.require(data, self.out / CHECKPOINT, "config", "search")
            try:
                saved = config_module.from_dict(data["config"], f"{self.out / CHECKPOINT} config")
            except config_module.ConfigError as e:
                raise CheckpointError(f"incompatible checkpoint: {e}") from None
            self.config = resume_config(saved, config)
            check_reference(self.config.search.suite, "search.suite")  # before any worker
            try:
                self.engine = Evolution.from_json(self.config, data["search"])
            except (KeyError, ValueError, TypeError, IndexError) as e:
                raise CheckpointError(
                    f"{self.out / CHECKPOINT}: malformed search state ({type(e).__name__}: {e}); "
                    "it is left untouched"
                ) from None
            self.run_info = data.get("run", {})
        else:
            if config is None:
                raise config_module.ConfigError("a new search needs a config")
            self.config = config
            if (self.out / CHECKPOINT).exists():
                raise CheckpointError(
                    f"{self.out} already holds a search (checkpoint.json): resume it with "
                    "--resume, or choose another --out"
                )
            check_reference(config.search.suite, "search.suite")  # before any worker
            self.warm_start = load_warm_start(config.search.warm_start, config.search.suite)
            self.run_info = {"sessions": 0}
        if executor is None:
            check_executor(self.config.executor)  # before any worker or run folder exists
        self.progress = progress or ProgressLine(self.config.progress.interval_seconds)
        self.executor = executor
        self.evaluated = 0
        self.driver_seconds = float(self.run_info.get("driver_seconds", 0.0))
        self.best_seen: int | None = None
        self.labelled: int | None = None  # the record the progress line names
        self.last_recognition = -RECOGNITION_INTERVAL

    # --- the loop --------------------------------------------------------------------------------

    def run(self) -> RunOutcome:
        if self.engine is not None:
            self.engine.resume_budget()
            if self.engine.done:
                # A finished search and no more budget: nothing to evaluate, start no workers.
                self.progress.message(f"{self.out}: the search is finished; raise "
                                      "search.max_evaluations (--set) to continue it")
                info = SuiteInfo(self.config.search.suite, self.engine.stage_names)
                return RunOutcome("finished", self.out, self.engine, info)
        executor = self.executor or make_executor(self.config.executor, self.config.search.suite)
        try:
            return self._run(executor)
        except ExecutorError as e:
            raise self._logged(e) from None
        finally:
            executor.close()
            self.progress.close()

    def _run(self, executor: Executor) -> RunOutcome:
        info = executor.describe(baselines=self.engine is None)
        if self.engine is None:
            baselines: list[float | None] = [s.fitness for s in info.baselines]
            baselines += [None] * (len(info.stage_names) - len(baselines))
            self.engine = Evolution(self.config, info.stage_names, baselines, self.warm_start)
            self.out.mkdir(parents=True, exist_ok=True)  # once the evaluators work
            checkpoint.write_atomic(
                self.out / "config.json", json.dumps(config_module.to_dict(self.config), indent=2)
            )
        else:
            if tuple(info.stage_names) != self.engine.stage_names:
                raise CheckpointError(
                    f"{self.out / CHECKPOINT}: incompatible checkpoint: suite "
                    f"{self.config.search.suite!r} now has stages {info.stage_names}, the "
                    f"checkpoint has {self.engine.stage_names}"
                )
            dropped = truncate_log(self.out / LOG, self.engine.counters.batches)
            if dropped:
                self.progress.message(f"log: dropped {dropped} lines written after the checkpoint")
        engine = self.engine
        self.best_seen = engine.best_id
        self.run_info["sessions"] = int(self.run_info.get("sessions", 0)) + 1
        self.log = JsonLog(self.out / LOG)
        self.progress.message(f"evosearch: {self._describe_start(info, executor)}")
        started = time.monotonic()
        elapsed_before = engine.elapsed
        last_checkpoint_evals = engine.counters.evaluations
        last_checkpoint_time = started
        status = "finished"
        try:
            with _StopFlag() as stop:
                for batch in engine.in_flight:  # from a checkpoint: submit again, in order
                    executor.submit(batch)
                self._top_up(executor)
                buffer: dict[int, list] = {}
                stopped_by_watch: str | None = None
                while not engine.done:
                    engine.elapsed = elapsed_before + time.monotonic() - started
                    if stop.requested:
                        status = "interrupted"
                        break
                    if stopped_by_watch:
                        status = stopped_by_watch
                        break
                    self._check_restart()
                    if not engine.in_flight:
                        self._top_up(executor)
                        continue
                    for batch_id, scores in executor.completed(timeout=0.2):
                        buffer[batch_id] = scores
                    tick = time.perf_counter()  # from here on the driver works
                    self._report_executor_events(executor, engine)
                    while engine.in_flight and engine.in_flight[0].id in buffer:
                        batch = engine.in_flight[0]
                        engine.consume(batch.id, buffer.pop(batch.id))
                        self.evaluated += len(batch.jobs)
                        self._top_up(executor)
                        self._after_batch(engine)
                        if self.watch is not None and not stopped_by_watch:
                            stopped_by_watch = self.watch(engine)
                        evals, now = engine.counters.evaluations, time.monotonic()
                        every = self.config.checkpoint
                        if (
                            evals - last_checkpoint_evals >= every.every_evaluations
                            or now - last_checkpoint_time >= every.every_seconds
                        ):
                            self._checkpoint(engine)
                            last_checkpoint_evals, last_checkpoint_time = evals, now
                    self._label_best(engine)
                    self.progress.update(engine, self.evaluated)
                    self.driver_seconds += time.perf_counter() - tick
                engine.elapsed = elapsed_before + time.monotonic() - started
                self.run_info["status"] = status
                self._checkpoint(engine, final=True)
        except KeyboardInterrupt:
            self.progress.message(
                "stopped at once: the last checkpoint is kept, resume with --resume"
            )
            self.log.close()
            raise
        except ExecutorError:
            # The evaluators failed between two engine steps: the state is whole, keep it.
            self.run_info["status"] = "executor failed"
            self._checkpoint(engine)
            self.log.close()
            raise
        self.progress.update(engine, self.evaluated, force=True)
        self.log.close()
        return RunOutcome(status, self.out, engine, info)

    def _logged(self, error: ExecutorError) -> ExecutorError:
        """An evaluator's bug (an error with a traceback): the traceback goes to the run's log,
        the user gets one line that says where it is."""
        if not error.detail:
            return error
        self.out.mkdir(parents=True, exist_ok=True)
        log = JsonLog(self.out / LOG)
        log.write({"event": "executor_error", "message": str(error), "traceback": error.detail})
        log.close()
        return ExecutorError(f"{error} (traceback in {self.out / LOG})")

    def _describe_start(self, info: SuiteInfo, executor: Executor) -> str:
        engine = self.engine
        assert engine is not None
        verb = "resuming" if self.resume else "starting"
        base = ""
        if info.baselines:
            base = ", baseline " + "/".join(f"{s.fitness:.4g}" for s in info.baselines)
        return (
            f"{verb} in {self.out} | suite {info.name} (stages {'/'.join(info.stage_names)}"
            f"{base}) | {executor.workers} worker(s) | seed {self.config.search.seed}"
        )

    def _top_up(self, executor: Executor) -> None:
        engine = self.engine
        assert engine is not None
        while len(engine.in_flight) < self.config.executor.in_flight:
            batch = engine.next_batch()
            if batch is None:
                break
            executor.submit(batch)

    def _after_batch(self, engine: Evolution) -> None:
        for event in engine.events:
            event = {**event, "after_batch": engine.counters.batches}
            self.log.write(event)
            if event["event"] == "restart":
                self.progress.message(
                    f"restart ({event['reason']}) from the {event['source']} program "
                    f"#{event['record']} after {event['evaluations']} evaluations"
                )
        engine.events.clear()
        self.log.write(batch_record(engine, self.evaluated, self.driver_seconds))
        if engine.best_id != self.best_seen:
            self.best_seen = engine.best_id
            best = engine.best()
            assert best is not None
            self.log.write(
                {"event": "new_best", "after_batch": engine.counters.batches, "id": best.id,
                 "stage": best.stage, "fitness": best.fitness, "text": best.text}
            )

    def _label_best(self, engine: Evolution) -> None:
        """Name the best program for the progress line. Recognition costs tens of
        milliseconds of the CPU the evaluators use, so it runs only when the best has changed
        and at most once per :data:`RECOGNITION_INTERVAL` seconds (until then the line shows
        no name rather than a stale one)."""
        if engine.best_id != self.labelled:
            self.progress.best_label = ""
        if not self.config.progress.recognize or engine.best_id in (None, self.labelled):
            return
        now = time.monotonic()
        if now - self.last_recognition < RECOGNITION_INTERVAL:
            return
        from evosearch.run.describe import recognize

        self.last_recognition = now
        self.labelled = engine.best_id
        self.progress.best_label = recognize(engine.program(engine.best_id)) or "unrecognized"

    def _report_executor_events(self, executor: Executor, engine: Evolution) -> None:
        for event in executor.events:
            self.log.write({"event": event.kind, "after_batch": engine.counters.batches,
                            "message": event.message, **event.data})
            self.progress.message(event.message)
        executor.events.clear()

    def _check_restart(self) -> None:
        """A restart asked for by ``--restart`` or a ``RESTART`` file, once there is a
        population to restart (before the warm start is scored the request waits)."""
        engine = self.engine
        assert engine is not None
        if engine.population.empty:
            return
        if self.restart_request:
            engine.restart(self.restart_request, reason="command")
            self.restart_request = None
        path = self.out / RESTART_FILE
        if not path.exists():
            return
        text = path.read_text(encoding="utf-8", errors="replace").strip().lower()
        path.unlink()
        source = text or self.config.restart.source
        if source not in ("best", "initial"):
            self.progress.message(f"{path}: expected 'best' or 'initial', got {text!r}; ignored")
            return
        engine.restart(source, reason="command")

    # --- checkpoints and artifacts ---------------------------------------------------------------

    def _checkpoint(self, engine: Evolution, final: bool = False) -> None:
        engine.prune()
        self.run_info["driver_seconds"] = self.driver_seconds
        checkpoint.save(
            self.out / CHECKPOINT,
            {
                "config": config_module.to_dict(self.config),
                "search": engine.to_json(),
                "run": self.run_info,
            },
        )
        write_artifacts(engine, self.out, final=final)


def write_artifacts(engine: Evolution, out: Path, final: bool = False) -> None:
    """The files a user looks at while a search runs (and after)."""
    best = engine.best()
    if best is None:
        return
    checkpoint.write_atomic(out / "best.prog", f"# record #{best.id}, {_where(engine, best)}\n"
                            + best.text)
    checkpoint.write_atomic(out / "lineage.txt", engine.lineage.story(best.id, engine.stage_names))
    graph = engine.lineage.graph(best.id)
    tmp = out / ".lineage.graphml.tmp"
    nx.write_graphml(graph, tmp)
    tmp.replace(out / "lineage.graphml")
    rows = []
    for rank, rid in enumerate(engine.hall_of_fame, 1):
        r = engine.lineage[rid]
        rows.append(f"# {rank}. record #{r.id}, {_where(engine, r)}\n{r.text}")
    checkpoint.write_atomic(out / "hall_of_fame.txt", "\n".join(rows))
    if final:
        summary = {
            "phase": engine.phase,
            "counters": engine.counters.to_json(),
            "best": {"id": best.id, "stage": best.stage, "fitness": best.fitness,
                     "text": best.text},
            "meta_validation": [
                {"id": rid, "fitness": s.fitness, "failed": s.failed, "per_task": s.per_task,
                 "text": engine.lineage[rid].text}
                for rid, s in engine.meta_validation()
            ],
        }
        checkpoint.write_atomic(out / "summary.json", json.dumps(summary, indent=2))


def _where(engine: Evolution, r: Any) -> str:
    return f"stage {engine.stage_names[r.stage]}, fitness {r.fitness:.6g}"
