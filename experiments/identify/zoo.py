"""The identification benchmark: `evosearch identify` over a zoo of real optimizers.

Question: given an optimizer as a black box (optax, torch), does the search recover its program
from its behaviour, exactly where the language can express it, and how close where it cannot?

For every target the table says whether the DSL can express it exactly (with a hand-written
reference program that reproduces the target on the held-out streams, checked by
``tests/test_identify_zoo.py``, or the reason it cannot), the share of seeds recovered exactly
and approximately, median evaluations and wall time of the exact recoveries, and the recovered
program of the best seed. Every seed runs ``evosearch identify TARGET --seed N`` from AdamW in
its own process (in-process evaluation: the numpy suite needs no worker processes) and stops at
an exact recovery or at the time limit; two run at once on two cores.

    python experiments/identify/zoo.py                       # the whole zoo (hours on 2 cores)
    python experiments/identify/zoo.py --quick               # 3 targets, 1 seed, 1 minute each
    python experiments/identify/zoo.py --targets optax:lion --seeds 10
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from manifest import record  # noqa: E402

HEAD = "def train(w, g, m, v, lr):\n"
BIAS = "bias correction needs a step counter, which two state slots beside m and v cannot hold"


@dataclass(frozen=True)
class Entry:
    """A zoo member: its target text, and either a reference program (the DSL expresses it) or
    the reason it cannot."""

    target: str
    reference: str | None = None
    reason: str = ""
    seeds: int = 5


def _lion(b1: float, b2: float, wd: float) -> str:
    decay = f"  wd = w * {wd}\n  u = u + wd\n" if wd else ""
    return (HEAD + f"  c = interp(g, m, {b1})\n  u = sign(c)\n{decay}  update = u * lr\n"
            f"  m = interp(g, m, {b2})\n  return update, m, v\n")


ZOO: tuple[Entry, ...] = (
    Entry("optax:lion", _lion(0.9, 0.99, 0.001), seeds=10),
    Entry("optax:lion(b1=0.95, b2=0.98, weight_decay=0.1)", _lion(0.95, 0.98, 0.1)),
    Entry("optax:lion(b1=0.9, b2=0.999, weight_decay=0.0)", _lion(0.9, 0.999, 0.0)),
    Entry("optax:signum", HEAD + "  m = interp(g, m, 0.9)\n  u = sign(m)\n  update = u * lr\n"
          "  return update, m, v\n"),
    Entry("optax:sign_sgd", HEAD + "  u = sign(g)\n  update = u * lr\n  return update, m, v\n"),
    Entry("optax:sgd", HEAD + "  update = g * lr\n  return update, m, v\n"),
    Entry("optax:sgd(momentum=0.9)", HEAD + "  m = m * 0.9\n  m = m + g\n  update = m * lr\n"
          "  return update, m, v\n"),
    Entry("optax:sgd(momentum=0.9, nesterov=True)",
          HEAD + "  m = m * 0.9\n  m = m + g\n  u = m * 0.9\n  u = u + g\n  update = u * lr\n"
          "  return update, m, v\n"),
    Entry("optax:rmsprop", HEAD + "  g2 = square(g)\n  v = interp(g2, v, 0.9)\n  s = v + 1e-8\n"
          "  d = sqrt(s)\n  update = g / d\n  update = update * lr\n  return update, m, v\n"),
    Entry("optax:adagrad", HEAD + "  g2 = square(g)\n  v = v + g2\n  s = v + 0.1000001\n"
          "  d = sqrt(s)\n  update = g / d\n  update = update * lr\n  return update, m, v\n"),
    Entry("optax:adadelta", HEAD + "  g2 = square(g)\n  v = interp(g2, v, 0.9)\n"
          "  a = m + 1e-6\n  a = sqrt(a)\n  b = v + 1e-6\n  b = sqrt(b)\n  r = a / b\n"
          "  u = r * g\n  u2 = square(u)\n  m = interp(u2, m, 0.9)\n  update = u * lr\n"
          "  return update, m, v\n"),
    Entry("torch:SGD(momentum=0.9)", HEAD + "  m = m * 0.9\n  m = m + g\n  update = m * lr\n"
          "  return update, m, v\n"),
    Entry("torch:RMSprop", HEAD + "  g2 = square(g)\n  v = interp(g2, v, 0.99)\n  d = sqrt(v)\n"
          "  update = g / d\n  update = update * lr\n  return update, m, v\n"),
    Entry("optax:yogi", reason=BIAS),
    Entry("optax:adam", reason=BIAS),
    Entry("optax:adamw", reason=BIAS),
    Entry("optax:adamax", reason=BIAS),
    Entry("optax:adabelief", reason=BIAS),
    Entry("optax:lamb", reason=BIAS + "; and a per-tensor trust ratio"),
    Entry("optax:novograd", reason="its first step initialises the moments differently from "
          "the others (needs a step counter)"),
    Entry("torch:Adam", reason=BIAS),
    Entry("torch:AdamW", reason=BIAS),
)

APPROXIMATE = 0.01
"""A recovery is approximate when its held-out distance (at the target's learning rate) is
below this: 1 % of the target's weighted squared update."""

QUICK = ("optax:lion", "optax:sgd(momentum=0.9)", "optax:adam")


def run_seed(target: str, seed: int, minutes: float, runs: Path) -> dict:
    """One ``evosearch identify`` run in its own process; its result.json."""
    folder = runs / _slug(target) / f"seed{seed}"
    result_path = folder / "result.json"
    if result_path.exists():  # a finished seed is not run again (the benchmark resumes)
        return json.loads(result_path.read_text())
    command = [sys.executable, "-m", "evosearch", "identify", target, "--seed", str(seed),
               "--max-minutes", str(minutes), "--backend", "inprocess", "--quiet",
               "--out", str(folder)]
    if folder.exists():
        command.append("--resume")
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "JAX_PLATFORMS": "cpu"})
    if done.returncode != 0 or not result_path.exists():
        return {"target": target, "seed": seed, "exact": False, "distance": None,
                "error": (done.stderr.strip().splitlines() or ["no output"])[-1],
                "seconds": round(time.monotonic() - started, 1)}
    return json.loads(result_path.read_text())


