"""Programs become real optimizers: optax transformations, torch optimizers, standalone source.

``to_optax(program, learning_rate)`` gives an ``optax.GradientTransformation``;
``to_torch(program)`` a ``torch.optim.Optimizer`` subclass; ``to_source(program, target)`` the
text of an importable module that needs only jax/optax or torch. In all of them the learning
rate is the step size, as in optax and torch: a program's constant lr factor (Lion's
``lr = lr * 0.0001``) is divided out of it and becomes the default learning rate
(:mod:`programs.learning_rate`). Each submodule is imported on
first use, so that ``import programs.export`` pulls in neither jax nor the optional torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {"to_optax": "optax", "to_torch": "torch", "to_source": "source"}

__all__ = ["to_optax", "to_source", "to_torch"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])
