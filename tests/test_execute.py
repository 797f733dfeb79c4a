"""The one statement loop runs a program alike on numpy, jax and torch arrays."""

import numpy as np
import pytest

import programs
from programs import library
from programs.execute import run, step_function
from programs.reference import NumpyBackend, run_flat

N = 7


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(0)
    return [rng.normal(size=N) for _ in range(4)]


def test_run_keeps_every_named_value_and_the_inputs(inputs):
    program = library.load("adamw")
    backend = NumpyBackend(np.zeros(N, np.int64), 1)
    env = run(program, backend, *inputs, 0.5)
    assert set(env) == set(programs.INPUTS) | set(program.variables)
    update, m, v = run_flat(program, *inputs, 0.5, backend)
    np.testing.assert_array_equal(env[program.outputs[0]], update)
    np.testing.assert_array_equal(env["v"], v)


def test_constant_and_result_conversions_apply_to_every_statement(inputs):
    program = library.load("lion")
    backend = NumpyBackend(np.zeros(N, np.int64), 1)
    seen_constants = []

    def constant(c):
        seen_constants.append(c)
        return np.float32(c)

    env = run(program, backend, *(x.astype(np.float32) for x in inputs), np.float32(0.5),
              constant=constant, result=lambda x: np.asarray(x, np.float64))
    assert sorted(seen_constants) == sorted(program.constants)
    assert all(env[s.target].dtype == np.float64 for s in program.statements)


@pytest.mark.parametrize("name", ["lion", "adamw"])
def test_the_step_function_on_jax_and_torch_matches_numpy(inputs, name):
    jnp = pytest.importorskip("jax.numpy")
    torch = pytest.importorskip("torch")
    from programs.export import jax_runtime, torch_runtime

    program = library.load(name)
    expected = run_flat(program, *inputs, 0.5, NumpyBackend(np.zeros(N, np.int64), 1))
    on_jax = step_function(program, jax_runtime)(
        *(jax_runtime.Leaves([jnp.asarray(x, jnp.float32)]) for x in inputs), 0.5)
    on_torch = step_function(program, torch_runtime)(
        *(torch_runtime.Leaves([torch.tensor(x, dtype=torch.float32)], True) for x in inputs),
        0.5)
    for ours_jax, ours_torch, ref in zip(on_jax, on_torch, expected, strict=True):
        np.testing.assert_allclose(np.asarray(ours_jax.items[0]), ref, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(ours_torch.items[0].numpy(), ref, rtol=1e-5, atol=1e-7)
