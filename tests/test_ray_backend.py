"""The Ray backend on a real multi-node cluster on this machine (``ray.cluster_utils.Cluster``).

One cluster for the whole module (Ray costs seconds to start): a head node with no CPU (the
driver's) and two worker nodes of one CPU each, so each evaluation actor has a node of its own
and removing a node kills exactly one actor. Faults are injected at a fixed point of the
search (the n-th batch submitted), not on a timer, so that every run tests a fault mid-search.
The cluster runs in a process of its own (:mod:`ray_cluster_process`): starting a node forks,
and this process has run jax by now (other test modules), where a fork can deadlock.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from ray_cluster_process import ClusterProcess  # noqa: E402
from search_state import saved  # noqa: E402

from evosearch import cli  # noqa: E402
from evosearch.backends.base import Batch, ExecutorError, Job  # noqa: E402
from evosearch.backends.local import InProcessExecutor  # noqa: E402
from evosearch.backends.ray import RayExecutor  # noqa: E402
from evosearch.backends.ray_cluster import probe, split_address  # noqa: E402
from evosearch.config import Config, apply_overrides  # noqa: E402
from evosearch.run.progress import ProgressLine, read_log  # noqa: E402
from evosearch.run.runner import Runner  # noqa: E402
from programs import fingerprint, format, library  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NAMES = ["adamw", "lion", "sgd", "signum", "adam", "momentum", "rmsprop", "adagrad"]
SEARCH = [
    "search.suite=numpy", "search.max_evaluations=200", "evolution.population=16",
    "evolution.tournament=3", "executor.batch_size=3", "executor.in_flight=4",
    "restart.plateau=50", "progress.recognize=false",
]
QUIET = ProgressLine(enabled=False)
pytestmark = pytest.mark.filterwarnings(
    # jax warns from an at-fork hook when a process that has run it forks; the hook's warning,
    # made an error, surfaces as an unraisable exception: both fail the test.
    "error:os.fork:RuntimeWarning",
    "error::pytest.PytestUnraisableExceptionWarning",
)
SMALL_STORE = 80 * 2**20  # bytes of object store per node: batches are a few kB


@pytest.fixture(scope="module")
def jax_has_run() -> None:
    """This process runs jax before the cluster starts, as in a full test run (other modules
    train programs first): a fork from here on would deadlock-warn."""
    import jax.numpy as jnp

    assert float(jnp.ones(3).sum()) == 3.0


@pytest.fixture(scope="module")
def cluster(jax_has_run):
    c = ClusterProcess(
        head={"num_cpus": 0, "include_dashboard": False, "object_store_memory": SMALL_STORE},
        workers=2, node={"num_cpus": 1, "object_store_memory": SMALL_STORE})
    try:
        ray.init(address=c.address, logging_level=logging.WARNING)
        yield c
    finally:
        ray.shutdown()
        c.shutdown()


def _batches(stage: int = 1, per_batch: int = 4) -> list[Batch]:
    jobs = [Job(fingerprint(library.load(n)), stage, format(library.load(n))) for n in NAMES]
    return [Batch(i, tuple(jobs[i * per_batch:(i + 1) * per_batch]))
            for i in range(len(jobs) // per_batch)]


def _collect(executor, n: int, timeout: float = 120.0) -> dict[int, list]:
    out: dict[int, list] = {}
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        for batch_id, scores in executor.completed(timeout=0.5):
            assert batch_id not in out, f"batch {batch_id} delivered twice"
            out[batch_id] = scores
    return out


def _fitness(results: dict[int, list]) -> dict[int, list[float]]:
    return {k: [s.fitness for s in v] for k, v in results.items()}


@pytest.fixture(scope="module")
def expected() -> dict[int, list[float]]:
    ex = InProcessExecutor("numpy")
    for b in _batches():
        ex.submit(b)
    return _fitness(_collect(ex, 2))


class Recording(RayExecutor):
    """The real Ray executor, recording what went in and out, with a fault at one submit."""

    def __init__(self, *args, fault=None, fault_at: int = 0, **kw) -> None:
        super().__init__(*args, **kw)
        self.fault, self.fault_at = fault, fault_at
        self.submitted: list[int] = []
        self.delivered: list[int] = []
        self.deadline = time.monotonic() + 120  # a lost batch would make the search wait forever

    def submit(self, batch: Batch) -> None:
        super().submit(batch)
        self.submitted.append(batch.id)
        if self.fault and len(self.submitted) == self.fault_at:
            # An actor that holds work right now, so that the fault lands mid-batch.
            holding, where = self.holding(), self.placement()
            i = max(range(len(holding)), key=lambda k: holding[k][1])
            self.fault(holding[i][0], where[i])

    def completed(self, timeout):
        assert time.monotonic() < self.deadline, f"stuck: {self.stats()}"
        done = super().completed(timeout)
        self.delivered += [batch_id for batch_id, _ in done]
        return done


def _state(out: Path) -> dict:
    """The search state, without what depends on the clock."""
    return saved(out)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, int]:
    """The search on the driver alone: every backend must reproduce it exactly."""
    out = tmp_path_factory.mktemp("reference")
    config = apply_overrides(Config(), [*SEARCH, "executor.backend=inprocess"])
    outcome = Runner(config, out, progress=QUIET).run()
    return out, outcome.engine.counters.evaluations


def _search_with_fault(tmp_path: Path, fault, fault_at: int = 6) -> tuple[Recording, object]:
    config = apply_overrides(Config(), [*SEARCH, "executor.backend=ray"])
    executor = Recording("numpy", workers=2, fault=fault, fault_at=fault_at)
    outcome = Runner(config, tmp_path, executor=executor, progress=QUIET).run()
    return executor, outcome


def _assert_exactly_once_and_same_search(executor: Recording, outcome, out: Path,
                                         reference: tuple[Path, int]) -> None:
    assert outcome.status == "finished"
    counts = Counter(executor.delivered)
    assert sorted(counts) == sorted(executor.submitted)  # every batch came back ...
    assert set(counts.values()) == {1}  # ... exactly once
    stats = executor.stats()
    assert stats["submitted"] == stats["delivered"] == len(executor.submitted)
    assert stats["replacements"] >= 1 and stats["resubmitted"] >= 1
    ref_out, ref_evaluations = reference
    assert outcome.engine.counters.evaluations == ref_evaluations
    assert _state(out) == _state(ref_out)  # counters, population, cache, lineage: all equal
    _, events = read_log(out / "log.jsonl")
    assert any(e["event"] == "actor_replaced" for e in events)


# --- scores ----------------------------------------------------------------------------------


def test_ray_scores_equal_local_scores_on_actors_spread_over_both_nodes(cluster, expected):
    local_info = InProcessExecutor("numpy").describe(baselines=True)
    with RayExecutor("numpy") as ex:  # workers=0: one actor per CPU of the cluster
        assert ex.workers == 2
        info = ex.describe(baselines=True)
        assert (info.name, info.stage_names) == (local_info.name, local_info.stage_names)
        assert [(s.fitness, s.per_task) for s in info.baselines] == [
            (s.fitness, s.per_task) for s in local_info.baselines]
        for b in _batches():
            ex.submit(b)
        assert _fitness(_collect(ex, 2)) == expected
        deadline = time.monotonic() + 60
        while len(ex.placement()) < 2 and time.monotonic() < deadline:
            ex.completed(timeout=0.2)  # the second actor may still be loading its suite
        assert len({where["node"] for where in ex.placement()}) == 2
        assert [e.kind for e in ex.events] == ["ray_started"]


# --- faults ----------------------------------------------------------------------------------


def test_a_killed_actor_mid_search_loses_nothing_and_the_search_equals_the_local_one(
        cluster, reference, tmp_path):
    def kill(handle, where):
        ray.kill(handle)

    executor, outcome = _search_with_fault(tmp_path, kill)
    _assert_exactly_once_and_same_search(executor, outcome, tmp_path, reference)


def test_a_node_removed_mid_search_loses_nothing_and_the_search_goes_on(
        cluster, reference, tmp_path):
    removed = []

    def remove_node(handle, where):
        cluster.remove_node(where["node"])
        removed.append(where["node"])

    try:
        executor, outcome = _search_with_fault(tmp_path, remove_node)
    finally:
        cluster.add_node()  # for the next tests
    assert removed
    _assert_exactly_once_and_same_search(executor, outcome, tmp_path, reference)
    lost = [e for e in read_log(tmp_path / "log.jsonl")[1] if e["event"] == "actor_replaced"]
    assert lost[0]["node"] == removed[0]


def test_a_batch_that_keeps_killing_actors_is_split_then_failed(cluster, expected):
    """A worker process killed while it holds work (SIGKILL, as a crash would), with one
    attempt allowed: the batch is split and its programs scored one by one; a single program
    that kills its actor gets a failed score naming the reason."""
    with RayExecutor("numpy", workers=1, max_attempts=1) as ex:
        ex.describe(baselines=False)
        first, second = _batches()
        ex.submit(first)
        os.kill(ex.placement()[0]["pid"], signal.SIGKILL)
        assert _fitness(_collect(ex, 1)) == {0: expected[0]}
        assert ex.stats()["resubmitted"] == len(first.jobs)  # four single programs

        ex.submit(Batch(7, second.jobs[:1]))
        os.kill(ex.placement()[0]["pid"], signal.SIGKILL)
        (score,) = _collect(ex, 1)[7]
        assert score.failed and "actor died" in score.error
        assert [e.kind for e in ex.events].count("actor_replaced") == 2
        assert ex.stats()["duplicates_dropped"] == 0


# --- errors ----------------------------------------------------------------------------------


def test_an_unknown_suite_is_a_clear_error_in_one_line(cluster):
    ex = RayExecutor("no-such-suite", workers=1)
    try:
        with pytest.raises(ExecutorError, match="cannot load suite 'no-such-suite'") as e:
            ex.describe(baselines=False)
    finally:
        ex.close()
    assert "unknown suite 'no-such-suite'" in str(e.value)
    assert "\n" not in str(e.value) and "Traceback" not in str(e.value) and not e.value.detail


def test_more_actors_than_the_cluster_has_cpus_is_refused_before_any_starts(cluster):
    with pytest.raises(ExecutorError, match=r"executor.workers = 5, but the Ray cluster has 2 "
                                            r"CPU\(s\): use at most 2"):
        RayExecutor("numpy", workers=5)


def test_actors_that_cannot_be_placed_are_a_clear_error_not_a_hang(cluster):
    ex = RayExecutor("numpy", workers=1, gpus=True, start_timeout=3)  # this cluster has no GPU
    try:
        with pytest.raises(ExecutorError, match=r"no evaluation actor became ready within 3 s; "
                                                r"the cluster has 2 CPU\(s\).*1 GPU"):
            ex.describe(baselines=False)
    finally:
        ex.close()


def test_addresses_are_checked_before_ray_sees_them():
    with pytest.raises(ExecutorError, match="expected HOST:PORT"):
        split_address("just-a-host")
    with pytest.raises(ExecutorError, match=r"127\.0\.0\.1:1 .*ray start --head --port=1"):
        probe("127.0.0.1:1")


def test_search_with_an_unreachable_address_says_so_without_a_traceback(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "evosearch", "search", "--backend", "ray",
         "--address", "127.0.0.1:1", "--set", "search.suite=numpy", "--quiet",
         "--out", str(tmp_path / "run")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2
    assert "cannot reach a Ray cluster at 127.0.0.1:1" in done.stderr
    assert "ray start --head" in done.stderr and "Traceback" not in done.stderr


# --- the driver dies --------------------------------------------------------------------------


def test_a_killed_driver_resumes_from_its_checkpoint_with_the_same_search(
        cluster, reference, tmp_path):
    """`evosearch search --backend ray --address HOST:PORT` in a process of its own, killed
    (SIGKILL: no chance to checkpoint) after its first checkpoint; `--resume` finishes the
    same search as an uninterrupted one."""
    out = tmp_path / "run"
    sets = [a for s in [*SEARCH, "checkpoint.every_evaluations=20"] for a in ("--set", s)]
    driver = subprocess.Popen(
        [sys.executable, "-m", "evosearch", "search", "--backend", "ray",
         "--address", cluster.address, "--quiet", "--out", str(out), *sets],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and driver.poll() is None:
        if (out / "checkpoint.json").exists():
            break
        time.sleep(0.02)
    driver.kill()
    _, stderr = driver.communicate(timeout=30)
    assert (out / "checkpoint.json").exists(), stderr
    assert not (out / "summary.json").exists(), "the search ended before the driver was killed"

    code = cli.main(["search", "--resume", "--out", str(out), "--backend", "ray", "--quiet"])
    assert code == 0
    assert _state(out) == _state(reference[0])
    assert json.loads((out / "checkpoint.json").read_text())["run"]["sessions"] == 2


@pytest.mark.slow  # compiles the jax suite in every actor; the numpy tests above cover the logic
def test_ray_scores_equal_local_pool_scores_on_the_jax_smoke_suite(cluster):
    from evosearch.backends.local import LocalPool

    def run(executor) -> tuple[list[float], dict[int, list[float]]]:
        info = executor.describe(baselines=True)
        for b in _batches(stage=1):
            executor.submit(b)
        return [s.fitness for s in info.baselines], _fitness(_collect(executor, 2, 600))

    with LocalPool("smoke", workers=2) as pool:
        local = run(pool)
    with RayExecutor("smoke", workers=2) as ex:
        assert run(ex) == local


def test_a_search_on_the_users_own_tasks_runs_on_the_cluster_and_equals_the_local_one(
        cluster, tmp_path):
    """A task file that exists nowhere on the cluster's disk: its text travels with the suite
    reference to every actor, and the search is the one the driver alone makes."""
    from test_task_files import SUITE_TOML, TASK_FILE

    own = tmp_path / "own_tasks.py"
    own.write_text(TASK_FILE)
    config = tmp_path / "search.toml"
    config.write_text(SUITE_TOML.format(task_file=own, evaluations=10))
    outs = {}
    for backend in ("inprocess", "ray"):
        outs[backend] = tmp_path / backend
        args = ["search", "--config", str(config), "--out", str(outs[backend]), "--quiet",
                "--set", f"executor.backend={backend}"]
        if backend == "ray":
            args += ["--address", cluster.address, "--set", "executor.workers=2"]
        assert cli.main(args) == 0
    assert _state(outs["ray"]) == _state(outs["inprocess"])
