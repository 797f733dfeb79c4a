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

What a run folder may hold, so that nothing a user has is lost and no two runs mix:

* A new search starts in a folder that does not exist, is empty, or holds none of the files
  above (a ``RESTART`` file or files of the user's own are fine; so is a log holding only the
  error of a search that failed to start). The folder is checked before any worker starts and
  created once the evaluators work; the first checkpoint is written then, before any batch,
  so a search killed at any later moment can be resumed. A folder with ``checkpoint.json`` is
  resumed with ``--resume``, never overwritten; a folder with other run files but no
  checkpoint (files copied there, or a search from before first checkpoints were written at
  start) is refused with a message saying to choose another ``--out`` or move those files
  away: nothing is deleted and nothing appended to another run's log.
* ``--resume`` checks the whole checkpoint (:meth:`Evolution.from_json`), its run section and
  the log against it before it writes anything in the folder: a checkpoint that fails any
  check is refused with one line naming the file and the field, and the folder is left
  byte-identical. A read-only ``checkpoint.json`` is refused too (the user does not want it
  replaced). Once accepted: temporary files of writes cut short by a kill are removed, log
  lines written after the checkpoint are dropped (the resumed search writes them again,
  identically), and ``config.json`` is written again.
* Files are created with the mode the umask gives and keep their mode when replaced.
"""

from __future__ import annotations

import io
import json
import os
import signal
import stat
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
from evosearch.engine import schema
from evosearch.engine.evolution import Evolution
from evosearch.run import checkpoint
from evosearch.run.checkpoint import CheckpointError
from evosearch.run.progress import (
    JsonLog,
    LogMismatch,
    ProgressLine,
    batch_record,
    has_batch_lines,
    plan_truncation,
    truncate_log,
)
from programs import Program, ProgramError, library
from proxy_tasks.suites import SuiteRef, check_program, check_reference, reference_name

CHECKPOINT = "checkpoint.json"
LOG = "log.jsonl"
CONFIG = "config.json"
RESTART_FILE = "RESTART"
COMPILE_CACHE = "compile_cache"
"""The local workers' persistent jax compilation cache (:mod:`proxy_tasks.compile_cache`)."""
COMPILE_CACHE_ENV = "EVOSEARCH_COMPILE_CACHE"
ARTIFACTS = ("best.prog", "lineage.txt", "lineage.graphml", "hall_of_fame.txt", "summary.json")
RUN_FILES = frozenset({CHECKPOINT, LOG, CONFIG, *ARTIFACTS})
"""The files a search writes in its folder (see the module docstring)."""
CHECKPOINT_SECTIONS = ("format", "version", "config", "search", "run")
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


