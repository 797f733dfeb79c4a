"""The scale study's pieces that run without training: weight decay replaced through a
program's structure, and bad input refused with one line."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from programs import canonical, library, parse, recognize
from proxy_tasks.evaluation import Scores

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "experiments" / "scale"))
from decay import weight_decay_of, with_weight_decay  # noqa: E402
from study import Optimizer, lr_at_edge, tune_decays  # noqa: E402
from study import main as study_main  # noqa: E402


@pytest.mark.parametrize("name", ["adamw", "lion"])
def test_the_decay_constant_is_replaced_and_nothing_else(name):
    program = library.load(name)
    changed = with_weight_decay(program, 3.0)
    assert weight_decay_of(changed) == 3.0
    assert weight_decay_of(program) != 3.0
    differing = [(a, b) for a, b in zip(program.statements, changed.statements, strict=True)
                 if a != b]
    assert len(differing) == 1 and differing[0][1].args in (("w", 3.0), (3.0, "w"))
    match = recognize(changed)
    assert match is not None and match.params["weight_decay"] == pytest.approx(3.0)


def test_a_known_optimizer_without_decay_gets_decoupled_decay():
    signum = canonical("signum", {"b": 0.99, "lr_scale": 1e-4})
    assert weight_decay_of(signum) == 0.0
    match = recognize(with_weight_decay(signum, 1.0))
    assert match is not None and match.name == "signum"
    assert match.params["b"] == pytest.approx(0.99)
    assert match.params["weight_decay"] == pytest.approx(1.0)


def test_programs_without_a_single_decay_are_refused():
    two = parse("def train(w, g, m, v, lr):\n  a = w * 0.1\n  b = w * 0.2\n  c = a + b\n"
                "  d = g + c\n  update = d * lr\n  return update, m, v\n")
    assert weight_decay_of(two) is None
    with pytest.raises(ValueError, match="2 statements"):
        with_weight_decay(two, 1.0)
    odd = parse("def train(w, g, m, v, lr):\n  a = tanh(g)\n  b = a * lr\n  update = b * 0.3\n"
                "  return update, m, v\n")
    if recognize(odd) is None:
        with pytest.raises(ValueError, match="no decay statement"):
            with_weight_decay(odd, 1.0)
    with pytest.raises(ValueError, match="non-negative"):
        with_weight_decay(library.load("lion"), -1.0)


def test_the_study_refuses_bad_input_with_one_line(tmp_path, capsys):
    assert study_main(["--sizes", "xxs", "--threads", "all", "--out", str(tmp_path)]) == 2
    assert "unknown size" in capsys.readouterr().err
    broken = tmp_path / "broken.prog"
    broken.write_text("def train(w, g, m, v, lr):\n  update = nonesuch(g)\n"
                      "  return update, m, v\n")
    assert study_main(["--programs", str(broken), "--threads", "all", "--out",
                       str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "broken.prog" in err and "Traceback" not in err
    assert study_main(["--programs", "lion", "--threads", "all"]) == 2  # a name it has
    assert "already one of" in capsys.readouterr().err


def test_the_decay_search_walks_past_the_grid_while_the_loss_improves():
    optimum = {"up": 300.0, "inside": 0.1, "far": 1e6, "fixed": None}
    calls = []

    def tune(pairs):  # a tuning loss with its minimum at each optimizer's optimum decay
        calls.append(len(pairs))
        return [{"weight_decay": wd, "tune_loss": 0.0 if wd is None else
                 abs(math.log10(wd) - math.log10(optimum[o.name]))} for o, wd in pairs]

    grid = (0.01, 0.1, 1.0, 10.0)
    optimizers = [Optimizer(name, None, () if name == "fixed" else grid, name)
                  for name in optimum]
    out = tune_decays(optimizers, tune, extend=2)
    assert out["inside"]["best"]["weight_decay"] == 0.1 and not out["inside"]["decay_at_edge"]
    # 300 lies between 100 and 1000: the walk tries both, keeps 100, stops as 1000 is worse
    assert [e["weight_decay"] for e in out["up"]["tuning"]] == [*grid, 100.0, 1000.0]
    assert out["up"]["best"]["weight_decay"] == 100.0 and not out["up"]["decay_at_edge"]
    # still improving after two decades: flagged
    assert out["far"]["best"]["weight_decay"] == 1000.0 and out["far"]["decay_at_edge"]
    assert out["fixed"]["best"]["weight_decay"] is None
    assert calls == [13, 2, 2]


def test_an_lr_is_at_the_edge_only_where_the_walk_hit_its_step_limit():
    coarse = np.array([[0.1, 0.316, 1.0, 3.16, 10.0]] * 3)
    fine = np.array([[2.37, 4.22, 7.5],  # inside the coarse grid
                     [178.0, 316.0, 562.0],  # centred two steps past the edge: the limit
                     [5.62, 10.0, 17.8]])  # centred on the edge: the walk found 31.6 worse
    losses = np.array([[[2.0], [1.0], [3.0]], [[3.0], [2.0], [1.0]], [[3.0], [2.0], [1.0]]])

    def scores(lrs, ls):
        n = lrs.shape[0]
        return Scores("t", ls, np.zeros(ls.shape, bool), lrs, (0,), 10.0, np.zeros(n))

    tuned = Scores("t", losses, np.zeros(losses.shape, bool), fine, (0,), 10.0, np.zeros(3),
                   coarse=scores(coarse, np.ones((3, 5, 1))))
    assert [lr_at_edge(tuned, i, extend=2) for i in range(3)] == [False, True, False]
