"""Where does Lion win, and where do its neighbours beat it? Programs ranked task by task.

    python experiments/landscape/explore.py TASKS PROGRAMS [--seeds 3] [--json PATH]

TASKS are registered task names (``evosearch rank --list-tasks``), including the variants this
study measured (``wide/m-b32``, ``wide10/l-full``, ``sparse/m-rw0``, ``transformer/m-b128``:
rows of their families' size tables). Every program is ranked with the default suite's stage-m
lr policy (coarse-to-fine, walked past the grid's edge, tuned on 2 separate seeds) on paired
evaluation seeds. Prints one line per task (loss / AdamW's per program) and writes the full
result as JSON, recorded with its command and commit in the results folder's MANIFEST.json.
Results and what they say: experiments/landscape/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from programs import ProgramError
from proxy_tasks import get_task
from proxy_tasks.rank import load_programs, rank
from proxy_tasks.suites import suite_spec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # experiments/: the manifest helper
import manifest  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", help="comma-separated registered task names")
    parser.add_argument("programs", help="comma-separated library names or .prog files")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    stage = suite_spec("default").stage("m")
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    try:
        for task in tasks:
            get_task(task)
        programs = load_programs(args.programs.split(","))
    except (KeyError, ValueError, FileNotFoundError, ProgramError) as e:
        print(f"error: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
    result = rank(programs, tasks, seeds=args.seeds, tune_seeds=2, lrs=stage.lrs)
    data = result.to_json()
    for task, row in data["per_task"].items():
        print(f"{task:22s}", "  ".join(f"{p}={x['mean']:.4f}" for p, x in row.items()))
    print(f"{'overall':22s}",
          "  ".join(f"{p}={x['mean']:.4f}" for p, x in data["overall"].items()))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(data, indent=1) + "\n")
        manifest.record(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
