"""From which model size on is Lion the optimum here? Rank optimizers on ``pylm`` across sizes.

    python experiments/scale/study.py [--sizes xs,s] [--programs a.prog,...] [--seeds N]
                                      [--out DIR] [--layout runs|vmap] [--threads single|all]

For each size of the ``pylm`` family (a byte-level transformer on Python's standard library,
:mod:`proxy_tasks.tasks.pylm`) and each optimizer (AdamW, Lion with b 0.9/0.99 and 0.95/0.98,
AdamW-split, Signum 0.99, and any ``--programs``):

1. **Tune** the learning rate and the weight decay on separate tuning seeds: every decay of
   :data:`DECAYS` (a decade apart; a program's decay is replaced through its structure,
   :mod:`decay`) gets the coarse-to-fine lr policy (:func:`tuning_policy`); a best decay on the
   grid's edge walks a decade further while the loss improves (:func:`tune_decays`); the
   decay and lr with the lowest tuning loss win.
2. **Evaluate** each optimizer at its chosen decay and lr on ``--seeds`` evaluation seeds, the
   same for every optimizer (paired: same initial weights and data order).
3. **Compare**: each seed's validation loss over AdamW's on that seed; the mean of those
   ratios, and a paired t-test of the losses against AdamW's.

All training goes through :func:`proxy_tasks.evaluate` (the search's own engine; one call per
size and phase, so that on an accelerator programs share compiled, vmapped calls). Prints one
line per size and optimizer as it goes and writes, under ``--out`` (default
``experiments/scale/results/<device>``): ``manifest.json`` (command, commit, date, machine and
jax device), ``results.json`` (every number, rewritten after each size), ``table.md`` and
``scale.png`` (each optimizer's loss relative to AdamW's against the parameter count).

Sizes default to those a CPU trains in minutes (``xs``, ``s``) on a CPU and to every size on an
accelerator. Bad input (an unknown size, a program file that does not parse) gets one line and
exit status 2.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
FAMILY = "pylm"
CPU_SIZES = ("xs", "s")
DECAYS = (0.01, 0.1, 1.0, 10.0)
"""Weight decays tried for every optimizer, a decade apart: the library's AdamW has 0.01 and
Lion 0.1; the research note found 0.1 best for AdamW and 10 for Lion on this kind of model."""
DECAY_EXTEND = 2
"""Decades a decay search walks past its grid's edge while the tuning loss improves."""
TUNE_SEED_BASE = 1000


@dataclass(frozen=True)
class Optimizer:
    """A program and the decays its tuning tries."""

    name: str
    program: Any
    decays: tuple[float, ...]
    source: str


def builtin_optimizers() -> list[Optimizer]:
    """The study's optimizers: the library's AdamW and Lion, Lion with the Lion paper's
    language-model betas, AdamW with Lion's split momentum, Signum with Lion's slow beta."""
    from programs import canonical, library

    return [
        Optimizer("adamw", library.load("adamw"), DECAYS, "library adamw"),
        Optimizer("lion", library.load("lion"), DECAYS, "library lion (b1 0.9, b2 0.99)"),
        Optimizer("lion_95_98", canonical("lion", {"b1": 0.95, "b2": 0.98, "weight_decay": 0.1,
                                                   "lr_scale": 1e-4}),
                  DECAYS, "lion with b1 0.95, b2 0.98"),
        Optimizer("adamw_split", canonical("adamw_split", {
            "b1": 0.9, "b2": 0.99, "b3": 0.999, "weight_decay": 0.01, "lr_scale": 1e-3}),
                  DECAYS, "Adam normalisation of interp(g, m, 0.9), m = interp(g, m, 0.99)"),
        Optimizer("signum_99", canonical("signum", {"b": 0.99, "lr_scale": 1e-4}),
                  DECAYS, "signum with b 0.99"),
    ]


def user_optimizer(name: str, program: Any, spec: str) -> Optimizer:
    """A program given on the command line: tuned over :data:`DECAYS` when it has a decay to
    replace (:func:`decay.weight_decay_of`), else trained as it is."""
    from decay import weight_decay_of

    if weight_decay_of(program) is None:
        return Optimizer(name, program, (), f"{spec} (no decay to tune)")
    return Optimizer(name, program, DECAYS, spec)


# --- running ------------------------------------------------------------------------------------


def tuning_policy():
    from proxy_tasks.lr_policy import CoarseToFine, Grid

    return CoarseToFine(coarse=Grid.around(1.0, 0.5), fine_step=0.25, fine_points=3,
                        coarse_seeds=1, extend=2)


