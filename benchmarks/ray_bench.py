"""Ray backend: evaluations/s with 1 and 2 actors, and Ray's per-batch cost against the local pool.

What is measured, on the same batches (library programs on a CPU-bound suite, ``numpy`` by
default: single-threaded training, ~15 ms a program on this machine):

- **throughput**: evaluations/s through each backend with 1 and 2 evaluators, fed as the search
  feeds them (``2 x workers`` batches in flight, results taken as they arrive). Scaling
  efficiency = rate(2) / (2 rate(1)).
- **overhead on real batches**: 1 - rate(ray) / rate(local) with one evaluator: the share of
  evaluation throughput lost to Ray rather than the local pool.
- **cpu share**: the CPU time each evaluator process got during a run, over the run's wall
  time (from /proc): about 1 on a quiet machine; well below 1 means other jobs took the cores,
  and that run's rate says more about them than about the backend.
- **round trip**: the time for a batch that needs no work (its programs name a stage the suite
  does not have, so each is answered at once), one at a time: the fixed cost of a batch.

Backends and worker counts are interleaved in every repetition, so that a load change on a
shared machine affects all of them alike. The median is reported, and the best run as well
(timeit's rule: on a machine shared with other jobs the fastest run is the one least disturbed);
the load average before and after is recorded. Everything runs on this machine: Ray is
started locally.

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


def evaluator_pids(executor: Executor) -> list[int]:
    if isinstance(executor, LocalPool):
        return [p for p in executor.pids() if p]
    return [where["pid"] for where in executor.placement()]  # type: ignore[attr-defined]


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) used so far by these processes (Linux /proc; 0 elsewhere)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def throughput(executor: Executor, batches: list[list[Job]], in_flight: int,
               ) -> tuple[float, float]:
    """(evaluations per second, share of a core each evaluator got), ``in_flight`` batches
    kept out, results taken as they arrive. The share tells a quiet run (close to 1) from one
    that other jobs on the machine slowed down."""
    pids = evaluator_pids(executor)
    cpu = cpu_seconds(pids)
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
    share = (cpu_seconds(pids) - cpu) / (seconds * len(pids)) if pids else float("nan")
    return sum(len(b) for b in batches) / seconds, share


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
        shares: dict[str, list[float]] = {k: [] for k in rates}
        trips: dict[str, list[float]] = {"local": [], "ray": []}
        free = [Job(j.fingerprint, 999, j.text) for j in batches[0]]
        for r in range(args.repeats):
            for (backend, n), ex in executors.items():
                rate, share = throughput(ex, batches, 2 * n)
                rates[f"{backend}-{n}"].append(rate)
                shares[f"{backend}-{n}"].append(share)
            for backend in ("local", "ray"):
                trips[backend].append(round_trip(executors[(backend, 1)], free,
                                                 args.round_trips // args.repeats))
            print(f"repeat {r + 1}/{args.repeats}: "
                  + ", ".join(f"{k} {v[-1]:.1f}/s (cpu share {shares[k][-1]:.2f})"
                              for k, v in rates.items()), file=sys.stderr)
    finally:
        for ex in executors.values():
            ex.close()
        ray.shutdown()
    load_after = os.getloadavg()

    med = {k: statistics.median(v) for k, v in rates.items()}
    best = {k: max(v) for k, v in rates.items()}
    trip_ms = {k: 1000 * statistics.median(v) for k, v in trips.items()}
    batch_ms = 1000 * args.batch_size / med["local-1"]
    result = {
        "suite": args.suite,
        "stage": args.stage,
        "batch_size": args.batch_size,
        "batches_per_run": args.batches,
        "repeats": args.repeats,
        "evaluations_per_second": {
            k: {"median": med[k], "best": best[k], "runs": v,
                "cpu_share_per_evaluator": shares[k]} for k, v in rates.items()
        },
        "scaling_efficiency": {
            b: med[f"{b}-2"] / (2 * med[f"{b}-1"]) for b in ("local", "ray")
        },
        "scaling_efficiency_best_runs": {
            b: best[f"{b}-2"] / (2 * best[f"{b}-1"]) for b in ("local", "ray")
        },
        "ray_overhead_vs_local": {
            "throughput_loss_1_worker": 1 - med["ray-1"] / med["local-1"],
            "throughput_loss_2_workers": 1 - med["ray-2"] / med["local-2"],
            "throughput_loss_1_worker_best_runs": 1 - best["ray-1"] / best["local-1"],
            "throughput_loss_2_workers_best_runs": 1 - best["ray-2"] / best["local-2"],
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
    print(f"{'backend':<8}{'workers':>8}{'evals/s':>10}{'efficiency':>12}"
          f"{'best evals/s':>14}{'efficiency':>12}{'cpu share':>11}")
    for backend in ("local", "ray"):
        for n in workers:
            eff = result["scaling_efficiency"][backend] if n == 2 else 1.0
            beff = result["scaling_efficiency_best_runs"][backend] if n == 2 else 1.0
            key = f"{backend}-{n}"
            print(f"{backend:<8}{n:>8}{med[key]:>10.1f}{eff:>12.2f}{best[key]:>14.1f}{beff:>12.2f}"
                  f"{statistics.median(shares[key]):>11.2f}")
    o = result["ray_overhead_vs_local"]
    print(f"ray throughput loss vs local (median): {100 * o['throughput_loss_1_worker']:.1f} % "
          f"(1 worker), {100 * o['throughput_loss_2_workers']:.1f} % (2 workers); best runs: "
          f"{100 * o['throughput_loss_1_worker_best_runs']:.1f} %, "
          f"{100 * o['throughput_loss_2_workers_best_runs']:.1f} %")
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
