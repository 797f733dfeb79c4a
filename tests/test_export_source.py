"""programs.export.to_source: standalone, readable, importable modules; no injected code."""

from __future__ import annotations

import ast
import importlib.util
import itertools
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import programs
from programs import OPS, Program, ProgramError, Statement
from programs.export import to_optax, to_source
from programs.export.source import reserved_names
from programs.export.verify import (
    coverage_programs,
    max_error,
    optax_trajectory,
    reference_trajectory,
    sample_problem,
    torch_trajectory,
)
from programs.ops import function_source

_ALLOWED_IMPORTS = {
    "optax": {"collections.abc", "typing", "jax", "jax.numpy", "optax"},
    "torch": {"collections.abc", "typing", "operator", "torch"},
}
_counter = itertools.count()


def _load(text: str, directory: Path) -> ModuleType:
    """Import generated text as a module from a file, as a user would."""
    name = f"exported_{next(_counter)}"
    path = directory / f"{name}.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


def _imports(text: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module)
    return names


@pytest.mark.parametrize("target", ["optax", "torch"])
def test_every_library_function_has_source_that_parses(target: str) -> None:
    for name, op in OPS.items():
        tree = ast.parse(function_source(op, target))
        (fn,) = tree.body
        assert isinstance(fn, ast.FunctionDef) and fn.name == name
        assert [a.arg for a in fn.args.args] == list(op.source_params)
        assert isinstance(fn.body[-1], ast.Return)


@pytest.mark.parametrize("target", ["optax", "torch"])
def test_runtime_does_not_lean_on_names_generated_code_redefines(target: str) -> None:
    # A generated module defines abs, max, min...: its runtime part must not call the builtins.
    from programs.export import jax_runtime, torch_runtime

    runtime = jax_runtime if target == "optax" else torch_runtime
    tree = ast.parse(Path(runtime.__file__).read_text(encoding="utf-8"))
    loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert not loaded & (set(OPS) | {"EPS", "train", "optimizer", "Optimizer"})


def test_lion_module_is_standalone_and_readable() -> None:
    text = to_source(programs.library.load("lion"), target="optax")
    assert _imports(text) <= _ALLOWED_IMPORTS["optax"]
    train = text[text.index("\ndef train(") + 1 :].split("\n\n")[0].splitlines()
    assert train[2:] == [
        "    c = interp(g, m, 0.9)",
        "    u = sign(c)",
        "    wd = w * 0.1",
        "    u = u + wd",
        "    update = u * lr",  # the lr factor is the default learning rate
        "    m = interp(g, m, 0.99)",
        "    return update, m, v",
    ]
    assert "def sign(x):" in text and "def cos(x):" not in text  # only the functions it uses
    assert "def optimizer(learning_rate: Any = 0.0001)" in text
    torch_text = to_source(programs.library.load("lion"), target="torch")
    assert _imports(torch_text) <= _ALLOWED_IMPORTS["torch"]


def test_generated_optax_module_matches_the_in_memory_export(tmp_path: Path) -> None:
    params, grads = sample_problem(3)
    failures = {}
    for key, program in coverage_programs().items():
        module = _load(to_source(program, target="optax"), tmp_path)
        got = optax_trajectory(module.optimizer(0.37), params, grads, jit=False)
        expected = optax_trajectory(to_optax(program, 0.37), params, grads, jit=False)
        error = max_error(got, expected)
        if not error < 1e-6:
            failures[key] = error
    assert not failures


def test_generated_optax_module_jits_and_matches_the_reference(tmp_path: Path) -> None:
    program = programs.library.load("adamw")
    module = _load(to_source(program, target="optax"), tmp_path)
    params, grads = sample_problem(50, seed=2)
    expected = reference_trajectory(program, params, grads, lr=3e-3)
    assert max_error(optax_trajectory(module.optimizer(3e-3), params, grads), expected) < 1e-5