def lr_at_edge(tuned: Any, i: int, extend: int) -> bool:
    """Whether program ``i``'s best lr may lie beyond what tuning tried: it is the outer end of
    the fine grid, centred where the walk past the coarse grid's edge stopped for its step
    limit (``extend``) rather than for a worse loss."""
    fine, coarse = tuned.lrs[i], tuned.coarse.lrs[i]
    best, centre = tuned.best_lr[i], float(np.median(fine))
    up, down = coarse[-1] / coarse[-2], coarse[0] / coarse[1]
    limit_up, limit_down = coarse.max() * up**extend, coarse.min() * down**extend
    return bool((best == fine.max() and centre >= limit_up * (1 - 1e-6))
                or (best == fine.min() and centre <= limit_down * (1 + 1e-6)))


Pair = tuple[Optimizer, float | None]


def tune_decays(optimizers: list[Optimizer], tune: Callable[[list[Pair]], list[dict]],
                extend: int = DECAY_EXTEND) -> dict[str, dict[str, Any]]:
    """Tune every optimizer over its decays, walking past the grid's edge.

    ``tune(pairs)`` tunes the lr of each ``(optimizer, decay)`` pair (``None``: the program as
    it is) and returns one entry per pair with its ``tune_loss``. When an optimizer's best decay
    is the first or last of its grid, the next decade beyond is tuned too, at most ``extend``
    times, while the loss improves (as the lr policy walks past its grid's edge). Returns, per
    optimizer, every entry (``tuning``), the best (``best``) and whether the walk stopped while
    still improving (``decay_at_edge``: the optimum may lie further out)."""
    tried: dict[str, list[dict]] = {o.name: [] for o in optimizers}

    def best(o: Optimizer) -> dict:
        return min(tried[o.name], key=lambda e: e["tune_loss"])

    pairs: list[Pair] = [(o, wd) for o in optimizers for wd in (o.decays or (None,))]
    for (o, _), entry in zip(pairs, tune(pairs), strict=True):
        tried[o.name].append(entry)
    direction = {}
    for o in optimizers:
        wd = best(o)["weight_decay"]
        direction[o.name] = 0 if len(o.decays) < 2 else (
            1 if wd == max(o.decays) else -1 if wd == min(o.decays) else 0)
    for _ in range(extend):
        moving = [o for o in optimizers if direction[o.name]]
        if not moving:
            break
        pairs = [(o, best(o)["weight_decay"] * 10.0 ** direction[o.name]) for o in moving]
        for (o, _), entry in zip(pairs, tune(pairs), strict=True):
            if not entry["tune_loss"] < best(o)["tune_loss"]:
                direction[o.name] = 0
            tried[o.name].append(entry)
    return {o.name: {"tuning": tried[o.name], "best": best(o),
                     "decay_at_edge": bool(direction[o.name])} for o in optimizers}


