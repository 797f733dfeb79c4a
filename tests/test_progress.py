"""The live progress line: it fits the terminal, and it says when the best program is unknown."""

from __future__ import annotations

import io

import pytest

from evosearch.config import Config, apply_overrides
from evosearch.run import runner as runner_module
from evosearch.run.progress import ProgressLine, format_line
from evosearch.run.runner import Runner

LONG_LABEL = "lion(b1=0.9, b2=0.99, weight_decay=0.1, lr_scale=1e-4)"


class Terminal(io.StringIO):
    """A stream that says it is a terminal (its width comes from $COLUMNS)."""

    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        raise io.UnsupportedOperation("no descriptor")


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    config = apply_overrides(Config(), [
        "search.suite=numpy", "search.max_evaluations=60", "evolution.population=12",
        "executor.backend=inprocess", "restart.plateau=20", "progress.recognize=false",
    ])
    out = tmp_path_factory.mktemp("run")
    engine = Runner(config, out, progress=ProgressLine(enabled=False)).run().engine
    assert engine.counters.restarts  # so that the line has every part
    return engine


def test_the_full_line_is_wider_than_80_columns(engine):
    assert len(format_line(engine, 123.45, LONG_LABEL)) > 80  # what the next test must fit


@pytest.mark.parametrize("width", [120, 100, 80, 60, 40])
def test_the_line_fits_the_width_keeping_evaluations_and_best(engine, width):
    line = format_line(engine, 123.45, LONG_LABEL, width=width)
    assert len(line) <= width
    if width >= 60:
        assert f"{engine.counters.evaluations} evals (123.45/s)" in line
        assert f"best {engine.best().fitness:.5g}@" in line and "lion" in line


def test_details_go_before_the_label_is_cut_and_the_order_stays(engine):
    full = format_line(engine, 1.0, LONG_LABEL).split(" | ")
    fitted = format_line(engine, 1.0, LONG_LABEL, width=80).split(" | ")
    shortened = [p.replace(LONG_LABEL, "lion") for p in full]
    assert [p for p in shortened if p in fitted] == fitted  # a subsequence, in order
    assert not any("children" in p for p in fitted)  # the first detail to go


def test_on_a_terminal_the_line_is_rewritten_within_its_width(engine, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    stream = Terminal()
    line = ProgressLine(0.0, stream=stream)
    line.best_label = LONG_LABEL
    line.update(engine, 100, force=True)
    written = stream.getvalue()
    assert written.startswith("\r") and 40 < len(written) - 1 <= 79


def test_into_a_file_the_line_is_whole(engine):
    stream = io.StringIO()
    line = ProgressLine(0.0, stream=stream)
    line.best_label = LONG_LABEL
    line.update(engine, 100, force=True)
    assert LONG_LABEL in stream.getvalue()


def test_an_unrecognized_best_program_says_so(tmp_path, monkeypatch):
    odd = tmp_path / "odd.prog"
    odd.write_text("def train(w, g, m, v, lr):\n  a = cosh(g)\n  b = a * g\n"
                   "  update = b * lr\n  return update, m, v\n")
    monkeypatch.setattr(runner_module, "RECOGNITION_INTERVAL", 0.0)  # label every new best
    config = apply_overrides(Config(), [
        "search.suite=numpy", "search.max_evaluations=1", "evolution.population=4",
        "evolution.tournament=2", "executor.backend=inprocess", f"search.warm_start={odd}",
    ])
    stream = io.StringIO()
    outcome = Runner(config, tmp_path / "run", progress=ProgressLine(0.0, stream=stream)).run()
    assert outcome.engine.best() is not None
    last = stream.getvalue().strip().splitlines()[-1]
    assert "@" in last and last.endswith("unrecognized"), last
