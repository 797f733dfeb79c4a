"""Generated image-like data: noisy, shifted glyphs of 10 classes on a small canvas.

Each class is a fixed random glyph (a few anti-aliased strokes); an example is its class's glyph
shifted by a few pixels, with random contrast, stroke-width blur and pixel noise. Translation
makes a convolution the right model; the noise keeps the task from being solved exactly.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


def _stroke(canvas: np.ndarray, p0: np.ndarray, p1: np.ndarray, width: float) -> None:
    size = canvas.shape[0]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    d = p1 - p0
    t = np.clip(((yy - p0[0]) * d[0] + (xx - p0[1]) * d[1]) / max(d @ d, 1e-9), 0.0, 1.0)
    dist = np.hypot(yy - (p0[0] + t * d[0]), xx - (p0[1] + t * d[1]))
    np.maximum(canvas, np.clip(1.0 - (dist - width) / 1.0, 0.0, 1.0), out=canvas)


def _glyphs(rng: np.random.Generator, n_classes: int, size: int, strokes: int) -> np.ndarray:
    out = np.zeros((n_classes, size, size))
    margin = 3.0
    for c in range(n_classes):
        points = rng.uniform(margin, size - 1 - margin, size=(strokes + 1, 2))
        for k in range(strokes):
            _stroke(out[c], points[k], points[k + 1], width=0.6)
    return out


@lru_cache(maxsize=4)
def glyph_data(n_train: int, n_val: int, size: int = 16, n_classes: int = 10,
               shift: int = 3, noise: float = 0.45, seed: int = 2023) -> dict[str, np.ndarray]:
    """``train_x, val_x``: ``(n, size, size, 1)`` float32; ``train_y, val_y``: int32."""
    rng = np.random.default_rng([seed, size, n_classes])
    protos = _glyphs(rng, n_classes, size, strokes=3)
    data_rng = np.random.default_rng([seed, n_train, n_val, shift])

    def sample(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = data_rng.integers(0, n_classes, size=n).astype(np.int32)
        dy, dx = data_rng.integers(-shift, shift + 1, size=(2, n))
        x = np.empty((n, size, size))
        for i in range(n):
            x[i] = np.roll(protos[y[i]], (dy[i], dx[i]), axis=(0, 1))
        x *= data_rng.uniform(0.6, 1.4, size=(n, 1, 1))
        x += noise * data_rng.normal(size=x.shape)
        return ((x - 0.2) / 0.5)[..., None].astype(np.float32), y

    train_x, train_y = sample(n_train)
    val_x, val_y = sample(n_val)
    out = {"train_x": train_x, "train_y": train_y, "val_x": val_x, "val_y": val_y}
    for a in out.values():
        a.setflags(write=False)
    return out
