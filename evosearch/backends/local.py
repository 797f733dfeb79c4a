"""Local evaluation: in the driver process, or a pool of single-threaded worker processes.

Measured on the 2-core target: two single-threaded evaluator processes beat one process using
both cores by about 1.5x, so :class:`LocalPool` starts one worker per core (``spawn``, so that
no jax state is forked), each with XLA's thread pools limited to one thread *before* jax is
imported, each loading (and compiling) its suite once. Workers receive program texts and send
back plain scores over a pipe each.

A worker that dies (killed, crashed, out of memory) loses nothing: the batches it held are
resubmitted and a new worker takes its place; the rules for repeated deaths (split a batch into
single programs, then fail the one that keeps killing workers) are shared with the Ray backend
(:mod:`evosearch.backends.tasks`): one poisonous program cannot stop a search.

Workers ignore SIGINT: Ctrl-C in a terminal reaches the whole process group, and the driver,
not the workers, decides how to stop (checkpoint first). A worker whose driver is gone (killed
with SIGKILL) exits quietly the next time it would talk to it.

A worker that cannot load its suite sends one line back (the message of a known error, see
:func:`evosearch.backends.base.failure_report`; the traceback too where it is a bug), and the
pool raises :class:`ExecutorError` with it. More workers than this machine has CPUs is an error
before any starts: the pool is for single-threaded evaluators, one per core.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from evosearch.backends.base import (
    Batch,
    Executor,
    ExecutorError,
    ExecutorEvent,
    SuiteInfo,
    failure_report,
)
from evosearch.backends.tasks import Assembler, Task, after_failure
from proxy_tasks.suites import Score, SuiteRef, reference_name

SINGLE_THREAD_ENV: dict[str, str] = {
    "JAX_PLATFORMS": "cpu",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
"""The environment of a worker besides XLA's flags (:func:`proxy_tasks.configure_single_thread`),
set before anything imports jax or numpy's BLAS."""

ACCELERATOR_ENV: dict[str, str] = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
}
"""A worker's environment where jax sees an accelerator: jax may use it (no ``JAX_PLATFORMS``
pin), and no worker reserves most of its memory up front (jax's default), so that one
worker per device fits beside the probe and the driver."""


def worker_plan(workers: int) -> tuple[int, dict[str, str], str]:
    """How many workers, with which environment, on what: one per CPU core on a CPU (two
    single-threaded evaluators beat one two-threaded one), one per device where jax sees an
    accelerator (each batches its runs with ``vmap`` there). ``workers`` (0: that default) is
    checked against the CPUs or devices there are."""
    from proxy_tasks.device import local_device_info

    info = local_device_info()
    if info["backend"] == "cpu":
        return check_workers(workers, available_cpus(), "this machine"), SINGLE_THREAD_ENV, \
            "cpu"
    n = check_workers(workers, int(info["devices"]), "this machine", unit="accelerator")
    return n, ACCELERATOR_ENV, str(info["backend"])


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the system has one: a
    container or ``taskset`` may allow fewer than the machine has)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # no affinity masks on this system
        return os.cpu_count() or 1


def check_workers(workers: int, cpus: int, where: str, unit: str = "CPU") -> int:
    """``workers`` (0: one per CPU), refused above ``cpus``: more single-threaded evaluators
    than cores only share the cores, and a typo (1000) would start a thousand processes."""
    if workers < 0:
        raise ExecutorError(f"executor.workers must be >= 0, got {workers}")
    if workers > cpus:
        raise ExecutorError(
            f"executor.workers = {workers}, but {where} has {cpus} {unit}(s): use at most "
            f"{cpus} (0: one per {unit})"
        )
    return workers or cpus


# --- in process -------------------------------------------------------------------------------


class InProcessExecutor(Executor):
    """Evaluates in the driver, one batch per :meth:`completed` call, oldest first.

    Same protocol as the pool, so a search gives the same trajectory on either; useful for
    debugging and for suites too cheap to be worth a process.
    """

    def __init__(self, suite: SuiteRef) -> None:
        from proxy_tasks.suites import get_suite

        self.events = []
        self.suite = get_suite(suite)
        self.pending: deque[Batch] = deque()

    @property
    def workers(self) -> int:
        return 1

    def describe(self, baselines: bool) -> SuiteInfo:
        from evosearch.backends.evaluate import describe

        return describe(self.suite, baselines)

    def submit(self, batch: Batch) -> None:
        self.pending.append(batch)

    def completed(self, timeout: float | None) -> list[tuple[int, list[Score]]]:
        from evosearch.backends.evaluate import evaluate_texts

        if not self.pending:
            if timeout:
                time.sleep(min(timeout, 0.01))
            return []
        batch = self.pending.popleft()
        jobs = [(j.text, j.stage) for j in batch.jobs]
        return [(batch.id, evaluate_texts(self.suite, jobs))]

    def close(self) -> None:
        self.pending.clear()


