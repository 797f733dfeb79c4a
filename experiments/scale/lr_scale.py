"""Measure a task's ``lr_scale``: the geometric middle of the library AdamW's and Lion's best
lr multipliers, rounded to a quarter decade (see :attr:`proxy_tasks.task.Task.lr_scale`).

    python experiments/scale/lr_scale.py pylm/xs,pylm/s [--seeds 2] [--low 0.3] [--high 300]

Multipliers are absolute (not relative to the task's current ``lr_scale``), a quarter decade
apart from ``--low`` to ``--high``; mean validation loss over the seeds picks each best.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", help="comma-separated task names")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--low", type=float, default=0.3)
    parser.add_argument("--high", type=float, default=300.0)
    args = parser.parse_args()

    from proxy_tasks.threads import configure_single_thread

    configure_single_thread()
    from programs import library
    from proxy_tasks import evaluate, get_task

    lo, hi = math.log10(args.low), math.log10(args.high)
    mults = 10.0 ** np.round(np.arange(lo, hi + 1e-9, 0.25), 4)
    programs = [library.load("adamw"), library.load("lion")]
    for name in args.tasks.split(","):
        start = time.perf_counter()
        scores = evaluate(get_task(name), programs, lrs=mults, seeds=range(args.seeds))
        best = scores.best_lr
        middle = 10.0 ** (round(4 * math.log10(math.sqrt(best[0] * best[1]))) / 4)
        edges = ["edge" if b in (mults[0], mults[-1]) else "" for b in best]
        print(f"{name}: adamw best x{best[0]:.3g} ({scores.best_loss[0]:.4f}) {edges[0]}  "
              f"lion best x{best[1]:.3g} ({scores.best_loss[1]:.4f}) {edges[1]}  "
              f"lr_scale {middle:.3g}   ({time.perf_counter() - start:.0f} s)", flush=True)
        for i, m in enumerate(mults):
            print(f"   x{m:<8.3g} adamw {scores.mean_losses[0, i]:.4f}  "
                  f"lion {scores.mean_losses[1, i]:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
