"""The headline discovery experiment: does a search from AdamW on the proxy suite find Lion?

    python experiments/headline/rediscover_lion.py [--seeds 5] [--minutes 30] [--workers 0]
    python experiments/headline/rediscover_lion.py --analyze-only      # re-read finished runs
    python experiments/headline/rediscover_lion.py --runs RUN [RUN ...] --out DIR  # any runs

For each seed, runs ``evosearch search --config experiments/headline/rediscover_lion.toml`` into
``runs/rediscover/seed<k>`` (resuming a run that was interrupted), draws its plots with
``evosearch report``, then reads the run's log: every time the best program changed, the new
best is simplified (``programs.simplify``) and recognized (``programs.recognize``). A seed
*found Lion* when a best program was recognized as Lion; the first such moment is reported in
evaluations and wall time. Recognition is used here, after the fact, and never by the search.

Writes ``runs/rediscover/summary.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import programs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # experiments/: the manifest helper
import manifest  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CONFIG = HERE / "rediscover_lion.toml"


def run_seed(seed: int, out: Path, minutes: float, workers: int, config: Path,
             overrides: list[str]) -> None:
    checkpoint = out / "checkpoint.json"
    cmd = [sys.executable, "-m", "evosearch", "search", "--config", str(config), "--out",
           str(out), "--seed", str(seed), "--set", f"search.max_minutes={minutes}",
           "--set", f"executor.workers={workers}"]
    for override in overrides:
        cmd += ["--set", override]
    if checkpoint.exists():
        cmd.append("--resume")
    print("$ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    subprocess.run([sys.executable, "-m", "evosearch", "report", str(out)], check=False,
                   stdout=subprocess.DEVNULL)


def _identify(text: str) -> tuple[str, str, str | None]:
    program = programs.parse(text)
    simple = programs.simplify(program)
    match = programs.recognize(simple)
    return programs.format(program), programs.format(simple), None if match is None else str(match)


def analyze(out: Path) -> dict:
    """What one finished (or interrupted) run shows: every best, simplified and recognized."""
    batches: dict[int, dict] = {}
    bests: list[dict] = []
    for line in (out / "log.jsonl").read_text().splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        if "batch" in row:
            batches[row["batch"]] = row
        elif row.get("event") == "new_best":
            bests.append(row)
    history = []
    found = None
    for event in bests:
        batch = batches.get(event["after_batch"], {})
        raw, simple, name = _identify(event["text"])
        entry = {"evaluations": batch.get("evaluations"), "minutes": (batch.get("time") or 0) / 60,
                 "stage": event["stage"], "fitness": event["fitness"], "recognized": name,
                 "simplified": simple}
        history.append(entry)
        if found is None and name is not None and name.startswith("lion("):
            found = entry
    last = max(batches) if batches else None
    final = history[-1] if history else None
    return {
        "run": str(out),
        "evaluations": batches[last]["evaluations"] if last else 0,
        "minutes": batches[last]["time"] / 60 if last else 0.0,
        "found_lion": found is not None,
        "lion_at": found,
        "final_best": None if final is None else {
            "raw": bests[-1]["text"], **{k: final[k] for k in
                                         ("stage", "fitness", "recognized", "simplified")}},
        "history": history,
    }


def _shown(path: Path) -> str:
    """A path relative to the repository when it lies inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _settings(run: Path) -> dict:
    """What a run actually used (its own config.json), so a summary made with --analyze-only
    still says which suite and mutation weights produced each seed."""
    path = run / "config.json"
    if not path.exists():
        return {}
    config = json.loads(path.read_text())
    return {"seed": config.get("search", {}).get("seed"),
            "suite": config.get("search", {}).get("suite"),
            "neutral": config.get("evolution", {}).get("neutral"),
            "mutation_weights": config.get("mutation", {}).get("weights")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--minutes", type=float, default=30.0, help="wall time per seed")
    parser.add_argument("--workers", type=int, default=0, help="evaluator processes (0: cores)")
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "rediscover")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a config override passed to every search (repeatable)")
    parser.add_argument("--analyze-only", action="store_true")
    parser.add_argument("--runs", type=Path, nargs="+", metavar="RUN",
                        help="summarize these finished run folders instead (no search; e.g. "
                             "seeds run at different times); the summary goes to --out")
    args = parser.parse_args()

    if args.runs:
        missing = [str(run) for run in args.runs if not (run / "log.jsonl").exists()]
        if missing:
            parser.error(f"no log.jsonl in {', '.join(missing)}: not a search run folder")
        runs = args.runs
    else:
        runs = []
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            out = args.out / f"seed{seed}"
            if not args.analyze_only:
                run_seed(seed, out, args.minutes, args.workers, args.config, args.set)
            if (out / "log.jsonl").exists():
                runs.append(out)
    results = [{"seed": None, **_settings(run), **analyze(run)} for run in runs]
    found = [r for r in results if r["found_lion"]]
    summary = {"config": _shown(args.config), "overrides": args.set, "seeds": len(results),
               "found_lion": len(found), "results": results}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    manifest.record(args.out / "summary.json")

    print(f"\n{'seed':>4} {'evals':>7} {'min':>6} {'Lion?':>6} {'at evals':>9} {'at min':>7}  "
          "final best (stage, fitness, recognized)")
    for r in results:
        at = r["lion_at"] or {}
        fb = r["final_best"] or {}
        at_minutes = f"{at['minutes']:.1f}" if at else "-"
        print(f"{str(r['seed']):>4} {r['evaluations']:>7} {r['minutes']:>6.1f} "
              f"{'yes' if r['found_lion'] else 'no':>6} {str(at.get('evaluations', '-')):>9} "
              f"{at_minutes:>7}  "
              f"{fb.get('stage')}, {fb.get('fitness', float('nan')):.4f}, {fb.get('recognized')}")
    print(f"Lion found in {len(found)} of {len(results)} seeds; summary in {args.out}/summary.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
