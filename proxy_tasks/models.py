"""Small models shared by the task families: layouts, numpy initialisers, jax forward passes.

Initialisers run on the host with numpy (see :mod:`proxy_tasks.task`): He-normal weights for
ReLU layers, zero biases.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from proxy_tasks.task import Layout


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean softmax cross-entropy of integer labels.

    The logits are shifted by their maximum *before* the difference is taken. The plain
    ``logsumexp(logits) - picked`` loses ``log(classes)`` to float32 rounding once logits reach
    about 1e8: a search found that, blew every weight up to 1.6e8 so that all logits were equal
    and huge, and scored a validation loss of exactly 0 (a uniform prediction, really 2.30)."""
    shifted = logits - lax.stop_gradient(jnp.max(logits, axis=-1, keepdims=True))
    picked = jnp.take_along_axis(shifted, labels[:, None], axis=-1)[:, 0]
    return jnp.mean(jax.nn.logsumexp(shifted, axis=-1) - picked)


def mlp_layout(prefix: str, widths: Sequence[int]) -> Layout:
    """Weights and biases of a dense stack ``widths[0] -> ... -> widths[-1]``."""
    out: list[tuple[str, tuple[int, ...]]] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        out += [(f"{prefix}w{i}", (a, b)), (f"{prefix}b{i}", (b,))]
    return tuple(out)


def mlp_init(rng: np.random.Generator, prefix: str, widths: Sequence[int],
             last_scale: float = 1.0) -> dict[str, np.ndarray]:
    out = {}
    n = len(widths) - 1
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        scale = np.sqrt(2.0 / a) * (last_scale if i == n - 1 else 1.0)
        out[f"{prefix}w{i}"] = rng.normal(0.0, scale, size=(a, b))
        out[f"{prefix}b{i}"] = np.zeros(b)
    return out


def mlp_apply(params: dict[str, Any], prefix: str, n_layers: int, x: jax.Array) -> jax.Array:
    """ReLU between layers, none after the last."""
    for i in range(n_layers):
        x = x @ params[f"{prefix}w{i}"] + params[f"{prefix}b{i}"]
        if i < n_layers - 1:
            x = jax.nn.relu(x)
    return x


def conv_layout(channels: Sequence[int], kernel: int = 3) -> Layout:
    """3x3 convolutions (HWIO) with biases, ``channels[0] -> ... -> channels[-1]``."""
    out: list[tuple[str, tuple[int, ...]]] = []
    for i, (a, b) in enumerate(zip(channels[:-1], channels[1:], strict=True)):
        out += [(f"c{i}", (kernel, kernel, a, b)), (f"cb{i}", (b,))]
    return tuple(out)


def conv_init(rng: np.random.Generator, channels: Sequence[int],
              kernel: int = 3) -> dict[str, np.ndarray]:
    out = {}
    for i, (a, b) in enumerate(zip(channels[:-1], channels[1:], strict=True)):
        out[f"c{i}"] = rng.normal(0.0, np.sqrt(2.0 / (kernel * kernel * a)),
                                  size=(kernel, kernel, a, b))
        out[f"cb{i}"] = np.zeros(b)
    return out


def conv3x3(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """A 3x3 'SAME' convolution (NHWC, HWIO) as im2col: nine shifted views, one matmul.

    Mathematically ``lax.conv_general_dilated``; measured on the 2-core CPU, XLA's convolution
    at these sizes (8-32 channels, 16x16 images) is ~10x slower than this matmul, forward and
    backward, which made an image task cost as much as the whole rest of a suite.
    """
    n, h, w, c = x.shape
    padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    patches = jnp.concatenate(
        [padded[:, i : i + h, j : j + w, :] for i in range(3) for j in range(3)], axis=-1)
    return patches.reshape(n * h * w, 9 * c) @ kernel.reshape(9 * c, -1)


def conv_apply(params: dict[str, Any], n_layers: int, x: jax.Array) -> jax.Array:
    """Each layer: 3x3 'SAME' convolution, ReLU, 2x2 average pooling. ``x`` is NHWC."""
    for i in range(n_layers):
        n, h, w, _ = x.shape
        kernel = params[f"c{i}"]
        x = conv3x3(x, kernel).reshape(n, h, w, kernel.shape[-1]) + params[f"cb{i}"]
        x = jax.nn.relu(x)
        c = x.shape[-1]
        x = x.reshape(n, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))
    return x.reshape(x.shape[0], -1)
