"""A mutation kind and a backend are each one entry of one table: a test adds one of each (for
the test only) and runs a real search with them, from the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evosearch import cli
from evosearch import config as config_module
from evosearch.backends import BACKENDS, Backend
from evosearch.backends.local import InProcessExecutor
from evosearch.engine.mutation import EDITS, KINDS, MUTATIONS, Edit, MutationKind
from programs import Program, check, library
from programs.text import format_statement

SEARCH = ["--quiet", "--set", "search.suite=numpy", "--set", "search.max_evaluations=80",
          "--set", "evolution.population=12", "--set", "evolution.tournament=3",
          "--set", "progress.recognize=false"]


def swap(program: Program, rng: np.random.Generator, r, max_len: int) -> Edit | None:
    """The two arguments of a binary statement trade places."""
    binary = [i for i, s in enumerate(program.statements)
              if len(s.args) == 2 and s.args[0] != s.args[1]]
    if not binary:
        return None
    index = binary[int(rng.integers(len(binary)))]
    s = program.statements[index]
    swapped = s.replace(args=(s.args[1], s.args[0]))
    return (program.replace_statement(index, swapped),
            f"swap {index}: {format_statement(swapped)}")


@pytest.fixture
def swap_kind(monkeypatch):
    """The table with one more kind, for this test: the settings class is derived again from
    it, as it is at import."""
    monkeypatch.setitem(MUTATIONS, "swap", MutationKind(
        swap, 2.0, "swap the two arguments of a binary statement"))
    monkeypatch.setattr(config_module, "MutationWeights", config_module.mutation_weights_class())


class CountingExecutor(InProcessExecutor):
    """The in-process executor, counting the batches it evaluates."""

    made: list[CountingExecutor] = []

    def __init__(self, suite) -> None:
        super().__init__(suite)
        self.evaluated = 0
        CountingExecutor.made.append(self)

    def completed(self, timeout):
        done = super().completed(timeout)
        self.evaluated += len(done)
        return done


@pytest.fixture
def counting_backend(monkeypatch):
    CountingExecutor.made.clear()
    monkeypatch.setitem(BACKENDS, "counting", Backend(
        lambda settings, suite: CountingExecutor(suite), "the driver, counting batches"))


def test_a_new_mutation_kind_is_a_setting_with_its_default_and_doc(swap_kind, capsys):
    assert "swap" in KINDS and EDITS["swap"] is swap
    assert config_module.Config().mutation.weights.swap == 2.0
    assert cli.main(["search", "--list-settings"]) == 0
    listed = capsys.readouterr().out
    assert "mutation.weights.swap = 2.0\n    swap the two arguments of a binary statement" in listed
    assert "\nswap = 2.0 " in config_module.default_toml()
    with pytest.raises(config_module.ConfigError, match="mutation.weights.swap must be a number"):
        config_module.load(None, ["mutation.weights.swap='x'"])


def test_a_new_mutation_kind_makes_children_in_a_real_search(swap_kind, tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["search", "--out", str(out), "--backend", "inprocess", *SEARCH,
                     "--set", "mutation.weights.swap=4"]) == 0
    saved = json.loads((out / "checkpoint.json").read_text())
    count, better, new_best = saved["search"]["outcomes"]["swap"]
    assert count > 0  # children with a swap edit were made and scored
    capsys.readouterr()
    assert cli.main(["report", str(out), "--no-plots", "--no-lineage"]) == 0
    assert any(line.split()[:2] == ["swap", str(count)]
               for line in capsys.readouterr().out.splitlines())


def test_swap_trades_the_arguments_of_one_binary_statement():
    adamw = library.load("adamw")
    program, detail = swap(adamw, np.random.default_rng(0), None, 20)
    changed = [(a, b) for a, b in zip(adamw.statements, program.statements, strict=True)
               if a != b]
    assert len(changed) == 1 and changed[0][1].args == changed[0][0].args[::-1]
    assert detail.startswith("swap ") and check(program) == []


def test_a_new_backend_is_a_choice_and_evaluates_the_search(counting_backend, tmp_path):
    out = tmp_path / "run"
    assert cli.main(["search", "--out", str(out), "--backend", "counting", *SEARCH]) == 0
    (executor,) = CountingExecutor.made
    saved = json.loads((out / "checkpoint.json").read_text())
    assert executor.evaluated == saved["search"]["counters"]["batches"] > 0
    assert json.loads((out / "config.json").read_text())["executor"]["backend"] == "counting"


def test_an_unknown_backend_names_the_table(tmp_path, capsys):
    assert cli.main(["search", "--out", str(tmp_path / "run"), *SEARCH,
                     "--set", "executor.backend=counting"]) == 2
    err = capsys.readouterr().err
    assert "executor.backend: must be one of 'local', 'inprocess', 'ray'" in err
