"""Ill-conditioned regression (:mod:`proxy_tasks.data.regression`): a ReLU MLP fits a smooth
target from inputs whose scales span three decades. Validation loss: mean squared error on
clean targets of unit variance (predicting the mean scores about 1)."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from proxy_tasks.data.regression import illcond_data
from proxy_tasks.models import mlp_apply, mlp_init, mlp_layout
from proxy_tasks.registry import register_sizes
from proxy_tasks.task import Budget, Layout, Task

N_IN = 32


class IllcondTask(Task):
    family = "illcond"

    def __init__(self, hidden: tuple[int, ...], budget: Budget, n_train: int = 4096,
                 n_val: int = 2048) -> None:
        self.widths = (N_IN, *hidden, 1)
        self.budget = budget
        self._n_train, self.n_val = n_train, n_val
        self.worst_loss = 2.0
        self.name = "illcond"
        self.description = (
            f"ill-conditioned regression (input scales over 3 decades), MLP "
            f"{'-'.join(map(str, self.widths))}, {n_train} train / {n_val} val, "
            f"{budget.steps} steps, batch {budget.batch_size}, {budget.schedule}"
        )

    @property
    def layout(self) -> Layout:
        return mlp_layout("", self.widths)

    @property
    def n_train(self) -> int:
        return self._n_train

    def make_data(self) -> dict[str, np.ndarray]:
        return illcond_data(self._n_train, self.n_val)

    def init_tensors(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return mlp_init(rng, "", self.widths, last_scale=0.5)

    def _mse(self, params: dict[str, Any], x: Any, y: Any) -> Any:
        pred = mlp_apply(params, "", len(self.widths) - 1, x)[:, 0]
        return jnp.mean((pred - y) ** 2)

    def train_loss(self, params: dict[str, Any], data: dict[str, Any], idx: Any) -> Any:
        return self._mse(params, data["train_x"][idx], data["train_y"][idx])

    def val_loss(self, params: dict[str, Any], data: dict[str, Any]) -> Any:
        return self._mse(params, data["val_x"], data["val_y"])


# Sizes for the funnel, about 10x apart in cost. lr_scale: see Task.lr_scale (measured).
SIZES: dict[str, dict] = {
    "xs": dict(hidden=(16,), budget=Budget(100, 32), n_train=1024, n_val=512, lr_scale=100.0),
    "s": dict(hidden=(64, 64), budget=Budget(150, 64), lr_scale=56.2),
    "m": dict(hidden=(128, 128), budget=Budget(500, 128), lr_scale=31.6),
    "l": dict(hidden=(256, 256), budget=Budget(1000, 256), n_train=16384, lr_scale=56.2),
}

register_sizes("illcond", SIZES, IllcondTask)
