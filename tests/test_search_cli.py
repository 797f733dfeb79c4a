"""The command line, end to end, in real subprocesses: search, Ctrl-C, resume, report, errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from evosearch import config as cfg
from evosearch.cli import build_parser
from evosearch.run.progress import read_log

ROOT = Path(__file__).resolve().parents[1]
NUMPY = ["--set", "search.suite=numpy", "--set", "executor.backend=inprocess",
         "--set", "evolution.population=16", "--set", "checkpoint.every_evaluations=20"]


def _evosearch(*args: str, timeout: float = 240, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evosearch", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, **kw)


def test_smoke_search_runs_every_stage_checkpoints_restarts_and_reports(tmp_path):
    out = tmp_path / "smoke"
    start = time.monotonic()
    done = _evosearch("search", "--config", "experiments/smoke.toml", "--out", str(out))
    seconds = time.monotonic() - start
    assert done.returncode == 0, done.stderr
    assert seconds < 90  # the README promises under a minute; headroom for a loaded CI machine
    assert "evals" in done.stderr and "hits" in done.stderr  # the progress line
    assert "finished:" in done.stdout and "meta-validation" in done.stdout
    batches, events = read_log(out / "log.jsonl")
    last = batches[-1]
    assert all(n > 0 for n in last["by_stage"])  # every stage of the funnel evaluated
    assert any(e["event"] == "restart" for e in events)
    assert len(batches) * 4 > 25  # several checkpoints were due
    saved = json.loads((out / "checkpoint.json").read_text())
    assert saved["run"]["status"] == "finished"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["meta_validation"]
    # The workers kept their compiled training functions for a resume to load.
    assert any((out / "compile_cache").iterdir())

    report = _evosearch("report", str(out), "--top", "2")
    assert report.returncode == 0, report.stderr
    assert "mutation outcomes" in report.stdout and "lineage of the best" in report.stdout
    for name in ("fitness", "cache", "redundancy", "funnel"):
        png = out / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    again = _evosearch("search", "--resume", "--out", str(out))  # nothing left to do
    assert again.returncode == 0, again.stderr
    assert json.loads((out / "checkpoint.json").read_text())["search"]["counters"] == (
        saved["search"]["counters"])


def test_ctrl_c_exits_130_with_a_checkpoint_and_resume_finishes(tmp_path):
    out = tmp_path / "run"
    args = [sys.executable, "-m", "evosearch", "search", "--out", str(out), *NUMPY,
            "--set", "search.max_evaluations=200"]
    process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    log = out / "log.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (log.exists() and log.stat().st_size > 1500):
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted" in stdout and "--resume" in stdout
    saved = json.loads((out / "checkpoint.json").read_text())
    assert saved["run"]["status"] == "interrupted"
    assert saved["search"]["counters"]["evaluations"] < 200

    done = _evosearch("search", "--resume", "--out", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    final = json.loads((out / "checkpoint.json").read_text())
    assert final["search"]["counters"]["evaluations"] >= 200
    assert final["search"]["phase"] == "done"


def test_errors_name_the_problem_and_keep_the_checkpoint(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[evolution]\npopulaton = 3\n")
    done = _evosearch("search", "--config", str(bad), "--out", str(tmp_path / "x"))
    assert done.returncode == 2
    assert "unknown key 'evolution.populaton'" in done.stderr and "population" in done.stderr

    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.json").write_text('{"format": "evosearch-checkpoint", "vers')
    done = _evosearch("search", "--resume", "--out", str(run))
    assert done.returncode == 2 and "corrupt or truncated" in done.stderr
    assert (run / "checkpoint.json").read_text() == '{"format": "evosearch-checkpoint", "vers'

    done = _evosearch("search", "--resume")
    assert done.returncode == 2 and "--resume needs --out" in done.stderr

    prog = tmp_path / "start.prog"
    prog.write_text("def train(w, g, m, v, lr):\n  u = sgn(g)\n  return u, m, v\n")
    done = _evosearch("search", "--out", str(tmp_path / "y"), *NUMPY,
                      "--set", f"search.warm_start={prog}")
    assert done.returncode == 2 and f"{prog}:2" in done.stderr and "sgn" in done.stderr


def test_defaults_with_no_arguments_and_the_settings_list():
    args = build_parser().parse_args(["search"])
    assert args.config is None and args.out is None and not args.resume
    assert cfg.load(args.config, args.overrides) == cfg.Config()
    assert cfg.Config().search.suite == "default" and cfg.Config().search.warm_start == "adamw"
    listing = _evosearch("search", "--list-settings")
    assert listing.returncode == 0
    assert "evolution.population = 128" in listing.stdout


def test_resume_refuses_to_change_the_search(tmp_path):
    out = tmp_path / "run"
    first = _evosearch("search", "--out", str(out), "--quiet", *NUMPY,
                       "--set", "search.max_evaluations=30")
    assert first.returncode == 0, first.stderr
    done = _evosearch("search", "--resume", "--out", str(out), "--seed", "5")
    assert done.returncode == 2 and "search.seed" in done.stderr
    more = _evosearch("search", "--resume", "--out", str(out), "--quiet",
                      "--set", "search.max_evaluations=45")
    assert more.returncode == 0, more.stderr
    saved = json.loads((out / "checkpoint.json").read_text())
    assert saved["search"]["counters"]["evaluations"] >= 45
    assert saved["run"]["sessions"] == 2
    assert os.path.exists(out / "lineage.graphml")
