"""`evosearch simplify` end to end on a tiny real task."""

import json

from evosearch.cli import main

JUNK_SGD = """\
def train(w, g, m, v, lr):
  junk = cos(w)
  s = g * 1.0
  s = clip(s, 1000000.0)
  lr = lr * 0.1
  update = s * lr
  v = interp(junk, v, 0.5)
  return update, m, v
"""


def test_simplify_removes_statements_that_cost_nothing(tmp_path, capsys) -> None:
    path = tmp_path / "junk.prog"
    path.write_text(JUNK_SGD)
    out_path = tmp_path / "short.prog"
    json_path = tmp_path / "steps.json"
    code = main(["simplify", str(path), "--tasks", "teacher/xs", "--seeds", "2",
                 "-o", str(out_path), "--json", str(json_path)])
    assert code == 0
    steps = json.loads(json_path.read_text())["steps"]
    assert steps[0]["statements"] < 6  # analytic pass: dead code, `g * 1.0` folded
    assert steps[-1]["statements"] <= 2
    assert "clip" not in out_path.read_text() and "cos" not in out_path.read_text()
    assert "def train" in capsys.readouterr().out


def test_simplify_reports_bad_input(tmp_path, capsys) -> None:
    assert main(["simplify", str(tmp_path / "missing.prog")]) == 2
    assert "no such file" in capsys.readouterr().err
    bad = tmp_path / "bad.prog"
    bad.write_text("def train(w, g, m, v, lr):\n  u = foo(g)\n  return u, m, v\n")
    assert main(["simplify", str(bad)]) == 2
    assert f"{bad}:2:" in capsys.readouterr().err
    assert main(["simplify", "sgd", "--tasks", "nope/s"]) == 2
    assert "unknown task" in capsys.readouterr().err