# --- worker processes -------------------------------------------------------------------------


def _worker_main(conn: Connection, suite_ref: SuiteRef,
                 env: dict[str, str] = SINGLE_THREAD_ENV) -> None:
    """A worker's life: set up its numerics (``env``: see :func:`worker_plan`), load the
    suite, serve requests. It returns, quietly, when the driver says stop or is gone."""
    os.environ.update(env)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        from proxy_tasks.threads import configure_single_thread  # imports no jax

        configure_single_thread()
        from evosearch.backends.evaluate import describe, evaluate_texts
        from proxy_tasks.compile_cache import enable_compile_cache
        from proxy_tasks.suites import get_suite

        enable_compile_cache()  # where $EVOSEARCH_COMPILE_CACHE says (the runner sets it)

        suite = get_suite(suite_ref)
    except BaseException as e:  # noqa: BLE001 - report why, then exit
        _send(conn, ("fatal", *failure_report(e)))
        return
    if not _send(conn, ("ready", os.getpid())):
        return
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the driver is gone
        kind = message[0]
        if kind == "stop":
            return
        if kind == "eval":
            _, token, jobs = message
            scores = evaluate_texts(suite, jobs)
            answer = ("done", token, [s.to_json() for s in scores])
        elif kind == "baseline":
            _, token, stage = message
            try:
                answer = ("baseline", token, suite.baseline(stage).to_json())
            except Exception as e:  # noqa: BLE001
                answer = ("fatal", *failure_report(e))
        elif kind == "describe":
            _, token, baselines = message
            try:
                info = describe(suite, baselines)
                payload = {
                    "name": info.name,
                    "stage_names": list(info.stage_names),
                    "baselines": [s.to_json() for s in info.baselines],
                }
                answer = ("info", token, payload)
            except Exception as e:  # noqa: BLE001
                answer = ("fatal", *failure_report(e))
        else:
            continue
        if not _send(conn, answer):
            return


def _send(conn: Connection, message: tuple) -> bool:
    """Send to the driver; False if it is gone (a killed driver is no worker's error)."""
    try:
        conn.send(message)
    except (BrokenPipeError, ConnectionResetError, EOFError, OSError):
        return False
    return True


@dataclass
class _Worker:
    index: int
    process: Any
    conn: Connection
    tasks: deque[Task]
    ready: bool = False
    pid: int | None = None


