"""``evosearch export``: writes a checked, importable module; clear errors for bad input."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

from evosearch.cli import main


def _import(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_exports_a_library_program_to_a_checked_optax_module(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "lion_optax.py"
    assert main(["export", "lion", "--to", "optax", "-o", str(out)]) == 0
    assert "checked: 20 steps beside programs.step" in capsys.readouterr().err
    module = _import(out)
    assert callable(module.optimizer) and "interp(g, m, 0.9)" in module.__doc__


def test_source_goes_to_stdout_for_the_named_target(capsys: pytest.CaptureFixture) -> None:
    assert main(["export", "signum", "--to", "source", "--no-check"]) == 0
    text = capsys.readouterr().out
    ast.parse(text)
    assert "def optimizer(learning_rate" in text  # optax is the default target


def test_exports_a_program_file_to_torch(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("torch")
    program = tmp_path / "found.prog"
    program.write_text(
        "def train(w, g, m, v, lr):\n  m = interp(g, m, 0.8)\n  u = sign(m)\n"
        "  update = u * lr\n  return update, m, v\n",
        encoding="utf-8",
    )
    out = tmp_path / "found_torch.py"
    assert main(["export", str(program), "--to", "torch", "-o", str(out)]) == 0
    assert "checked" in capsys.readouterr().err
    assert _import(out).Optimizer.slots == ("m",)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["no/such/file.prog", "--to", "optax"], "no/such/file.prog: no such file"),
        (["lionn", "--to", "optax"], "known: adabelief"),
        (["lion", "--to", "optax", "--target", "torch"], "contradicts --target torch"),
    ],
)
def test_bad_input_is_named(argv: list, message: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["export", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("evosearch export: error:") and message in err


def test_invalid_program_file_names_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    bad = tmp_path / "bad.prog"
    bad.write_text(
        "def train(w, g, m, v, lr):\n  u = sign(w)\n  update = u * lr\n  return update, m, v\n",
        encoding="utf-8",
    )
    out = tmp_path / "never.py"
    assert main(["export", str(bad), "--to", "optax", "-o", str(out)]) == 2
    assert f"{bad}" in capsys.readouterr().err
    assert not out.exists()