class RunFolderError(CheckpointError):
    """A run folder that cannot be used as asked (in the way, unwritable, another run's)."""


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
    ``config`` may be None when resuming (the checkpoint's settings are used), or
    ``requested`` may make the settings from the saved ones (``--set`` on resume)."""

    def __init__(
        self,
        config: Config | None,
        out: str | Path,
        *,
        resume: bool = False,
        executor: Executor | None = None,
        progress: ProgressLine | None = None,
        restart: str | None = None,
        requested: Callable[[Config], Config] | None = None,
        watch: Watch | None = None,
    ) -> None:
        self.out = Path(out)
        self.watch = watch
        self.resume = resume
        self.restart_request = restart
        self.engine: Evolution | None = None
        if resume:
            self._load(config, requested)
        else:
            if config is None:
                raise config_module.ConfigError("a new search needs a config")
            self.config = config
            self.suite_ref = self._suite_reference(None)  # before any worker
            self.warm_start = load_warm_start(config.search.warm_start, self.suite_ref)
            self._check_new_folder()
            self.run_info = {"sessions": 0, "task_files": self._task_file_hashes}
        if executor is None:
            check_executor(self.config.executor)  # before any worker or run folder exists
        self.progress = progress or ProgressLine(self.config.progress.interval_seconds)
        self.executor = executor
        self.evaluated = 0
        self.driver_seconds = float(self.run_info.get("driver_seconds", 0.0))
        self.best_seen: int | None = None
        self.labelled: int | None = None  # the record the progress line names
        self.last_recognition = -RECOGNITION_INTERVAL

    # --- the run folder --------------------------------------------------------------------------

    def _load(self, config: Config | None,
              requested: Callable[[Config], Config] | None) -> None:
        """Read and check everything a resume trusts; write nothing (see the module
        docstring). Every refusal is one :class:`CheckpointError` line. The settings are the
        saved ones, or ``config``, or ``requested(saved)``; see :func:`resume_config`."""
        path = self.out / CHECKPOINT
        if not self.out.is_dir():
            what = "not a folder" if self.out.exists() else "no such folder"
            raise RunFolderError(f"{self.out}: {what} (nothing to resume)")
        if not path.exists():
            raise CheckpointError(f"{path}: no checkpoint here (nothing to resume)")
        data = checkpoint.load(path)
        checkpoint.require(data, path, "config", "search", "run")
        try:
            schema.mapping(data, "", CHECKPOINT_SECTIONS)
        except schema.StateError as e:
            raise CheckpointError(f"{path}: {e}") from None
        try:
            saved = config_module.from_dict(data["config"], f"{path} config")
        except config_module.ConfigError as e:
            raise CheckpointError(f"incompatible checkpoint: {e}") from None
        if requested is not None:
            config = requested(saved)
        self.config = resume_config(saved, config)
        try:
            self.engine = Evolution.from_json(self.config, data["search"], "search")
            self.run_info = _run_info(data["run"], "run")
        except schema.StateError as e:
            raise CheckpointError(f"{path}: {e}") from None
        self.suite_ref = self._suite_reference(self.run_info.get("task_files", []))
        try:
            plan_truncation(self.out / LOG, self.engine.counters.batches)  # raises on mismatch
        except LogMismatch as e:
            raise CheckpointError(str(e)) from None
        except OSError as e:
            raise RunFolderError(f"{self.out / LOG}: cannot read it ({e.strerror})") from None
        if not stat.S_IMODE(path.stat().st_mode) & stat.S_IWUSR:
            raise RunFolderError(
                f"{path}: read-only, so it is not replaced: make it writable (chmod u+w) to "
                "resume the search, or copy the folder and resume the copy"
            )
        _require_writable(self.out)

    def _suite_reference(self, recorded: list[dict[str, str]] | None) -> SuiteRef:
        """What the evaluators score with: the config's suite (``search.suite`` or its
        ``[suite]`` table), with the text of its task files (:mod:`proxy_tasks.task_files`).
        Checked here, before any worker starts: the reference (no jax), and, for a new search,
        the task files in a process of their own; on resume, each task file must be the one
        the checkpoint was scored with (``recorded``: its paths and hashes)."""
        from proxy_tasks.task_files import TaskFileError, bundle, check, read_all

        base = config_module.suite_reference(self.config)
        check_reference(base, "search.suite")
        paths = self.config.search.task_files
        try:
            files = read_all(paths)
        except TaskFileError as e:
            if recorded:
                raise CheckpointError(f"{e}; the search in {self.out} was scored with it: "
                                      "restore it to resume") from None
            raise config_module.ConfigError(f"search.task_files: {e}") from None
        if recorded is not None:
            saved = {r["path"]: r["sha256"] for r in recorded}
            for f in files:
                if saved.get(f.path) != f.sha256:
                    raise CheckpointError(
                        f"{f.path}: changed since the checkpoint in {self.out} (its SHA-256 "
                        f"was {str(saved.get(f.path))[:12]}..., is {f.sha256[:12]}...): "
                        "resuming would score the rest of the search on different tasks; "
                        "restore the file, or start a new search")
        elif files:
            try:
                check(files)
            except TaskFileError as e:
                raise config_module.ConfigError(str(e)) from None
        self._task_file_hashes = [{"path": f.path, "sha256": f.sha256} for f in files]
        ref = bundle(base, files)
        return check_reference(ref, "search.suite") if files else ref

    def _make_executor(self) -> Executor:
        """The configured executor. Local workers keep their compiled training functions in
        the run folder (unless ``$EVOSEARCH_COMPILE_CACHE`` names another place): a resume
        loads them in about a second each instead of compiling them again."""
        if self.config.executor.backend != "local" or COMPILE_CACHE_ENV in os.environ:
            return make_executor(self.config.executor, self.suite_ref)
        os.environ[COMPILE_CACHE_ENV] = str((self.out / COMPILE_CACHE).resolve())
        try:  # workers inherit the environment when they start
            return make_executor(self.config.executor, self.suite_ref)
        finally:
            del os.environ[COMPILE_CACHE_ENV]

    def _check_new_folder(self) -> None:
        """Check that a new search may use ``--out`` (see the module docstring), creating
        nothing: the folder is made once the evaluators work (:meth:`_create_folder`)."""
        out = self.out
        if not out.exists():
            ancestor = out.parent
            while not ancestor.exists() and ancestor != ancestor.parent:
                ancestor = ancestor.parent
            if not ancestor.is_dir():
                raise RunFolderError(f"{out}: cannot create it: part of the path ({ancestor}) "
                                     "is a file, not a folder")
            if not os.access(ancestor, os.W_OK | os.X_OK):
                raise RunFolderError(f"{out}: cannot create it (permission denied in "
                                     f"{ancestor})")
            return
        if not out.is_dir():
            raise RunFolderError(f"{out}: a file is in the way (--out must be a folder)")
        if (out / CHECKPOINT).exists():
            raise RunFolderError(
                f"{out} already holds a search (checkpoint.json): resume it with "
                "--resume, or choose another --out"
            )
        present = sorted(name for name in RUN_FILES if (out / name).exists())
        if present == [LOG] and not _has_batches(out / LOG):
            present = []  # only events of a search that failed to start: appended to
        if present:
            raise RunFolderError(
                f"{out} holds files of another search ({', '.join(present)}) but no checkpoint "
                "to resume: choose another --out, or move those files away to start a new "
                "search there"
            )
        _require_writable(out)

    def _create_folder(self) -> None:
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RunFolderError(f"{self.out}: cannot create it ({e.strerror})") from None

    def _tidy_folder(self) -> None:
        """Once the state is accepted: remove temporary files of writes a kill cut short,
        drop log lines written after the checkpoint, (re)write ``config.json``."""
        removed = checkpoint.remove_stray_temporaries(self.out, set(RUN_FILES))
        if removed:
            self.progress.message(
                f"removed {removed} temporary file(s) left by a write that was cut short")
        if self.resume:
            assert self.engine is not None
            dropped = truncate_log(self.out / LOG, self.engine.counters.batches)
            if dropped:
                self.progress.message(
                    f"log: dropped {dropped} line(s) written after the checkpoint")
        checkpoint.write_atomic(
            self.out / CONFIG, json.dumps(config_module.to_dict(self.config), indent=2)
        )

    # --- the loop --------------------------------------------------------------------------------

    def run(self) -> RunOutcome:
        if self.engine is not None:
            self.engine.resume_budget()
            if self.engine.done:
                # A finished search and no more budget: nothing to evaluate, start no workers.
                self._tidy_folder()
                self.progress.message(f"{self.out}: the search is finished; raise "
                                      "search.max_evaluations (--set) to continue it")
                info = SuiteInfo(reference_name(self.suite_ref), self.engine.stage_names)
                return RunOutcome("finished", self.out, self.engine, info)
        executor = self.executor or self._make_executor()
        try:
            return self._run(executor)
        except ExecutorError as e:
            raise self._logged(e) from None
        finally:
            executor.close()
            self.progress.close()

    def _run(self, executor: Executor) -> RunOutcome:
        fresh = self.engine is None
        self.progress.message(
            f"evosearch: {executor.workers} worker(s) "
            + ("load the suite and score the baseline (compiling each stage)..." if fresh
               else "load the suite...")
        )
        info = executor.describe(baselines=fresh)
        self.run_info["sessions"] = int(self.run_info.get("sessions", 0)) + 1
        if self.engine is None:
            baselines: list[float | None] = [s.fitness for s in info.baselines]
            baselines += [None] * (len(info.stage_names) - len(baselines))
            self.engine = Evolution(self.config, info.stage_names, baselines, self.warm_start)
            self._create_folder()  # once the evaluators work
            self._checkpoint(self.engine)  # from here on the search can be resumed
            self._tidy_folder()
        else:
            if tuple(info.stage_names) != self.engine.stage_names:
                raise CheckpointError(
                    f"{self.out / CHECKPOINT}: incompatible checkpoint: suite "
                    f"{reference_name(self.suite_ref)!r} now has stages {info.stage_names}, the "
                    f"checkpoint has {self.engine.stage_names}"
                )
            self._tidy_folder()
        engine = self.engine
        self.best_seen = engine.best_id
        self.log = JsonLog(self.out / LOG)
        self.progress.message(f"evosearch: {self._describe_start(info, executor)}")
        # Until the first batch comes back the rate says nothing: name the wait instead (each
        # worker compiles a stage the first time it meets it, seconds to minutes).
        self.progress.waiting = f"{executor.workers} worker(s) compiling the suite"
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
                        self.progress.waiting = ""
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
        after = self.engine.counters.batches if self.engine is not None else 0
        log.write({"event": "executor_error", "after_batch": after, "message": str(error),
                   "traceback": error.detail})
        log.close()
        return ExecutorError(f"{error} (traceback in {self.out / LOG})")

    def _describe_start(self, info: SuiteInfo, executor: Executor) -> str:
        engine = self.engine
        assert engine is not None
        verb = "resuming" if self.resume else "starting"
        base = ""
        if info.baselines:
            base = ", baseline " + "/".join(f"{s.fitness:.4g}" for s in info.baselines)
        device = ""
        if self.config.executor.backend != "ray":  # Ray's actors run on the cluster's nodes
            from proxy_tasks.device import device_summary, local_device_info

            device = f" | {device_summary(info=local_device_info())}"
        return (
            f"{verb} in {self.out} | suite {info.name} (stages {'/'.join(info.stage_names)}"
            f"{base}) | {executor.workers} worker(s) | seed {self.config.search.seed}{device}"
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


def _run_info(value: Any, path: str) -> dict[str, Any]:
    """The checkpoint's ``run`` section: sessions, driver seconds, how the last one ended."""
    info = schema.mapping(value, path, (),
                          optional=("sessions", "driver_seconds", "status", "task_files"))
    if "sessions" in info:
        schema.integer(info["sessions"], schema.join(path, "sessions"))
    if "driver_seconds" in info:
        schema.number(info["driver_seconds"], schema.join(path, "driver_seconds"), low=0)
    if "status" in info:
        schema.string(info["status"], schema.join(path, "status"))
    if "task_files" in info:
        files = schema.sequence(info["task_files"], schema.join(path, "task_files"))
        for k, entry in enumerate(files):
            where = schema.join(schema.join(path, "task_files"), k)
            entry = schema.mapping(entry, where, ("path", "sha256"))
            schema.string(entry["path"], schema.join(where, "path"))
            schema.string(entry["sha256"], schema.join(where, "sha256"))
    return dict(info)


def _has_batches(log: Path) -> bool:
    """Does a log hold any batch line (is it a search's, not only a failed start's)?"""
    try:
        return has_batch_lines(log)
    except OSError:
        return True  # unreadable: treat it as a search's, and refuse to touch it


def _require_writable(folder: Path) -> None:
    """Refuse a folder the search could not write in, before any worker starts."""
    if not os.access(folder, os.W_OK | os.X_OK):
        raise RunFolderError(f"{folder}: cannot write in this folder (permission denied)")


def write_artifacts(engine: Evolution, out: Path, final: bool = False) -> None:
    """The files a user looks at while a search runs (and after)."""
    best = engine.best()
    if best is None:
        return
    checkpoint.write_atomic(out / "best.prog", f"# record #{best.id}, {_where(engine, best)}\n"
                            + best.text)
    checkpoint.write_atomic(out / "lineage.txt", engine.lineage.story(best.id, engine.stage_names))
    graphml = io.BytesIO()
    nx.write_graphml(engine.lineage.graph(best.id), graphml)
    checkpoint.write_atomic(out / "lineage.graphml", graphml.getvalue().decode("utf-8"))
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
