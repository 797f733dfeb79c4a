"""Scoring program texts: one bad program never costs the others their scores."""

from __future__ import annotations

import pytest

from evosearch.backends.evaluate import describe, evaluate_texts
from programs import format, library
from proxy_tasks.suites import WORST_FITNESS, get_suite
from proxy_tasks.suites.numpy import NumpySuite

SUITE = NumpySuite()


def test_a_raising_or_unparsable_program_fails_alone():
    good = format(library.load("lion"))
    invalid = "def train(w, g, m, v, lr):\n  u = lr * 2.0\n  return u, m, v\n"  # no g, scalar
    scores = evaluate_texts(SUITE, [(good, 0), (invalid, 0), ("def nonsense(", 1), (good, 1)])
    assert [s.failed for s in scores] == [False, True, True, False]
    assert "evaluation raised programs.program.ProgramError" in scores[1].error
    assert "is invalid" in scores[1].error
    assert "unparsable program text" in scores[2].error
    assert scores[1].fitness == scores[2].fitness == WORST_FITNESS
    alone = evaluate_texts(SUITE, [(good, 0), (good, 1)])
    assert [s.fitness for s in alone] == [scores[0].fitness, scores[3].fitness]


def test_describe_reports_stages_and_the_baseline():
    info = describe(SUITE, baselines=True)
    assert info.stage_names == ("lsq", "logreg")
    adamw = SUITE.evaluate([library.load("adamw")], 0)[0]
    # Every stage but the last: the last promotes nowhere, so it needs no threshold.
    assert [s.fitness for s in info.baselines] == [adamw.fitness]


def test_identification_suite_scores_the_target_zero_whatever_its_lr_scale():
    from programs import parse

    suite = get_suite("identify:lion")
    lion = library.load("lion")
    rescaled = parse(format(lion).replace("0.0001", "0.003"))
    adamw, lion_s, rescaled_s = suite.evaluate([library.load("adamw"), lion, rescaled], 0)
    assert lion_s.fitness < 1e-12 and rescaled_s.fitness < 1e-12
    assert rescaled_s.best_lr["scale"] == pytest.approx(0.0001 / 0.003)
    assert adamw.fitness > 0.1
    blowup = parse("def train(w, g, m, v, lr):\n  m = exp(m)\n  m = m + 1.0\n  update = g * m\n"
                   "  return update, m, v\n")
    (failed,) = suite.evaluate([blowup], 2)
    assert failed.failed and failed.fitness == WORST_FITNESS


def test_identification_suite_names_a_missing_target():
    with pytest.raises(ValueError, match="no_such_program"):
        get_suite("identify:no_such_program")
    assert get_suite("identify:signum").name == "identify:signum"
