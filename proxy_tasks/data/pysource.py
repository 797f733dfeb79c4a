"""Python source that ships with Python: the standard library's ``.py`` files, as bytes.

Every machine that runs the project has this corpus (about 10-12 MB of code and docstrings), so
a language model on it needs no download. What makes it usable as a benchmark:

* **Which files.** The ``.py`` files under ``sysconfig.get_paths()["stdlib"]``, skipping
  installed packages (``site-packages``), test suites and their data (``test``, ``tests``,
  ``idle_test``: deliberately odd files, some not even valid source), byte-code caches and
  files generated per build (``_sysconfigdata_*``, ``config-*``), which differ between two
  machines with the same Python.
* **Which split.** A file is validation when the byte sum of its path (relative to the stdlib,
  ``/``-separated) is 0 mod 20, so the split of one file never depends on which other files a
  machine has: a stdlib that differs slightly (another patch release, a distribution's
  trimming) changes a few files, not the split.
* **Which order.** Files are read in the order of the SHA-256 of their relative path: a fixed
  shuffle, so that a prefix of the training text (what a small task reads) mixes the whole
  library instead of the modules whose names start with ``_`` and ``a``.
* **How much.** A task reads only the bytes it needs (its steps x batch x context, one pass),
  so small tasks build their data in milliseconds and memory stays bounded; a larger task's
  text extends a smaller one's. The validation text is a fixed pool (:data:`VAL_POOL_BYTES`)
  shared by every size.
* **What was read.** :class:`SourceCorpus` carries the file counts, byte counts and a hash of
  the bytes, which the task puts in its description: results say what they trained on. Same
  machine (same Python), same bytes.
"""

from __future__ import annotations

import hashlib
import os
import platform
import sysconfig
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

VOCAB_SIZE = 256
"""Bytes: every file is read as it is, whatever its encoding."""

VAL_EVERY = 20
"""A file is validation when the byte sum of its relative path is 0 mod this."""

VAL_POOL_BYTES = 1 << 18
"""Validation text read by every size (about 30 files); windows are drawn from it."""

SKIPPED_DIRS = frozenset({"site-packages", "dist-packages", "test", "tests", "idle_test",
                          "__pycache__", "lib-dynload"})
"""Directories never read: installed packages, test suites and their data, caches."""


def stdlib_root() -> Path:
    """Where this Python's standard library lives."""
    return Path(sysconfig.get_paths()["stdlib"])


def _skipped(relpath: str) -> bool:
    parts = relpath.split("/")
    if any(p in SKIPPED_DIRS or p.startswith("config-") for p in parts[:-1]):
        return True
    return parts[-1].startswith("_sysconfigdata")


def is_validation(relpath: str) -> bool:
    """Whether the file at ``relpath`` (relative to the stdlib, ``/``-separated) is held out."""
    return sum(relpath.encode("utf-8")) % VAL_EVERY == 0


def _order(relpath: str) -> str:
    return hashlib.sha256(relpath.encode("utf-8")).hexdigest()


@lru_cache(maxsize=4)
def source_files(root: str | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The relative paths of the training and validation files, each in reading order."""
    base = Path(root) if root is not None else stdlib_root()
    if not base.is_dir():
        raise FileNotFoundError(f"no standard library at {base}")
    paths = []
    for directory, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.startswith("config-"))
        rel_dir = Path(directory).relative_to(base).as_posix()
        for name in files:
            if name.endswith(".py"):
                rel = name if rel_dir == "." else f"{rel_dir}/{name}"
                if not _skipped(rel) and os.path.isfile(os.path.join(directory, name)):
                    paths.append(rel)
    paths.sort(key=_order)
    train = tuple(p for p in paths if not is_validation(p))
    val = tuple(p for p in paths if is_validation(p))
    return train, val


def _read(base: Path, files: tuple[str, ...], need: int) -> tuple[bytes, int]:
    """The first ``need`` bytes of ``files`` concatenated, and how many files were opened."""
    parts, total, opened = [], 0, 0
    for rel in files:
        if total >= need:
            break
        data = (base / rel).read_bytes()
        parts.append(data)
        total += len(data)
        opened += 1
    return b"".join(parts)[:need], opened


@dataclass(frozen=True)
class SourceCorpus:
    """The bytes one task trains and validates on, and what they are."""

    train: np.ndarray
    val: np.ndarray
    train_files: int
    val_files: int
    sha256: str
    python: str

    def summary(self) -> dict[str, object]:
        """What was read, for descriptions and result manifests."""
        return {"python": self.python, "train_bytes": int(self.train.size),
                "train_files": self.train_files, "val_bytes": int(self.val.size),
                "val_files": self.val_files, "sha256": self.sha256}


def available_bytes(root: str | None = None) -> tuple[int, int]:
    """Training and validation bytes this machine's standard library holds."""
    base = Path(root) if root is not None else stdlib_root()
    train, val = source_files(root)
    return (sum((base / p).stat().st_size for p in train),
            sum((base / p).stat().st_size for p in val))


@lru_cache(maxsize=8)
def python_source(train_bytes: int, root: str | None = None) -> SourceCorpus:
    """The first ``train_bytes`` of the training text and the validation pool.

    Raises ``ValueError`` naming the shortfall when this machine's standard library holds fewer
    training bytes than asked (a task never silently repeats its data)."""
    if train_bytes < 1:
        raise ValueError(f"train_bytes must be positive, got {train_bytes}")
    base = Path(root) if root is not None else stdlib_root()
    train_files, val_files = source_files(root)
    train, n_train = _read(base, train_files, train_bytes)
    if len(train) < train_bytes:
        raise ValueError(
            f"the standard library at {base} holds {len(train):,} training bytes of Python "
            f"source; this task needs {train_bytes:,} (one pass over distinct text)")
    val, n_val = _read(base, val_files, VAL_POOL_BYTES)
    digest = hashlib.sha256(train)
    digest.update(val)
    as_array = [np.frombuffer(b, dtype=np.uint8) for b in (train, val)]
    for a in as_array:
        a.setflags(write=False)
    return SourceCorpus(as_array[0], as_array[1], n_train, n_val, digest.hexdigest()[:16],
                        platform.python_version())
