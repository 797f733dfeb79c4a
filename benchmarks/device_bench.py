"""The engine's training throughput on whatever device jax has: runs per second, per task and
layout, in one table.

    python benchmarks/device_bench.py [--tasks wide/m,charlm/m,...] [--layouts runs,vmap]
                                      [--steps N] [--out benchmarks/results/device_<device>.json]

A *run* is one program trained at one learning rate from one seed, the unit of every search
and ranking (:mod:`proxy_tasks.training`). Each cell trains programs of one structure (Lion
with perturbed constants: one compile per task and layout, as in a search's steady state)
through :func:`proxy_tasks.training.train_runs`, compiled before the timing; the table gives
runs/s of the full task, compile excluded, next to the research note's H200 figures.

Workloads: on an accelerator, the research note's (``vmap``: 16 programs per call x 9 lrs x 2
seeds = 288 runs; ``runs``: one program x 9 lrs x 2 seeds, since that layout is slow there);
on a CPU, two runs per cell, of the full task when they take under 20 s and otherwise of
``--steps`` steps each (default 20 on a CPU, the full task on an accelerator). A shortened
run's runs/s is its run-steps per second over the task's steps (per-run costs such as the
validation loss then weigh a little more, so this slightly understates runs/s). Prints the
device and the default layout first, then a line per cell, then the table; writes JSON with the
command, commit, date and machine, and the table as Markdown beside it.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TASKS = "wide/m,charlm/m,transformer/m,transformer/l,pylm/s,pylm/m"
H200_VMAP = {"wide/m": 255.0, "charlm/m": 335.0, "transformer/m": 99.0, "transformer/l": 28.0}
"""Runs/s in the ``vmap`` layout on one H200 (docs of the research note on scale: 9 lrs x 2
seeds per program, 16 or 64 programs per call). The ``runs`` layout there gave under 6 runs/s
on ``wide/m``."""


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", default=DEFAULT_TASKS, help="default %(default)s")
    p.add_argument("--layouts", default="runs,vmap", help="default %(default)s")
    p.add_argument("--steps", type=int,
                   help="train only this many steps of each run (default: 20 on a CPU, all on "
                        "an accelerator; 0: all)")
    p.add_argument("--threads", choices=("single", "all"), default="single",
                   help="XLA CPU threads (default: one, as the search's workers use)")
    p.add_argument("--out", type=Path, help="JSON path (default "
                                            "benchmarks/results/device_<device>.json)")
    return p.parse_args(argv)


def lion_variants(n: int, seed: int = 0) -> list[Any]:
    """``n`` Lions with perturbed betas and decay: one structure, different constants."""
    import numpy as np

    from programs import canonical

    rng = np.random.default_rng(seed)
    return [canonical("lion", {"b1": float(rng.uniform(0.8, 0.95)),
                               "b2": float(rng.uniform(0.95, 0.995)),
                               "weight_decay": float(10 ** rng.uniform(-2, 0)),
                               "lr_scale": 1e-4}) for _ in range(n)]


def workload(layout: str, accelerator: bool) -> tuple[int, int, int]:
    """(programs, lrs, seeds) per cell; in the vmap layout all programs go in one call."""
    if accelerator:
        return (16, 9, 2) if layout == "vmap" else (1, 9, 2)
    return (2, 1, 1) if layout == "vmap" else (1, 2, 1)


def shortened(task: Any, steps: int) -> Any:
    """The same task (model, data, batch) trained for ``steps`` steps: a copy whose budget is
    shorter (its data are built first, so that the copy shares them)."""
    from proxy_tasks import Budget

    if not steps or steps >= task.budget.steps:
        return task
    task.data  # noqa: B018 - build once, shared by the copy
    short = copy.copy(task)
    b = task.budget
    short.budget = Budget(steps, b.batch_size, b.schedule, b.warmup)
    return short


def _time(task: Any, layout: str, encoded: list, mults: Any, seeds: list[int],
          min_s: float = 2.0) -> tuple:
    """Compile, warm up (per-seed arrays, first dispatch), then time calls of every run (as
    many as fill ``min_s``); returns seconds per call, compile seconds, all finite."""
    from proxy_tasks.training import compiled_run, train_runs

    n_prog, n_runs = mults.shape[0], mults.shape[1] * len(seeds)
    batch = (n_prog, n_runs) if layout == "vmap" else (1, 1)
    compiled = compiled_run(task, encoded[0].capacity(), layout, batch)
    train_runs(task, encoded, mults, seeds, layout=layout, programs_per_call=n_prog)
    calls, start = 0, time.perf_counter()
    while not calls or time.perf_counter() - start < min_s:  # short calls: repeat them
        _, ok, _ = train_runs(task, encoded, mults, seeds, layout=layout,
                              programs_per_call=n_prog)
        calls += 1
    return (time.perf_counter() - start) / calls, compiled.seconds, bool(ok.all())


def measure(name: str, layout: str, steps: int, accelerator: bool,
            full_below_s: float = 20.0) -> dict[str, Any]:
    """Runs/s of ``name`` in ``layout``. With ``steps``, a shortened copy is timed first; when
    the whole workload at full length would take under ``full_below_s``, the full task is
    timed instead (its per-run costs, such as the validation loss, then weigh as they do)."""
    import numpy as np

    from proxy_tasks import get_task
    from proxy_tasks.encoding import encode_batch

    task = get_task(name)
    n_prog, n_lrs, n_seeds = workload(layout, accelerator)
    encoded = encode_batch(lion_variants(n_prog))
    mults = np.broadcast_to(task.lr_scale * np.geomspace(0.3, 3.0, n_lrs), (n_prog, n_lrs))
    seeds = list(range(n_seeds))
    timed = shortened(task, steps)
    seconds, compile_s, finite = _time(timed, layout, encoded, mults, seeds)
    if timed is not task and seconds * task.budget.steps / timed.budget.steps < full_below_s:
        timed = task
        seconds, compile_s, finite = _time(task, layout, encoded, mults, seeds)
    runs = n_prog * n_lrs * n_seeds
    run_steps_per_s = runs * timed.budget.steps / seconds
    return {"task": name, "params": task.n_params, "layout": layout, "programs": n_prog,
            "lrs": n_lrs, "seeds": n_seeds, "runs": runs, "steps_timed": timed.budget.steps,
            "task_steps": task.budget.steps, "seconds": seconds, "compile_s": compile_s,
            "run_steps_per_s": run_steps_per_s, "runs_per_s": run_steps_per_s / task.budget.steps,
            "all_finite": finite, "h200_vmap_runs_per_s": H200_VMAP.get(name)}


def table(rows: list[dict[str, Any]], device: str) -> str:
    lines = [f"runs/s on {device} (compile excluded; one run = one program x one lr x one seed "
             "over the task's full steps)", "",
             "| task | params | layout | runs/s | runs timed | steps timed | compile s "
             "| H200 vmap runs/s |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ref = "" if r["h200_vmap_runs_per_s"] is None else f"{r['h200_vmap_runs_per_s']:g}"
        steps = f"{r['steps_timed']} of {r['task_steps']}"
        lines.append(f"| {r['task']} | {r['params']:,} | {r['layout']} | {r['runs_per_s']:.3g} "
                     f"| {r['runs']} | {steps} | {r['compile_s']:.1f} | {ref} |")
    return "\n".join(lines)


def _commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True, check=True).stdout
        return head + ("+uncommitted changes" if dirty.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.threads == "single":
        from proxy_tasks.threads import configure_single_thread

        configure_single_thread()
    from proxy_tasks import device_info, device_summary, get_task
    from proxy_tasks.device import device_slug
    from proxy_tasks.training import LAYOUTS

    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    layouts = [x.strip() for x in args.layouts.split(",") if x.strip()]
    try:
        for t in tasks:
            get_task(t)
        bad = [x for x in layouts if x not in LAYOUTS]
        if bad:
            raise ValueError(f"unknown layout(s) {bad}; choose from {', '.join(LAYOUTS)}")
    except (KeyError, ValueError) as e:
        print(f"device_bench.py: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
    commit = _commit()  # before anything runs: the code that measured
    info = device_info(in_process=True)
    print(device_summary(info=info), flush=True)
    accelerator = info["backend"] != "cpu"
    steps = args.steps if args.steps is not None else (0 if accelerator else 20)
    if not steps:
        steps = 10**9  # the full task
    device = info["device_kind"] if accelerator else f"CPU ({info['cpus']} cores, " + (
        "1 XLA thread)" if args.threads == "single" else "all threads)")
    rows = []
    for name in tasks:
        for layout in layouts:
            row = measure(name, layout, steps, accelerator)
            rows.append(row)
            print(f"  {name:14s} {layout:5s} {row['runs_per_s']:9.3g} runs/s  ({row['runs']} "
                  f"runs of {row['steps_timed']} steps in {row['seconds']:.1f} s; compile "
                  f"{row['compile_s']:.1f} s)", flush=True)
    text = table(rows, device)
    print()
    print(text)
    out = args.out or ROOT / "benchmarks" / "results" / f"device_{device_slug(info)}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "command": " ".join(["python", "benchmarks/device_bench.py",
                             *(sys.argv[1:] if argv is None else argv)]),
        "commit": commit,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {**info, "platform": platform.platform(), "device": device,
                    "load_average": os.getloadavg()},
        "rows": rows, "table": text,
    }, indent=2) + "\n")
    out.with_suffix(".md").write_text(text + "\n")
    print(f"wrote {out} and {out.with_suffix('.md').name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