def run_size(size: str, optimizers: list[Optimizer], seeds: int, tune_seeds: int,
             layout: str | None, start: float) -> dict[str, Any]:
    """Tune, evaluate and compare every optimizer on ``pylm/<size>``."""
    from decay import with_weight_decay
    from scipy import stats

    from proxy_tasks import evaluate, get_task

    task = get_task(f"{FAMILY}/{size}")
    policy = tuning_policy()
    tune_seed_list = [TUNE_SEED_BASE + i for i in range(tune_seeds)]
    programs: dict[tuple[str, float | None], Any] = {}

    def tune(pairs: list[Pair]) -> list[dict]:
        print(f"{task.name}: tuning {len(pairs)} (optimizer, decay) pair(s) on "
              f"{tune_seeds} seed(s) (elapsed {time.perf_counter() - start:.0f} s)", flush=True)
        for o, wd in pairs:
            programs[o.name, wd] = o.program if wd is None else with_weight_decay(o.program, wd)
        tuned = evaluate(task, [programs[o.name, wd] for o, wd in pairs], lrs=policy,
                         seeds=tune_seed_list, layout=layout)
        return [{"weight_decay": wd, "lr": float(tuned.best_lr[i]),
                 "tune_loss": float(tuned.best_loss[i]), "seconds": float(tuned.seconds[i]),
                 "lr_at_edge": lr_at_edge(tuned, i, policy.extend)}
                for i, (_, wd) in enumerate(pairs)]

    print(f"{task.name}: {task.n_params:,} params, {task.budget.steps} steps x "
          f"{task.budget.batch_size} x {task.context} bytes", flush=True)
    chosen = tune_decays(optimizers, tune)
    picks = []
    for opt in optimizers:
        row = chosen[opt.name]
        best = row.pop("best")
        row.update(weight_decay=best["weight_decay"], lr=best["lr"], tune_loss=best["tune_loss"],
                   lr_at_edge=best["lr_at_edge"],
                   seconds=sum(e["seconds"] for e in row["tuning"]))
        picks.append(programs[opt.name, best["weight_decay"]])
    eval_seeds = list(range(seeds))
    final = evaluate(task, picks, lrs=np.array([[chosen[o.name]["lr"]] for o in optimizers]),
                     seeds=eval_seeds, layout=layout)
    losses = final.losses[:, 0, :].astype(np.float64)  # (optimizers, seeds)
    base = losses[0]
    for k, opt in enumerate(optimizers):
        row = chosen[opt.name]
        ratios = losses[k] / base
        p = None
        if k and seeds > 1 and not np.all(losses[k] == base):
            p = float(stats.ttest_rel(losses[k], base).pvalue)
        row.update(losses=losses[k].tolist(), loss=float(losses[k].mean()),
                   ratios=ratios.tolist(), ratio=float(ratios.mean()),
                   ratio_sem=float(ratios.std(ddof=1) / math.sqrt(seeds)) if seeds > 1 else 0.0,
                   p=p, failed=bool(final.failed_runs[k].any()),
                   seconds=row["seconds"] + float(final.seconds[k]))
        flags = "".join(f for f, on in ((" lr-edge", row["lr_at_edge"]),
                                        (" decay-edge", row["decay_at_edge"]),
                                        (" FAILED", row["failed"])) if on)
        wd = "as is" if row["weight_decay"] is None else f"{row['weight_decay']:g}"
        versus = "baseline" if k == 0 else f"{row['ratio']:.4f} x adamw" + (
            f" (p {p:.2g})" if p is not None else "")
        print(f"  {task.name:8s} {opt.name:12s} wd {wd:>5s}  lr x{row['lr']:<7.3g} loss "
              f"{row['loss']:.4f}  {versus}{flags}  ({row['seconds']:.0f} s; elapsed "
              f"{time.perf_counter() - start:.0f} s)", flush=True)
    return {"task": task.name, "params": task.n_params, "description": task.description,
            "corpus": task.corpus.summary(), "steps": task.budget.steps,
            "batch": task.budget.batch_size, "context": task.context,
            "lr_scale": task.lr_scale, "eval_seeds": eval_seeds, "tune_seeds": tune_seed_list,
            "optimizers": chosen}


# --- writing ------------------------------------------------------------------------------------