def test_generated_torch_module_matches_the_in_memory_export(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from programs.export import to_torch

    params, grads = sample_problem(3)
    failures = {}
    for key, program in coverage_programs().items():  # foreach=False: see test_export_torch
        module = _load(to_source(program, target="torch"), tmp_path)
        got = torch_trajectory(module.Optimizer, params, grads, 0.37)
        expected = torch_trajectory(to_torch(program), params, grads, 0.37)
        reference = reference_trajectory(program, params, grads, lr=0.37)
        errors = (max_error(got, expected), max_error(got, reference))
        if not (errors[0] < 1e-6 and errors[1] < 1e-5):
            failures[key] = errors
    assert not failures


HOSTILE_NAMES = [
    "x); import os; (",
    "__import__('os').system('true')",
    'a"""\nopen("PWNED", "w")\n"""',
    "back\\slash",
    "ünïcode",
    "class",
    "print",
    "sign",
    "xp",
    "Leaves",
    "torch",
    "__class__",
    "train",
    "var0",
]


@pytest.mark.parametrize("target", ["optax", "torch"])
def test_hostile_names_are_renamed_and_run_unchanged(
    target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if target == "torch":
        pytest.importorskip("torch")
    # A chain through every hostile name, ending in the update: all of them stay live.
    statements, previous = [], "g"
    for name in HOSTILE_NAMES:
        statements.append(Statement(name, "mul", (previous, 0.5)))
        previous = name
    statements.append(Statement("update", "mul", (previous, "lr")))
    statements.append(Statement(HOSTILE_NAMES[1], "interp", ("g", "m", 0.9)))
    program = Program(tuple(statements), ("update", HOSTILE_NAMES[1], "v"))
    monkeypatch.chdir(tmp_path)
    text = to_source(program, target=target)
    module = _load(text, tmp_path)
    assert not (tmp_path / "PWNED").exists()
    code = text.split('"""', 2)[2]  # everything after the module docstring
    for name in HOSTILE_NAMES[:5]:
        assert name not in code
    for name in HOSTILE_NAMES[2:5]:  # quotes, backslashes, newlines, non-ASCII: escaped
        assert name not in text
    shown = [name for name in HOSTILE_NAMES if "\n" not in name]  # one-line names
    assert all(name in module.__doc__ for name in shown)  # the docstring shows them as data
    reserved = reserved_names(target)
    train = next(
        n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef) and n.name == "train"
    )
    for node in ast.walk(train):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            assert node.id.isascii() and node.id not in reserved
    params, grads = sample_problem(3)
    expected = reference_trajectory(program, params, grads, lr=0.5)
    if target == "optax":
        got = optax_trajectory(module.optimizer(0.5), params, grads, jit=False)
    else:
        got = torch_trajectory(module.Optimizer, params, grads, 0.5)
    assert max_error(got, expected) < 1e-6


def test_hostile_constants_and_functions_are_rejected() -> None:
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ProgramError, match="finite"):
            to_source(Program((Statement("update", "mul", ("g", bad)),)))
    with pytest.raises(ProgramError, match="unknown function"):
        to_source(Program((Statement("update", "__import__", ("g",)),)))
    with pytest.raises(ProgramError, match="must be str"):
        to_source(Program((Statement(("t",), "sign", ("g",)),)))  # type: ignore[arg-type]
    with pytest.raises(ProgramError, match="not defined"):
        to_source(Program((Statement("update", "sign", ("g",)),), ("update", "m;1", "v")))
    with pytest.raises(ValueError, match="unknown target"):
        to_source(programs.library.load("lion"), target="jax; import os")


def test_float_subclass_cannot_smuggle_text() -> None:
    class Sneaky(float):
        def __repr__(self) -> str:
            return "__import__('os')"

    text = to_source(Program((Statement("update", "mul", ("g", Sneaky(0.25))),)))
    assert "__import__" not in text and "update = g * 0.25" in text


def test_writing_source_imports_neither_jax_nor_torch() -> None:
    code = (
        "import sys, programs\n"
        "from programs.export import to_source\n"
        "to_source(programs.library.load('lion'), 'torch')\n"
        "to_source(programs.library.load('lion'), 'optax')\n"
        "print(sorted(m for m in ('jax', 'torch', 'optax') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
