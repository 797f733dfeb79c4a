"""A byte-level causal transformer language model on Python's standard library source
(:mod:`proxy_tasks.data.pysource`), in sizes from seconds on a CPU to ~25M parameters.

The flagship example of a task at the user's scale: the same model family from ``xs`` (a
test-sized model, a second or two per run on one CPU core) to ``xl`` (for an accelerator), so a
study can ask from which size on one optimizer beats another (``experiments/scale/``).

**One pass over the data at every size.** A size reads exactly ``steps x batch x context + 1``
training bytes and cuts them into that many non-overlapping windows of ``context`` inputs (each
window's targets are its inputs shifted by one byte); the batches of a seed are one permutation
of those windows, so every training byte is predicted once and no window repeats: no size
can win by memorising.

**The model** (the design of the research note on Lion against AdamW as models grow): learned
token and position embeddings, pre-norm blocks with RMS norms without parameters, multi-head
causal attention and a ReLU MLP of 4x the width, an untied readout, no biases; weights drawn
from N(0, 1/fan_in), the residual outputs (attention's ``o``, the MLP's ``down``) shrunk by
1/sqrt(2 x layers) so that each block starts near the identity, embeddings from N(0, 0.5^2).
Every tensor the optimizer sees is thus a matrix or an embedding, as in large models.

**The score** is the mean next-byte cross-entropy (nats per byte) over ``n_val`` fixed windows
of the held-out files.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from proxy_tasks.data.pysource import VAL_POOL_BYTES, VOCAB_SIZE, SourceCorpus, python_source
from proxy_tasks.models import cross_entropy
from proxy_tasks.registry import register_sizes
from proxy_tasks.task import Budget, Layout, Task

EMBED_STD = 0.5


def _rms_norm(x: jax.Array) -> jax.Array:
    return x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=-1, keepdims=True) + 1e-6)


class PythonLMTask(Task):
    """See the module docstring. ``n_val`` validation windows of ``context`` bytes each."""

    family = "pylm"
    worst_loss = 2.0 * math.log(VOCAB_SIZE)  # twice a uniform prediction's loss (see Task)

    def __init__(self, width: int, layers: int, heads: int, context: int, budget: Budget,
                 n_val: int = 256, remat: bool = False) -> None:
        if width % heads:
            raise ValueError(f"width {width} is not a multiple of heads {heads}")
        if n_val * (context + 1) > VAL_POOL_BYTES:
            raise ValueError(f"{n_val} validation windows of {context + 1} bytes do not fit "
                             f"the validation pool of {VAL_POOL_BYTES} bytes")
        self.width, self.layers, self.heads, self.context = width, layers, heads, context
        self.budget = budget
        self.n_val = n_val
        self.remat = remat
        self.name = "pylm"

    @property
    def train_bytes(self) -> int:
        """Training bytes read: one pass of ``steps x batch`` windows (+1 for the last
        target)."""
        return self.budget.steps * self.budget.batch_size * self.context + 1

    @cached_property
    def corpus(self) -> SourceCorpus:
        return python_source(self.train_bytes)

    @property
    def description(self) -> str:  # type: ignore[override]
        c = self.corpus.summary()
        return (
            f"byte-level causal transformer LM on the Python {c['python']} stdlib source "
            f"({c['train_files']} files, {c['train_bytes']:,} train bytes, one pass; "
            f"{c['val_files']} held-out files; sha256 {c['sha256']}), {self.n_params:,} params: "
            f"width {self.width}, {self.layers} layer(s), {self.heads} heads, context "
            f"{self.context}, {self.budget.steps} steps x batch {self.budget.batch_size}, "
            f"{self.budget.schedule}"
        )

    @property
    def layout(self) -> Layout:
        d, f = self.width, 4 * self.width
        out: list[tuple[str, tuple[int, ...]]] = [
            ("embed", (VOCAB_SIZE, d)), ("position", (self.context, d))]
        for i in range(self.layers):
            out += [(f"q{i}", (d, d)), (f"k{i}", (d, d)), (f"v{i}", (d, d)), (f"o{i}", (d, d)),
                    (f"up{i}", (d, f)), (f"down{i}", (f, d))]
        return (*out, ("readout", (d, VOCAB_SIZE)))

    @property
    def n_train(self) -> int:
        return (len(self.data["train_text"]) - 1) // self.context

    def make_data(self) -> dict[str, np.ndarray]:
        corpus = self.corpus
        slots = (len(corpus.val) - 1) // (self.context + 1)
        rng = np.random.default_rng([2023, self.context, self.n_val])
        val_pos = np.sort(rng.choice(slots, size=self.n_val, replace=False)) * (self.context + 1)
        return {"train_text": corpus.train, "val_text": corpus.val,
                "val_pos": val_pos.astype(np.int32)}

    def init_tensors(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        shrink = 1.0 / math.sqrt(2 * self.layers)
        out = {}
        for name, shape in self.layout:
            if name in ("embed", "position"):
                out[name] = rng.normal(0.0, EMBED_STD, size=shape)
            else:
                scale = shrink if name[0] in "od" else 1.0  # o{i}, down{i}: residual outputs
                out[name] = rng.normal(0.0, scale / math.sqrt(shape[0]), size=shape)
        return out

    def _block(self, x: jax.Array, block: dict[str, jax.Array]) -> jax.Array:
        n, t, _ = x.shape
        h, dh = self.heads, self.width // self.heads
        mask = jnp.tril(jnp.ones((t, t), dtype=bool))
        y = _rms_norm(x)
        q, k, v = ((y @ block[name]).reshape(n, t, h, dh) for name in "qkv")
        scores = jnp.einsum("nshd,nuhd->nhsu", q, k) / math.sqrt(dh)
        attention = jax.nn.softmax(jnp.where(mask, scores, -1e9), axis=-1)
        mixed = jnp.einsum("nhsu,nuhd->nshd", attention, v).reshape(n, t, self.width)
        x = x + mixed @ block["o"]
        return x + jax.nn.relu(_rms_norm(x) @ block["up"]) @ block["down"]

    def _logits(self, params: dict[str, Any], tokens: jax.Array) -> jax.Array:
        # remat: keep only each block's input for the backward pass and recompute the rest
        # (about a third more compute), so that many vmapped runs of a large size fit in
        # an accelerator's memory.
        block = jax.checkpoint(self._block) if self.remat else self._block
        x = params["embed"][tokens] + params["position"][: tokens.shape[1]]
        for i in range(self.layers):
            x = block(x, {name: params[f"{name}{i}"] for name in ("q", "k", "v", "o", "up",
                                                                   "down")})
        return _rms_norm(x) @ params["readout"]

    def _loss(self, params: dict[str, Any], text: Any, starts: Any) -> Any:
        window = text[starts[:, None] + jnp.arange(self.context + 1)].astype(jnp.int32)
        logits = self._logits(params, window[:, :-1])
        return cross_entropy(logits.reshape(-1, VOCAB_SIZE), window[:, 1:].reshape(-1))

    def train_loss(self, params: dict[str, Any], data: dict[str, Any], idx: Any) -> Any:
        return self._loss(params, data["train_text"], idx * self.context)

    def val_loss(self, params: dict[str, Any], data: dict[str, Any]) -> Any:
        return self._loss(params, data["val_text"], data["val_pos"])


# Sizes about 3-6x apart in parameters. xs and s train in seconds on one CPU core (measured:
# ~0.5 s and ~4 s per run with the interpreter, single-threaded, compile excluded); m, l and xl
# read 8.2 MB (about 70 % of a stdlib's training text) and are for an accelerator. l and xl
# recompute each block in the backward pass (remat) to fit many vmapped runs in memory.
# lr_scale (see Task.lr_scale): xs and s measured here (experiments/scale/lr_scale.py, 2
# seeds); m and l from the research note's H200 measurement of the same architectures (width
# 128 and 256), xl extrapolated at the same rate per doubling of width: to be measured on an
# accelerator (experiments/scale/README.md).
SIZES: dict[str, dict] = {
    "xs": dict(width=32, layers=2, heads=2, context=32, budget=Budget(250, 16), n_val=64,
               lr_scale=17.8),
    "s": dict(width=64, layers=2, heads=4, context=64, budget=Budget(300, 16), n_val=128,
              lr_scale=10.0),
    "m": dict(width=128, layers=4, heads=4, context=128, budget=Budget(1000, 64),
              lr_scale=17.8),
    "l": dict(width=256, layers=6, heads=8, context=128, budget=Budget(1000, 64), remat=True,
              lr_scale=10.0),
    "xl": dict(width=512, layers=8, heads=8, context=128, budget=Budget(1000, 64), remat=True,
               lr_scale=5.62),
}

register_sizes("pylm", SIZES, PythonLMTask)