def git_commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True, check=True).stdout
        return head + ("+uncommitted changes" if dirty.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_table(results: dict[str, Any], names: list[str], path: Path) -> None:
    lines = [
        f"Validation loss (nats/byte) relative to AdamW's on the same seed, mean over "
        f"{results['seeds']} evaluation seeds; lr and weight decay tuned per optimizer on "
        f"{results['tune_seeds']} separate seed(s). Device: {results['device']}.",
        "",
        "| size | params | bytes seen | " + " | ".join(names) + " |",
        "|---|---|---|" + "---|" * len(names),
    ]
    for size, r in results["sizes"].items():
        cells = []
        for name in names:
            o = r["optimizers"][name]
            wd = "-" if o["weight_decay"] is None else f"{o['weight_decay']:g}"
            mark = ("*" if o["lr_at_edge"] else "") + ("†" if o["decay_at_edge"] else "")
            if name == names[0]:
                head = f"**{o['loss']:.4f}**"
            else:
                head = f"{o['ratio']:.3f}" + (f" (p {o['p']:.2g})" if o["p"] is not None else "")
            cells.append(f"{head}{mark}<br>lr x{o['lr']:.3g}, wd {wd}")
        seen = r["steps"] * r["batch"] * r["context"]
        lines.append(f"| {size} | {r['params']:,} | {seen:,} | " + " | ".join(cells) + " |")
    lines += ["", f"{names[0]}: its loss; others: loss / {names[0]}'s (below 1: better). "
              "`*`: best lr at the end of the fine grid where the lr walk stopped for its step "
              "limit; `†`: best "
              "decay still improving where the walk past the decay grid stopped (that "
              "optimizer might do better beyond either)."]
    path.write_text("\n".join(lines) + "\n")


def write_plot(results: dict[str, Any], names: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    sizes = list(results["sizes"])
    params = [results["sizes"][s]["params"] for s in sizes]
    ax.axhline(1.0, color="black", lw=1, label=f"{names[0]} (reference)")
    for name in names[1:]:
        ys = [results["sizes"][s]["optimizers"][name]["ratio"] for s in sizes]
        err = [results["sizes"][s]["optimizers"][name]["ratio_sem"] for s in sizes]
        ax.errorbar(params, ys, yerr=err, marker="o", capsize=3, label=name)
    for s, x in zip(sizes, params, strict=True):
        ax.annotate(s, (x, 0.02), xycoords=ax.get_xaxis_transform(), ha="center",
                    fontsize=8, color="gray")
    ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel(f"validation loss / {names[0]}'s (same seed)")
    ax.set_title(f"{FAMILY}: lr and decay tuned per optimizer ({results['device']})",
                 fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --- the command --------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", help="comma-separated pylm sizes (default: xs,s on a CPU, "
                                        "every size on an accelerator)")
    parser.add_argument("--programs", default="",
                        help="comma-separated .prog files or library names to add")
    parser.add_argument("--seeds", type=int, default=5, help="evaluation seeds (default 5)")
    parser.add_argument("--tune-seeds", type=int, default=1,
                        help="tuning seeds, separate from the evaluation seeds (default 1)")
    parser.add_argument("--out", type=Path,
                        help="results folder (default experiments/scale/results/<device>)")
    parser.add_argument("--layout", choices=("runs", "vmap"),
                        help="the engine's layout (default: vmap on an accelerator, runs on CPU)")
    parser.add_argument("--threads", choices=("single", "all"), default="single",
                        help="XLA CPU threads: one (default; leaves the other cores to other "
                             "work) or all")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads == "single":
        from proxy_tasks.threads import configure_single_thread

        configure_single_thread()
    sys.path.insert(0, str(HERE))  # decay.py beside this script
    sys.path.insert(0, str(HERE.parent))  # experiments/manifest.py
    from manifest import record

    from programs import ProgramError
    from proxy_tasks import device_info, device_summary
    from proxy_tasks.device import device_slug
    from proxy_tasks.rank import load_programs
    from proxy_tasks.tasks.pylm import SIZES

    if args.seeds < 1 or args.tune_seeds < 1:
        print("study.py: --seeds and --tune-seeds must be at least 1", file=sys.stderr)
        return 2
    try:
        optimizers = builtin_optimizers()
        taken = {o.name for o in optimizers}
        if args.programs.strip():
            for name, program in load_programs(args.programs.split(",")).items():
                if name in taken:
                    raise ValueError(f"--programs: {name!r} is already one of the study's "
                                     "optimizers; rename the file")
                optimizers.append(user_optimizer(name, program, name))
                taken.add(name)
    except (ValueError, FileNotFoundError, ProgramError) as e:
        print(f"study.py: {e}", file=sys.stderr)
        return 2
    info = device_info(args.layout, in_process=True)
    sizes = [s.strip() for s in args.sizes.split(",")] if args.sizes else (
        list(CPU_SIZES) if info["backend"] == "cpu" else list(SIZES))
    unknown = [s for s in sizes if s not in SIZES]
    if unknown or not sizes:
        print(f"study.py: unknown size(s) {unknown}; pylm has {', '.join(SIZES)}",
              file=sys.stderr)
        return 2
    out = args.out or HERE / "results" / device_slug(info)
    out.mkdir(parents=True, exist_ok=True)
    summary = device_summary(info=info)
    print(summary, flush=True)
    threads = "1 XLA thread" if args.threads == "single" else "all threads"
    device = info["device_kind"] if info["backend"] != "cpu" else \
        f"CPU ({info['cpus']} cores, {threads})"
    manifest = {
        "command": " ".join(["python", "experiments/scale/study.py", *(argv or sys.argv[1:])]),
        "commit": git_commit(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {**info, "platform": platform.platform(), "summary": summary,
                    "load_average_start": os.getloadavg()},
        "sizes": sizes, "seeds": args.seeds, "tune_seeds": args.tune_seeds,
        "tuning_policy": repr(tuning_policy()),
        "optimizers": {o.name: {"source": o.source, "decays": list(o.decays),
                                "program": str(o.program)} for o in optimizers},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    results: dict[str, Any] = {"device": device, "seeds": args.seeds,
                               "tune_seeds": args.tune_seeds, "sizes": {}}
    names = [o.name for o in optimizers]
    start = time.perf_counter()
    for size in sizes:
        results["sizes"][size] = run_size(size, optimizers, args.seeds, args.tune_seeds,
                                          args.layout, start)
        (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        write_table(results, names, out / "table.md")
    write_plot(results, names, out / "scale.png")
    manifest["seconds"] = time.perf_counter() - start
    manifest["machine"]["load_average_end"] = os.getloadavg()
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    for name in ("manifest.json", "results.json", "table.md", "scale.png"):
        if (out / name).exists():
            record(out / name)  # the study folder's MANIFEST.json, as every study keeps
    print(f"wrote {out}/ (manifest.json, results.json, table.md, scale.png) in "
          f"{manifest['seconds']:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
