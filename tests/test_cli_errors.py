"""Bad input at the front door: one line, ``evosearch <command>: error: <what>``, exit status 2,
no traceback; for a search, before a run folder exists or a worker starts."""

from __future__ import annotations

import multiprocessing
import re
import subprocess
import sys
from pathlib import Path

import pytest

from evosearch import cli

ROOT = Path(__file__).resolve().parents[1]
NUMPY = ["--set", "search.suite=numpy", "--set", "executor.backend=inprocess", "--quiet"]


def _error(capsys, argv: list[str], status: int = 2) -> str:
    """Run the command line in process; return its one error line (without the prefix)."""
    assert cli.main(argv) == status
    err = capsys.readouterr().err
    prefix = f"evosearch {argv[0]}: error: "
    assert err.startswith(prefix), err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err[len(prefix):].rstrip("\n")


@pytest.mark.parametrize("suite, says", [
    ("defualt", "search.suite: unknown suite 'defualt' (did you mean 'default'?)"),
    ("identify:lino", "search.suite: target 'lino': unknown program 'lino'"),
])
def test_an_unknown_suite_is_one_line_and_leaves_no_run_folder(tmp_path, capsys, suite, says):
    out = tmp_path / "run"
    message = _error(capsys, ["search", "--out", str(out), "--quiet",
                              "--set", f"search.suite={suite}"])
    assert message.startswith(says)
    assert not out.exists()


@pytest.mark.parametrize("argv, says", [
    (["--seed", "-1"], "search.seed: must be >= 0, got -1"),
    (["--set", "evolution.tournament=20", "--set", "evolution.population=16"],
     "evolution.tournament: must be at most the size of an island"),
    (["--set", "evolution.tournament=9", "--set", "evolution.population=16",
      "--set", "evolution.islands=2"], "= 8, got 9"),
    (["--set", "executor.backend=lokal"], "did you mean 'local'?"),
    (["--backend", "local", "--address", "auto"], "--address is for --backend ray, not local"),
])
def test_settings_out_of_bounds_are_refused_before_a_run_folder_exists(
        tmp_path, capsys, argv, says):
    out = tmp_path / "run"
    message = _error(capsys, ["search", "--out", str(out), *NUMPY, *argv])
    assert says in message
    assert not out.exists()


def test_more_workers_than_cpus_is_refused_before_any_starts(tmp_path, capsys):
    before = set(multiprocessing.active_children())
    out = tmp_path / "run"
    message = _error(capsys, ["search", "--out", str(out), "--quiet", "--set",
                              "search.suite=numpy", "--set", "executor.workers=1000"])
    assert "executor.workers = 1000, but this machine has" in message
    assert "use at most" in message
    assert set(multiprocessing.active_children()) == before
    assert not out.exists()


def test_a_warm_start_too_large_to_evaluate_is_refused_with_the_limit_and_no_jax(tmp_path):
    """The training suites' interpreter has a bounded size; a warm start beyond it would make
    every evaluation fail. The driver checks it without importing jax."""
    body = "".join(f"  t{i} = m + g\n  m = t{i} * 0.5\n" for i in range(150))
    prog = tmp_path / "huge.prog"
    prog.write_text(f"def train(w, g, m, v, lr):\n{body}  update = m * lr\n"
                    "  return update, m, v\n")
    out = tmp_path / "run"
    script = (
        "import sys\nfrom evosearch import cli\n"
        f"code = cli.main(['search', '--out', {str(out)!r}, '--quiet', "
        f"'--set', 'search.warm_start={prog}'])\n"
        "print('jax imported' if 'jax' in sys.modules else 'no jax')\nsys.exit(code)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stdout.strip() == "no jax"
    assert done.stderr.startswith("evosearch search: error: search.warm_start ")
    assert re.search(r"program too large to evaluate: \d+ tensor statements", done.stderr)
    assert "(at most 96," in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()
    # The numpy suites have no such bound: the same program is a valid warm start there.
    from evosearch.run.runner import load_warm_start

    assert len(load_warm_start(str(prog), "numpy")) == 301


def test_the_command_line_process_prints_one_line_for_an_unknown_suite(tmp_path):
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "evosearch", "search", "--out", str(out), "--set",
         "search.suite=defualt"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith("evosearch search: error: search.suite: unknown suite")
    assert done.stderr.count("\n") == 1 and not out.exists()


@pytest.mark.parametrize("argv, says", [
    (["inspect", "no-such-file.prog"], "no such file, and no library program"),
    (["export", "lion", "--to", "optax", "--target", "torch"], "--to optax contradicts"),
    (["export", "no-such-file.prog", "--to", "optax"], "no such file"),
    (["simplify", "no-such-file.prog"], "no such file"),
    (["simplify", "lion", "--suite", "nope"], "unknown training suite 'nope'"),
    (["simplify", "lion", "--stage", "zz"], "has no stage 'zz'"),
    (["rank", "--suite", "nope"], "unknown training suite 'nope'"),
    (["rank", "--programs", "no-such-program", "--tasks", "teacher/xs"],
     "unknown program 'no-such-program'"),
    (["report", "no-such-run"], "no-such-run: no such folder"),
    (["benchmark", "--suite", "numpy", "--workers", "1000"], "executor.workers = 1000"),
])
def test_every_command_reports_bad_input_in_one_style(capsys, argv, says):
    assert says in _error(capsys, argv)


def test_a_directory_given_as_a_program_is_one_line(tmp_path, capsys):
    assert "is a directory" in _error(capsys, ["inspect", str(tmp_path)])
