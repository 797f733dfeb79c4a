"""Run folders and checkpoints as a demanding user and an attacker meet them: nothing a user has
is lost, nothing a checkpoint holds is trusted unchecked, every refusal is one line."""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from run_folders import SETTINGS, interrupted_run, snapshot

from evosearch import cli
from evosearch.backends.local import InProcessExecutor
from evosearch.config import Config, apply_overrides
from evosearch.run import checkpoint
from evosearch.run.progress import ProgressLine, format_line, read_log
from evosearch.run.runner import RUN_FILES, Runner

ROOT = Path(__file__).resolve().parents[1]
SETS = [a for s in SETTINGS for a in ("--set", s)]


@pytest.fixture(scope="module")
def stopped(tmp_path_factory) -> Path:
    """A search stopped by Ctrl-C with batches in flight (copy it before changing it)."""
    return interrupted_run(tmp_path_factory.mktemp("stopped") / "run", 5)


@pytest.fixture
def run(stopped, tmp_path) -> Path:
    shutil.copytree(stopped, tmp_path / "run")
    return tmp_path / "run"


def search(*args: str, capsys) -> tuple[int, str, str]:
    code = cli.main(["search", *args])
    out, err = capsys.readouterr()
    return code, out, err


def resume(folder: Path, capsys, *args: str) -> tuple[int, str, str]:
    return search("--resume", "--out", str(folder), "--quiet", *args, capsys=capsys)


def edit(folder: Path, change) -> None:
    data = json.loads((folder / "checkpoint.json").read_text())
    change(data["search"])
    (folder / "checkpoint.json").write_text(json.dumps(data))


