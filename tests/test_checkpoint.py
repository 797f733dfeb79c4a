"""Checkpoints: atomic writes, clear errors that leave the file alone, exact resume after Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest
from search_state import saved as saved_state

from evosearch.config import Config, apply_overrides
from evosearch.run import checkpoint
from evosearch.run.checkpoint import CheckpointError
from evosearch.run.progress import ProgressLine, read_log
from evosearch.run.runner import Runner


def _config(*overrides: str) -> Config:
    return apply_overrides(Config(), [
        "search.suite=numpy", "search.max_evaluations=150", "evolution.population=16",
        "evolution.tournament=3", "executor.backend=inprocess", "executor.batch_size=3",
        "executor.in_flight=3", "checkpoint.every_evaluations=30", "restart.plateau=60",
        *overrides,
    ])


def _run(config, out, **kw):
    return Runner(config, out, progress=ProgressLine(enabled=False), **kw).run()


def test_atomic_write_keeps_the_old_file_when_a_write_fails(tmp_path):
    path = tmp_path / "checkpoint.json"
    checkpoint.save(path, {"x": 1})
    before = path.read_bytes()
    with pytest.raises(ValueError):
        checkpoint.save(path, {"x": float("nan")})  # not JSON: refused before any write
    assert path.read_bytes() == before
    assert checkpoint.load(path)["x"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.json"]


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "empty"),
        ('{"format": "evosearch-checkpoint", "version": 1, "config": {', "corrupt or truncated"),
        ('{"format": "evosearch-checkpoint", "version": 99}', "version 99 is incompatible"),
        ('[1, 2, 3]', "not an evosearch checkpoint"),
        ('{"format": "evosearch-checkpoint", "version": 1}', "missing config, search, run"),
        ('{"format": "evosearch-checkpoint", "version": 1, "config": {"evolution": '
         '{"populaton": 3}}, "search": {}, "run": {}}', "unknown key 'evolution.populaton'"),
        ('{"format": "evosearch-checkpoint", "version": 1, "config": {}, "search": {}, '
         '"run": {}}', "search: missing field 'stage_names'"),
    ],
)
def test_unusable_checkpoints_give_a_clear_error_and_stay_untouched(tmp_path, content, message):
    path = tmp_path / "checkpoint.json"
    path.write_text(content)
    with pytest.raises(CheckpointError, match=message) as e:
        Runner(None, tmp_path, resume=True, progress=ProgressLine(enabled=False))
    assert str(path) in str(e.value) or "incompatible" in str(e.value)
    assert path.read_text() == content


def test_a_new_search_never_overwrites_an_existing_one(tmp_path):
    (tmp_path / "checkpoint.json").write_text("{}")
    with pytest.raises(CheckpointError, match="already holds a search"):
        Runner(_config(), tmp_path, progress=ProgressLine(enabled=False))
    assert (tmp_path / "checkpoint.json").read_text() == "{}"


def test_resume_without_a_checkpoint_says_so(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint here"):
        Runner(None, tmp_path, resume=True, progress=ProgressLine(enabled=False))


def test_ctrl_c_checkpoints_and_resume_continues_exactly(tmp_path):
    whole = _run(_config(), tmp_path / "whole")
    assert whole.status == "finished"

    out = tmp_path / "stopped"
    # Ctrl-C arrives from outside while the search runs (a real SIGINT to this process), once
    # a few batches are logged.
    stop = threading.Event()

    def interrupt():
        while not stop.is_set():
            log = out / "log.jsonl"
            if log.exists() and log.stat().st_size > 4000:
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.01)

    thread = threading.Thread(target=interrupt)
    thread.start()
    try:
        stopped = _run(_config(), out)
    finally:
        stop.set()
        thread.join()
    assert stopped.status == "interrupted"
    saved = json.loads((out / "checkpoint.json").read_text())
    assert saved["run"]["status"] == "interrupted"
    assert saved["search"]["in_flight"]  # batches out at the stop are in the checkpoint
    assert saved["search"]["counters"]["evaluations"] < whole.engine.counters.evaluations

    resumed = _run(None, out, resume=True)
    assert resumed.status == "finished"
    assert saved_state(out) == saved_state(tmp_path / "whole")
    # The log has one line per batch, none twice, across the two sessions.
    batches, events = read_log(out / "log.jsonl")
    assert [r["batch"] for r in batches] == list(range(1, len(batches) + 1))
    assert batches[-1]["batch"] == resumed.engine.counters.batches
    for name in ("best.prog", "lineage.txt", "lineage.graphml", "summary.json"):
        assert (out / name).exists()


def test_restart_file_restarts_the_population(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "RESTART").write_text("initial\n")
    outcome = _run(_config("restart.plateau=0"), out)
    assert not (out / "RESTART").exists()
    assert outcome.engine.counters.restarts == 1
    _, events = read_log(out / "log.jsonl")
    restarts = [e for e in events if e["event"] == "restart"]
    assert restarts and restarts[0]["source"] == "initial" and restarts[0]["reason"] == "command"
