"""An ill-conditioned regression: inputs whose scales span decades.

``z ~ N(0, I)``; the model sees ``x = z * scales`` with ``scales`` log-spaced over
``decades``; the target is a fixed random tanh network of ``z`` plus noise, standardised. To fit
it a model needs large weights on the small-scale inputs: plain gradient descent crawls along
those directions, per-coordinate preconditioning (Adam-like) does not.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=4)
def illcond_data(n_train: int, n_val: int, n_in: int = 32, decades: float = 3.0,
                 noise: float = 0.3, seed: int = 2023) -> dict[str, np.ndarray]:
    """``train_x, train_y, val_x, val_y`` float32; targets have unit variance."""
    rng = np.random.default_rng([seed, n_in, int(decades * 100)])
    scales = np.logspace(0.0, -decades, n_in)
    w1 = rng.normal(0.0, 1.0 / np.sqrt(n_in), size=(n_in, 32))
    w2 = rng.normal(0.0, 1.0 / np.sqrt(32), size=(32,))
    data_rng = np.random.default_rng([seed, n_train, n_val])

    def sample(n: int) -> tuple[np.ndarray, np.ndarray]:
        z = data_rng.normal(size=(n, n_in))
        y = np.tanh(z @ w1 * 1.5) @ w2
        return z * scales, y

    train_x, train_y = sample(n_train)
    val_x, val_y = sample(n_val)
    mean, std = train_y.mean(), train_y.std()
    train_y = (train_y - mean) / std + noise * data_rng.normal(size=n_train)
    val_y = (val_y - mean) / std  # clean: the score measures the function learnt
    out = {"train_x": train_x.astype(np.float32), "train_y": train_y.astype(np.float32),
           "val_x": val_x.astype(np.float32), "val_y": val_y.astype(np.float32)}
    for a in out.values():
        a.setflags(write=False)
    return out
