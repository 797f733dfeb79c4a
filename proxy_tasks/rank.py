"""Rank programs on a set of tasks: what does a proxy suite reward, before hours of search?

Protocol (the research note's): each program's learning rate is tuned per task on *tuning*
seeds, then the program is trained at that lr on fresh *evaluation* seeds, the same seeds for
every program, so that differences are paired (same seed = same initial weights and data
order). Per task: mean and std over seeds, the chosen lr, and a paired t-test against a
baseline. Overall: each seed's mean over tasks of loss / the baseline's mean loss on that task
(so the baseline is about 1 and lower is better), with the same paired test.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from programs import library
from programs.program import Program, ProgramError
from proxy_tasks.lr_policy import DEFAULT_POLICY, LrPolicy

TUNE_SEED_BASE = 1000
"""Tuning seeds are 1000, 1001, ...; evaluation seeds 0, 1, ...: never the same runs."""


@dataclass(frozen=True)
class Entry:
    """One program on one task (or overall): losses per evaluation seed and their summary."""

    mean: float
    std: float
    losses: list[float]
    best_lr: float | None
    diff: float | None  # mean paired difference to the baseline (negative: better)
    t: float | None
    p: float | None
    failed: bool = False


@dataclass(frozen=True)
class RankResult:
    tasks: list[str]
    programs: list[str]
    baseline: str
    seeds: list[int]
    tune_seeds: list[int]
    per_task: dict[str, dict[str, Entry]]
    overall: dict[str, Entry]
    seconds: float
    weights: list[float] | None = None

    @property
    def ranking(self) -> list[str]:
        """Programs by overall mean, best first."""
        return sorted(self.programs, key=lambda name: self.overall[name].mean)

    def aggregate(self, weights: Sequence[float]) -> dict[str, float]:
        """Each program's overall mean under other task weights (same runs, no retraining)."""
        w = np.asarray(weights, np.float64)
        if w.shape != (len(self.tasks),) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(f"need {len(self.tasks)} non-negative weights, got {weights}")
        w = w / w.sum()
        base = {t: np.mean(self.per_task[t][self.baseline].losses) for t in self.tasks}
        return {
            name: float(sum(wk * np.mean(self.per_task[t][name].losses) / base[t]
                            for wk, t in zip(w, self.tasks, strict=True)))
            for name in self.programs
        }

    def weight_sensitivity(self, change: float = 0.2) -> list[dict[str, Any]]:
        """Who ranks first when one task's weight moves by +-``change`` (relative)."""
        base = np.asarray(self.weights or [1.0] * len(self.tasks), np.float64)
        rows = []
        for k, task in enumerate(self.tasks):
            for factor in (1.0 - change, 1.0 + change):
                w = base.copy()
                w[k] *= factor
                means = self.aggregate(w)
                order = sorted(means, key=means.get)
                rows.append({"task": task, "factor": factor, "first": order[0],
                             "margin": means[order[1]] - means[order[0]]})
        return rows

    def to_json(self) -> dict[str, Any]:
        def clean(x: Any) -> Any:
            if isinstance(x, float) and not math.isfinite(x):
                return None
            if isinstance(x, dict):
                return {k: clean(v) for k, v in x.items()}
            if isinstance(x, list):
                return [clean(v) for v in x]
            return x

        return clean({
            "tasks": self.tasks,
            "programs": self.programs,
            "baseline": self.baseline,
            "seeds": self.seeds,
            "tune_seeds": self.tune_seeds,
            "ranking": self.ranking,
            "per_task": {t: {p: asdict(e) for p, e in es.items()}
                         for t, es in self.per_task.items()},
            "overall": {p: asdict(e) for p, e in self.overall.items()},
            "weights": self.weights,
            "weight_sensitivity": self.weight_sensitivity(),
            "seconds": self.seconds,
        })

    def table(self) -> str:
        """The result as text: one block per task, then overall, programs best first."""
        lines = []
        for title, entries, is_ratio in (
            *((t, self.per_task[t], False) for t in self.tasks),
            ("overall (loss / baseline's, weighted mean over tasks)", self.overall, True),
        ):
            lines.append(f"{title}")
            lines.append(f"  {'program':<16} {'mean':>8} {'std':>7} {'best lr':>8} "
                         f"{'vs ' + self.baseline:>14} {'p':>8}")
            for name in sorted(entries, key=lambda n: entries[n].mean):
                e = entries[name]
                lr = "" if e.best_lr is None else f"{e.best_lr:8.3g}"
                if name == self.baseline or e.diff is None:
                    versus, p = "baseline" if name == self.baseline else "", ""
                else:
                    scale = 100.0 if is_ratio else 1.0
                    unit = " %" if is_ratio else ""
                    versus = f"{e.diff * scale:+.4f}{unit}"
                    p = "" if e.p is None or not math.isfinite(e.p) else f"{e.p:.2g}"
                flag = "  FAILED" if e.failed else ""
                lines.append(f"  {name:<16} {e.mean:8.4f} {e.std:7.4f} {lr:>8} {versus:>14} "
                             f"{p:>8}{flag}")
            lines.append("")
        lines.append("ranking: " + " < ".join(self.ranking) + f"   ({self.seconds:.1f} s)")
        if len(self.tasks) > 1:
            rows = self.weight_sensitivity()
            firsts = sorted({r["first"] for r in rows})
            margin = min(r["margin"] for r in rows)
            lines.append(f"first when any one task's weight moves by 20 %: {', '.join(firsts)} "
                         f"(smallest lead {100 * margin:.2f} %)")
        return "\n".join(lines)


