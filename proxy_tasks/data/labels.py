"""Label noise shared by the classification data sets (``teacher``, ``sparse``)."""

from __future__ import annotations

import numpy as np


def with_label_noise(labels: np.ndarray, noise: float, n_classes: int, seed: int) -> np.ndarray:
    """A copy of ``labels`` in which a ``noise`` fraction, drawn from a stream fixed by
    ``seed``, the number of labels and ``noise``, is replaced by uniformly random classes (some by
    the same class). Variants of one data set that differ in ``noise`` share everything else."""
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"label noise must be a fraction in [0, 1], got {noise}")
    rng = np.random.default_rng([seed, len(labels), int(round(noise * 1e6))])
    flip = rng.random(len(labels)) < noise
    out = np.array(labels, copy=True)
    out[flip] = rng.integers(0, n_classes, size=int(flip.sum()))
    return out
