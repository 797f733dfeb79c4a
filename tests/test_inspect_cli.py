"""``evosearch inspect``: what it prints for library names and files, and how it fails."""

from __future__ import annotations

import subprocess
import sys

from evosearch.cli import main

MESSY_LION = """\
# Lion in disguise: renamed, state in v, sign as x / |x|, lr scale split, dead code.
def train(w, g, m, v, lr):
  junk = exp(w)
  blend = interp(g, v, 0.9)
  size = abs(blend)
  direction = blend / size
  decay = w * 0.1
  direction = direction + decay
  k = lr * 0.01
  k = k * 0.01
  update = direction * k
  v = interp(g, v, 0.99)
  return update, m, v
"""


def test_inspect_library_name(capsys):
    assert main(["inspect", "lion"]) == 0
    out = capsys.readouterr().out
    assert "# library program 'lion'" in out
    assert "live statements: 7 of 7" in out
    assert "state slots: m (v unused)" in out
    assert "recognized: lion(b1=0.9, b2=0.99, weight_decay=0.1, lr_scale=1e-4)" in out
    assert "update = 0.0001*lr*(0.1*w + sign(0.1*g + 0.9*m))" in out
    assert "m' = 0.01*g + 0.99*m" in out
    assert "v'" not in out
    assert "latex" not in out


def test_inspect_file_shows_live_code_state_recognition_and_latex(tmp_path, capsys):
    path = tmp_path / "disguised.prog"
    path.write_text(MESSY_LION)
    assert main(["inspect", str(path), "--latex"]) == 0
    out = capsys.readouterr().out
    assert f"# {path}" in out
    assert "live statements: 9 of 10" in out
    assert "junk = exp(w)" in out.split("live statements")[0]  # the program as written
    assert "junk" not in out.split("live statements")[1].split("simplified")[0]
    assert "state slots: v (m unused)" in out
    assert "recognized: lion(b1=0.9, b2=0.99, weight_decay=0.1, lr_scale=1e-4)" in out
    assert "v' = 0.01*g + 0.99*v" in out
    assert "simplified: 7 statements (from 10)" in out
    assert "\\begin{aligned}" in out and "v' &= 0.01 g + 0.99 v" in out


def test_inspect_unrecognized_program(tmp_path, capsys):
    path = tmp_path / "odd.prog"
    path.write_text("def train(w, g, m, v, lr):\n  t = tanh(g)\n  update = t * lr\n"
                    "  return update, m, v\n")
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "recognized: no known optimizer" in out
    assert "state slots: none (stateless)" in out
    assert "update = lr*tanh(g)" in out


def test_inspect_names_file_and_line_of_a_syntax_problem(tmp_path, capsys):
    path = tmp_path / "bad.prog"
    path.write_text("def train(w, g, m, v, lr):\n  u = sign(g)\n  update = frobnicate(u)\n"
                    "  return update, m, v\n")
    assert main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:3:" in err
    assert "unknown function 'frobnicate'" in err


def test_inspect_names_file_and_line_of_an_invalid_program(tmp_path, capsys):
    path = tmp_path / "invalid.prog"
    path.write_text("def train(w, g, m, v, lr):\n  n = norm(lr)\n  update = g * n\n"
                    "  return update, m, v\n")
    assert main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:2:" in err
    assert "must be a tensor" in err


def test_inspect_unknown_name(capsys):
    assert main(["inspect", "lion2"]) == 2
    err = capsys.readouterr().err
    assert "lion2: no such file, and no library program of that name" in err
    assert "lion" in err


def test_inspect_runs_as_a_command():
    result = subprocess.run(
        [sys.executable, "-m", "evosearch", "inspect", "adamw"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "recognized: adamw(b1=0.9, b2=0.999, weight_decay=0.01, lr_scale=1e-3)" in result.stdout
