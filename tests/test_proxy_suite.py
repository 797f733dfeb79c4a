"""Suites: the contract the search codes against (`proxy_tasks.suites.trained`)."""

from __future__ import annotations

import math

import pytest

from programs import ProgramError, library, parse
from proxy_tasks import WORST_FITNESS, Score, get_suite, get_task, suite_names
from proxy_tasks.suites import builtin_specs

HEAD = "def train(w, g, m, v, lr):\n"


def test_suites_are_data_over_registered_tasks():
    assert {"default", "smoke"} <= set(suite_names())
    for spec in builtin_specs().values():
        assert len(spec.stages) >= 2
        for stage in spec.stages:
            for task, weight in stage.tasks:
                assert get_task(task).name == task and weight > 0
            assert stage.seeds
    default = get_suite("default")
    assert default.stage_names == ("s", "m", "l")
    fitness_tasks = {t for t, _ in builtin_specs()["default"].stages[1].tasks}
    assert fitness_tasks == {"wide/m", "wide10/m", "charlm/m"}
    assert len({get_task(t).family for t in fitness_tasks}) >= 2  # not all of one family


def test_the_baseline_scores_one_and_others_are_relative_to_it():
    suite = get_suite("smoke")
    for stage in range(len(suite.stage_names)):
        base = suite.baseline(stage)
        assert isinstance(base, Score) and base.fitness == 1.0 and not base.failed
        adamw, lion, sgd = suite.evaluate(
            [library.load("adamw"), library.load("lion"), library.load("sgd")], stage)
        assert adamw.fitness == pytest.approx(1.0, abs=1e-6)  # the baseline program itself
        assert adamw.per_task == base.per_task
        for score in (lion, sgd):
            assert math.isfinite(score.fitness) and not score.failed
            assert set(score.per_task) == set(base.per_task) == set(score.best_lr)
            expected = sum(score.per_task[t] / base.per_task[t] for t in base.per_task)
            assert score.fitness == pytest.approx(expected / len(base.per_task))
            assert score.seconds > 0


def test_scores_are_deterministic():
    suite = get_suite("smoke")
    programs = [library.load("signum"), library.load("rmsprop")]
    first, again = suite.evaluate(programs, 1), suite.evaluate(programs, 1)
    for a, b in zip(first, again, strict=True):
        assert (a.fitness, a.per_task, a.best_lr, a.failed) == (
            b.fitness, b.per_task, b.best_lr, b.failed)


def test_a_diverging_program_fails_with_the_worst_fitness():
    suite = get_suite("smoke")
    explodes = parse(HEAD + "  a = g * 1000000.0\n  b = exp(a)\n  update = b * lr\n"
                            "  return update, m, v\n")
    (score,) = suite.evaluate([explodes], 0)
    assert score.failed and score.fitness == WORST_FITNESS


def test_invalid_programs_and_unknown_stages_raise_value_errors():
    suite = get_suite("smoke")
    invalid = parse(HEAD + "  u = sign(lr)\n  update = u * lr\n  return update, m, v\n")
    with pytest.raises(ProgramError, match="update does not depend on the gradient"):
        suite.evaluate([library.load("sgd"), invalid], 0)
    with pytest.raises(ValueError, match="stages 0..1"):
        suite.evaluate([library.load("sgd")], 2)
    with pytest.raises(ValueError, match="unknown suite 'nope'"):
        get_suite("nope")
    assert suite.evaluate([], 0) == []
