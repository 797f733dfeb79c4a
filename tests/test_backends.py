"""Executors: the worker pool scores like the driver would, and a dead worker loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from search_state import saved

from evosearch.backends.base import Batch, Job, failure_report
from evosearch.backends.local import ExecutorError, InProcessExecutor, LocalPool
from evosearch.config import Config, apply_overrides
from evosearch.run.progress import ProgressLine, read_log
from evosearch.run.runner import Runner
from programs import fingerprint, format, library
from proxy_tasks.suites import SuiteError
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
        with pytest.raises(ExecutorError, match="cannot evaluate suite 'no-such-suite'") as e:
            pool.describe(baselines=False)
    finally:
        pool.close()
    assert "\n" not in str(e.value) and "Traceback" not in str(e.value)  # one line
    assert "unknown suite 'no-such-suite'" in str(e.value) and not e.value.detail


def test_a_worker_that_cannot_load_its_suite_table_says_why_in_one_line():
    table = {"name": "typo", "stages": [{"name": "s", "tasks": ["teacher/xss"]}]}
    pool = LocalPool(table, workers=1)
    try:
        with pytest.raises(ExecutorError) as e:
            pool.describe(baselines=False)
    finally:
        pool.close()
    message = str(e.value)
    assert message.startswith("worker 0 cannot evaluate suite 'typo': unknown task 'teacher/xss'")
    assert "\n" not in message and not e.value.detail


def test_failures_of_known_kinds_are_their_message_and_bugs_keep_their_traceback():
    assert failure_report(KeyError("unknown task 'x'")) == ("unknown task 'x'", "")
    assert failure_report(SuiteError("suite: bad")) == ("suite: bad", "")
    try:
        raise RuntimeError("a bug")
    except RuntimeError as bug:
        message, detail = failure_report(bug)
    assert message == "RuntimeError: a bug"
    assert detail.startswith("Traceback") and "test_backends.py" in detail


def test_an_evaluator_bug_goes_to_the_run_log_and_the_user_gets_one_line(tmp_path):
    class Broken(InProcessExecutor):
        def describe(self, baselines: bool):
            raise ExecutorError("worker 0 cannot evaluate suite 'numpy': RuntimeError: a bug",
                                detail="Traceback (most recent call last):\n  ...\n")

    config = apply_overrides(Config(), ["search.suite=numpy", "executor.backend=inprocess"])
    out = tmp_path / "run"
    with pytest.raises(ExecutorError) as e:
        Runner(config, out, executor=Broken("numpy"), progress=ProgressLine(enabled=False)).run()
    assert str(e.value) == ("worker 0 cannot evaluate suite 'numpy': RuntimeError: a bug "
                            f"(traceback in {out / 'log.jsonl'})")
    _, events = read_log(out / "log.jsonl")
    assert events[-1]["event"] == "executor_error"
    assert events[-1]["traceback"].startswith("Traceback")


def test_a_known_error_leaves_no_run_folder(tmp_path):
    class Refusing(InProcessExecutor):
        def describe(self, baselines: bool):
            raise ExecutorError("worker 0 cannot evaluate suite 'numpy': unknown task 'x'")

    config = apply_overrides(Config(), ["search.suite=numpy", "executor.backend=inprocess"])
    with pytest.raises(ExecutorError):
        Runner(config, tmp_path / "run", executor=Refusing("numpy"),
               progress=ProgressLine(enabled=False)).run()
    assert not (tmp_path / "run").exists()


KILLED_DRIVER = """
import os, signal, sys
from evosearch.backends.base import Batch, Job
from evosearch.backends.local import LocalPool
from programs import fingerprint, format, library

if __name__ == "__main__":
    pool = LocalPool("numpy", workers=1)
    pool.describe(baselines=False)
    adamw = library.load("adamw")
    jobs = tuple(Job(fingerprint(adamw), 1, format(adamw)) for _ in range(int(sys.argv[1])))
    pool.submit(Batch(0, jobs))
    pool.submit(Batch(1, jobs))
    print(pool.pids()[0], flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no chance to stop the workers
"""


def test_workers_of_a_killed_driver_exit_quietly(tmp_path):
    """The worker is busy with two batches when its driver dies: it finishes the first, finds
    no one to send it to, and exits without a traceback (the driver's stderr is its stderr)."""
    script = tmp_path / "driver.py"
    script.write_text(KILLED_DRIVER)
    driver = subprocess.Popen([sys.executable, str(script), "100"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    # EOF on both pipes: the driver and its orphaned worker (which holds them too) are gone.
    stdout, stderr = driver.communicate(timeout=120)
    assert driver.returncode == -signal.SIGKILL
    status = Path(f"/proc/{int(stdout.split()[0])}/status")
    if status.exists():  # exited, but not yet reaped by its new parent
        assert "State:\tZ" in status.read_text()
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr


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
