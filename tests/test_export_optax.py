"""programs.export.to_optax: a program as a first-class optax transformation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import programs
from programs import Program, ProgramError, Statement
from programs.export import to_optax
from programs.export.jax_runtime import ProgramState
from programs.export.verify import (
    coverage_programs,
    max_error,
    optax_trajectory,
    reference_trajectory,
    sample_problem,
)

LION = programs.library.load("lion")
LION_SCALE = 1e-4  # the library's lion multiplies lr by this: the export's default learning rate


def _tree(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "dense": {"kernel": rng.standard_normal((6, 4)), "bias": rng.standard_normal(4)},
        "embed": [rng.standard_normal((3, 5)), np.float32(rng.standard_normal())],
    }


def _as_jax(tree: dict) -> dict:
    return jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), tree)


def _grads(params: dict, steps: int, seed: int = 1) -> dict:
    """``steps`` random gradients stacked on a leading axis (for ``lax.scan``)."""
    rng = np.random.default_rng(seed)
    return jax.tree.map(
        lambda p: jnp.asarray(rng.standard_normal((steps, *np.shape(p))), jnp.float32), params
    )


def _scan(tx: optax.GradientTransformation, params: dict, grads: dict) -> tuple:
    """Every step's params and the final state, in one jitted ``lax.scan``."""

    def body(carry: tuple, g: dict) -> tuple:
        p, state = carry
        updates, state = tx.update(g, state, p)
        p = optax.apply_updates(p, updates)
        return (p, state), p

    (_, state), trajectory = jax.jit(lambda p: jax.lax.scan(body, (p, tx.init(p)), grads))(params)
    return trajectory, state


