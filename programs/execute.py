"""The one statement loop: a program run on any array backend.

A program is run in four places (the numpy reference step, recognition's guarded comparison, the
optax/torch exports and the "one compile per program" baseline), and they must agree to the last
bit on what a statement means. They differ only in what surrounds the loop: which array module
(numpy, ``jax.numpy``, torch over a list of tensors), how a constant enters (a Python float stays
weakly typed in jax; numpy wants the parameters' dtype) and whether each result is cast. So the
loop lives here once, and callers pass those three choices.

A backend is a :class:`programs.ops.ArrayBackend`: an array module ``xp`` and the two sums. Each
function's array form comes from :data:`programs.ops.OPS`, looked up when a program is prepared
(:func:`step_function`), so the loop itself does no lookups.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from programs.ops import INPUTS, OPS, ArrayBackend
from programs.program import Arg, Program

TrainFunction = Callable[[Any, Any, Any, Any, Any], tuple[Any, Any, Any]]
"""``train(w, g, m, v, lr) -> (update, m, v)``, the shape of every exported step function."""

Code = tuple[tuple[str, Callable[..., Any], tuple[Arg, ...]], ...]
"""A program ready to run: per statement, its target, its function's array form and its args."""


def prepare(program: Program, backend: ArrayBackend) -> Code:
    """Look up each statement's function once (its form for ``backend``, see
    :meth:`programs.ops.Op.array_for`). The program must be valid."""
    return tuple(
        (s.target, OPS[s.op].array_for(backend), s.args) for s in program.statements
    )


def execute(
    code: Code,
    backend: ArrayBackend,
    env: dict[str, Any],
    constant: Callable[[float], Any] | None = None,
    result: Callable[[Any], Any] | None = None,
) -> dict[str, Any]:
    """Run prepared statements on ``env`` (the inputs by name), in place; return ``env``.

    ``constant`` converts each float constant before a function sees it (default: left a
    Python float); ``result`` converts each statement's value (default: kept as computed).
    """
    for target, array, args in code:
        values = [
            env[a] if a.__class__ is str else (a if constant is None else constant(a))
            for a in args
        ]
        value = array(backend, *values)
        env[target] = value if result is None else result(value)
    return env


def run(
    program: Program,
    backend: ArrayBackend,
    w: Any,
    g: Any,
    m: Any,
    v: Any,
    lr: Any,
    *,
    constant: Callable[[float], Any] | None = None,
    result: Callable[[Any], Any] | None = None,
) -> dict[str, Any]:
    """One step of a valid ``program``: every named value afterwards, inputs included (the
    outputs are ``env[name] for name in program.outputs``). See :func:`execute` for
    ``constant`` and ``result``."""
    env = dict(zip(INPUTS, (w, g, m, v, lr), strict=True))
    return execute(prepare(program, backend), backend, env, constant, result)


def step_function(
    program: Program,
    backend: ArrayBackend,
    *,
    constant: Callable[[float], Any] | None = None,
    result: Callable[[Any], Any] | None = None,
) -> TrainFunction:
    """``program`` as ``train(w, g, m, v, lr) -> (update, m, v)`` on ``backend``'s arrays.

    The functions are looked up once, here; each call only runs the loop. Under ``jax.jit``
    the loop runs once, at trace time, and XLA sees only the array operations.
    """
    code = prepare(program, backend)
    update, m_out, v_out = program.outputs

    def train(w: Any, g: Any, m: Any, v: Any, lr: Any) -> tuple[Any, Any, Any]:
        env = dict(zip(INPUTS, (w, g, m, v, lr), strict=True))
        execute(code, backend, env, constant, result)
        return env[update], env[m_out], env[v_out]

    return train
