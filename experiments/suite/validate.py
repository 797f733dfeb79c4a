"""Validate the default proxy suite: does Lion rank first, honestly and robustly?

    python experiments/suite/validate.py [--quick] [--skip-large]

Writes, under experiments/suite/results/ (each file recorded in its MANIFEST.json):
ranking_m.{txt,json} (the fitness stage, every comparison program, paired seeds),
ranking_m_fresh_seeds.{txt,json} (the same on other seeds), ranking_s.{txt,json} (the screen),
ranking_l.{txt,json} (the 10x stage) and summary.json (Lion's paired test against every rival,
first place under +-20 % task weights, the screen's Spearman correlation with the fitness stage,
and the measured cost of one program's evaluation per stage). Every number comes from this
project's own engine (`proxy_tasks`) through the same code as `evosearch rank`.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

import programs
from proxy_tasks import configure_single_thread
from proxy_tasks.rank import load_programs, rank
from proxy_tasks.suites import get_suite, suite_spec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # experiments/: the manifest helper
import manifest  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RESULTS = HERE / "results"
VARIANTS = ROOT / "experiments" / "variants"

COMPARISON = [
    "lion", "adamw", "adam", "signum", str(VARIANTS / "signum_0.99.prog"),
    str(VARIANTS / "lion_b1_eq_b2.prog"), "momentum", "nesterov", "rmsprop", "adagrad",
    "adabelief", "signsgd", "sgd", "powersign", "addsign",
]
"""Every library program, plus Signum .99 and Lion with b1 = b2."""

LARGE = ["lion", "adamw", "signum", str(VARIANTS / "signum_0.99.prog"),
         str(VARIANTS / "lion_b1_eq_b2.prog"), "rmsprop", "adagrad", "momentum"]
"""The rivals that matter at the 10x stage (each costs ~10x to rank)."""


def _rank_stage(stage_name: str, specs: list[str], seeds: int, first_seed: int = 0):
    stage = suite_spec("default").stage(stage_name)
    return rank(load_programs(specs), [t for t, _ in stage.tasks], seeds=seeds, tune_seeds=2,
                lrs=stage.lrs, weights=[w for _, w in stage.tasks], first_seed=first_seed,
                progress=lambda line: print("  " + line, flush=True))


def _write(name: str, result) -> None:
    RESULTS.mkdir(exist_ok=True)
    texts = {".txt": result.table(), ".json": json.dumps(result.to_json(), indent=2)}
    for suffix, text in texts.items():
        (RESULTS / f"{name}{suffix}").write_text(text + "\n")
        manifest.record(RESULTS / f"{name}{suffix}")
    print(result.table(), flush=True)


def _lion_versus(result) -> dict[str, dict[str, float]]:
    lion = np.asarray(result.overall["lion"].losses)
    out = {}
    for name in result.programs:
        if name == "lion":
            continue
        other = np.asarray(result.overall[name].losses)
        out[name] = {"lion_minus_other_percent": float(100 * (lion - other).mean()),
                     "p": float(stats.ttest_rel(lion, other).pvalue)}
    return out


def _cost(stage: int, repeats: int) -> float:
    """Seconds for one program's full evaluation on a stage (all lrs and seeds), after compile."""
    suite = get_suite("default")
    lion = programs.library.load("lion")
    suite.evaluate([lion], stage)  # compile
    start = time.perf_counter()
    for _ in range(repeats):
        suite.evaluate([lion], stage)
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8, help="paired evaluation seeds")
    parser.add_argument("--skip-large", action="store_true", help="skip the 10x stage")
    args = parser.parse_args()
    configure_single_thread()
    summary: dict = {"python": platform.python_version(), "seeds": args.seeds}

    print("== fitness stage m", flush=True)
    m = _rank_stage("m", COMPARISON, args.seeds)
    _write("ranking_m", m)
    print("== fitness stage m, fresh seeds", flush=True)
    fresh = _rank_stage("m", COMPARISON, args.seeds, first_seed=100)
    _write("ranking_m_fresh_seeds", fresh)
    print("== screen s", flush=True)
    screen = _rank_stage("s", COMPARISON, args.seeds)
    _write("ranking_s", screen)
    common = m.programs
    rho = stats.spearmanr([screen.overall[p].mean for p in common],
                          [m.overall[p].mean for p in common]).statistic
    summary.update({
        "ranking_m": m.ranking,
        "ranking_m_fresh_seeds": fresh.ranking,
        "lion_versus_m": _lion_versus(m),
        "lion_versus_m_fresh_seeds": _lion_versus(fresh),
        "weight_sensitivity_m": m.weight_sensitivity(0.2),
        "weight_sensitivity_m_fresh_seeds": fresh.weight_sensitivity(0.2),
        "screen_spearman_vs_m": float(rho),
        "ranking_s": screen.ranking,
    })
    if not args.skip_large:
        print("== 10x stage l", flush=True)
        large = _rank_stage("l", LARGE, max(5, args.seeds // 2))
        _write("ranking_l", large)
        summary.update({"ranking_l": large.ranking, "lion_versus_l": _lion_versus(large),
                        "weight_sensitivity_l": large.weight_sensitivity(0.2)})
    summary["seconds_per_program"] = {"s": _cost(0, 20), "m": _cost(1, 3)}
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    manifest.record(RESULTS / "summary.json")

    print("\n== summary")
    for key in ("ranking_m", "ranking_m_fresh_seeds", "ranking_s", "ranking_l"):
        if key in summary:
            print(f"{key:<24} first: {summary[key][0]}")
    worst = max(v["p"] for v in summary["lion_versus_m"].values())
    print(f"Lion vs every rival at m: largest p = {worst:.2g}")
    firsts = {r["first"] for r in summary["weight_sensitivity_m"]}
    print(f"first under +-20 % task weights at m: {sorted(firsts)}")
    print(f"screen Spearman vs m: {rho:.3f}")
    print(f"seconds per program: s {summary['seconds_per_program']['s']:.3f}, "
          f"m {summary['seconds_per_program']['m']:.2f}")
    print(f"wrote {RESULTS}/summary.json")


if __name__ == "__main__":
    main()