def assert_refused(code: int, err: str, *words: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith("evosearch search: error: ") and "Traceback" not in err
    for word in words:
        assert word in lines[0], lines[0]


# --- a checkpoint that passes the envelope but not the schema --------------------------------


@pytest.mark.parametrize("change, words", [
    (lambda s: s["counters"].update(batches=0), ["search.in_flight", "after 0 consumed"]),
    (lambda s: s.update(counters={}), ["search.counters: missing field"]),
    (lambda s: s["counters"].update(evaluations="x"),
     ["checkpoint.json: search.counters.evaluations: must be an integer >= 0, got 'x'"]),
    (lambda s: s.update(next_id=0), ["search.next_id: is 0"]),
    (lambda s: s["cache"].update(entries={}), ["search.cache", "emptied"]),
    (lambda s: s["lineage"][-1].update(parent=s["lineage"][-1]["id"]),
     ["search.lineage", "parent is always older"]),
])
def test_a_checkpoint_with_wrong_fields_is_refused_and_the_folder_untouched(
        run, capsys, change, words):
    edit(run, change)
    before = snapshot(run)
    code, _, err = resume(run, capsys)
    assert_refused(code, err, *words)
    assert snapshot(run) == before  # the log keeps every line


def test_an_emptied_cache_is_named_as_such(run, capsys):
    edit(run, lambda s: s["cache"].update(entries={}, aliases={}))
    code, _, err = resume(run, capsys)
    assert_refused(code, err, "the cache was emptied or edited")


@pytest.mark.parametrize("text, words", [
    ('{"format": "evosearch-checkpoint", "version": 1, "x": ' + "[" * 100_000 + "]" * 100_000
     + "}", ["nested deeper"]),
    ('{"format": "evosearch-checkpoint", "version": 1, "x": ' + "7" * 5000 + "}",
     ["an integer of 5000 digits"]),
    ('{"format": "evosearch-checkpoint", "version": 1, "x": NaN}', ["NaN"]),
    ('{"format": "evosearch-checkpoint", "version": 1, "x": 1e999}', ["too large"]),
    ('{"format": "evosearch-checkpoint", "version": ' + "[" * 50 + "]" * 50 + "}",
     ["version [[[[", "incompatible"]),
])
def test_a_checkpoint_that_would_be_costly_to_parse_is_refused(tmp_path, capsys, text, words):
    (tmp_path / "checkpoint.json").write_text(text)
    before = snapshot(tmp_path)
    code, _, err = resume(tmp_path, capsys)
    assert_refused(code, err, "checkpoint.json", *words)
    assert snapshot(tmp_path) == before


def test_an_oversized_or_special_checkpoint_is_refused_before_reading(tmp_path, capsys):
    path = tmp_path / "checkpoint.json"
    with open(path, "wb") as f:  # sparse: no disk, and never read
        f.truncate(checkpoint.MAX_CHECKPOINT_BYTES + 1)
    code, _, err = resume(tmp_path, capsys)
    assert_refused(code, err, "larger than any checkpoint")
    path.unlink()
    os.mkfifo(path)  # reading a FIFO without a writer would block for ever
    code, _, err = resume(tmp_path, capsys)
    assert_refused(code, err, "not a regular file")


def test_a_read_only_checkpoint_is_not_replaced(run, capsys):
    os.chmod(run / "checkpoint.json", 0o444)
    before = snapshot(run)
    code, _, err = resume(run, capsys)
    assert_refused(code, err, "read-only", "chmod u+w")
    assert snapshot(run) == before


def test_a_log_that_is_not_the_checkpoints_is_refused(run, capsys):
    lines = (run / "log.jsonl").read_text().splitlines(keepends=True)
    (run / "log.jsonl").write_text("".join(lines[:2]))  # lines lost
    before = snapshot(run)
    code, _, err = resume(run, capsys)
    assert_refused(code, err, "log.jsonl", "move log.jsonl away")
    assert snapshot(run) == before


# --- what a resume does once the checkpoint is accepted ---------------------------------------


def test_resume_removes_stray_temporaries_and_writes_config_json_again(run, capsys):
    strays = [run / ".checkpoint.json.k3j_x9ab.tmp", run / ".best.prog.zz81qq0w.tmp"]
    for path in strays:
        path.write_text("{half a write")
    mine = run / ".notes.k3j_x9ab.tmp"  # not a name the search writes: not ours to delete
    mine.write_text("mine")
    (run / "config.json").unlink()
    code, _, err = resume(run, capsys)
    assert code == 0, err
    assert not any(p.exists() for p in strays) and mine.read_text() == "mine"
    config = json.loads((run / "checkpoint.json").read_text())["config"]
    assert json.loads((run / "config.json").read_text()) == config
    batches, _ = read_log(run / "log.jsonl")
    assert [r["batch"] for r in batches] == list(range(1, len(batches) + 1))


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_files_follow_the_umask_and_keep_their_mode(tmp_path, capsys, umask):
    previous = os.umask(umask)
    try:
        out = interrupted_run(tmp_path / "run", 5)
        expected = 0o666 & ~umask
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()}
        assert set(modes) >= {"checkpoint.json", "log.jsonl", "config.json", "best.prog",
                              "hall_of_fame.txt", "lineage.graphml"}
        assert set(modes.values()) == {expected}, modes
        os.chmod(out / "best.prog", 0o600)  # the user's choice is kept on replacing
        code, _, err = resume(out, capsys)
        assert code == 0, err
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()}
        assert modes.pop("best.prog") == 0o600
        assert set(modes.values()) == {expected}, modes  # log.jsonl too, after the resume
    finally:
        os.umask(previous)


def test_the_progress_line_says_what_a_resume_waits_for(run):
    config = apply_overrides(Config(), SETTINGS)
    line = format_line(Runner(None, run, resume=True).engine, 0.0,
                       waiting="2 worker(s) compiling the suite")
    assert "evals (2 worker(s) compiling the suite)" in line and "0.00/s" not in line
    stream = io.StringIO()
    Runner(config, run.parent / "fresh", progress=ProgressLine(stream=stream)).run()
    assert "1 worker(s) load the suite and score the baseline" in stream.getvalue()


# --- the run folder of a new search -----------------------------------------------------------


