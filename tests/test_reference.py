"""The reference step against independent implementations of every library optimizer."""

from collections.abc import Callable

import numpy as np
import pytest

import programs
from programs import library

EPS = programs.EPS


def _sign(x):
    return np.sign(x)


# Each independent implementation: (w, g, state dict, lr) -> update, mutating state.
def _sgd(w, g, s, lr):
    return 0.1 * lr * g


def _momentum(w, g, s, lr):
    s["m"] = 0.9 * s["m"] + g
    return 0.01 * lr * s["m"]


def _nesterov(w, g, s, lr):
    s["m"] = 0.9 * s["m"] + g
    return 0.01 * lr * (g + 0.9 * s["m"])


def _adam_core(w, g, s, lr, wd):
    s["m"] = 0.1 * g + 0.9 * s["m"]
    s["v"] = 0.001 * g * g + 0.999 * s["v"]
    return 1e-3 * lr * (s["m"] / (np.sqrt(s["v"]) + EPS) + wd * w)


def _adam(w, g, s, lr):
    return _adam_core(w, g, s, lr, 0.0)


def _adamw(w, g, s, lr):
    return _adam_core(w, g, s, lr, 0.01)


def _lion(w, g, s, lr):
    c = 0.1 * g + 0.9 * s["m"]
    s["m"] = 0.01 * g + 0.99 * s["m"]
    return 1e-4 * lr * (_sign(c) + 0.1 * w)


def _signum(w, g, s, lr):
    s["m"] = 0.1 * g + 0.9 * s["m"]
    return 1e-4 * lr * _sign(s["m"])


def _signsgd(w, g, s, lr):
    return 1e-4 * lr * _sign(g)


def _rmsprop(w, g, s, lr):
    s["v"] = 0.01 * g * g + 0.99 * s["v"]
    return 1e-3 * lr * g / (np.sqrt(s["v"]) + EPS)


def _adagrad(w, g, s, lr):
    s["v"] = s["v"] + g * g
    return 0.01 * lr * g / (np.sqrt(s["v"]) + EPS)


def _adabelief(w, g, s, lr):
    s["m"] = 0.1 * g + 0.9 * s["m"]
    s["v"] = 0.001 * (g - s["m"]) ** 2 + 0.999 * s["v"]
    return 1e-3 * lr * s["m"] / (np.sqrt(s["v"]) + EPS)


def _powersign(w, g, s, lr):
    s["m"] = 0.1 * g + 0.9 * s["m"]
    return 0.01 * lr * g * np.exp(_sign(g) * _sign(s["m"]))


def _addsign(w, g, s, lr):
    s["m"] = 0.1 * g + 0.9 * s["m"]
    return 0.01 * lr * g * (1.0 + _sign(g) * _sign(s["m"]))


INDEPENDENT: dict[str, Callable] = {
    "sgd": _sgd,
    "momentum": _momentum,
    "nesterov": _nesterov,
    "adam": _adam,
    "adamw": _adamw,
    "lion": _lion,
    "signum": _signum,
    "signsgd": _signsgd,
    "rmsprop": _rmsprop,
    "adagrad": _adagrad,
    "adabelief": _adabelief,
    "powersign": _powersign,
    "addsign": _addsign,
}


def test_every_library_program_has_an_independent_implementation() -> None:
    assert set(library.names()) == set(INDEPENDENT)


@pytest.mark.parametrize("name", sorted(INDEPENDENT))
def test_library_program_matches_independent_implementation(name: str) -> None:
    program = library.load(name)
    reference = INDEPENDENT[name]
    rng = np.random.default_rng(1)
    w_prog = w_ref = rng.normal(size=(5, 3))
    m = v = np.zeros_like(w_prog)
    state = {"m": np.zeros_like(w_prog), "v": np.zeros_like(w_prog)}
    for t in range(30):
        g = rng.normal(size=(5, 3)) + 0.1 * w_prog
        lr = 1.0 + 0.5 * np.cos(t)
        update, m, v = programs.step(program, w_prog, g, m, v, lr)
        expected = reference(w_ref, g, state, lr)
        np.testing.assert_allclose(update, expected, rtol=1e-10, atol=1e-14, err_msg=f"step {t}")
        w_prog = w_prog - update
        w_ref = w_ref - expected


