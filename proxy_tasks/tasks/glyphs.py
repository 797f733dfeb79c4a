"""Image-like classification: generated glyphs (:mod:`proxy_tasks.data.glyphs`), a small
convolutional network (3x3 conv, ReLU, 2x2 average pool, twice; then a linear classifier)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from proxy_tasks.data.glyphs import glyph_data
from proxy_tasks.models import (
    conv_apply,
    conv_init,
    conv_layout,
    cross_entropy,
    mlp_apply,
    mlp_init,
    mlp_layout,
)
from proxy_tasks.registry import register_sizes
from proxy_tasks.task import Budget, Layout, Task

N_CLASSES = 10


class GlyphTask(Task):
    family = "glyphs"

    def __init__(self, channels: tuple[int, ...], budget: Budget, n_train: int = 4096,
                 n_val: int = 1024, size: int = 12) -> None:
        self.size = size
        self.channels = (1, *channels)
        self.budget = budget
        self._n_train, self.n_val = n_train, n_val
        side = size // 2 ** len(channels)
        self.head = (side * side * self.channels[-1], N_CLASSES)
        self.worst_loss = 2.0 * math.log(N_CLASSES)
        self.name = "glyphs"
        self.description = (
            f"generated {size}x{size} glyphs, {N_CLASSES} classes, convnet channels "
            f"{'-'.join(map(str, self.channels))}, {n_train} train / {n_val} val, "
            f"{budget.steps} steps, batch {budget.batch_size}, {budget.schedule}"
        )

    @property
    def layout(self) -> Layout:
        return (*conv_layout(self.channels), *mlp_layout("head", self.head))

    @property
    def n_train(self) -> int:
        return self._n_train

    def make_data(self) -> dict[str, np.ndarray]:
        return glyph_data(self._n_train, self.n_val, size=self.size, shift=self.size // 6)

    def init_tensors(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {**conv_init(rng, self.channels), **mlp_init(rng, "head", self.head, 0.5)}

    def _logits(self, params: dict[str, Any], x: Any) -> Any:
        return mlp_apply(params, "head", 1, conv_apply(params, len(self.channels) - 1, x))

    def train_loss(self, params: dict[str, Any], data: dict[str, Any], idx: Any) -> Any:
        return cross_entropy(self._logits(params, data["train_x"][idx]), data["train_y"][idx])

    def val_loss(self, params: dict[str, Any], data: dict[str, Any]) -> Any:
        return cross_entropy(self._logits(params, data["val_x"]), data["val_y"])


# Sizes for the funnel, about 10x apart in cost. lr_scale: see Task.lr_scale (measured).
SIZES: dict[str, dict] = {
    "xs": dict(channels=(4,), budget=Budget(60, 16), n_train=1024, n_val=256, lr_scale=31.6),
    "s": dict(channels=(4, 8), budget=Budget(150, 16), lr_scale=31.6),
    "m": dict(channels=(8, 16), budget=Budget(300, 64), lr_scale=31.6),
    "l": dict(channels=(16, 32), budget=Budget(1000, 128), n_train=16384, lr_scale=31.6),
}

register_sizes("glyphs", SIZES, GlyphTask)
