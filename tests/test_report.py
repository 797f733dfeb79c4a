"""``evosearch report``: plots and the printed summary of a finished search."""

from __future__ import annotations

import argparse

from evosearch import cli
from evosearch.commands import report
from evosearch.config import Config, apply_overrides
from evosearch.run.progress import ProgressLine
from evosearch.run.runner import Runner


def test_report_prints_outcomes_top_programs_lineage_and_draws_pngs(tmp_path, capsys):
    config = apply_overrides(Config(), [
        "search.suite=numpy", "search.max_evaluations=60", "evolution.population=12",
        "executor.backend=inprocess", "restart.plateau=20", "progress.recognize=false",
    ])
    out = tmp_path / "run"
    outcome = Runner(config, out, progress=ProgressLine(enabled=False)).run()
    engine = outcome.engine
    args = argparse.Namespace(run_dir=str(out), top=2, plots=None, no_plots=False,
                              no_lineage=False)
    assert report.run(args) == 0
    text = capsys.readouterr().out
    for kind, (count, better, new_best) in engine.outcomes.items():
        assert f"  {kind:<10}{count:>10}{better:>10}{new_best:>10}" in text
    best = engine.best()
    assert f"1. #{best.id}: fitness {best.fitness:.6g}" in text
    assert f"lineage of the best (#{best.id})" in text and "(warm start;" in text
    assert "meta-validation on stage logreg" in text
    for name in ("fitness", "cache", "redundancy", "funnel"):
        assert (out / f"{name}.png").read_bytes()[:4] == b"\x89PNG"


def test_report_on_a_missing_run_is_an_error(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path), "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("evosearch report: error: ") and "no checkpoint here" in err
