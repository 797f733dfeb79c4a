"""``evosearch rank``: a table and JSON of programs ranked on tasks with tuned lrs, paired seeds."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evosearch.cli import main
from proxy_tasks.rank import load_programs, rank

TASKS = "teacher/xs,illcond/xs"


def test_rank_prints_a_table_and_writes_the_same_as_json(tmp_path, capsys):
    out = tmp_path / "rank.json"
    mine = tmp_path / "halfsgd.prog"
    mine.write_text("# plain SGD at half the library's scale\n"
                    "def train(w, g, m, v, lr):\n  lr = lr * 0.05\n  update = g * lr\n"
                    "  return update, m, v\n")
    code = main(["rank", "--tasks", TASKS, "--programs", f"lion,adamw,sgd,{mine}",
                 "--seeds", "3", "--tune-seeds", "1", "--lrs", "1,3,10", "--json", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    for word in ("teacher/xs", "illcond/xs", "overall", "lion", "halfsgd", "baseline",
                 "ranking:"):
        assert word in text
    data = json.loads(out.read_text())
    assert data["baseline"] == "adamw" and data["seeds"] == [0, 1, 2]
    assert data["tune_seeds"] == [1000]
    assert sorted(data["ranking"]) == sorted(["lion", "adamw", "sgd", "halfsgd"])
    overall = data["overall"]
    assert overall["adamw"]["mean"] == pytest.approx(1.0)
    assert overall["adamw"]["diff"] is None
    for name in ("lion", "sgd", "halfsgd"):
        entry = overall[name]
        assert 0.0 <= entry["p"] <= 1.0
        assert entry["diff"] == pytest.approx(entry["mean"] - 1.0, abs=1e-9)
        for task in TASKS.split(","):
            t = data["per_task"][task][name]
            assert len(t["losses"]) == 3 and t["best_lr"] in (1.0, 3.0, 10.0)
            assert t["mean"] == pytest.approx(np.mean(t["losses"]))
    # The ranking is by overall mean, best first.
    means = [overall[n]["mean"] for n in data["ranking"]]
    assert means == sorted(means)


def test_rank_tunes_on_separate_seeds_and_pairs_the_evaluation_seeds():
    programs = load_programs(["adamw", "rmsprop"])
    result = rank(programs, ["teacher/xs"], seeds=3, tune_seeds=1, lrs=[1.0, 10.0])
    adamw = result.per_task["teacher/xs"]["adamw"]
    rms = result.per_task["teacher/xs"]["rmsprop"]
    assert result.tune_seeds == [1000] and result.seeds == [0, 1, 2]
    assert rms.diff == pytest.approx(np.mean(np.subtract(rms.losses, adamw.losses)))
    assert result.overall["adamw"].losses == pytest.approx(
        list(np.array(adamw.losses) / np.mean(adamw.losses)))


def test_rank_reports_bad_input_and_exits_nonzero(tmp_path, capsys):
    assert main(["rank", "--tasks", "teacher/xs", "--programs", "lion,nonesuch"]) == 2
    assert "unknown program 'nonesuch'" in capsys.readouterr().err
    broken = tmp_path / "broken.prog"
    broken.write_text("def train(w, g, m, v, lr):\n  u = sing(g)\n  return u, m, v\n")
    assert main(["rank", "--tasks", "teacher/xs", "--programs", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "broken.prog:2" in err and "unknown function 'sing'" in err
    assert main(["rank", "--tasks", "teacher/xxl", "--programs", "lion"]) == 2
    assert "unknown task" in capsys.readouterr().err


def test_weights_aggregate_and_weight_sensitivity():
    programs = load_programs(["adamw", "sgd"])
    tasks = ["teacher/xs", "illcond/xs"]
    result = rank(programs, tasks, seeds=2, tune_seeds=0, lrs=[1.0, 10.0], weights=[3.0, 1.0],
                  first_seed=5)
    assert result.seeds == [5, 6] and result.weights == [3.0, 1.0]
    ratio = {t: np.mean(result.per_task[t]["sgd"].losses)
             / np.mean(result.per_task[t]["adamw"].losses) for t in tasks}
    expected = 0.75 * ratio["teacher/xs"] + 0.25 * ratio["illcond/xs"]
    assert result.overall["sgd"].mean == pytest.approx(expected)
    assert result.aggregate([3.0, 1.0])["sgd"] == pytest.approx(expected)
    rows = result.weight_sensitivity(0.2)
    assert len(rows) == 4 and {r["factor"] for r in rows} == {0.8, 1.2}
    for r in rows:
        means = result.aggregate([3.0 * (r["factor"] if r["task"] == tasks[0] else 1.0),
                                  1.0 * (r["factor"] if r["task"] == tasks[1] else 1.0)])
        assert r["first"] == min(means, key=means.get)
        assert r["margin"] >= 0
    with pytest.raises(ValueError, match="weight"):
        rank(programs, tasks, seeds=2, weights=[1.0])
