"""``evosearch benchmark``: this machine's evaluation throughput and the search's own overhead.

Prints a table and writes JSON (``--json``). Three parts, each skippable: evaluation (programs per
second per stage of a suite on the local pool, compilation excluded), driver (microseconds per
child for mutation, abstract execution, fingerprint, ...), and a short real search (the
driver's busy time as a share of wall time: the target is at most 5 %).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

from evosearch.commands import add_task_file_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--suite", default="smoke",
                        help="suite to measure: a name, identify:<target>, or a .toml file with a "
                             "[suite] table (default: smoke)")
    parser.add_argument("--workers", type=int, default=0, help="pool size (0: one per core)")
    parser.add_argument("--evaluations", type=int, default=120,
                        help="evaluations of the short search (0: skip it)")
    parser.add_argument("--skip-evaluation", action="store_true",
                        help="skip the evaluation throughput part")
    parser.add_argument("--functional", action="store_true",
                        help="also compare the cache with and without the functional key "
                             "(numpy suite, about a minute)")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    add_task_file_argument(parser)


def run(args: argparse.Namespace) -> int:
    from evosearch.commands import load_task_files
    from evosearch.config import Config, apply_overrides, from_dict
    from evosearch.run import throughput as bench
    from proxy_tasks.device import device_info, device_summary
    from proxy_tasks.suites import load_spec
    from proxy_tasks.task_files import bundle

    files = load_task_files(args.task_files)
    table = load_spec(args.suite).to_data() if args.suite.endswith(".toml") else None
    suite = bundle(args.suite if table is None else table, files)
    device = device_info()  # asked in a child process: the workers own the device
    print(device_summary(info=device), flush=True)
    results: dict = {"command": "evosearch " + " ".join(sys.argv[1:]), "commit": _commit(),
                     "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     "machine": {"python": platform.python_version(), "cpus": _cpus(),
                                 "platform": platform.platform(), "device": device}}
    if not args.skip_evaluation:
        rate = bench.evaluation_rate(suite, args.workers)
        results["evaluation"] = rate
        print(f"evaluation, suite {rate['suite']}, {rate['workers']} worker(s):")
        print(f"  {'stage':<10}{'programs/s':>12}{'s/program/worker':>18}{'1st round s':>13}")
        for name, row in rate["stages"].items():
            print(f"  {name:<10}{row['programs_per_s']:>12.2f}"
                  f"{row['seconds_per_program']:>18.3f}{row['first_round_s']:>13.1f}")
    costs = bench.child_costs()
    results["driver"] = costs
    print("driver, per child (microseconds):")
    for key, value in costs.items():
        print(f"  {key:<22}{value:>10.1f}")
    if args.evaluations:
        base = Config() if table is None else from_dict({"suite": table}, args.suite)
        config = apply_overrides(base, [
            *([] if table is not None else [f"search.suite={json.dumps(args.suite)}"]),
            f"search.task_files={json.dumps(args.task_files)}",
            f"search.max_evaluations={args.evaluations}",
            f"executor.workers={args.workers}", "evolution.population=32",
        ])
        with tempfile.TemporaryDirectory() as tmp:
            row = bench.search_run(config, Path(tmp) / "run")
        results["search"] = row
        print(f"search, suite {row['suite']}: {row['evaluations']} evaluations in "
              f"{row['wall_s']:.1f} s ({row['evaluations_per_s']:.2f}/s, "
              f"{row['children_per_s']:.2f} children/s); driver busy {row['driver_s']:.2f} s "
              f"= {100 * row['driver_share']:.2f}% of wall time "
              f"({row['driver_ms_per_child']:.2f} ms per child)")
    if args.functional:
        rows = bench.functional_cache(1500)
        results["functional_cache"] = rows
        print("cache, numpy suite, 1500 evaluations:")
        for r in rows:
            print(f"  functional key {'on ' if r['functional'] else 'off'}: hit rate "
                  f"{100 * r['hit_rate']:.1f}%, {r['functional_hits']} functional hits, "
                  f"driver {r['driver_ms_per_child']:.2f} ms per child")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def _commit() -> str:
    """The git commit the package runs from, or ``"unknown"`` outside a checkout."""
    import subprocess

    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent,
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return done.stdout.strip() if done.returncode == 0 else "unknown"


def _cpus() -> int:
    import os

    return os.cpu_count() or 1
