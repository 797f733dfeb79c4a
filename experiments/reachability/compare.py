"""Compare imitation searches: how many evaluations the search needs to reach its target.

    python experiments/reachability/compare.py runs/reach/base runs/reach/dupedge ... \
        [--json experiments/reachability/results/NAME.json]

Each argument is the ``--out`` folder of one ``experiments/headline/rediscover_lion.py`` run on an
``imitate:<target>`` suite (see this folder's README: reproducible at commit ``ad38280``), or
several such folders joined by commas
(runs of one configuration over different seeds, e.g. ``--first-seed 0`` and ``--first-seed 4``),
which make one row. For every seed it reads the summary that
script wrote: the final best's fitness (mean ``1 - cos`` to the target's updates at stage l),
the evaluations at which the best first came within 0.05 and 0.01 of the target, and whether a
best was recognized as Lion after simplification. Prints one row per configuration.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # experiments/: the manifest helper
import manifest  # noqa: E402

THRESHOLDS = (0.05, 0.01)


def _first_within(history: list[dict], threshold: float, last_stage: int) -> int | None:
    for entry in history:
        if entry["stage"] == last_stage and entry["fitness"] <= threshold:
            return entry["evaluations"]
    return None


def summarize(runs: str) -> dict:
    """One configuration: the seeds of every ``--out`` folder in the comma-separated ``runs``."""
    folders = [Path(r) for r in runs.split(",")]
    summaries = [json.loads((run / "summary.json").read_text()) for run in folders]
    seeds = []
    for r in (r for summary in summaries for r in summary["results"]):
        final = r["final_best"] or {}
        seeds.append({
            "seed": r["seed"],
            "evaluations": r["evaluations"],
            "final_fitness": final.get("fitness"),
            **{f"within_{t}": _first_within(r["history"], t, 2) for t in THRESHOLDS},
            "recognized_lion_at": (r["lion_at"] or {}).get("evaluations"),
            "final_simplified": final.get("simplified"),
        })
    return {"run": runs, "overrides": summaries[0]["overrides"], "seeds": seeds}


def _cell(values: list[int | None]) -> str:
    hit = sorted(v for v in values if v is not None)
    if not hit:
        return f"0/{len(values)}"
    return f"{len(hit)}/{len(values)} (median {statistics.median(hit):,.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="--out folders; comma-joined folders make one row")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = [summarize(run) for run in args.runs]
    print(f"{'configuration':<22} {'final fitness per seed':<56} {'within 0.05':<22} "
          f"{'within 0.01':<22} {'Lion recognized':<22}")
    for row in rows:
        seeds = row["seeds"]
        finals = " ".join(f"{s['final_fitness']:.3f}" for s in seeds)
        print(f"{Path(row['run'].split(',')[0]).name:<22} {finals:<56} "
              f"{_cell([s['within_0.05'] for s in seeds]):<22} "
              f"{_cell([s['within_0.01'] for s in seeds]):<22} "
              f"{_cell([s['recognized_lion_at'] for s in seeds]):<22}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
        manifest.record(args.json)


if __name__ == "__main__":
    main()
