"""A tiny causal transformer language model on Python's own help text (the corpus of
:mod:`proxy_tasks.tasks.char`): token and position embeddings, pre-norm attention and ReLU MLP
blocks, an untied readout; the loss is the mean next-character cross-entropy over every position
of a window.

Why a transformer at all, on two CPU cores: the Lion paper's gains are on transformers, while
every small MLP task here either prefers AdamW and its Adam-normalised neighbours (the char MLP,
glyphs, regression) or rewards weight-bounding hacks over Lion (noisy labels,
``experiments/landscape/``). The norms carry no parameters (RMS normalisation) so that every
tensor the optimizer sees is a weight matrix, an embedding or a bias.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from proxy_tasks.data.corpus import VOCAB_SIZE
from proxy_tasks.models import cross_entropy
from proxy_tasks.registry import register_sizes
from proxy_tasks.task import Budget, Layout
from proxy_tasks.tasks.char import CorpusTask


def _rms_norm(x: jax.Array) -> jax.Array:
    return x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=-1, keepdims=True) + 1e-6)


class TransformerTask(CorpusTask):
    family = "transformer"

    def __init__(self, width: int, layers: int, heads: int, budget: Budget, context: int = 16,
                 n_val: int = 512) -> None:
        if width % heads:
            raise ValueError(f"width {width} is not a multiple of heads {heads}")
        self.width, self.layers, self.heads, self.context = width, layers, heads, context
        self.budget = budget
        self.n_val = n_val
        self.name = "transformer"
        self.description = (
            f"char-level causal transformer LM on pydoc_data.topics, context {context}, width "
            f"{width}, {layers} layer(s), {heads} head(s), {budget.steps} steps, batch "
            f"{budget.batch_size} windows, {budget.schedule}"
        )

    @property
    def layout(self) -> Layout:
        d, f = self.width, 4 * self.width
        out: list[tuple[str, tuple[int, ...]]] = [
            ("embed", (VOCAB_SIZE, d)), ("position", (self.context, d))]
        for i in range(self.layers):
            out += [(f"q{i}", (d, d)), (f"k{i}", (d, d)), (f"v{i}", (d, d)), (f"o{i}", (d, d)),
                    (f"up{i}", (d, f)), (f"up_b{i}", (f,)), (f"down{i}", (f, d)),
                    (f"down_b{i}", (d,))]
        return (*out, ("readout", (d, VOCAB_SIZE)), ("readout_b", (VOCAB_SIZE,)))

    def init_tensors(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        out = {}
        for name, shape in self.layout:
            if len(shape) == 1:
                out[name] = np.zeros(shape)
            elif name in ("embed", "position"):
                out[name] = rng.normal(0.0, 1.0, size=shape)
            else:
                # residual outputs start small so that each block begins near the identity
                shrink = 1.0 / math.sqrt(2 * self.layers) if name[0] in "od" else 1.0
                out[name] = rng.normal(0.0, shrink / math.sqrt(shape[0]), size=shape)
        return out

    def _logits(self, params: dict[str, Any], tokens: jax.Array) -> jax.Array:
        n, t = tokens.shape
        h, dh = self.heads, self.width // self.heads
        x = params["embed"][tokens] + params["position"][:t]
        mask = jnp.tril(jnp.ones((t, t), dtype=bool))
        for i in range(self.layers):
            y = _rms_norm(x)
            q, k, v = ((y @ params[f"{name}{i}"]).reshape(n, t, h, dh) for name in "qkv")
            scores = jnp.einsum("nshd,nuhd->nhsu", q, k) / math.sqrt(dh)
            attention = jax.nn.softmax(jnp.where(mask, scores, -1e9), axis=-1)
            mixed = jnp.einsum("nhsu,nuhd->nshd", attention, v).reshape(n, t, self.width)
            x = x + mixed @ params[f"o{i}"]
            y = _rms_norm(x)
            hidden = jax.nn.relu(y @ params[f"up{i}"] + params[f"up_b{i}"])
            x = x + hidden @ params[f"down{i}"] + params[f"down_b{i}"]
        return _rms_norm(x) @ params["readout"] + params["readout_b"]

    def _loss(self, params: dict[str, Any], text: Any, pos: Any) -> Any:
        window = text[pos[:, None] + jnp.arange(self.context + 1)]
        logits = self._logits(params, window[:, :-1])
        return cross_entropy(logits.reshape(-1, VOCAB_SIZE), window[:, 1:].reshape(-1))


# Sizes for the funnel, about 10x apart in cost; each window of ``context`` characters gives
# ``context`` predictions, so batch 32 is 512 scored characters. lr_scale: AdamW's (the
# baseline's) best multiplier, measured on 2-3 seeds (experiments/landscape/README.md); xs is
# for tests and not measured. One training run of the AdamW program through the interpreter
# (one lr, one seed, one core, compile excluded): 0.10 s (s), 0.65 s (m), 3.6 s (l), against
# 0.04 s for charlm/m and 0.06 s for wide/m: too costly for a 2-core search's fitness stage.
SIZES: dict[str, dict] = {
    "xs": dict(width=8, layers=1, heads=2, budget=Budget(100, 8), context=8, n_val=256,
               lr_scale=10.0),
    "s": dict(width=16, layers=1, heads=2, budget=Budget(200, 16), lr_scale=10.0),
    "m": dict(width=32, layers=1, heads=2, budget=Budget(400, 32), lr_scale=5.62),
    "l": dict(width=32, layers=2, heads=2, budget=Budget(800, 64), lr_scale=5.62),
    # s and m at 4x-16x the batch (experiments/landscape: does a larger batch favour Lion?)
    "s-b64": dict(width=16, layers=1, heads=2, budget=Budget(200, 64), lr_scale=10.0),
    "s-b256": dict(width=16, layers=1, heads=2, budget=Budget(200, 256), lr_scale=10.0),
    "m-b128": dict(width=32, layers=1, heads=2, budget=Budget(400, 128), lr_scale=5.62),
}

register_sizes("transformer", SIZES, TransformerTask)
