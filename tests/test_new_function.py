"""A function added to the ops table works everywhere, with nothing else edited.

``softsign(x) = x / (1 + |x|)`` is installed in the table for one test at a time (with
:func:`programs.ops.extended`, which restores the table afterwards) and then goes through every
stage a program goes through: parse, abstract execution, fingerprints, the reference step,
sympy and the simplifier, recognition, the optax/torch/source exports (checked against the
reference step) and the compiled JAX interpreter.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import sympy

import programs
from programs import ops
from programs.ops import ArgKind, Op, ResultKind

SOFTSIGN = Op(
    "softsign",
    (ArgKind.ANY,),
    ResultKind.BROADCAST,
    array=lambda b, x: x / (1.0 + b.xp.abs(x)),
    symbolic=lambda x: x / (1 + sympy.Abs(x)),
    source="x / (1.0 + xp.abs(x))",
    keeps_sign=True,
    doc="x / (1 + |x|)",
)

HEAD = "def train(w, g, m, v, lr):\n"
# Lion with its sign taken through softsign, which keeps signs: the same optimizer as Lion.
LION_THROUGH_SOFTSIGN = HEAD + (
    "  c = interp(g, m, 0.9)\n  s = softsign(c)\n  u = sign(s)\n  wd = w * 0.1\n"
    "  u = u + wd\n  lr = lr * 0.0001\n  update = u * lr\n  m = interp(g, m, 0.99)\n"
    "  return update, m, v\n"
)
# Here softsign's value matters: momentum of the softsign of the gradient.
SOFT_MOMENTUM = HEAD + (
    "  s = softsign(g)\n  m = interp(s, m, 0.9)\n  k = lr * 0.1\n  update = m * k\n"
    "  return update, m, v\n"
)
# The same optimizer spelled with the built-in functions.
SOFT_MOMENTUM_BUILT_IN = HEAD + (
    "  a = abs(g)\n  b = a + 1.0\n  s = g / b\n  m = interp(s, m, 0.9)\n  k = lr * 0.1\n"
    "  update = m * k\n  return update, m, v\n"
)


@pytest.fixture
def softsign():
    assert "softsign" not in programs.OPS
    before = ops.version()
    with ops.extended(SOFTSIGN):
        assert ops.version() != before
        yield SOFTSIGN
    assert "softsign" not in programs.OPS


def test_the_fixture_restores_the_table():
    with pytest.raises(programs.ProgramError, match="unknown function 'softsign'"):
        programs.parse(SOFT_MOMENTUM)
    with ops.extended(SOFTSIGN):
        programs.parse(SOFT_MOMENTUM)
    with pytest.raises(programs.ProgramError, match="unknown function 'softsign'"):
        programs.parse(SOFT_MOMENTUM)


def test_the_table_refuses_entries_it_could_not_handle(softsign):
    with pytest.raises(ValueError, match="exists already"):
        ops.register(SOFTSIGN)
    with pytest.raises(ValueError, match="does not parse"):
        ops.register(Op("broken", (ArgKind.ANY,), ResultKind.BROADCAST, SOFTSIGN.array,
                        SOFTSIGN.symbolic, "x +"))
    with pytest.raises(ValueError, match="built-in"):
        ops.unregister("sign")
    for name in ("if", "_private", "lr"):
        with pytest.raises(ValueError, match="must be an ASCII identifier"):
            ops.register(Op(name, (ArgKind.ANY,), ResultKind.BROADCAST, SOFTSIGN.array,
                            SOFTSIGN.symbolic, SOFTSIGN.source))


def test_an_export_refuses_a_function_named_like_its_runtime(softsign):
    from programs.export import to_source

    clash = Op("leafwise", (ArgKind.ANY,), ResultKind.BROADCAST, SOFTSIGN.array,
               SOFTSIGN.symbolic, SOFTSIGN.source)
    with ops.extended(clash):
        program = programs.parse(HEAD + "  a = leafwise(g)\n  u = a * lr\n  return u, m, v\n")
        with pytest.raises(ValueError, match="'leafwise' has the name of a definition"):
            to_source(program, "optax")


def test_parse_check_and_fingerprints(softsign):
    program = programs.parse(LION_THROUGH_SOFTSIGN)
    assert programs.parse(programs.format(program)) == program
    assert programs.check(program) == []
    assert programs.infer_kinds(programs.parse(HEAD + "  a = softsign(lr)\n  u = g * a\n"
                                               "  return u, m, v\n"))[0] is programs.Kind.SCALAR
    assert not softsign.reduction
    lion = programs.library.load("lion")
    assert programs.fingerprint(program) != programs.fingerprint(lion)
    # sign(softsign(c)) is sign(c): the same updates, so the same functional fingerprint.
    assert programs.functional_fingerprint(program) == programs.functional_fingerprint(lion)


def test_the_reference_step(softsign):
    program = programs.parse(SOFT_MOMENTUM)
    rng = np.random.default_rng(0)
    w, g = [rng.normal(size=(3, 2)), rng.normal(size=4)], [rng.normal(size=(3, 2)),
                                                          rng.normal(size=4)]
    zeros = programs.zeros_like_state(w)
    update, m, _ = programs.step(program, w, g, zeros, zeros, 2.0)
    for u, mm, x in zip(update, m, g, strict=True):
        np.testing.assert_allclose(mm, 0.1 * x / (1.0 + np.abs(x)))
        np.testing.assert_allclose(u, mm * 0.2)


def test_sympy_simplify_and_recognize(softsign):
    x = programs.to_sympy(programs.parse(SOFT_MOMENTUM))
    assert x.m.has(sympy.Abs)
    program = programs.parse(LION_THROUGH_SOFTSIGN)
    simple = programs.simplify(program)
    assert "softsign" not in {s.op for s in simple.statements}  # sign sees through it
    assert len(simple) == len(programs.simplify(programs.library.load("lion")))
    assert programs.recognize(program).name == "lion"
    kept = programs.simplify(programs.parse(SOFT_MOMENTUM))
    assert "softsign" in {s.op for s in kept.statements}
    assert programs.recognize(programs.parse(SOFT_MOMENTUM)) is None


_counter = itertools.count()


def _load(text: str, directory: Path) -> ModuleType:
    name = f"exported_softsign_{next(_counter)}"
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


def test_the_exports_match_the_reference(softsign, tmp_path):
    from programs.export import to_optax, to_source, to_torch
    from programs.export.verify import (
        coverage_programs,
        max_error,
        optax_trajectory,
        reference_trajectory,
        sample_problem,
        torch_trajectory,
    )

    cases = {k: p for k, p in coverage_programs().items() if k.startswith("softsign/")}
    cases["soft_momentum"] = programs.parse(SOFT_MOMENTUM)
    assert len(cases) >= 4
    params, grads = sample_problem(4)
    for key, program in cases.items():
        reference = reference_trajectory(program, params, grads, lr=0.37)
        optax_text = to_source(program, target="optax")
        torch_text = to_source(program, target="torch")
        assert "def softsign(x):" in optax_text and "def softsign(x):" in torch_text
        module = _load(optax_text, tmp_path)
        assert "softsign" in programs.format(to_torch(program).program)
        trajectories = {
            "optax": optax_trajectory(to_optax(program, 0.37), params, grads),
            "optax source": optax_trajectory(module.optimizer(0.37), params, grads),
            "torch": torch_trajectory(to_torch(program), params, grads, 0.37),
            "torch source": torch_trajectory(_load(torch_text, tmp_path).Optimizer, params,
                                             grads, 0.37),
        }
        for how, trajectory in trajectories.items():
            assert max_error(trajectory, reference) < 1e-5, (key, how)


def test_the_jax_interpreter_trains_with_it(softsign):
    from proxy_tasks import evaluate

    soft, built_in = programs.parse(SOFT_MOMENTUM), programs.parse(SOFT_MOMENTUM_BUILT_IN)
    scores = evaluate("teacher/xs", [soft, built_in], lrs=[1.0], seeds=(0,))
    losses = scores.losses[:, 0, 0]
    assert np.all(np.isfinite(losses))
    # The built-in spelling differs only by div's eps guard.
    assert float(losses[0]) == pytest.approx(float(losses[1]), rel=1e-4)