def load_programs(specs: Sequence[str]) -> dict[str, Program]:
    """Library names or program files, by name (a file's name is its stem). Errors name the
    file and line (files) or the known names (library)."""
    out: dict[str, Program] = {}
    for spec in specs:
        spec = spec.strip()
        if not spec:
            continue
        try:
            program = library.resolve(spec)
        except LookupError as e:
            raise ProgramError(e.args[0]) from None
        name = Path(spec).stem
        if name in out:
            raise ValueError(f"two programs are called {name!r}; rename a file")
        out[name] = program
    if not out:
        raise ValueError("no programs to rank")
    return out


def _paired(xs: np.ndarray, base: np.ndarray) -> tuple[float, float | None, float | None]:
    from scipy import stats

    diff = xs - base
    if len(diff) < 2 or np.all(diff == diff[0]):
        return float(diff.mean()), None, None
    res = stats.ttest_rel(xs, base)
    return float(diff.mean()), float(res.statistic), float(res.pvalue)


def rank(
    programs: Mapping[str, Program],
    tasks: Sequence[str],
    seeds: int = 5,
    tune_seeds: int = 2,
    lrs: LrPolicy | Sequence[float] | None = None,
    baseline: str = "adamw",
    progress: Callable[[str], None] | None = None,
    weights: Sequence[float] | None = None,
    first_seed: int = 0,
) -> RankResult:
    """Tune, evaluate and compare (see the module docstring). The baseline is added from the
    library if it is not among ``programs``. ``tune_seeds=0`` tunes on the evaluation seeds
    themselves (cheaper, and biased in favour of every program alike). ``weights``: the tasks'
    weights in the overall mean (a suite stage's; default equal). Evaluation seeds are
    ``first_seed, first_seed + 1, ...``: another ``first_seed`` repeats the ranking on fresh
    seeds."""
    from proxy_tasks.evaluation import evaluate

    if seeds < 1 or tune_seeds < 0:
        raise ValueError(f"need seeds >= 1 and tune_seeds >= 0, got {seeds}, {tune_seeds}")
    if not tasks:
        raise ValueError("no tasks to rank on")
    programs = dict(programs)
    if baseline not in programs:
        programs[baseline] = load_programs([baseline])[baseline]
    names = list(programs)
    progs = [programs[n] for n in names]
    if weights is not None and (len(weights) != len(tasks) or min(weights) < 0
                                or sum(weights) <= 0):
        raise ValueError(f"need one non-negative weight per task, got {weights} for {tasks}")
    if not 0 <= first_seed < TUNE_SEED_BASE - seeds:
        raise ValueError(f"first_seed must be in [0, {TUNE_SEED_BASE - seeds}), got {first_seed}")
    eval_seeds = list(range(first_seed, first_seed + seeds))
    tuning = [TUNE_SEED_BASE + i for i in range(tune_seeds)]
    policy = DEFAULT_POLICY if lrs is None else lrs
    start = time.perf_counter()
    per_task: dict[str, dict[str, Entry]] = {}
    losses: dict[str, np.ndarray] = {}
    for task in tasks:
        t0 = time.perf_counter()
        if tuning:
            tuned = evaluate(task, progs, lrs=policy, seeds=tuning)
            chosen = evaluate(task, progs, lrs=tuned.best_lr[:, None], seeds=eval_seeds)
        else:
            chosen = tuned = evaluate(task, progs, lrs=policy, seeds=eval_seeds)
        seed_losses = chosen.best_seed_losses.astype(np.float64)  # (programs, seeds)
        losses[task] = seed_losses
        base = seed_losses[names.index(baseline)]
        entries = {}
        for i, name in enumerate(names):
            diff, t, p = _paired(seed_losses[i], base)
            entries[name] = Entry(
                mean=float(seed_losses[i].mean()), std=float(seed_losses[i].std(ddof=1))
                if seeds > 1 else 0.0, losses=seed_losses[i].tolist(),
                best_lr=float(tuned.best_lr[i]), diff=None if name == baseline else diff,
                t=t, p=p, failed=bool(chosen.failed_runs[i].any()))
        per_task[task] = entries
        if progress:
            progress(f"{task}: {len(names)} programs, {time.perf_counter() - t0:.1f} s")
    base_means = {t: losses[t][names.index(baseline)].mean() for t in tasks}
    w = np.ones(len(tasks)) if weights is None else np.asarray(weights, np.float64)
    w = w / w.sum()
    ratios = sum(wk * losses[t] / base_means[t]  # (programs, seeds)
                 for wk, t in zip(w, tasks, strict=True))
    overall = {}
    for i, name in enumerate(names):
        diff, t, p = _paired(ratios[i], ratios[names.index(baseline)])
        overall[name] = Entry(
            mean=float(ratios[i].mean()), std=float(ratios[i].std(ddof=1)) if seeds > 1 else 0.0,
            losses=ratios[i].tolist(), best_lr=None, diff=None if name == baseline else diff,
            t=t, p=p, failed=any(per_task[t_][name].failed for t_ in tasks))
    return RankResult(list(tasks), names, baseline, eval_seeds, tuning, per_task, overall,
                      time.perf_counter() - start,
                      None if weights is None else [float(x) for x in weights])