def test_lion_matches_optax_lion_over_100_steps() -> None:
    import jax.numpy as jnp
    import optax

    rng = np.random.default_rng(0)
    params = {
        "dense": rng.normal(size=(8, 4)).astype(np.float32),
        "bias": rng.normal(size=(4,)).astype(np.float32),
    }
    lr_in = 3.0  # the program's lr input; the library's Lion scales it by 1e-4
    opt = optax.lion(learning_rate=lr_in * 1e-4, b1=0.9, b2=0.99, weight_decay=0.1)
    jparams = {k: jnp.asarray(x) for k, x in params.items()}
    opt_state = opt.init(jparams)
    program = library.load("lion")
    w = {k: x.copy() for k, x in params.items()}
    m = programs.zeros_like_state(w)
    v = programs.zeros_like_state(w)
    for _ in range(100):
        grads = {k: rng.normal(size=x.shape).astype(np.float32) for k, x in params.items()}
        updates, opt_state = opt.update({k: jnp.asarray(x) for k, x in grads.items()},
                                        opt_state, jparams)
        jparams = optax.apply_updates(jparams, updates)
        update, m, v = programs.step(program, w, grads, m, v, lr_in)
        w = {k: w[k] - update[k] for k in w}
        assert all(u.dtype == np.float32 for u in update.values())
    for k in params:
        np.testing.assert_allclose(w[k], np.asarray(jparams[k]), rtol=1e-5, atol=1e-6)


def test_scalars_broadcast_and_state_outputs_take_the_parameter_shape() -> None:
    p = programs.parse(
        "def train(w, g, m, v, lr):\n  u = g * lr\n  m = lr * 2.0\n  return u, m, v\n"
    )
    w = np.ones((2, 3), np.float32)
    update, m, v = programs.step(p, w, w, 0.0, 0.0, 0.5)
    assert update.shape == m.shape == v.shape == (2, 3)
    assert np.all(m == 1.0) and update.dtype == np.float32


def test_norm_is_per_tensor_and_global_norm_is_over_all_tensors() -> None:
    per = programs.parse(
        "def train(w, g, m, v, lr):\n  n = norm(g)\n  u = g / n\n  return u, m, v\n"
    )
    glob = programs.parse(
        "def train(w, g, m, v, lr):\n  n = global_norm(g)\n  u = g / n\n  return u, m, v\n"
    )
    w = [np.zeros(3), np.zeros(4)]
    g = [np.full(3, 2.0), np.full(4, 1.0)]
    zeros = programs.zeros_like_state(w)
    u_per, _, _ = programs.step(per, w, g, zeros, zeros, 1.0)
    u_glob, _, _ = programs.step(glob, w, g, zeros, zeros, 1.0)
    assert [np.linalg.norm(u) for u in u_per] == pytest.approx([1.0, 1.0])
    assert np.sqrt(sum(np.sum(u * u) for u in u_glob)) == pytest.approx(1.0)


def test_guarded_functions_stay_finite_on_awkward_input() -> None:
    x = np.array([-2.0, -1.0, 0.0, 0.5, 1.0, 3.0])
    finite_everywhere = [
        "log", "log10", "log2", "log1p", "sqrt", "rsqrt", "reciprocal", "arcsin", "arccos",
        "arccosh", "arctanh", "cbrt",
    ]
    for name in finite_everywhere:
        p = programs.parse(
            f"def train(w, g, m, v, lr):\n  a = g * 1.0\n  b = {name}(m)\n  u = a + b\n"
            "  return u, m, v\n"
        )
        # m = x (log of 0 is -inf, which is the one allowed overflow)
        update, _, _ = programs.step(p, np.zeros(6), np.zeros(6), x, x, 1.0)
        finite = np.isfinite(update)
        if name in ("log", "log10", "log2", "log1p"):
            finite |= x == (0.0 if name != "log1p" else -1.0)
        assert finite.all(), (name, update)


def test_invalid_program_raises_program_error() -> None:
    bad = programs.Program((programs.Statement("u", "mul", ("w", "lr")),), ("u", "m", "v"))
    with pytest.raises(programs.ProgramError, match="does not depend on the gradient"):
        programs.step(bad, np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2), 1.0)
