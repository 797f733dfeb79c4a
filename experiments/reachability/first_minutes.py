"""Where a search stood after its first N minutes: a paired comparison of settings on a real suite.

    python experiments/reachability/first_minutes.py RUN_DIR [RUN_DIR ...] [--minutes 10]

Each RUN_DIR is a search's ``--out`` folder (``evosearch search`` or one seed folder of
``experiments/headline/rediscover_lion.py``). Reads its ``log.jsonl`` (one line per batch) and
prints, at the last batch logged within the first N minutes: evaluations in all and per funnel
stage, and the best program's stage and fitness. Longer runs can then be compared with shorter
ones on equal wall time (this folder's README: neutral children on the real suite,
``evolution.neutral`` 0 against 1).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def state_at(run: Path, minutes: float) -> dict:
    """The last log record of ``run`` at or before ``minutes`` of wall time."""
    path = run / "log.jsonl"
    if not path.is_file():
        raise SystemExit(f"{run}: no log.jsonl (not a search's --out folder?)")
    last = None
    with path.open() as f:
        for number, line in enumerate(f, 1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise SystemExit(f"{path}:{number}: not JSON ({e.msg})") from None
            if record.get("time", 0.0) > 60.0 * minutes:
                break
            last = record
    if last is None:
        raise SystemExit(f"{path}: empty")
    return last


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    print(f"{'run':40s} {'minutes':>7s} {'evals':>6s} {'per stage':>16s}  best (stage, fitness)")
    for run in args.runs:
        r = state_at(run, args.minutes)
        config = json.loads((run / "config.json").read_text())
        best = r.get("best") or {}
        stages = "/".join(str(n) for n in r["by_stage"])
        fitness = f"{best['stage']}, {best['fitness']:.4f}" if best else "-"
        label = f"{run} (neutral={config['evolution'].get('neutral', 0.0)})"
        print(f"{label:40s} {r['time'] / 60:7.1f} {r['evaluations']:6d} {stages:>16s}  {fitness}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