def _slug(target: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in target).strip("_")


def summarize(entry: Entry, results: list[dict]) -> dict:
    exact = [r for r in results if r.get("exact")]
    approx = [r for r in results if not r.get("exact") and r.get("distance") is not None
              and r["distance"] < APPROXIMATE]
    best = min(results, key=lambda r: (not r.get("exact"), r.get("distance") or 2.0))
    return {
        "target": entry.target,
        "expressible": entry.reference is not None,
        "reason": entry.reason,
        "seeds": len(results),
        "exact": len(exact),
        "approximate": len(approx),
        "median_evaluations_exact": _median([r["evaluations"] for r in exact]),
        "median_seconds_exact": _median([r["seconds"] for r in exact]),
        "best_distance": best.get("distance"),
        "recognized": best.get("recognized"),
        "program": best.get("program"),
        "results": results,
    }


def _median(values: list[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def table(rows: list[dict]) -> str:
    lines = ["| target | DSL expresses it | exact | approximate (< 1 %) | median evals / s "
             "(exact) | best held-out distance | recognized |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        expresses = "yes" if r["expressible"] else f"no: {r['reason']}"
        med = ("–" if r["median_evaluations_exact"] is None else
               f"{r['median_evaluations_exact']:.0f} / {r['median_seconds_exact']:.0f}")
        distance = "–" if r["best_distance"] is None else f"{r['best_distance']:.2g}"
        name = r["recognized"]["name"] if r["recognized"] else "–"
        lines.append(f"| `{r['target']}` | {expresses} | {r['exact']}/{r['seeds']} | "
                     f"{r['approximate']}/{r['seeds']} | {med} | {distance} | {name} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", help="comma-separated targets of the zoo (default: all)")
    parser.add_argument("--seeds", type=int, help="seeds per target (default: the zoo's, 5; "
                        "10 for optax:lion)")
    parser.add_argument("--minutes", type=float, default=5.0, help="limit per seed")
    parser.add_argument("--parallel", type=int, default=2, help="seeds run at once")
    parser.add_argument("--finished-only", action="store_true",
                        help="run nothing: summarize the seeds whose runs have finished")
    parser.add_argument("--quick", action="store_true",
                        help=f"{', '.join(QUICK)}; 1 seed, 1 minute each")
    parser.add_argument("--out", default=str(HERE / "results"), help="results folder")
    parser.add_argument("--runs", default="runs/identify-zoo",
                        help="where each seed's run folder goes (a finished seed is not run "
                             "again: the benchmark resumes)")
    args = parser.parse_args(argv)
    entries = list(ZOO)
    if args.quick:
        entries = [e for e in ZOO if e.target in QUICK]
        args.seeds, args.minutes = 1, 1.0
    if args.targets:
        wanted = [t.strip() for t in args.targets.split(",") if t.strip()]
        unknown = [t for t in wanted if t not in {e.target for e in ZOO}]
        if unknown:
            print(f"zoo.py: error: not in the zoo: {', '.join(unknown)}", file=sys.stderr)
            return 2
        entries = [e for e in ZOO if e.target in wanted]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(e, seed) for e in entries for seed in range(args.seeds or e.seeds)]
    started = time.monotonic()
    results: dict[str, list[dict]] = {e.target: [] for e in entries}
    if args.finished_only:
        for e, seed in jobs:
            done = Path(args.runs) / _slug(e.target) / f"seed{seed}" / "result.json"
            if done.exists():
                results[e.target].append(json.loads(done.read_text()))
        entries = [e for e in entries if results[e.target]]
        jobs = []
    with ThreadPoolExecutor(max_workers=args.parallel) as pool:
        futures = {pool.submit(run_seed, e.target, seed, args.minutes, Path(args.runs)): (e, seed)
                   for e, seed in jobs}
        for done, future in enumerate(futures, 1):
            entry, seed = futures[future]
            result = future.result()
            results[entry.target].append(result)
            verdict = "exact" if result.get("exact") else f"distance {result.get('distance')}"
            print(f"[{done}/{len(jobs)}] {entry.target} seed {seed}: {verdict}, "
                  f"{result.get('seconds')} s ({(time.monotonic() - started) / 60:.1f} min)",
                  flush=True)
    rows = [summarize(e, results[e.target]) for e in entries]
    name = "zoo_quick" if args.quick else "zoo_finished" if args.finished_only else "zoo"
    (out / f"{name}.json").write_text(json.dumps(rows, indent=2) + "\n")
    (out / f"{name}.md").write_text(table(rows) + "\n")
    print(table(rows))
    total = time.monotonic() - started
    print(f"\n{len(jobs)} seeds in {total / 60:.1f} minutes")
    for suffix in ("json", "md"):
        record(out / f"{name}.{suffix}", " ".join(["python", "experiments/identify/zoo.py",
                                                      *(argv or sys.argv[1:])]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
