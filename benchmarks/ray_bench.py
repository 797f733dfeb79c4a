"""Ray backend: evaluations/s with 1 and 2 actors, and Ray's per-batch cost against the local pool.

What is measured, on the same batches (library programs on a CPU-bound suite, ``numpy`` by
default: single-threaded training, ~15 ms a program on this machine):

- **throughput**: evaluations/s through each backend with 1 and 2 evaluators, fed as the search
  feeds them (``2 x workers`` batches in flight, results taken as they arrive). Scaling
  efficiency = rate(2) / (2 rate(1)).
- **overhead on real batches**: 1 - rate(ray) / rate(local) with one evaluator: the share of
  evaluation throughput lost to Ray rather than the local pool.
- **round trip**: the time for a batch that needs no work (its programs name a stage the suite
  does not have, so each is answered at once), one at a time: the fixed cost of a batch.

Backends and worker counts are interleaved in every repetition, and the median is reported, so
that a load change on a shared machine affects all of them alike; the load average before and
after is recorded. Everything runs on this machine: Ray is started locally with one CPU per
core.

    python benchmarks/ray_bench.py [--suite numpy] [--batches 40] [--repeats 5]
        [--json benchmarks/results/ray.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import time
from itertools import count
from pathlib import Path

from evosearch.backends.base import Batch, Executor, Job
from evosearch.backends.local import LocalPool
from programs import fingerprint, format, library

PROGRAMS = ["adamw", "lion", "sgd", "signum", "adam", "momentum", "rmsprop", "adagrad"]
_ids = count()


def make_batches(n: int, size: int, stage: int) -> list[list[Job]]:
    jobs = [Job(fingerprint(library.load(p)), stage, format(library.load(p))) for p in PROGRAMS]
    return [[jobs[(b * size + i) % len(jobs)] for i in range(size)] for b in range(n)]


def throughput(executor: Executor, batches: list[list[Job]], in_flight: int) -> float:
    """Evaluations per second, ``in_flight`` batches kept out, results taken as they arrive."""
    start = time.perf_counter()
    queue = list(batches)
    out = 0
    done = 0
    while done < len(batches):
        while queue and out < in_flight:
            executor.submit(Batch(next(_ids), tuple(queue.pop())))
            out += 1
        for _, scores in executor.completed(timeout=1.0):
            assert not any(s.failed for s in scores), scores
            out -= 1
            done += 1
    seconds = time.perf_counter() - start
    return sum(len(b) for b in batches) / seconds


def round_trip(executor: Executor, jobs: list[Job], n: int) -> float:
    """Mean seconds per batch, one batch at a time, for batches that need no work."""
    start = time.perf_counter()
    for _ in range(n):
        executor.submit(Batch(next(_ids), tuple(jobs)))
        got: list = []
        while not got:
            got = executor.completed(timeout=1.0)
        assert all(s.failed for s in got[0][1])
    return (time.perf_counter() - start) / n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="numpy")
    parser.add_argument("--stage", type=int, default=1, help="suite stage to evaluate on")
    parser.add_argument("--batches", type=int, default=40, help="batches per timed run")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--round-trips", type=int, default=200)
    parser.add_argument("--json", default="benchmarks/results/ray.json")
    args = parser.parse_args(argv)

    import ray

    from evosearch.backends.ray import RayExecutor

    load_before = os.getloadavg()
    # Three logical CPUs: the 1-actor and 2-actor executors live side by side (only one of
    # them works at a time), so that backends and sizes can be interleaved.
    ray.init(address="local", num_cpus=3, include_dashboard=False,
             object_store_memory=128 * 2**20, logging_level=logging.WARNING)
    workers = (1, 2)
    executors: dict[tuple[str, int], Executor] = {}
    for n in workers:
        executors[("local", n)] = LocalPool(args.suite, workers=n)
        executors[("ray", n)] = RayExecutor(args.suite, workers=n)
    batches = make_batches(args.batches, args.batch_size, args.stage)
    try:
        for ex in executors.values():  # load suites, start every evaluator, warm caches
            ex.describe(baselines=False)
            throughput(ex, batches[: 4 * ex.workers], 2 * ex.workers)
        rates: dict[str, list[float]] = {f"{b}-{n}": [] for b, n in executors}
        trips: dict[str, list[float]] = {"local": [], "ray": []}
        free = [Job(j.fingerprint, 999, j.text) for j in batches[0]]
        for r in range(args.repeats):
            for (backend, n), ex in executors.items():
                rates[f"{backend}-{n}"].append(throughput(ex, batches, 2 * n))
            for backend in ("local", "ray"):
                trips[backend].append(round_trip(executors[(backend, 1)], free,
                                                 args.round_trips // args.repeats))
            print(f"repeat {r + 1}/{args.repeats}: "
                  + ", ".join(f"{k} {v[-1]:.1f}/s" for k, v in rates.items()), file=sys.stderr)
    finally:
        for ex in executors.values():
            ex.close()
        ray.shutdown()
    load_after = os.getloadavg()

    med = {k: statistics.median(v) for k, v in rates.items()}
    trip_ms = {k: 1000 * statistics.median(v) for k, v in trips.items()}
    batch_ms = 1000 * args.batch_size / med["local-1"]
    result = {
        "suite": args.suite,
        "stage": args.stage,
        "batch_size": args.batch_size,
        "batches_per_run": args.batches,
        "repeats": args.repeats,
        "evaluations_per_second": {k: {"median": med[k], "runs": v} for k, v in rates.items()},
        "scaling_efficiency": {
            b: med[f"{b}-2"] / (2 * med[f"{b}-1"]) for b in ("local", "ray")
        },
        "ray_overhead_vs_local": {
            "throughput_loss_1_worker": 1 - med["ray-1"] / med["local-1"],
            "throughput_loss_2_workers": 1 - med["ray-2"] / med["local-2"],
            "round_trip_ms": trip_ms,
            "round_trip_extra_ms": trip_ms["ray"] - trip_ms["local"],
            "round_trip_extra_share_of_batch": (trip_ms["ray"] - trip_ms["local"]) / batch_ms,
            "batch_ms_local_1_worker": batch_ms,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": load_after,
            "python": platform.python_version(),
            "ray": ray.__version__,
            "platform": platform.platform(),
        },
    }
    print()
    print(f"suite {args.suite} stage {args.stage}, batches of {args.batch_size}, "
          f"{args.batches} batches per run, median of {args.repeats}")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
          f"({os.cpu_count()} CPUs; shared machine)")
    print(f"{'backend':<8}{'workers':>8}{'evals/s':>10}{'efficiency':>12}")
    for backend in ("local", "ray"):
        for n in workers:
            eff = result["scaling_efficiency"][backend] if n == 2 else 1.0
            print(f"{backend:<8}{n:>8}{med[f'{backend}-{n}']:>10.1f}{eff:>12.2f}")
    o = result["ray_overhead_vs_local"]
    print(f"ray throughput loss vs local: {100 * o['throughput_loss_1_worker']:.1f} % "
          f"(1 worker), {100 * o['throughput_loss_2_workers']:.1f} % (2 workers)")
    print(f"round trip of an empty batch: local {trip_ms['local']:.2f} ms, "
          f"ray {trip_ms['ray']:.2f} ms; extra {o['round_trip_extra_ms']:.2f} ms = "
          f"{100 * o['round_trip_extra_share_of_batch']:.1f} % of a {batch_ms:.0f} ms batch")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
