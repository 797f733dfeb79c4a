"""Bag-of-words classification over a Zipfian vocabulary (the ``sparse`` tasks).

Each document is ``length`` tokens drawn independently from a Zipf law over ``vocab`` tokens
(``p(rank r) ~ r ** -exponent``), so a few tokens occur in every batch and most occur in a
handful of documents. The label is the argmax of a fixed random linear teacher summed over the
document's tokens, with rare tokens weighted up (``rare_weight``), as rare words are the
informative ones in text.

Why this family exists: the hypothesis was that a sign update with long momentum
(Lion) learns rare tokens from few occurrences, since it keeps stepping a row at full size for
as long as its momentum remembers the row's last gradient, where Adam's step fades within ~30
steps. Measured, it overshoots instead (see :mod:`proxy_tasks.tasks.sparse`). Training labels
are clean unless ``noise`` > 0; validation labels always are.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from proxy_tasks.data.labels import with_label_noise


def zipf_probabilities(vocab: int, exponent: float) -> np.ndarray:
    """``p[r]`` proportional to ``(r + 1) ** -exponent``, float64, summing to 1."""
    if vocab < 2 or not exponent >= 0.0:
        raise ValueError(f"need vocab >= 2 and exponent >= 0, got {vocab}, {exponent}")
    p = np.arange(1, vocab + 1, dtype=np.float64) ** -exponent
    return p / p.sum()


@lru_cache(maxsize=8)
def sparse_data(
    vocab: int,
    length: int,
    n_train: int,
    n_val: int,
    n_classes: int = 8,
    exponent: float = 1.1,
    rare_weight: float = 0.25,
    noise: float = 0.0,
    seed: int = 2023,
) -> dict[str, np.ndarray]:
    """``train_tokens, val_tokens`` ``(n, length)`` int32 and ``train_y, val_y`` int32 (the
    validation labels are always clean)."""
    rng = np.random.default_rng([seed, vocab, n_classes])
    p = zipf_probabilities(vocab, exponent)
    # A token's weight grows as its frequency falls (p ** -rare_weight); at 0.5 every token
    # contributes the same variance to the label, so rare tokens decide many documents.
    teacher = rng.normal(size=(vocab, n_classes)) * (p / p[0])[:, None] ** -rare_weight
    teacher -= p @ teacher  # centred: no class wins by the frequent tokens alone
    data_rng = np.random.default_rng([seed, vocab, length, n_train, n_val])
    train = data_rng.choice(vocab, size=(n_train, length), p=p).astype(np.int32)
    val = data_rng.choice(vocab, size=(n_val, length), p=p).astype(np.int32)

    def label(tokens: np.ndarray) -> np.ndarray:
        return np.argmax(teacher[tokens].sum(axis=1), axis=1).astype(np.int32)

    train_y, val_y = with_label_noise(label(train), noise, n_classes, seed), label(val)
    out = {"train_tokens": train, "train_y": train_y, "val_tokens": val, "val_y": val_y}
    for a in out.values():
        a.setflags(write=False)
    return out
