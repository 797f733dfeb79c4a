"""An example task file: a task of your own that `evosearch` can rank programs on and search on.

Copy this file, change the model and the data, and pass it to any command with
``--task-file own_task.py`` (or ``search.task_files = ["own_task.py"]`` in a search config).
Its tasks are then registered everywhere the search evaluates, local worker processes and Ray
actors included: the file's text travels with the job. The guide is ``docs/own-task.md``.

The task here: a small MLP learns to predict where damped oscillators are after a while from
their initial position, velocity, stiffness and damping (data generated from the closed-form
solution, so nothing is downloaded). Two sizes, registered as ``oscillator/s`` and
``oscillator/m``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from proxy_tasks import Budget, Task, register_sizes


def oscillator_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (x0, v0, stiffness k, damping c) and the position at t = 3 of
    x'' = -k x - c x', from the underdamped closed form. Deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    x0, v0 = rng.normal(size=n), rng.normal(size=n)
    k, c = rng.uniform(0.5, 4.0, size=n), rng.uniform(0.05, 0.8, size=n)
    omega = np.sqrt(k - c**2 / 4)
    a, t = c / 2, 3.0
    x = np.exp(-a * t) * (x0 * np.cos(omega * t) + (v0 + a * x0) / omega * np.sin(omega * t))
    inputs = np.stack([x0, v0, k, c], axis=1).astype(np.float32)
    return inputs, x.astype(np.float32)


class OscillatorTask(Task):
    """What a task owns: a parameter layout, data, initial weights, a training loss and a
    validation loss (lower is better). Everything random comes from numpy with fixed seeds."""

    family = "oscillator"

    def __init__(self, hidden: int, budget: Budget, n_train: int = 2048) -> None:
        self.hidden = hidden
        self.budget = budget  # steps, batch size, lr schedule
        self._n_train = n_train
        self.worst_loss = 2.0  # the score of a run that diverged (about twice the mean's MSE)
        self.name = "oscillator"  # the registry replaces it with "oscillator/<size>"
        self.description = f"damped-oscillator regression, MLP 4-{hidden}-{hidden}-1"

    @property
    def layout(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        """The parameter tensors, by name and shape, in the order of the flat vector."""
        h = self.hidden
        return (("w1", (4, h)), ("b1", (h,)), ("w2", (h, h)), ("b2", (h,)),
                ("w3", (h, 1)), ("b3", (1,)))

    @property
    def n_train(self) -> int:
        return self._n_train

    def make_data(self) -> dict[str, np.ndarray]:
        train_x, train_y = oscillator_data(self._n_train, seed=1)
        val_x, val_y = oscillator_data(1024, seed=2)
        return {"train_x": train_x, "train_y": train_y, "val_x": val_x, "val_y": val_y}

    def init_tensors(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        h = self.hidden
        return {"w1": rng.normal(size=(4, h)) * np.sqrt(2 / 4), "b1": np.zeros(h),
                "w2": rng.normal(size=(h, h)) * np.sqrt(2 / h), "b2": np.zeros(h),
                "w3": rng.normal(size=(h, 1)) * np.sqrt(1 / h), "b3": np.zeros(1)}

    def _mse(self, params: dict[str, Any], x: Any, y: Any) -> Any:
        z = jax.nn.relu(x @ params["w1"] + params["b1"])
        z = jax.nn.relu(z @ params["w2"] + params["b2"])
        return jnp.mean(((z @ params["w3"] + params["b3"])[:, 0] - y) ** 2)

    def train_loss(self, params: dict[str, Any], data: dict[str, Any], idx: Any) -> Any:
        return self._mse(params, data["train_x"][idx], data["train_y"][idx])

    def val_loss(self, params: dict[str, Any], data: dict[str, Any]) -> Any:
        return self._mse(params, data["val_x"], data["val_y"])


# One row per size: the task's constructor arguments, plus lr_scale, where learning-rate grids
# centre (a multiplier of a program's own lr; measure it with `evosearch rank` and a wide grid).
register_sizes("oscillator", {
    "s": dict(hidden=16, budget=Budget(150, 32), lr_scale=10.0),
    "m": dict(hidden=64, budget=Budget(400, 64), lr_scale=10.0),
}, OscillatorTask)
