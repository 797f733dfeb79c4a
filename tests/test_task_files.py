"""Tasks from a user's own file: written in a temporary folder (a model and data that exist
nowhere in the package), ranked, searched on a [suite] of them with worker processes and on a
multi-node Ray cluster; every mistake in the file is one line naming it."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from search_state import saved

from evosearch.cli import main
from proxy_tasks.task_files import TaskFile, TaskFileError, bundle, check

TASK_FILE = '''
"""A tiny task of the test's own: fit a random quadratic form with a linear model."""
import jax.numpy as jnp
import numpy as np

from proxy_tasks import Budget, Task, register_sizes


class Quadratic(Task):
    family = "quadratic"

    def __init__(self, dim, budget):
        self.dim, self.budget = dim, budget
        self.worst_loss = 10.0
        self.name = "quadratic"
        self.description = f"linear fit of a random target, {dim} inputs"

    @property
    def layout(self):
        return (("w", (self.dim,)), ("b", (1,)))

    @property
    def n_train(self):
        return 256

    def make_data(self):
        rng = np.random.default_rng(3)
        x = rng.normal(size=(384, self.dim)).astype(np.float32)
        y = (x @ rng.normal(size=self.dim) + 0.5).astype(np.float32)
        return {"x": x[:256], "y": y[:256], "vx": x[256:], "vy": y[256:]}

    def init_tensors(self, rng):
        return {"w": rng.normal(size=self.dim) * 0.1, "b": np.zeros(1)}

    def _mse(self, p, x, y):
        return jnp.mean((x @ p["w"] + p["b"][0] - y) ** 2)

    def train_loss(self, params, data, idx):
        return self._mse(params, data["x"][idx], data["y"][idx])

    def val_loss(self, params, data):
        return self._mse(params, data["vx"], data["vy"])


register_sizes("quadratic", {
    "xs": dict(dim=4, budget=Budget(30, 16), lr_scale=10.0),
    "s": dict(dim=8, budget=Budget(40, 16), lr_scale=10.0),
}, Quadratic)
'''

SUITE_TOML = '''
[search]
task_files = ["{task_file}"]
max_evaluations = {evaluations}
meta_validate = 0

[evolution]
population = 8
tournament = 2

[executor]
batch_size = 2
in_flight = 2

[suite]
name = "quadratic"
description = "the test's own tasks"

[[suite.stages]]
name = "s"
tasks = ["quadratic/xs"]
seeds = [0]
lrs = [1.0, 10.0]

[[suite.stages]]
name = "m"
tasks = ["quadratic/xs", "quadratic/s"]
seeds = [0, 1]
lrs = [1.0, 10.0]
'''


@pytest.fixture()
def own_task(tmp_path: Path) -> Path:
    path = tmp_path / "own_tasks.py"
    path.write_text(TASK_FILE)
    return path


def _config(tmp_path: Path, task_file: Path, evaluations: int = 12) -> Path:
    path = tmp_path / "search.toml"
    path.write_text(SUITE_TOML.format(task_file=task_file, evaluations=evaluations))
    return path


def test_rank_on_the_users_own_tasks(own_task, tmp_path, capsys):
    out = tmp_path / "rank.json"
    assert main(["rank", "--task-file", str(own_task), "--suite",
                 str(_config(tmp_path, own_task)), "--stage", "m", "--programs", "adamw,sgd",
                 "--seeds", "2", "--tune-seeds", "1", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert set(result["tasks"]) == {"quadratic/xs", "quadratic/s"}
    assert "ranking:" in capsys.readouterr().out


@pytest.mark.parametrize(("body", "message"), [
    ("def broken(:\n", r"bad.py:1:\d+: syntax error"),
    ("import no_such_module_here\n", "bad.py:1: ModuleNotFoundError"),
    ("x = 1\n", "bad.py: registers no task"),
    (TASK_FILE.replace('return {"w": rng.normal(size=self.dim) * 0.1',
                       'return {"w": rng.normal(size=self.dim + 1) * 0.1'),
     r"bad.py: task 'quadratic/x?s': .*init of w has shape"),
    (TASK_FILE.replace("return self._mse(params, data[\"vx\"], data[\"vy\"])",
                       "return (params[\"w\"] ** 2)"),
     r"bad.py: task 'quadratic/x?s': val_loss must return a scalar"),
])
def test_a_mistake_in_a_task_file_is_one_line_naming_the_file_and_task(tmp_path, body,
                                                                       message):
    path = tmp_path / "bad.py"
    path.write_text(textwrap.dedent(body))
    with pytest.raises(TaskFileError, match=message):
        check([TaskFile.read(path)], timeout=120)


def test_a_bundle_carries_the_files_text_and_refuses_a_tampered_one(own_task):
    from proxy_tasks.suites import SuiteError, check_reference

    ref = bundle("smoke", [TaskFile.read(own_task)])
    assert check_reference(ref) == ref
    tampered = {"suite": "smoke", "task_files": [{**ref["task_files"][0], "text": "x = 1"}]}
    with pytest.raises(SuiteError, match="does not match its hash"):
        check_reference(tampered)


def run_search(config: Path, out: Path, *settings: str) -> dict:
    args = ["search", "--config", str(config), "--out", str(out), "--quiet"]
    for setting in settings:
        args += ["--set", setting]
    assert main(args) == 0
    return saved(out)


def test_a_search_on_a_suite_of_own_tasks_is_the_same_in_worker_processes(own_task, tmp_path):
    config = _config(tmp_path, own_task)
    alone = run_search(config, tmp_path / "inprocess", "executor.backend=inprocess")
    pooled = run_search(config, tmp_path / "local", "executor.backend=local",
                          "executor.workers=2")
    assert pooled == alone and alone["counters"]["evaluations"] >= 12
    assert set(alone["stage_names"]) == {"s", "m"}
    run = json.loads((tmp_path / "local" / "checkpoint.json").read_text())["run"]
    assert run["task_files"] == [{"path": str(own_task),
                                  "sha256": TaskFile.read(own_task).sha256}]


def test_resume_refuses_a_changed_or_missing_task_file(own_task, tmp_path, capsys):
    config = _config(tmp_path, own_task, evaluations=4)
    out = tmp_path / "run"
    run_search(config, out, "executor.backend=inprocess")
    before = (out / "checkpoint.json").read_bytes()
    own_task.write_text(TASK_FILE.replace("0.5", "0.6"))
    resume = ["search", "--resume", "--out", str(out), "--set", "search.max_evaluations=8"]
    assert main(resume) == 2
    assert "changed since the checkpoint" in capsys.readouterr().err
    own_task.unlink()
    assert main(resume) == 2
    assert "no such task file" in capsys.readouterr().err
    assert (out / "checkpoint.json").read_bytes() == before


def test_a_new_search_refuses_a_broken_task_file_before_any_worker(tmp_path, capsys):
    bad = tmp_path / "bad.py"
    bad.write_text(TASK_FILE.replace('return {"w": rng.normal(size=self.dim) * 0.1',
                                     'return {"w": rng.normal(size=self.dim + 1) * 0.1'))
    out = tmp_path / "run"
    assert main(["search", "--config", str(_config(tmp_path, bad)), "--out", str(out),
                 "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.py: task 'quadratic/" in err[0] and "init of w" in err[0]
    assert not out.exists()
