"""``evosearch identify TARGET``: recover an optimizer's program from its behaviour.

TARGET is ``optax:NAME(key=value, ...)`` (e.g. ``optax:lion``, ``optax:lion(b1=0.95,
weight_decay=0.3)``), ``torch:NAME(...)`` (with the torch extra), a library program or ``.prog``
file, or a recorded trace (``.npz``, format in :mod:`proxy_tasks.identification.traces`).

This is identification, not discovery: the search's fitness is the distance of a candidate's
updates to the target's on probe streams (the suite ``identify:TARGET``), so it finds the
target's program, and nothing better than the target can exist. The search is the ordinary one
(funnel, cache, checkpoints, ``--resume``, local processes or Ray); on top of it, the best
programs are finished (:func:`proxy_tasks.identification.recover.finish`: constants fitted,
one-function swaps tried, a missing linear term completed, the lr scale baked in, constants
rounded) and judged on held-out streams the search never saw.
A search stops as soon as a finished program reproduces the target exactly there.

Writes to ``--out`` (one folder per seed with ``--seeds K``): the search's own files,
``result.json``, ``raw.prog`` (the search's program), ``program.prog`` (the emitted one) and,
with ``--export``, the exported module, checked against the target before it is written.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evosearch.commands import add_task_file_argument

FINISH_EVERY = 1000
"""Finishes during a search are spread out: the k-th waits for k times this many evaluations.
Any best program is finished, however far it still is: a program of the target's structure
can score far from it until a finishing move (an ``eps`` inside a root, Adagrad's initial
accumulator) closes the gap, which the mutations would rarely do.
A finish fits constants with some 500 runs of the program on one probe stream, about what
1000 evaluations cost on the suite's stages; so finishing takes at most about half the
search's compute, and the count it is decided by is part of the search state (resumes agree)."""
SETTINGS = (
    "search.meta_validate=0",
    "funnel.best_margins=[1.0, 0.5]",
)
"""Identification's own defaults on top of the search's (``--set`` overrides them): no
meta-validation (the held-out assessment replaces it), and the funnel sends a child to the
next stage only if it is within 2x (to m) and 1.5x (to l) of the population's best there.
Near the target nearly every child beats AdamW, the baseline gate, and the long last stage
would take most of the compute."""
FINAL_CANDIDATES = 3
"""Hall-of-fame programs finished when a search ends without an exact recovery (and looked at
for the next finish during a search)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="TARGET",
                        help="optax:NAME(key=value, ...), torch:NAME(...), a library program, "
                             "a .prog file or a .npz trace")
    parser.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--seeds", type=int, default=1,
                        help="independent searches, seeds SEED, SEED+1, ... (default 1)")
    parser.add_argument("--max-minutes", type=float, default=5.0,
                        help="wall-time budget per seed (default 5)")
    parser.add_argument("--max-evaluations", type=int, default=200_000,
                        help="evaluation budget per seed (default 200000)")
    parser.add_argument("--warm-start", default="adamw",
                        help="initial program: a library name or a .prog file (default adamw)")
    parser.add_argument("--out", metavar="DIR",
                        help="where to write (default runs/identify-<timestamp>)")
    parser.add_argument("--export", choices=("optax", "torch", "source"),
                        help="also write the recovered optimizer as a module, checked against "
                             "the target first")
    from evosearch.backends import BACKENDS  # the table only: no numpy, jax or ray

    parser.add_argument("--backend", choices=tuple(BACKENDS),
                        help="where evaluations run (default local processes)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a search setting (repeatable)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the searches saved in --out")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    add_task_file_argument(parser)


@dataclass
class Watcher:
    """Finishes the best program not finished yet (of the hall of fame's first few) during a
    search and stops it at an exact recovery (a :data:`evosearch.run.runner.Watch`). A
    finished program that is not exact goes back into the population
    (:meth:`evosearch.engine.evolution.Evolution.inject`): its constants are fitted, which the
    mutations rarely manage. What it finished is kept in the search state, so
    a resumed search does what an uninterrupted one would."""

    suite: Any
    recoveries: dict[str, Any] = field(default_factory=dict)  # fingerprint -> Recovery
    finish_seconds: float = 0.0
    exact: Any = None
    exact_source: int | None = None

    def __call__(self, engine: Any) -> str | None:
        if engine.counters.evaluations < FINISH_EVERY * len(engine.injected):
            return None
        best = next((engine.lineage[rid] for rid in engine.hall_of_fame[:FINAL_CANDIDATES]
                     if engine.lineage[rid].fingerprint not in engine.injected), None)
        if best is None:
            return None
        recovery = self.finish(best.fingerprint, engine.program(best.id))
        engine.inject(recovery.program, best.id, "fit constants to the target")
        if recovery.exact:
            self.exact, self.exact_source = recovery, best.id
            return "identified"
        return None

    def finish(self, key: str, program: Any) -> Any:
        from proxy_tasks.identification.recover import finish

        if key not in self.recoveries:
            start = time.perf_counter()
            self.recoveries[key] = finish(program, self.suite)
            self.finish_seconds += time.perf_counter() - start
        return self.recoveries[key]


def run(args: argparse.Namespace) -> int:
    from evosearch.commands import CommandError
    from proxy_tasks.suites import get_suite

    if args.seeds < 1:
        raise CommandError("--seeds must be at least 1")
    if args.seed < 0:
        raise CommandError("--seed must be >= 0")
    if not args.max_minutes > 0 or args.max_evaluations < 1:
        raise CommandError("--max-minutes and --max-evaluations must be positive")
    if args.resume and not args.out:
        raise CommandError("--resume needs --out DIR (the identification to continue)")
    suite_ref = "identify:" + args.target
    suite = get_suite(suite_ref)  # the target is checked here, before anything is written
    out = Path(args.out) if args.out else Path("runs") / time.strftime("identify-%Y%m%d-%H%M%S")
    results = []
    for seed in range(args.seed, args.seed + args.seeds):
        folder = out if args.seeds == 1 else out / f"seed{seed}"
        result = _identify_one(args, suite, suite_ref, seed, folder)
        if result is None:
            return 130
        results.append(result)
    if len(results) > 1:
        _write_summary(out, args.target, results)
    return 0


def _config(args: argparse.Namespace, suite_ref: str, seed: int):
    from evosearch import config as config_module

    overrides = [
        f"search.suite={json.dumps(suite_ref)}",
        f"search.warm_start={json.dumps(args.warm_start)}",
        f"search.seed={seed}",
        f"search.max_minutes={args.max_minutes}",
        f"search.max_evaluations={args.max_evaluations}",
        *SETTINGS,
    ]
    if args.backend:
        overrides.append(f"executor.backend={args.backend}")
    if args.task_files:
        overrides.append(f"search.task_files={json.dumps(args.task_files)}")
    return config_module.load(None, [*overrides, *args.overrides])


def _identify_one(args: argparse.Namespace, suite: Any, suite_ref: str, seed: int,
                  folder: Path) -> dict[str, Any] | None:
    from evosearch.run.progress import ProgressLine
    from evosearch.run.runner import Runner

    done = folder / "result.json"
    if args.resume and done.exists():  # this seed finished before the interruption
        return json.loads(done.read_text(encoding="utf-8"))
    resume = args.resume and (folder / "checkpoint.json").exists()
    config = None if resume else _config(args, suite_ref, seed)
    watcher = Watcher(suite)
    progress = ProgressLine(1.0, enabled=not args.quiet)
    print(f"evosearch identify: {args.target}, seed {seed}, writing to {folder}",
          file=sys.stderr)
    runner = Runner(config, folder, resume=resume, progress=progress, watch=watcher)
    outcome = runner.run()
    searched = time.monotonic()
    if outcome.status == "interrupted":
        print(f"interrupted; resume with: evosearch identify {args.target} --resume "
              f"--out {args.out or folder}", file=sys.stderr)
        return None
    engine = outcome.engine
    recovery, raw = watcher.exact, None
    if recovery is not None:
        raw = engine.program(watcher.exact_source)
    else:
        candidates = engine.hall_of_fame[:FINAL_CANDIDATES]
        for rid in candidates:
            watcher.finish(engine.lineage[rid].fingerprint, engine.program(rid))
        scored = [(watcher.recoveries[engine.lineage[rid].fingerprint], rid)
                  for rid in candidates]
        if scored:
            recovery, rid = min(scored, key=lambda pair: pair[0].assessment.distance)
            raw = engine.program(rid)
    seconds = engine.elapsed + time.monotonic() - searched  # resumes included
    result = _write_result(folder, args, suite, seed, engine, outcome.status, recovery, raw,
                           seconds, watcher.finish_seconds)
    _print_result(result)
    return result


def _recognized(program: Any) -> dict[str, Any] | None:
    import programs

    try:
        match = programs.recognize(program)
    except Exception:  # noqa: BLE001 - a name is a nicety
        return None
    return None if match is None else {"name": match.name, "params": dict(match.params)}


def _write_result(folder: Path, args: argparse.Namespace, suite: Any, seed: int, engine: Any,
                  status: str, recovery: Any, raw: Any, seconds: float,
                  finish_seconds: float) -> dict[str, Any]:
    import programs
    from evosearch.run.checkpoint import write_atomic

    result: dict[str, Any] = {
        "target": args.target,
        "seed": seed,
        "status": status,
        "evaluations": engine.counters.evaluations,
        "seconds": round(seconds, 2),
        "finish_seconds": round(finish_seconds, 2),
        "recognized": None,
        "program": None,
        "distance": None,
        "max_step_error": None,
        "exact": False,
    }
    if recovery is not None:
        text = programs.format(recovery.program)
        result.update({
            "recognized": _recognized(recovery.program),
            "program": text,
            "distance": recovery.assessment.distance,
            "max_step_error": recovery.assessment.max_step_error,
            "exact": bool(recovery.exact),
        })
        write_atomic(folder / "program.prog",
                     f"# recovered from {args.target} (seed {seed}); held-out distance "
                     f"{recovery.assessment.distance:.3g}\n" + text)
        write_atomic(folder / "raw.prog", f"# the search's program (seed {seed})\n"
                     + programs.format(raw))
        if args.export:
            result["export"] = _export(folder, args, suite, recovery.program)
    write_atomic(folder / "result.json", json.dumps(result, indent=2) + "\n")
    return result


def _export(folder: Path, args: argparse.Namespace, suite: Any, program: Any) -> dict[str, Any]:
    """Write the exported module if it reproduces the target on the held-out streams."""
    from evosearch.run.checkpoint import write_atomic
    from proxy_tasks.identification.exported import check_export

    framework = "optax" if args.export == "source" else args.export
    text, report = check_export(program, suite, framework)
    if report["ok"]:
        path = folder / f"optimizer_{framework}.py"
        write_atomic(path, text)
        report["path"] = str(path)
    return report


def _print_result(result: dict[str, Any]) -> None:
    name = result["recognized"]
    label = f"{name['name']}({', '.join(f'{k}={v:.6g}' for k, v in name['params'].items())})" \
        if name else "not a known optimizer"
    verdict = "exact" if result["exact"] else (
        f"approximate, held-out distance {result['distance']:.3g}"
        if result["distance"] is not None else "nothing found")
    print(f"\n{result['target']} (seed {result['seed']}): {verdict}; {label}; "
          f"{result['evaluations']} evaluations in {result['seconds']:.0f} s")
    if result["program"]:
        print(result["program"])
    if "export" in result:
        e = result["export"]
        print(f"export: {e['path'] if e['ok'] else 'not written: ' + e['message']}")


def _write_summary(out: Path, target: str, results: list[dict[str, Any]]) -> None:
    from evosearch.run.checkpoint import write_atomic

    exact = [r for r in results if r["exact"]]
    summary = {
        "target": target,
        "seeds": [r["seed"] for r in results],
        "exact": len(exact),
        "median_seconds_exact": _median([r["seconds"] for r in exact]),
        "median_evaluations_exact": _median([r["evaluations"] for r in exact]),
        "results": results,
    }
    write_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    print(f"\n{target}: exact in {len(exact)} of {len(results)} seeds")


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return float(ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2)
