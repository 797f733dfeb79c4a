"""An exported optimizer's learning rate is the step size, as in optax and torch.

The program's constant lr factor (Lion's ``lr = lr * 0.0001``) is divided out of the exported
program and becomes the default learning rate; a program that does not use ``lr`` as one factor
of its update keeps the search's meaning (``learning_rate`` is its ``lr`` input).
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import programs
from programs.export import to_optax, to_source
from programs.export.prepare import prepare
from programs.export.verify import (
    max_error,
    optax_trajectory,
    reference_trajectory,
    sample_problem,
)
from programs.learning_rate import split_lr_factor

LION = programs.library.load("lion")
ADAMW = programs.library.load("adamw")
HEAD = "def train(w, g, m, v, lr):\n"
_counter = itertools.count()


def _module(program, target, directory: Path):
    path = directory / f"exported_lr_{next(_counter)}.py"
    path.write_text(to_source(program, target=target), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[path.stem]
    return module


def _tree(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {"dense": {"kernel": rng.standard_normal((6, 4)), "bias": rng.standard_normal(4)},
            "embed": [rng.standard_normal((3, 5)), np.float64(rng.standard_normal())]}


def _tree_trajectory(tx: optax.GradientTransformation, steps: int) -> list:
    params = jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), _tree())
    rng = np.random.default_rng(1)
    state = tx.init(params)
    update = jax.jit(tx.update)
    out = []
    for _ in range(steps):
        grads = jax.tree.map(lambda p: jnp.asarray(rng.standard_normal(np.shape(p)), jnp.float32),
                             params)
        updates, state = update(grads, state, params)
        params = optax.apply_updates(params, updates)
        out.append(jax.tree.leaves(params))
    return out


# --- the factor ---------------------------------------------------------------------------------


def test_every_library_program_has_its_lr_scale_as_its_factor():
    for name in programs.library.names():
        program = programs.library.load(name)
        split = split_lr_factor(program)
        assert split is not None, name
        scale = next(s.args[1] for s in program.statements
                     if s.target == "lr" and s.op == "mul")
        assert split.factor == scale, name
        assert "lr = lr *" not in programs.format(split.program)
        assert len(split.program) == len(programs.remove_dead_code(program)) - 1


@pytest.mark.parametrize(
    ("body", "factor"),
    [
        ("  u = g * lr\n  return u, m, v\n", 1.0),
        ("  a = lr * 0.5\n  b = 4.0 * a\n  n = norm(g)\n  c = b * n\n  x = g * c\n"
         "  y = interp(x, x, 0.5)\n  u = negative(y)\n  return u, m, v\n", 2.0),
        ("  s = lr * 0.01\n  lr = m * 2.0\n  u = g * s\n  update = u * lr\n"
         "  m = interp(g, m, 0.9)\n  return update, m, v\n", 0.01),
        ("  s = lr * 0.01\n  a = g * s\n  b = m * s\n  c = a - b\n  d = sign(m)\n  u = c / d\n"
         "  m = interp(g, m, 0.9)\n  return u, m, v\n", 0.01),
    ],
)
def test_linear_uses_of_lr_are_divided_out(body, factor):
    program = programs.parse(HEAD + body)
    split = split_lr_factor(program)
    assert split is not None and split.factor == pytest.approx(factor, rel=1e-12)
    rng = np.random.default_rng(0)
    w, g = rng.normal(size=6), rng.normal(size=6)
    zeros = np.zeros(6)
    for lr in (0.3, 2.0):
        expected = programs.step(program, w, g, zeros, zeros, lr)
        got = programs.step(split.program, w, g, zeros, zeros, factor * lr)
        for a, b in zip(got, expected, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize(
    "body",
    [
        "  a = sqrt(lr)\n  u = g * a\n  return u, m, v\n",  # not linear
        "  a = lr + 1.0\n  u = g * a\n  return u, m, v\n",  # affine
        "  a = g * lr\n  u = a + g\n  return u, m, v\n",  # affine in the update
        "  a = g * lr\n  m = interp(a, m, 0.9)\n  u = m * 1.0\n  return u, m, v\n",  # in the state
        "  a = lr * 0.5\n  b = lr * 0.25\n  x = g * a\n  y = w * b\n  u = x + y\n"
        "  return u, m, v\n",  # two scales
        "  a = lr * -0.001\n  u = g * a\n  return u, m, v\n",  # a negative factor
        "  u = g * 0.1\n  return u, m, v\n",  # lr unused
        "  a = g * lr\n  u = a * lr\n  return u, m, v\n",  # quadratic
    ],
)
def test_other_uses_of_lr_have_no_factor(body):
    assert split_lr_factor(programs.parse(HEAD + body)) is None


# --- optax ----------------------------------------------------------------------------------------


def test_exported_lion_with_learning_rate_3e4_is_optax_lion(tmp_path):
    expected = _tree_trajectory(optax.lion(3e-4, b1=0.9, b2=0.99, weight_decay=0.1), 30)
    module = _module(LION, "optax", tmp_path)
    for tx in (to_optax(LION, 3e-4), to_optax(LION, learning_rate=3e-4),
               module.optimizer(learning_rate=3e-4)):
        got = _tree_trajectory(tx, 30)
        for a_step, b_step in zip(got, expected, strict=True):
            for a, b in zip(a_step, b_step, strict=True):
                np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    moved = np.max(np.abs(np.asarray(expected[-1][0]) - _tree()["dense"]["bias"]))
    assert moved > 1e-3  # 30 steps of 3e-4


def _adamw_without_bias_correction(params, grads, lr):
    """AdamW as the library writes it (no bias correction), written out in numpy."""
    w = [np.array(p, np.float64) for p in params]
    m = [np.zeros_like(x) for x in w]
    v = [np.zeros_like(x) for x in w]
    out = []
    for g in grads:
        for i, gi in enumerate(g):
            m[i] = 0.9 * m[i] + 0.1 * gi
            v[i] = 0.999 * v[i] + 0.001 * gi * gi
            w[i] = w[i] - lr * (m[i] / (np.sqrt(v[i]) + 1e-8) + 0.01 * w[i])
        out.append([x.copy() for x in w])
    return out


def test_exported_adamw_takes_steps_of_its_learning_rate(tmp_path):
    params, grads = sample_problem(25, seed=4)
    expected = _adamw_without_bias_correction(params, grads, 2e-3)
    got = optax_trajectory(to_optax(ADAMW, 2e-3), params, grads)
    assert max_error(got, expected) < 1e-5
    module = _module(ADAMW, "optax", tmp_path)
    assert max_error(optax_trajectory(module.optimizer(2e-3), params, grads), expected) < 1e-5
    # ... which is the reference step at lr 2 (the program multiplies its lr by 1e-3).
    reference = []
    w = [np.array(p) for p in params]
    m = v = programs.zeros_like_state(w)
    for g in grads:
        update, m, v = programs.step(ADAMW, w, g, m, v, 2.0)
        w = [a - b for a, b in zip(w, update, strict=True)]
        reference.append(w)
    assert max_error(got, reference) < 1e-5


def test_the_default_learning_rate_is_the_programs_factor(tmp_path):
    assert prepare(LION).lr_factor == 1e-4 and prepare(ADAMW).default_learning_rate == 1e-3
    params, grads = sample_problem(10, seed=6)
    as_searched = []  # the program at lr 1, as the search ran it
    w = [np.array(p) for p in params]
    m = v = programs.zeros_like_state(w)
    for g in grads:
        update, m, v = programs.step(LION, w, g, m, v, 1.0)
        w = [a - b for a, b in zip(w, update, strict=True)]
        as_searched.append(w)
    module = _module(LION, "optax", tmp_path)
    for tx in (to_optax(LION), module.optimizer()):
        assert max_error(optax_trajectory(tx, params, grads), as_searched) < 1e-6
    text = to_source(LION, "optax")
    assert "def optimizer(learning_rate: Any = 0.0001)" in text
    assert "0.0001, is divided out of the program and is the default learning rate" in text


def test_without_a_factor_the_learning_rate_is_the_programs_lr(tmp_path):
    program = programs.parse(HEAD + "  a = sqrt(lr)\n  u = g * a\n  return u, m, v\n")
    assert prepare(program).lr_factor is None
    params, grads = sample_problem(3, seed=7)
    w = [np.array(p) for p in params]
    zeros = programs.zeros_like_state(w)
    update, _, _ = programs.step(program, w, grads[0], zeros, zeros, 4.0)
    expected = [[a - b for a, b in zip(w, update, strict=True)]]
    assert max_error(optax_trajectory(to_optax(program, 4.0), params, grads[:1]), expected) < 1e-6
    text = to_source(program, "optax")
    assert "def optimizer(learning_rate: Any = 1.0)" in text
    assert "fed to the program's lr input as it is" in text


# --- torch ----------------------------------------------------------------------------------------


def test_exported_torch_lion_takes_steps_of_its_learning_rate(tmp_path):
    torch = pytest.importorskip("torch")
    from programs.export import to_torch
    from programs.export.verify import torch_trajectory

    params, grads = sample_problem(30, seed=8)
    # torch has no Lion of its own: compare with optax's, written independently of evosearch,
    # and with the reference step.
    expected = optax_trajectory(optax.lion(3e-4, b1=0.9, b2=0.99, weight_decay=0.1), params,
                                grads)
    assert max_error(reference_trajectory(LION, params, grads, lr=3e-4), expected) < 1e-6
    cls = to_torch(LION)
    assert cls.default_lr == 1e-4 and "0.0001, is divided out" in cls.__doc__
    module = _module(LION, "torch", tmp_path)
    assert module.Optimizer.default_lr == 1e-4
    for optimizer_class in (cls, module.Optimizer):
        got = torch_trajectory(optimizer_class, params, grads, 3e-4)
        assert max_error(got, expected) < 1e-6
    p = torch.nn.Parameter(torch.zeros(2))
    assert cls([p]).param_groups[0]["lr"] == 1e-4
