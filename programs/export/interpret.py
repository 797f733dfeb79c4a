"""A program as a Python function over any array backend, for the in-memory exports.

The statements run once per call in plain Python; under ``jax.jit`` that happens once at trace
time and XLA sees only the array operations, so interpreting costs nothing per step. Every
function comes from :data:`programs.ops.OPS`: the exports share the reference's definitions
rather than restating them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from programs.ops import INPUTS, OPS, ArrayBackend
from programs.program import Program

TrainFunction = Callable[[Any, Any, Any, Any, Any], tuple[Any, Any, Any]]
"""``train(w, g, m, v, lr) -> (update, m, v)``, the shape of every exported step function."""


def train_function(program: Program, backend: ArrayBackend) -> TrainFunction:
    """``program`` as ``train(w, g, m, v, lr) -> (update, m, v)`` on ``backend``'s arrays.

    ``program`` must be valid (see :func:`programs.export.prepare.prepare`). Constants stay
    Python floats, so jax treats them as weakly typed and computes in the parameters' dtype.
    """
    steps = tuple((s.target, OPS[s.op].array, s.args) for s in program.statements)
    outputs = program.outputs

    def train(w: Any, g: Any, m: Any, v: Any, lr: Any) -> tuple[Any, Any, Any]:
        env = dict(zip(INPUTS, (w, g, m, v, lr), strict=True))
        for target, array, args in steps:
            env[target] = array(backend, *[env[a] if a.__class__ is str else a for a in args])
        return env[outputs[0]], env[outputs[1]], env[outputs[2]]

    return train
