"""Executors: the worker pool scores like the driver would, and a dead worker loses nothing."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from search_state import saved

from evosearch.backends.base import Batch, Job
from evosearch.backends.local import ExecutorError, InProcessExecutor, LocalPool
from evosearch.config import Config, apply_overrides
from evosearch.run.progress import ProgressLine, read_log
from evosearch.run.runner import Runner
from programs import fingerprint, format, library
from proxy_tasks.suites.numpy import NumpySuite

NAMES = ["adamw", "lion", "sgd", "signum", "adam", "momentum", "rmsprop", "adagrad"]


def _batches(stage: int = 1, per_batch: int = 4) -> list[Batch]:
    jobs = [Job(fingerprint(library.load(n)), stage, format(library.load(n))) for n in NAMES]
    return [Batch(i, tuple(jobs[i * per_batch:(i + 1) * per_batch]))
            for i in range(len(jobs) // per_batch)]


def _collect(executor, n: int, timeout: float = 120.0) -> dict[int, list]:
    out: dict[int, list] = {}
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        out.update(executor.completed(timeout=0.5))
    return out


def _fitness(results: dict[int, list]) -> dict[int, list[float]]:
    return {k: [s.fitness for s in v] for k, v in results.items()}


@pytest.fixture(scope="module")
def expected() -> dict[int, list[float]]:
    ex = InProcessExecutor("numpy")
    for b in _batches():
        ex.submit(b)
    return _fitness(_collect(ex, 2))


def test_pool_scores_equal_in_process_scores_and_a_killed_worker_is_replaced(expected):
    with LocalPool("numpy", workers=2) as pool:
        info = pool.describe(baselines=True)
        assert info.stage_names == ("lsq", "logreg")
        # Baselines of every stage but the last (which promotes nowhere).
        assert [s.fitness for s in info.baselines] == [NumpySuite().baseline(0).fitness]
        for b in _batches():
            pool.submit(b)
        assert _fitness(_collect(pool, 2)) == expected

        victim = pool.pids()[0]
        for b in _batches():
            pool.submit(b)
        os.kill(victim, signal.SIGKILL)  # it holds a batch: dispatch is immediate
        assert _fitness(_collect(pool, 2)) == expected
        assert [e.kind for e in pool.events] == ["worker_replaced"]
        assert victim not in pool.pids()


def test_a_batch_that_keeps_killing_workers_is_split_then_failed(expected):
    with LocalPool("numpy", workers=1, max_attempts=1) as pool:
        first, second = _batches()
        pool.submit(first)
        os.kill(pool.pids()[0], signal.SIGKILL)  # one death: split into single programs
        assert _fitness(_collect(pool, 1)) == {0: expected[0]}

        lone = Batch(7, second.jobs[:1])
        pool.submit(lone)
        os.kill(pool.pids()[0], signal.SIGKILL)  # a single program that killed a worker
        (score,) = _collect(pool, 1)[7]
        assert score.failed and "worker died" in score.error
        assert len(pool.events) == 2


def test_an_unknown_suite_is_a_clear_error():
    pool = LocalPool("no-such-suite", workers=1)
    try:
        with pytest.raises(ExecutorError, match="cannot evaluate suite 'no-such-suite'"):
            pool.describe(baselines=False)
    finally:
        pool.close()


def test_a_search_on_the_pool_survives_a_killed_worker_with_the_same_trajectory(tmp_path):
    config = apply_overrides(Config(), [
        "search.suite=numpy", "search.max_evaluations=120", "evolution.population=16",
        "evolution.tournament=3", "executor.batch_size=3", "executor.in_flight=4",
        "restart.plateau=50",
    ])
    quiet = ProgressLine(enabled=False)
    reference = Runner(apply_overrides(config, ["executor.backend=inprocess"]), tmp_path / "a",
                       progress=quiet).run()
    pool = LocalPool("numpy", workers=2)
    log = tmp_path / "b" / "log.jsonl"
    stop = threading.Event()

    def kill_once_the_search_runs():
        while not stop.is_set():
            if log.exists() and log.stat().st_size > 3000:  # a dozen batches consumed
                os.kill(pool.pids()[1], signal.SIGKILL)
                return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_once_the_search_runs)
    killer.start()
    try:
        outcome = Runner(config, tmp_path / "b", executor=pool, progress=quiet).run()
    finally:
        stop.set()
        killer.join()
    assert outcome.status == "finished"
    _, events = read_log(tmp_path / "b" / "log.jsonl")
    assert any(e["event"] == "worker_replaced" for e in events)
    assert reference.engine.counters.evaluations == outcome.engine.counters.evaluations
    assert saved(tmp_path / "a") == saved(tmp_path / "b")
