"""The headline experiment's summary over finished runs (``experiments/headline/
rediscover_lion.py --runs``): seeds run at different times are summarized from their own folders
and configs, and the summary's provenance is recorded beside it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "experiments" / "headline" / "rediscover_lion.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=240)


def test_runs_summarizes_finished_folders_with_their_own_seed_and_settings(tmp_path):
    run = tmp_path / "a_seed"
    done = _run("-m", "evosearch", "search", "--out", str(run), "--seed", "7",
                "--set", "search.suite=numpy", "--set", "executor.backend=inprocess",
                "--set", "evolution.population=16", "--set", "search.max_evaluations=60",
                "--set", "search.meta_validate=0")
    assert done.returncode == 0, done.stderr
    out = tmp_path / "summary"
    summary_run = _run(str(SCRIPT), "--runs", str(run), "--out", str(out))
    assert summary_run.returncode == 0, summary_run.stderr
    summary = json.loads((out / "summary.json").read_text())
    (result,) = summary["results"]
    assert result["seed"] == 7 and result["suite"] == "numpy" and result["neutral"] == 1.0
    assert result["run"] == str(run) and result["evaluations"] >= 60
    assert result["final_best"]["simplified"].startswith("def train(")
    assert summary["found_lion"] == int(result["found_lion"])
    provenance = json.loads((out / "MANIFEST.json").read_text())["summary.json"]
    assert "rediscover_lion.py --runs" in provenance["command"]
    assert provenance["commit"] and provenance["machine"] and provenance["date"]

    missing = _run(str(SCRIPT), "--runs", str(tmp_path / "nothing"), "--out", str(out))
    assert missing.returncode == 2 and "not a search run folder" in missing.stderr
