"""Measurements of this machine: what the search itself costs, and what evaluation costs.

The driver must never starve the evaluators: everything it does per child (mutation, abstract
execution, fingerprint, cache, funnel and population bookkeeping, the log) has to stay a small
share of a run's wall time. :func:`child_costs` times those pieces per child; :func:`search_run`
runs a real search and reports the driver's busy time against the wall time;
:func:`functional_cache` measures whether the functional fingerprint as a second cache key buys
enough hits to pay for itself; :func:`evaluation_rate` measures programs per second per stage.
Used by ``evosearch benchmark`` and ``benchmarks/search_overhead.py``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from evosearch.config import Config, apply_overrides
from evosearch.engine.mutation import Mutator
from programs import check, fingerprint, format, library, parse, redundancy


def _parents(n: int, seed: int = 0) -> list:
    """Search-like parents: the library and a few generations of its children."""
    config = Config()
    mutator = Mutator(config.mutation, config.evolution)
    rng = np.random.default_rng(seed)
    pool = [library.load(name) for name in library.names()]
    while len(pool) < n:
        child = mutator.child(pool[int(rng.integers(len(pool)))], rng)
        if child is not None:
            pool.append(child.program)
    return pool[:n]


def child_costs(children: int = 2000, seed: int = 0) -> dict[str, float]:
    """Microseconds per child of each driver step, on search-like parents."""
    config = Config()
    mutator = Mutator(config.mutation, config.evolution)
    parents = _parents(200, seed)
    fps = [fingerprint(p) for p in parents]
    rng = np.random.default_rng(seed)
    made = []
    start = time.perf_counter()
    for i in range(children):
        k = i % len(parents)
        made.append(mutator.child(parents[k], rng, fps[k]))
    total = time.perf_counter() - start
    programs = [c.program for c in made if c is not None]

    def per(fn) -> float:
        t = time.perf_counter()
        for p in programs:
            fn(p)
        return 1e6 * (time.perf_counter() - t) / len(programs)

    attempts = sum(c.tries for c in made if c is not None) / len(programs)
    return {
        "child_us": 1e6 * total / children,
        "attempts_per_child": attempts,
        "check_us": per(check),
        "fingerprint_us": per(fingerprint),
        "redundancy_us": per(redundancy),
        "format_us": per(format),
        "parse_us": per(lambda p: parse(format(p))),
    }


def search_run(config: Config, out: Path, executor=None) -> dict[str, Any]:
    """A real search; the driver's busy time (everything but waiting for evaluators) against
    the wall time."""
    from evosearch.run.progress import ProgressLine
    from evosearch.run.runner import Runner

    runner = Runner(config, out, progress=ProgressLine(enabled=False), executor=executor)
    start = time.perf_counter()
    outcome = runner.run()
    wall = time.perf_counter() - start
    c = outcome.engine.counters
    return {
        "suite": outcome.suite.name,
        "workers": config.executor.workers,
        "wall_s": wall,
        "evaluations": c.evaluations,
        "children": c.children,
        "evaluations_per_s": c.evaluations / wall,
        "children_per_s": c.children / wall,
        "driver_s": runner.driver_seconds,
        "driver_share": runner.driver_seconds / wall,
        "driver_ms_per_child": 1e3 * runner.driver_seconds / max(1, c.children),
        "hit_rate": c.hits / max(1, c.children),
    }


def functional_cache(evaluations: int = 400, seed: int = 0) -> list[dict[str, Any]]:
    """The same search (numpy suite, in process) with and without the functional key."""
    from evosearch.backends.evaluate import evaluate_texts
    from evosearch.engine.evolution import Evolution
    from proxy_tasks.suites.numpy import NumpySuite

    suite = NumpySuite()
    baselines = [suite.baseline(k).fitness for k in range(len(suite.stage_names))]
    rows = []
    for functional in (False, True):
        config = apply_overrides(Config(), [
            "search.suite=numpy", f"search.max_evaluations={evaluations}",
            f"search.seed={seed}", f"cache.functional={str(functional).lower()}",
            "evolution.population=32", "restart.plateau=0",
        ])
        engine = Evolution(config, suite.stage_names, baselines, library.load("adamw"))
        driver = 0.0
        while not engine.done:
            t = time.perf_counter()
            batch = engine.next_batch()
            driver += time.perf_counter() - t
            if batch is None:
                continue
            scores = evaluate_texts(suite, [(j.text, j.stage) for j in batch.jobs])
            t = time.perf_counter()
            engine.consume(batch.id, scores)
            driver += time.perf_counter() - t
        c = engine.counters
        rows.append({
            "functional": functional,
            "children": c.children,
            "evaluations": c.evaluations,
            "hit_rate": c.hits / max(1, c.children),
            "functional_hits": engine.cache.stats.functional_hits,
            "driver_ms_per_child": 1e3 * driver / max(1, c.children),
        })
    return rows


def evaluation_rate(suite: Any, workers: int, rounds: int = 3, per_batch: int = 4,
                    executor=None) -> dict[str, Any]:
    """Programs per second per stage on a pool of ``workers`` (compilation excluded: one
    warm-up round per stage first)."""
    from evosearch.backends.base import Batch, Job
    from evosearch.backends.local import LocalPool

    names = ["adamw", "lion", "signum", "sgd", "adam", "rmsprop", "momentum", "adagrad"]
    programs = [library.load(n) for n in names][:per_batch]
    pool = executor or LocalPool(suite, workers)
    try:
        info = pool.describe(baselines=False)
        result: dict[str, Any] = {"suite": info.name, "workers": pool.workers, "stages": {}}
        next_id = 0
        for stage, name in enumerate(info.stage_names):
            jobs = tuple(Job(fingerprint(p), stage, format(p)) for p in programs)
            timings = []
            for warm in (True, False):
                n = pool.workers if warm else pool.workers * rounds
                start = time.perf_counter()
                ids = set()
                for _ in range(n):
                    pool.submit(Batch(next_id, jobs))
                    ids.add(next_id)
                    next_id += 1
                while ids:
                    for bid, _ in pool.completed(timeout=1.0):
                        ids.discard(bid)
                timings.append((time.perf_counter() - start, n * len(jobs)))
            (warm_s, _), (seconds, count) = timings
            result["stages"][name] = {
                "programs_per_s": count / seconds,
                "seconds_per_program": seconds / count * pool.workers,
                "first_round_s": warm_s,
            }
        return result
    finally:
        if executor is None:
            pool.close()
