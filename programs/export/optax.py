"""A program as an optax ``GradientTransformation``: ``to_optax(program, learning_rate)``."""

from __future__ import annotations

from typing import Any

import optax

from programs.execute import step_function
from programs.export import jax_runtime
from programs.export.prepare import prepare
from programs.program import Program


def to_optax(program: Program, learning_rate: Any = None) -> optax.GradientTransformation:
    """``program`` as an optax transformation, composable with ``optax.chain``.

    ``learning_rate`` (a number, or an optax schedule evaluated at the step count) is the step
    size, as in every optax optimizer: the program's constant lr factor (Lion's
    ``lr = lr * 0.0001``) is divided out of the program and is the default, so that
    ``to_optax(lion, 3e-4)`` is ``optax.lion(3e-4, b1=0.9, b2=0.99, weight_decay=0.1)`` and
    ``to_optax(lion)`` takes Lion's steps of 1e-4. A program that does not use ``lr`` as one
    constant factor of its update gets ``learning_rate`` as its ``lr`` input (default 1.0);
    :func:`programs.export.prepare.prepare` says which case applies (``lr_factor``).

    Updates follow optax's sign convention (``optax.apply_updates`` adds them). The state holds
    only the slots the program reads (``ProgramState``; unread fields are ``None``) and a step
    count only for a schedule. Works on any pytree and under ``jax.jit``. Raises
    :class:`programs.ProgramError` for an invalid program.
    """
    prepared = prepare(program)
    train = step_function(prepared.program, jax_runtime)
    if learning_rate is None:
        learning_rate = prepared.default_learning_rate
    return jax_runtime.program_transformation(
        train, prepared.slots, prepared.reads_params, learning_rate
    )