def test_lion_matches_optax_lion_over_1000_steps() -> None:
    params, lr = _as_jax(_tree()), 3e-3
    grads = _grads(params, 1000)
    ours, our_state = _scan(to_optax(LION, lr), params, grads)
    theirs, their_state = _scan(
        optax.lion(learning_rate=lr, b1=0.9, b2=0.99, weight_decay=0.1), params, grads
    )
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    their_mu = their_state[0].mu
    for a, b in zip(jax.tree.leaves(our_state.m), jax.tree.leaves(their_mu), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    moved = jax.tree.map(lambda a, b: np.max(np.abs(a[-1] - b)), ours, params)
    assert min(jax.tree.leaves(moved)) > 0.1  # 1000 steps of 3e-3 sign updates really moved


def test_lion_matches_the_reference_step_over_1000_steps() -> None:
    params, grads = sample_problem(1000, seed=3)
    expected = reference_trajectory(LION, params, grads, lr=20.0 * LION_SCALE)
    got = optax_trajectory(to_optax(LION, 20.0 * LION_SCALE), params, grads)
    assert max_error(got, expected) < 1e-5
    assert max_error(got[:1], expected[-1:]) > 1e-2  # the trajectory is not flat


def test_schedule_is_evaluated_at_the_step_count_and_only_then_counts() -> None:
    params = _as_jax(_tree())
    grads = _grads(params, 50)
    schedule = optax.linear_schedule(3e-3, 0.0, transition_steps=50)
    ours, state = _scan(to_optax(LION, schedule), params, grads)
    theirs, _ = _scan(optax.lion(schedule, b1=0.9, b2=0.99, weight_decay=0.1), params, grads)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    assert int(state.count) == 50
    assert to_optax(LION, 1.0).init(params).count is None


@pytest.mark.parametrize(("name", "slots"), [("lion", ("m",)), ("adamw", ("m", "v")),
                                              ("sgd", ()), ("rmsprop", ("v",))])  # fmt: skip
def test_state_holds_only_the_slots_the_program_reads(name: str, slots: tuple) -> None:
    params = _as_jax(_tree())
    state = to_optax(programs.library.load(name), 1.0).init(params)
    assert isinstance(state, ProgramState)
    for slot in ("m", "v"):
        held = getattr(state, slot)
        if slot in slots:
            assert jax.tree.structure(held) == jax.tree.structure(params)
        else:
            assert held is None
    param_bytes = sum(x.nbytes for x in jax.tree.leaves(params))
    assert sum(x.nbytes for x in jax.tree.leaves(state)) == len(slots) * param_bytes


def test_dead_slot_is_not_stored() -> None:
    # m is written every step but never read: it is dead, so the export keeps no m.
    program = programs.parse(
        "def train(w, g, m, v, lr):\n  m = g * 0.5\n  update = g * lr\n  return update, m, v\n"
    )
    assert to_optax(program, 1.0).init(_as_jax(_tree())) == ProgramState(None, None, None)


def test_composes_with_chain_and_masking() -> None:
    params = _as_jax(_tree())
    grads = jax.tree.map(lambda p: 100.0 * jnp.ones_like(p), params)
    tx = optax.chain(optax.clip_by_global_norm(1.0), to_optax(programs.library.load("sgd")))
    updates, _ = jax.jit(tx.update)(grads, tx.init(params), params)
    # sgd scales lr by 0.1, its default learning rate: the clipped gradient (norm 1) times -0.1.
    assert np.isclose(float(optax.tree.norm(updates)), 0.1, rtol=1e-5)

    mask = jax.tree.map(lambda p: np.ndim(p) > 1, params)
    masked = optax.masked(to_optax(LION, 1.0), mask)
    updates, _ = masked.update(grads, masked.init(params), params)
    assert np.all(np.asarray(updates["dense"]["bias"]) == 100.0)  # left alone by the mask
    assert np.all(np.asarray(updates["dense"]["kernel"]) < 0)


def test_inject_hyperparams_feeds_the_learning_rate() -> None:
    params = _as_jax(_tree())
    grads = jax.tree.map(jnp.ones_like, params)
    tx = optax.inject_hyperparams(lambda learning_rate: to_optax(LION, learning_rate))(
        learning_rate=2e-4
    )
    updates, _ = jax.jit(tx.update)(grads, tx.init(params), params)
    expected = -2e-4 * (1.0 + 0.1 * params["dense"]["bias"])
    np.testing.assert_allclose(updates["dense"]["bias"], expected, rtol=1e-6)


def test_updates_keep_each_leafs_dtype() -> None:
    params = {"a": jnp.ones((3,), jnp.bfloat16), "b": jnp.ones((2, 2), jnp.float32)}
    tx = to_optax(programs.library.load("adamw"), 1.0)
    updates, state = tx.update(params, tx.init(params), params)
    assert updates["a"].dtype == jnp.bfloat16 and updates["b"].dtype == jnp.float32
    assert state.m["a"].dtype == jnp.bfloat16


def test_program_reading_weights_needs_params() -> None:
    params = _as_jax(_tree())
    tx = to_optax(LION, 1.0)
    with pytest.raises(ValueError, match="pass params"):
        tx.update(params, tx.init(params))
    sgd = to_optax(programs.library.load("sgd"), 1.0)
    updates, _ = sgd.update(params, sgd.init(params))  # sgd never reads w
    assert jax.tree.structure(updates) == jax.tree.structure(params)


def test_invalid_program_is_rejected_with_the_reason() -> None:
    program = Program((Statement("update", "mul", ("w", "lr")),))
    with pytest.raises(ProgramError, match="does not depend on the gradient"):
        to_optax(program, 1.0)
    with pytest.raises(ProgramError, match="unknown function 'exec'"):
        to_optax(Program((Statement("update", "exec", ("g",)),)), 1.0)


@pytest.mark.parametrize("key", sorted(coverage_programs()))
def test_every_function_matches_the_reference(key: str) -> None:
    program = coverage_programs()[key]
    params, grads = sample_problem(3)
    expected = reference_trajectory(program, params, grads, lr=0.37)
    got = optax_trajectory(to_optax(program, 0.37), params, grads, jit=False)
    assert max_error(got, expected) < 1e-5, key