def test_a_new_search_refuses_a_folder_with_another_runs_files(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "log.jsonl").write_text('{"batch": 1}\n{"batch": 2}\n')  # no checkpoint
    before = snapshot(out)
    code, _, err = search("--out", str(out), "--quiet", *SETS, capsys=capsys)
    assert_refused(code, err, "log.jsonl", "no checkpoint to resume", "choose another --out")
    assert snapshot(out) == before
    (out / "log.jsonl").unlink()
    (out / "notes.txt").write_text("the user's own")  # not a run file: the folder is usable
    code, _, err = search("--out", str(out), "--quiet", *SETS, capsys=capsys)
    assert code == 0, err
    assert (out / "notes.txt").read_text() == "the user's own"


def test_the_first_checkpoint_is_written_before_the_first_batch(tmp_path):
    """A search killed at any moment after it started evaluating can be resumed."""
    out = tmp_path / "run"
    seen: list[set[str]] = []

    class Watched(InProcessExecutor):
        def completed(self, timeout):
            seen.append({p.name for p in out.iterdir()})
            return super().completed(timeout)

    config = apply_overrides(Config(), SETTINGS)
    Runner(config, out, executor=Watched("numpy"), progress=ProgressLine(enabled=False)).run()
    assert {"checkpoint.json", "config.json"} <= seen[0]
    assert {p.name for p in out.iterdir()} <= RUN_FILES


def test_out_that_is_a_file_or_under_a_file_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = search("--out", str(blocker), "--quiet", *SETS, capsys=capsys)
    assert_refused(code, err, "a file is in the way")
    code, _, err = search("--out", str(blocker / "run"), "--quiet", *SETS, capsys=capsys)
    assert_refused(code, err, f"part of the path ({blocker}) is a file")
    code, _, err = resume(blocker, capsys)
    assert_refused(code, err, "not a folder")
    assert blocker.read_text() == "x"


def _without_override() -> list[str]:
    """A command prefix under which permissions hold: root reads and writes anything, so
    as root the test drops the capabilities that let it."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: permissions cannot be tested")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


def test_unwritable_folders_are_refused_before_any_worker_starts(tmp_path):
    prefix = _without_override()
    stopped = interrupted_run(tmp_path / "run", 5)
    empty, locked = tmp_path / "empty", tmp_path / "locked"
    empty.mkdir()
    locked.mkdir()
    cases = [
        (["--out", str(locked / "new")], "cannot create it (permission denied"),
        (["--out", str(empty)], "cannot write in this folder"),
        (["--resume", "--out", str(stopped)], "cannot write in this folder"),
    ]
    before = snapshot(stopped)
    for folder in (stopped, empty, locked):
        os.chmod(folder, 0o555)
    try:
        for args, words in cases:
            # The default backend starts worker processes: the refusal must come first.
            done = subprocess.run(
                [*prefix, sys.executable, "-m", "evosearch", "search", *args, "--quiet", *SETS,
                 "--set", "executor.backend=local"],
                cwd=ROOT, capture_output=True, text=True, timeout=120)
            assert_refused(done.returncode, done.stderr, words)
    finally:
        for folder in (stopped, empty, locked):
            os.chmod(folder, 0o755)
    assert snapshot(stopped) == before
    assert not any(empty.iterdir()) and not any(locked.iterdir())


# --- report -----------------------------------------------------------------------------------


def test_report_names_a_missing_folder(tmp_path, capsys):
    code = cli.main(["report", str(tmp_path / "nope"), "--no-plots"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == f"evosearch report: error: {tmp_path / 'nope'}: no such folder"
    code = cli.main(["report", str(tmp_path), "--no-plots"])
    err = capsys.readouterr().err
    assert code == 2 and "no checkpoint here" in err and "resume" not in err


def test_report_skips_log_lines_it_cannot_plot(run, capsys):
    with open(run / "log.jsonl", "a") as f:
        f.write('[1]\n{"batch": "x"}\n{"batch": 3, "evaluations": [], "by_stage": 1}\n'
                '{"event": "restart"}\n' + "[" * 10_000 + "\n" + "9" * 5000 + "\n")
    assert cli.main(["report", str(run)]) == 0, capsys.readouterr().err
    assert (run / "fitness.png").exists()
