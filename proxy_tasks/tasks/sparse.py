"""Bag-of-words classification over a Zipfian vocabulary (:mod:`proxy_tasks.data.sparse`): an
embedding bag (the mean of the document's token embeddings), one ReLU hidden layer, softmax.
Most embedding rows see a gradient in a few steps out of hundreds.

The sparse-gradient regime of embedding tables, which no other family has. Measured (
``experiments/landscape/README.md``): weight decay decides it (AdamW with decay 1 is 8-30 %
ahead of AdamW), and at a comparable decay Lion is behind AdamW, 2 % (s), 6 % (m), 6 % (l) at
the libraries' decays: its full-size step keeps moving a rare row for hundreds of steps after
one occurrence."""

from __future__ import annotations

import math
from typing import Any

import jax.numpy as jnp
import numpy as np

from proxy_tasks.data.sparse import sparse_data
from proxy_tasks.models import cross_entropy, mlp_apply, mlp_init, mlp_layout
from proxy_tasks.registry import register_sizes
from proxy_tasks.task import Budget, Layout, Task


class SparseTask(Task):
    family = "sparse"

    def __init__(self, vocab: int, embed: int, hidden: tuple[int, ...], budget: Budget,
                 length: int = 16, n_train: int = 4096, n_val: int = 2048, n_classes: int = 8,
                 exponent: float = 1.1, rare_weight: float = 0.25, noise: float = 0.0,
                 embed_scale: float = 0.01) -> None:
        self.vocab, self.embed, self.length = vocab, embed, length
        self.widths = (embed, *hidden, n_classes)
        self.budget = budget
        self._n_train, self.n_val, self.n_classes = n_train, n_val, n_classes
        self.exponent, self.rare_weight, self.noise = exponent, rare_weight, noise
        self.embed_scale = embed_scale
        self.worst_loss = 2.0 * math.log(n_classes)
        self.name = "sparse"
        self.description = (
            f"bag of {length} Zipf({exponent}) tokens over {vocab} (weight p^-{rare_weight}), "
            f"embedding {embed}, MLP "
            f"{'-'.join(map(str, self.widths))}, {n_classes} classes, {noise:.0%} label noise, "
            f"{n_train} train / {n_val} val, {budget.steps} steps, batch {budget.batch_size}"
        )

    @property
    def layout(self) -> Layout:
        return (("embed", (self.vocab, self.embed)), *mlp_layout("", self.widths))

    @property
    def n_train(self) -> int:
        return self._n_train

    def make_data(self) -> dict[str, np.ndarray]:
        return sparse_data(self.vocab, self.length, self._n_train, self.n_val, self.n_classes,
                           self.exponent, self.rare_weight, self.noise)

    def init_tensors(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        out = mlp_init(rng, "", self.widths)
        out["embed"] = rng.normal(0.0, self.embed_scale, size=(self.vocab, self.embed))
        return out

    def _loss(self, params: dict[str, Any], tokens: Any, labels: Any) -> Any:
        bag = jnp.mean(params["embed"][tokens], axis=1)
        return cross_entropy(mlp_apply(params, "", len(self.widths) - 1, bag), labels)

    def train_loss(self, params: dict[str, Any], data: dict[str, Any], idx: Any) -> Any:
        return self._loss(params, data["train_tokens"][idx], data["train_y"][idx])

    def val_loss(self, params: dict[str, Any], data: dict[str, Any]) -> Any:
        return self._loss(params, data["val_tokens"], data["val_y"])


# Sizes for the funnel: vocabulary, width, data and steps grow together, so the share of rare
# tokens stays. m is ``sp/rw25z`` of the landscape. Embeddings start small (N(0, 0.01^2)): from
# N(0, 1) the never-seen rows are noise that only weight decay removes, which made decay, not
# the update rule, decide the task even more. lr_scale: AdamW's best multiplier, measured on
# 2 seeds (experiments/landscape/README.md); xs is for tests and not measured.
SIZES: dict[str, dict] = {
    "xs": dict(vocab=256, embed=8, hidden=(16,), budget=Budget(100, 32), n_train=1024,
               n_val=512, lr_scale=1.0),
    "s": dict(vocab=1024, embed=16, hidden=(32,), budget=Budget(200, 64), n_train=2048,
              lr_scale=3.16),
    "m": dict(vocab=2048, embed=16, hidden=(64,), budget=Budget(400, 128), lr_scale=1.0),
    "l": dict(vocab=8192, embed=32, hidden=(128,), budget=Budget(800, 256), n_train=16384,
              lr_scale=0.562),
    # Variants of m measured in experiments/landscape: rare-token weight (rw), no hidden layer,
    # label noise, and embeddings from N(0, 1) (init1) instead of N(0, 0.01^2).
    "m-rw0": dict(vocab=2048, embed=16, hidden=(64,), budget=Budget(400, 128), rare_weight=0.0,
                  lr_scale=1.0),
    "m-init1": dict(vocab=2048, embed=16, hidden=(64,), budget=Budget(400, 128),
                    embed_scale=1.0, lr_scale=1.0),
    "m-rw0-init1": dict(vocab=2048, embed=16, hidden=(64,), budget=Budget(400, 128),
                        rare_weight=0.0, embed_scale=1.0, lr_scale=1.0),
    "m-rw50-linear-init1": dict(vocab=2048, embed=16, hidden=(), budget=Budget(400, 128),
                                rare_weight=0.5, embed_scale=1.0, lr_scale=1.0),
    "m-rw50-noise20-init1": dict(vocab=2048, embed=16, hidden=(64,), budget=Budget(400, 128),
                                 rare_weight=0.5, noise=0.2, embed_scale=1.0, lr_scale=1.0),
}

register_sizes("sparse", SIZES, SparseTask)
