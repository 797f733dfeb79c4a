"""Teacher-student classification with label noise (the research note's ``teacher`` task).

Inputs ``x ~ N(0, I)``; the label is the argmax of a fixed random tanh network; a fraction of
the *training* labels is replaced by uniformly random classes, the validation labels are clean.
Label noise is what made long gradient memory plus a sign update (Lion) win in the note.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from proxy_tasks.data.labels import with_label_noise


@lru_cache(maxsize=8)
def teacher_data(
    noise: float,
    n_train: int,
    n_val: int,
    n_in: int = 20,
    teacher_hidden: int = 64,
    n_classes: int = 10,
    seed: int = 2023,
) -> dict[str, np.ndarray]:
    """``train_x, train_y`` (noisy) and ``val_x, val_y`` (clean), float32 / int32."""
    rng = np.random.default_rng([seed, n_in, teacher_hidden, n_classes])
    w1 = rng.normal(0.0, 1.0 / np.sqrt(n_in), size=(n_in, teacher_hidden))
    b1 = rng.normal(0.0, 0.1, size=teacher_hidden)
    w2 = rng.normal(0.0, 1.0 / np.sqrt(teacher_hidden), size=(teacher_hidden, n_classes))

    def label(x: np.ndarray) -> np.ndarray:
        return np.argmax(np.tanh(x @ w1 + b1) @ w2, axis=1).astype(np.int32)

    # The inputs do not depend on the noise level: variants differ in their training labels only.
    data_rng = np.random.default_rng([seed, n_train, n_val])
    train_x = data_rng.normal(size=(n_train, n_in)).astype(np.float32)
    val_x = data_rng.normal(size=(n_val, n_in)).astype(np.float32)
    train_y = with_label_noise(label(train_x), noise, n_classes, seed)
    for a in (train_x, val_x, train_y):
        a.setflags(write=False)
    val_y = label(val_x)
    val_y.setflags(write=False)
    return {"train_x": train_x, "train_y": train_y, "val_x": val_x, "val_y": val_y}
