"""A character corpus that ships with Python: the text of ``pydoc_data.topics``.

About 465k characters of English prose and Python code (the interpreter's own help topics),
always installed. The text differs between Python versions; scores are comparable only within
one version (the task description records the corpus length).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

VOCAB = "\n" + "".join(chr(c) for c in range(32, 127))
"""Newline and printable ASCII; every other character maps to one extra id (``len(VOCAB)``)."""
VOCAB_SIZE = len(VOCAB) + 1


@lru_cache(maxsize=1)
def topics_text() -> str:
    from pydoc_data.topics import topics

    return "".join(topics[key] for key in sorted(topics))


@lru_cache(maxsize=1)
def encoded_corpus() -> np.ndarray:
    """The corpus as int32 character ids."""
    table = np.full(128, len(VOCAB), np.int32)
    for i, ch in enumerate(VOCAB):
        table[ord(ch)] = i
    codes = np.frombuffer(topics_text().encode("utf-32-le"), dtype=np.uint32)
    ids = np.where(codes < 128, table[np.minimum(codes, 127)], len(VOCAB)).astype(np.int32)
    ids.setflags(write=False)
    return ids


@lru_cache(maxsize=4)
def char_data(context: int, n_val: int, val_fraction: float = 0.1,
              seed: int = 2023) -> dict[str, np.ndarray]:
    """Train and validation text (split at ``1 - val_fraction``) and ``n_val`` fixed
    validation positions (each predicts the character after ``context`` characters)."""
    ids = encoded_corpus()
    cut = int(len(ids) * (1.0 - val_fraction))
    train, val = ids[:cut], ids[cut:]
    rng = np.random.default_rng([seed, context, n_val])
    val_pos = np.sort(rng.choice(len(val) - context, size=n_val, replace=False)).astype(np.int32)
    return {"train_text": train, "val_text": val, "val_pos": val_pos}
