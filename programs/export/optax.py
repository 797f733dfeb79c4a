"""A program as an optax ``GradientTransformation``: ``to_optax(program, learning_rate)``."""

from __future__ import annotations

from typing import Any

import optax

from programs.execute import step_function
from programs.export import jax_runtime
from programs.export.prepare import prepare
from programs.program import Program


def to_optax(program: Program, learning_rate: Any) -> optax.GradientTransformation:
    """``program`` as an optax transformation, composable with ``optax.chain``.

    ``learning_rate`` (a number, or an optax schedule evaluated at the step count) is fed to the
    program's ``lr`` input each step; library programs scale it themselves (Lion multiplies by
    1e-4). Updates follow optax's sign convention (``optax.apply_updates`` adds them). The state
    holds only the slots the program reads (``ProgramState``; unread fields are ``None``) and a
    step count only for a schedule. Works on any pytree and under ``jax.jit``. Raises
    :class:`programs.ProgramError` for an invalid program.
    """
    prepared = prepare(program)
    train = step_function(prepared.program, jax_runtime)
    return jax_runtime.program_transformation(
        train, prepared.slots, prepared.reads_params, learning_rate
    )
