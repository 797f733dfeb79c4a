"""PNG plots of a search from its log: fitness, cache hit rate, redundancy, funnel counts.

All four share the x axis *evaluations* (trainings), the budget a search spends. Rates (hit rate,
redundancy) are computed over the window between consecutive points from the log's cumulative
counters, so they show the search as it is at that moment, not averaged since the start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    return plt, fig, ax


def _windowed(records: list[dict[str, Any]], num: str, den: str, points: int = 60):
    """(evaluations, rate) with ``num / den`` over about ``points`` windows."""
    if len(records) < 2:
        return np.array([]), np.array([])
    step = max(1, len(records) // points)
    picks = records[::step] + ([records[-1]] if (len(records) - 1) % step else [])
    xs, ys = [], []
    for a, b in zip(picks, picks[1:], strict=False):
        d = b[den] - a[den]
        if d > 0:
            xs.append(b["evaluations"])
            ys.append((b[num] - a[num]) / d)
    return np.array(xs), np.array(ys)


def plot_all(records: list[dict[str, Any]], events: list[dict[str, Any]],
             stage_names: tuple[str, ...], out: Path) -> list[Path]:
    """Write fitness.png, cache.png, redundancy.png and funnel.png into ``out``."""
    if not records:
        return []
    out.mkdir(parents=True, exist_ok=True)
    x = np.array([r["evaluations"] for r in records])
    restarts = [e for e in events if e.get("event") == "restart"]
    restart_x = [_evals_after(records, e["after_batch"]) for e in restarts]
    paths = []

    plt, fig, ax = _figure()
    pop = [r.get("population", {}) for r in records]
    has = [i for i, p in enumerate(pop) if "median_stage0" in p]
    core: list[float] = []  # the values the y range is fitted to
    if has:
        ax.plot(x[has], [pop[i]["median_stage0"] for i in has], label="population median (stage "
                f"{stage_names[0]})", color="tab:gray")
        best0 = [pop[i]["best_stage0"] for i in has]
        ax.plot(x[has], best0, label=f"population best (stage {stage_names[0]})",
                color="tab:blue")
        core += best0
    bests = [(r["evaluations"], r["best"]) for r in records if r.get("best")]
    for stage, name in enumerate(stage_names):
        pts = [(e, b["fitness"]) for e, b in bests if b["stage"] == stage]
        if pts:
            ax.scatter(*zip(*pts, strict=True), s=6, label=f"best so far (stage {name})")
            core += [f for _, f in pts]
    for rx in restart_x:
        ax.axvline(rx, color="tab:red", alpha=0.3, lw=1)
    if core:
        # Failed programs score a huge constant: fit the axis to the good end, where the
        # search happens, and let a median of failures run off the top.
        lo, hi = min(core), max(core)
        pad = 0.1 * (hi - lo) or 0.05 * abs(hi) or 0.1
        ax.set_ylim(lo - pad, hi + 3 * pad)
    ax.set_xlabel("evaluations")
    ax.set_ylabel("fitness (lower is better)")
    ax.set_title("fitness" + (" (red: restarts)" if restart_x else ""))
    ax.legend(fontsize=7)
    paths.append(_save(plt, fig, out / "fitness.png"))

    plt, fig, ax = _figure()
    wx, wy = _windowed(records, "hits", "children")
    ax.plot(wx, 100 * wy, label="children (per window)")
    cum = [100 * r["hits"] / r["children"] if r["children"] else 0.0 for r in records]
    ax.plot(x, cum, label="children (since the start)")
    # The paper's count: every generated program, copies of the parent included.
    generated = [{**r, "free": r["hits"] + r["unchanged"], "made": r["children"] + r["unchanged"]}
                 for r in records]
    wx, wy = _windowed(generated, "free", "made")
    ax.plot(wx, 100 * wy, label="all generated, parent copies included (per window)", ls="--")
    ax.set_ylim(0, 100)
    ax.set_xlabel("evaluations")
    ax.set_ylabel("children scored from the cache (%)")
    ax.set_title("cache hit rate")
    ax.legend(fontsize=7)
    paths.append(_save(plt, fig, out / "cache.png"))

    plt, fig, ax = _figure()
    wx, wy = _windowed(records, "redundancy_sum", "children")
    ax.plot(wx, 100 * wy)
    ax.set_ylim(0, 100)
    ax.set_xlabel("evaluations")
    ax.set_ylabel("dead statements in children (%)")
    ax.set_title("redundancy")
    paths.append(_save(plt, fig, out / "redundancy.png"))

    plt, fig, ax = _figure()
    by_stage = np.array([r["by_stage"] for r in records])
    for stage, name in enumerate(stage_names):
        ax.plot(x, by_stage[:, stage], label=f"evaluations on stage {name}")
    ax.set_xlabel("evaluations")
    ax.set_ylabel("count")
    ax.set_yscale("symlog", linthresh=10)
    ax.set_title("funnel")
    ax.legend(fontsize=7)
    paths.append(_save(plt, fig, out / "funnel.png"))
    return paths


def _evals_after(records: list[dict[str, Any]], batch: int) -> int:
    for r in records:
        if r["batch"] >= batch:
            return r["evaluations"]
    return records[-1]["evaluations"]


def _save(plt, fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
