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
    parser.add_argument("--threads", choices=("single", "all"), default="single")
    parser.add_argument("--low", type=float, default=0.3)
    parser.add_argument("--high", type=float, default=300.0)
    args = parser.parse_args()

    if args.threads == "single":
        from proxy_tasks.threads import configure_single_thread

        configure_single_thread()
    from programs import library
    from proxy_tasks import evaluate, get_task

    lo, hi = math.log10(args.low), math.log10(args.high)
    mults = 10.0 ** np.round(np.arange(lo, hi + 1e-9, 0.25), 4)
    programs = [library.load("adamw"), library.load("lion")]
    for name in args.tasks.split(","):
        start = time.perf_counter()
        task = get_task(name)
        # one multiplier per call: on an accelerator a call vmaps all its runs at once, and a
        # large size's runs must fit in memory together
        losses = np.stack([evaluate(task, programs, lrs=[m], seeds=range(args.seeds))
                           .mean_losses[:, 0] for m in mults], axis=1)  # (programs, lrs)
        best = mults[np.argmin(losses, axis=1)]
        middle = 10.0 ** (round(4 * math.log10(math.sqrt(best[0] * best[1]))) / 4)
        edges = ["edge" if b in (mults[0], mults[-1]) else "" for b in best]
        print(f"{name}: adamw best x{best[0]:.3g} ({losses[0].min():.4f}) {edges[0]}  "
              f"lion best x{best[1]:.3g} ({losses[1].min():.4f}) {edges[1]}  "
              f"lr_scale {middle:.3g}   ({time.perf_counter() - start:.0f} s)", flush=True)
        for i, m in enumerate(mults):
            print(f"   x{m:<8.3g} adamw {losses[0, i]:.4f}  lion {losses[1, i]:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
