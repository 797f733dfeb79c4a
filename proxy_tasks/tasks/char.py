"""A character-level language model on Python's own help text (:mod:`proxy_tasks.data.corpus`):
embed ``context`` characters, concatenate, one ReLU hidden layer, softmax over characters."""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import Any

import jax.numpy as jnp
import numpy as np

from proxy_tasks.data.corpus import VOCAB_SIZE, char_data
from proxy_tasks.models import cross_entropy, mlp_apply, mlp_init, mlp_layout
from proxy_tasks.registry import register_sizes
from proxy_tasks.task import Budget, Layout, Task


class CorpusTask(Task):
    """A language model on the corpus: batches are window start positions, the validation set
    is fixed positions in the held-out tail. Subclasses set ``context`` and ``n_val`` and define
    ``_loss(params, text, positions)``."""

    context: int
    n_val: int
    worst_loss = 2.0 * math.log(VOCAB_SIZE)  # twice a uniform prediction's loss (see Task)

    @property
    def n_train(self) -> int:
        return len(self.data["train_text"]) - self.context

    def make_data(self) -> dict[str, np.ndarray]:
        return char_data(self.context, self.n_val)

    @abstractmethod
    def _loss(self, params: dict[str, Any], text: Any, pos: Any) -> Any:
        """Mean loss of the windows of ``text`` that start at ``pos``."""

    def train_loss(self, params: dict[str, Any], data: dict[str, Any], idx: Any) -> Any:
        return self._loss(params, data["train_text"], idx)

    def val_loss(self, params: dict[str, Any], data: dict[str, Any]) -> Any:
        return self._loss(params, data["val_text"], data["val_pos"])


class CharTask(CorpusTask):
    family = "char"

    def __init__(self, hidden: int, budget: Budget, context: int = 8, embed: int = 16,
                 n_val: int = 4096) -> None:
        self.hidden, self.context, self.embed = hidden, context, embed
        self.budget = budget
        self.n_val = n_val
        self.widths = (context * embed, hidden, VOCAB_SIZE)
        self.name = "char"
        self.description = (
            f"char-level MLP LM on pydoc_data.topics ({len(self.data['train_text'])} train "
            f"chars), context {context}, embed {embed}, hidden {hidden}, {budget.steps} steps, "
            f"batch {budget.batch_size}, {budget.schedule}"
        )

    @property
    def layout(self) -> Layout:
        return (("embed", (VOCAB_SIZE, self.embed)), *mlp_layout("", self.widths))

    def init_tensors(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        out = mlp_init(rng, "", self.widths, last_scale=0.5)
        out["embed"] = rng.normal(0.0, 1.0, size=(VOCAB_SIZE, self.embed))
        return out

    def _loss(self, params: dict[str, Any], text: Any, pos: Any) -> Any:
        window = pos[:, None] + jnp.arange(self.context + 1)
        chars = text[window]
        x = params["embed"][chars[:, :-1]].reshape(pos.shape[0], -1)
        return cross_entropy(mlp_apply(params, "", 2, x), chars[:, -1])


# Sizes for the funnel, about 10x apart in cost; m is the research note's round-two char task
# (hidden 128, batch 256, 400 steps). lr_scale: see Task.lr_scale (measured).
SIZES: dict[str, dict] = {
    "xs": dict(hidden=32, budget=Budget(100, 32), embed=8, n_val=1024, lr_scale=17.8),
    "s": dict(hidden=64, budget=Budget(150, 128), lr_scale=31.6),
    "m": dict(hidden=128, budget=Budget(400, 256), lr_scale=17.8),
    "l": dict(hidden=256, budget=Budget(1500, 512), lr_scale=17.8),
}

register_sizes("char", SIZES, CharTask)

# The default suite's language model: small and trained for a long horizon (400 steps
# at m), where fast response to the gradient matters and long memory alone (Signum .99) loses
# by ~0.3 nats. m is the suite's fitness, l ~10x its cost, xl ~100x; s is the screen.
# lr_scale: AdamW's (the baseline's) best multiplier, measured, to a quarter decade.
CHARLM_SIZES: dict[str, dict] = {
    "s": dict(hidden=16, budget=Budget(200, 32), embed=8, n_val=2048, lr_scale=5.62),
    "m": dict(hidden=32, budget=Budget(400, 64), embed=8, lr_scale=5.62),
    "l": dict(hidden=32, budget=Budget(800, 256), embed=8, lr_scale=17.8),
    "xl": dict(hidden=64, budget=Budget(1600, 512), embed=16, lr_scale=17.8),
}

register_sizes("charlm", CHARLM_SIZES, CharTask)