class LocalPool(Executor):
    """A pool of worker processes; see the module docstring."""

    PREFETCH = 2
    """Tasks a worker holds at once: one evaluating, one waiting in its pipe, so that it never
    waits for the driver between batches."""

    def __init__(self, suite: SuiteRef, workers: int = 0, max_attempts: int = 2,
                 start_timeout: float = 300.0) -> None:
        self.suite_ref = suite
        self.suite_name = reference_name(suite)
        self.n, self._env, self.device = worker_plan(workers)
        self.max_attempts = max_attempts
        self.start_timeout = start_timeout
        self.events: list[ExecutorEvent] = []
        self._ctx = mp.get_context("spawn")
        self._next_token = 0
        self._pending: deque[Task] = deque()
        self._assembler = Assembler()
        self._workers = [self._start(i) for i in range(self.n)]

    @property
    def workers(self) -> int:
        return self.n

    def pids(self) -> list[int | None]:
        """The process ids of the workers (for tests that kill one)."""
        return [w.process.pid for w in self._workers]

    def _start(self, index: int) -> _Worker:
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(
            target=_worker_main, args=(child, self.suite_ref, self._env), daemon=True,
            name=f"evosearch-worker-{index}",
        )
        process.start()
        child.close()
        return _Worker(index, process, parent, deque())

    def _token(self) -> int:
        self._next_token += 1
        return self._next_token

    # --- requests --------------------------------------------------------------------------------

    def describe(self, baselines: bool) -> SuiteInfo:
        """Stages from worker 0; the baselines (if asked) one stage per worker, in parallel,
        which also compiles those stages early. Starting is bounded by ``start_timeout``;
        scoring a baseline is not (it is a real training, minutes on a large stage)."""
        deadline = time.monotonic() + self.start_timeout
        first = self._workers[0]
        self._wait_ready(first, deadline)
        d = self._request(first, ("describe", self._token(), False), "info")
        stages = tuple(d["stage_names"])
        asks = []
        for stage in range(len(stages) - 1 if baselines else 0):
            worker = self._workers[stage % self.n]
            self._wait_ready(worker, deadline)
            message = ("baseline", self._token(), stage)
            worker.conn.send(message)
            asks.append((worker, message))
        scores = tuple(Score.from_json(self._request(w, m, "baseline", send=False))
                       for w, m in asks)
        return SuiteInfo(d["name"], stages, scores)

    def _request(self, worker: _Worker, message: tuple, kind: str, send: bool = True) -> Any:
        """Send ``message`` (kind, token, ...) and wait, without a time limit, for the answer
        of ``kind`` with its token; a worker that dies meanwhile is an :class:`ExecutorError`."""
        if send:
            worker.conn.send(message)
        while True:
            wait([worker.conn, worker.process.sentinel])
            try:
                if not worker.conn.poll():
                    raise EOFError
                answer = worker.conn.recv()
            except (EOFError, OSError):
                raise ExecutorError(
                    f"worker {worker.index} died (exit code {worker.process.exitcode}) while "
                    f"preparing suite {self.suite_name!r}"
                ) from None
            if answer[0] == kind and answer[1] == message[1]:
                return answer[2]
            self._handle(worker, answer)

    def _wait_ready(self, worker: _Worker, deadline: float) -> None:
        while not worker.ready:
            self._handle(worker, self._recv(worker, deadline))

    def _recv(self, worker: _Worker, deadline: float) -> tuple:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not worker.conn.poll(remaining):
            raise ExecutorError(
                f"worker {worker.index} did not answer within {self.start_timeout:.0f} s"
            )
        try:
            return worker.conn.recv()
        except (EOFError, OSError):
            code = worker.process.exitcode
            raise ExecutorError(
                f"worker {worker.index} died while starting (exit code {code})"
            ) from None

    def submit(self, batch: Batch) -> None:
        self._assembler.open(batch)
        self._pending.append(Task(self._token(), batch.id, 0, batch.jobs))
        self._dispatch()

    def _dispatch(self) -> None:
        for worker in sorted(self._workers, key=lambda w: len(w.tasks)):
            while self._pending and len(worker.tasks) < self.PREFETCH:
                task = self._pending.popleft()
                worker.tasks.append(task)
                try:
                    worker.conn.send(("eval", task.token, task.payload()))
                except (BrokenPipeError, OSError):
                    break  # it died; its sentinel will tell, and its tasks go back

    def completed(self, timeout: float | None) -> list[tuple[int, list[Score]]]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._assembler.ready:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            conns = {w.conn: w for w in self._workers}
            sentinels = {w.process.sentinel: w for w in self._workers}
            ready = wait([*conns, *sentinels], remaining)
            for obj in ready:
                if obj in conns:
                    worker = conns[obj]
                    try:
                        message = worker.conn.recv()
                    except (EOFError, OSError):
                        self._replace(worker)
                        continue
                    self._handle(worker, message)
            for obj in ready:
                worker = sentinels.get(obj)
                if worker is not None and worker in self._workers and not worker.process.is_alive():
                    self._replace(worker)
            self._dispatch()
            if deadline is not None and time.monotonic() >= deadline:
                break
        return self._assembler.take()

    def _handle(self, worker: _Worker, message: tuple) -> None:
        kind = message[0]
        if kind == "ready":
            worker.ready = True
            worker.pid = message[1]
        elif kind == "fatal":
            self.close()
            raise ExecutorError(
                f"worker {worker.index} cannot evaluate suite {self.suite_name!r}: {message[1]}",
                detail=message[2],
            )
        elif kind == "done":
            _, token, scores = message
            if not worker.tasks or worker.tasks[0].token != token:
                return  # a late answer for a task already given to another worker
            task = worker.tasks.popleft()
            self._assembler.finish(task, [Score.from_json(s) for s in scores])

    def _replace(self, worker: _Worker) -> None:
        """A worker died: drain what it sent, put its tasks back first, start another."""
        try:
            while worker.conn.poll():
                self._handle(worker, worker.conn.recv())
        except (EOFError, OSError):
            pass
        code = worker.process.exitcode
        worker.conn.close()
        requeue: list[Task] = []
        for task in worker.tasks:
            again, failed = after_failure(
                task, self.max_attempts, self._token, "a worker died"
            )
            requeue += again
            for settled, scores in failed:
                self._assembler.finish(settled, scores)
        self._pending.extendleft(reversed(requeue))
        replacement = self._start(worker.index)
        self._workers[self._workers.index(worker)] = replacement
        self.events.append(
            ExecutorEvent(
                "worker_replaced",
                f"worker {worker.index} (pid {worker.process.pid}) died with exit code {code}; "
                f"{len(worker.tasks)} batch(es) resubmitted, new worker started",
                {"worker": worker.index, "exitcode": code, "resubmitted": len(requeue)},
            )
        )

    def close(self) -> None:
        workers, self._workers = self._workers, []
        for w in workers:
            with contextlib.suppress(BrokenPipeError, OSError):
                w.conn.send(("stop",))
        deadline = time.monotonic() + 3.0
        for w in workers:
            w.process.join(max(0.0, deadline - time.monotonic()))
            if w.process.is_alive():
                w.process.terminate()
                w.process.join(1.0)
            if w.process.is_alive():
                w.process.kill()
                w.process.join(1.0)
            w.conn.close()
