"""Checkpoints: the whole search state as one JSON file, written atomically.

JSON, not pickle: a checkpoint is a file a user may copy between machines or receive from
someone else, and loading it must never run code. Programs inside are text, parsed again on
load. Writes go to a temporary file in the same directory, are flushed to disk, then renamed
over the old checkpoint (``os.replace`` is atomic), so a crash mid-write leaves the previous
checkpoint intact (and at worst a stray temporary file, which :func:`remove_stray_temporaries`
deletes on the next resume). A checkpoint that cannot be read (corrupt, truncated, another
format or version, too large, too deeply nested, holding numbers no checkpoint holds) raises
:class:`CheckpointError` saying which file and why, and nothing here ever overwrites such a
file. The contents are checked field by field by each part's ``from_json`` (see
:mod:`evosearch.engine.schema`).

Files are created with the mode the user's umask gives (``0o666 & ~umask``, as ``open`` would)
and a replaced file keeps its mode, so that a group-readable run folder stays readable.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import stat
import tempfile
import threading
from pathlib import Path
from typing import Any

FORMAT = "evosearch-checkpoint"
VERSION = 1

MAX_CHECKPOINT_BYTES = 1 << 30
"""The largest checkpoint read (1 GiB). Measured: a checkpoint grows by about 100 bytes per
evaluation (the cache) plus about 550 bytes per lineage record, so a search of a million
evaluations with a population of a thousand saves about 100 MB; a file ten times larger is no
checkpoint of ours, and parsing it would take several times its size in memory before any
check could refuse it."""

MAX_INT_DIGITS = 40
"""The longest integer a checkpoint holds: the random generator's 128-bit state has 39 digits.
Python would spend quadratic time converting a longer one (and refuses more than 4300 digits
with a ``ValueError``), so a longer one is refused while parsing."""


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used; the message names the file and the problem."""


class _Unreadable(ValueError):
    """A value that no checkpoint or log line holds, met while parsing."""


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _Unreadable(f"an integer of {len(text.lstrip('-'))} digits, longer than any "
                          f"a checkpoint holds ({MAX_INT_DIGITS})")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Unreadable(f"a number too large for a float: {text[:20]}")
    return value


def _parse_constant(name: str) -> float:
    raise _Unreadable(f"{name}, which is not JSON: checkpoints hold finite numbers only")


def parse_json(text: str) -> Any:
    """Strict, bounded JSON: no NaN or Infinity, no integer longer than
    :data:`MAX_INT_DIGITS`, no nesting deeper than Python's recursion limit. Raises
    ``ValueError`` with a one-line reason (``json.JSONDecodeError`` for a syntax error)."""
    try:
        return json.loads(text, parse_int=_parse_int, parse_float=_parse_float,
                          parse_constant=_parse_constant)
    except RecursionError:
        raise _Unreadable("arrays or objects nested deeper than any checkpoint nests"
                          ) from None


# --- writing ----------------------------------------------------------------------------------

_umask_lock = threading.Lock()


def current_umask() -> int:
    """The process's umask. Linux shows it in ``/proc/self/status``; elsewhere it can only be
    read by setting it, which briefly changes it for every thread, hence the lock and the
    common 022 in the meantime."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    with _umask_lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The mode ``open(path, "w")`` would give a new file: ``0o666`` less the umask."""
    return 0o666 & ~current_umask()


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half.
    A new file gets the umask's mode, a replaced one keeps its own."""
    path = Path(path)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = new_file_mode()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fchmod(f.fileno(), mode)  # mkstemp creates 0600
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


_TEMPORARY = re.compile(r"\.(?P<name>[^/]+)\.[A-Za-z0-9_]+\.tmp")


def stray_temporaries(folder: Path, names: set[str]) -> list[Path]:
    """Temporary files that :func:`write_atomic` left in ``folder`` for one of ``names`` when
    it was killed mid-write (``.checkpoint.json.k3j_x9.tmp``)."""
    found = []
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for entry in folder.iterdir():
            match = _TEMPORARY.fullmatch(entry.name)
            if match and match["name"] in names and entry.is_file():
                found.append(entry)
    return sorted(found)


def remove_stray_temporaries(folder: Path, names: set[str]) -> int:
    """Delete what :func:`stray_temporaries` finds; returns how many."""
    removed = 0
    for path in stray_temporaries(folder, names):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed += 1
    return removed


# --- reading ----------------------------------------------------------------------------------


def read_bounded(path: Path, limit: int, what: str) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes, checked before reading: a FIFO
    or a device named like a checkpoint would block or never end, a huge file would fill the
    memory. Raises :class:`CheckpointError`."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no {what} here") from None
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read the {what} ({e.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise CheckpointError(f"{path}: a folder, not a {what}")
        if not stat.S_ISREG(info.st_mode):
            raise CheckpointError(f"{path}: not a regular file, so not a {what}; it is left "
                                  "untouched")
        if info.st_size > limit:
            raise CheckpointError(
                f"{path}: {info.st_size >> 20} MiB, larger than any {what} of this program "
                f"({limit >> 20} MiB at most); it is left untouched")
        try:
            raw = f.read(limit + 1)
        except OSError as e:
            raise CheckpointError(f"{path}: cannot read the {what} ({e.strerror})") from None
    if len(raw) > limit:  # it grew while being read
        raise CheckpointError(f"{path}: larger than any {what} of this program")
    return raw



def load(path: str | Path) -> dict[str, Any]:
    """Read and check a checkpoint's envelope; each part's ``from_json`` checks the contents."""
    path = Path(path)
    raw = read_bounded(path, MAX_CHECKPOINT_BYTES, "checkpoint")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CheckpointError(
            f"{path}: not a text file (byte {e.start} is not UTF-8); it is left untouched"
        ) from None
    if not text.strip():
        raise CheckpointError(f"{path}: the checkpoint is empty (truncated?); left untouched")
    try:
        data = parse_json(text)
    except json.JSONDecodeError as e:
        raise CheckpointError(
            f"{path}: corrupt or truncated checkpoint (line {e.lineno}, column {e.colno}: "
            f"{e.msg}); it is left untouched"
        ) from None
    except ValueError as e:
        raise CheckpointError(f"{path}: not a usable checkpoint: it holds {e}; it is left "
                              "untouched") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an evosearch checkpoint (no format {FORMAT!r})")
    version = data.get("version")
    if version != VERSION:
        shown = repr(version) if len(repr(version)) < 40 else repr(version)[:37] + "..."
        raise CheckpointError(
            f"{path}: checkpoint version {shown} is incompatible with this evosearch "
            f"(reads version {VERSION}); it is left untouched"
        )
    return data


def require(data: dict[str, Any], path: str | Path, *keys: str) -> None:
    """Fail clearly when a checkpoint lacks a section."""
    missing = [k for k in keys if k not in data]
    if missing:
        raise CheckpointError(f"{path}: checkpoint is missing {', '.join(missing)}")
