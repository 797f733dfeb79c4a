"""Checkpoints: the whole search state as one JSON file, written atomically.

JSON, not pickle: a checkpoint is a file a user may copy between machines or receive from
someone else, and loading it must never run code. Programs inside are text, parsed again on
load. Writes go to a temporary file in the same directory, are flushed to disk, then renamed
over the old checkpoint (``os.replace`` is atomic), so a crash mid-write leaves the previous
checkpoint intact. A checkpoint that cannot be read (corrupt, truncated, another format or
version) raises :class:`CheckpointError` saying which file and why, and nothing here ever
overwrites such a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

FORMAT = "evosearch-checkpoint"
VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used; the message names the file and the problem."""


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def save(path: str | Path, state: dict[str, Any]) -> None:
    """Write a checkpoint: ``state`` plus the format marker and version."""
    payload = {"format": FORMAT, "version": VERSION, **state}
    write_atomic(path, json.dumps(payload, allow_nan=False, separators=(",", ":")))


def load(path: str | Path) -> dict[str, Any]:
    """Read and check a checkpoint's envelope; the caller checks the contents."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no checkpoint here (nothing to resume)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: cannot read the checkpoint ({e})") from None
    if not text.strip():
        raise CheckpointError(f"{path}: the checkpoint is empty (truncated?); left untouched")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise CheckpointError(
            f"{path}: corrupt or truncated checkpoint (line {e.lineno}, column {e.colno}: "
            f"{e.msg}); it is left untouched"
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an evosearch checkpoint (no format {FORMAT!r})")
    version = data.get("version")
    if version != VERSION:
        raise CheckpointError(
            f"{path}: checkpoint version {version!r} is incompatible with this evosearch "
            f"(reads version {VERSION}); it is left untouched"
        )
    return data


def require(data: dict[str, Any], path: str | Path, *keys: str) -> None:
    """Fail clearly when a checkpoint lacks a section."""
    missing = [k for k in keys if k not in data]
    if missing:
        raise CheckpointError(f"{path}: checkpoint is missing {', '.join(missing)}")
