"""What a proxy task is: a model, a data set, a training budget and a validation loss.

A task owns everything that is *not* the optimizer. The evaluation engine
(:mod:`proxy_tasks.training`) trains the task's model with an optimizer program on a flat
parameter vector; the task says how that vector splits into named tensors (``layout``), how to
initialise it for a seed, which training examples each step sees for a seed, and how to compute
the training loss of a batch and the validation loss. Lower validation loss is better.

Everything random is drawn with numpy from fixed seeds on the host, so that a seed means the
same initial weights and data order in every process, for every program and learning rate
(paired comparisons), and so that no random-number generator is compiled into the training loop.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

Layout = tuple[tuple[str, tuple[int, ...]], ...]
"""Named parameter tensors in the order they lie in the flat vector."""


@dataclass(frozen=True)
class Budget:
    """How long and how a task trains.

    ``schedule`` is ``"cosine"`` (linear warmup over the first ``warmup`` fraction of the steps,
    then cosine decay to 0, as the research note found sign methods need) or ``"constant"``.
    The program's ``lr`` input at step ``t`` is ``schedule[t] * lr multiplier``.
    """

    steps: int
    batch_size: int
    schedule: str = "cosine"
    warmup: float = 0.05

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError(f"steps and batch_size must be positive, got {self}")
        if self.schedule not in ("cosine", "constant"):
            raise ValueError(f"unknown schedule {self.schedule!r}: use 'cosine' or 'constant'")
        if not 0.0 <= self.warmup < 1.0:
            raise ValueError(f"warmup must be a fraction in [0, 1), got {self.warmup}")

    def lr_schedule(self) -> np.ndarray:
        """The multiplier of the peak learning rate at each step, ``(steps,)`` float32."""
        t = np.arange(self.steps, dtype=np.float64)
        if self.schedule == "constant":
            return np.ones(self.steps, np.float32)
        warm = max(1, math.ceil(self.warmup * self.steps)) if self.warmup > 0 else 0
        ramp = (t + 1) / max(warm, 1)
        decay_len = max(self.steps - warm, 1)
        decay = 0.5 * (1.0 + np.cos(np.pi * np.clip(t - warm, 0, None) / decay_len))
        return np.where(t < warm, ramp, decay).astype(np.float32)


class Task(ABC):
    """A proxy task. Subclasses define the model and data; see the module docstring.

    ``worst_loss`` is the score of a failed run (NaN or inf in the loss, parameters or state),
    and finite losses above it are clipped to it: twice the loss of a trivial predictor (uniform
    class probabilities, or the mean target), so that no run that learned anything ties with it.
    """

    name: str
    family: str
    description: str
    budget: Budget
    worst_loss: float
    lr_scale: float = 1.0
    """Where learning-rate grids centre on this task, as a multiplier of a program's ``lr``
    input: the geometric middle of the best multipliers of the library's AdamW and Lion
    (measured; rounded to a quarter decade). The library's scales fit the research note's
    400-step tasks; shorter and smaller tasks want larger steps, sign methods most of all."""

    # --- what a subclass provides ------------------------------------------------------------
    @property
    @abstractmethod
    def layout(self) -> Layout:
        """Names and shapes of the parameter tensors, in flat order."""

    @abstractmethod
    def make_data(self) -> dict[str, np.ndarray]:
        """The data set as numpy arrays (generated deterministically; called once)."""

    @property
    @abstractmethod
    def n_train(self) -> int:
        """How many training examples the batch indices range over."""

    @abstractmethod
    def init_tensors(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Initial parameter tensors for one seed."""

    @abstractmethod
    def train_loss(self, params: dict[str, Any], data: dict[str, Any], idx: Any) -> Any:
        """Mean training loss of the examples ``idx`` (jax; ``params`` by layout name)."""

    @abstractmethod
    def val_loss(self, params: dict[str, Any], data: dict[str, Any]) -> Any:
        """Validation loss (jax): the score."""

    # --- shared machinery ---------------------------------------------------------------------
    @cached_property
    def data(self) -> dict[str, np.ndarray]:
        return self.make_data()

    @cached_property
    def leaf_sizes(self) -> tuple[int, ...]:
        return tuple(int(np.prod(shape)) for _, shape in self.layout)

    @property
    def n_params(self) -> int:
        return sum(self.leaf_sizes)

    def init_params(self, seed: int) -> np.ndarray:
        """The flat initial parameters for ``seed`` (float32)."""
        tensors = self.init_tensors(np.random.default_rng([int(seed), 0x1417]))
        parts = []
        for name, shape in self.layout:
            t = np.asarray(tensors[name], np.float32)
            if t.shape != shape:
                raise AssertionError(f"{self.name}: init of {name} has shape {t.shape}, "
                                     f"layout says {shape}")
            parts.append(t.ravel())
        return np.concatenate(parts)

    def batch_indices(self, seed: int) -> np.ndarray:
        """Which training examples each step sees for ``seed``: ``(steps, batch)`` int32, in
        epochs (a fresh permutation each pass over the data)."""
        rng = np.random.default_rng([int(seed), 0xDA7A])
        need = self.budget.steps * self.budget.batch_size
        epochs = -(-need // self.n_train)
        order = np.concatenate([rng.permutation(self.n_train) for _ in range(epochs)])
        return order[:need].reshape(self.budget.steps, self.budget.batch_size).astype(np.int32)

    def unflatten(self, flat: Any) -> dict[str, Any]:
        """Split a flat vector (numpy or jax) into named tensors with static slices."""
        out, start = {}, 0
        for (name, shape), size in zip(self.layout, self.leaf_sizes, strict=True):
            out[name] = flat[start : start + size].reshape(shape)
            start += size
        return out

    def flatten(self, tensors: dict[str, Any]) -> Any:
        import jax.numpy as jnp

        return jnp.concatenate([tensors[name].reshape(-1) for name, _ in self.layout])

    def __repr__(self) -> str:
        return f"<Task {self.name}: {self.description}>"
