"""Recorded traces: identifying an optimizer the project cannot call.

A trace is what a user logs from their own training run, one row per step, in a numpy ``.npz``
file (``numpy.savez``) with these arrays:

========== =============== =========================================================
``w``      ``(steps, n)``  the parameters before the step (flattened, all tensors)
``g``      ``(steps, n)``  the gradient at that step
``lr``     ``(steps,)``    the learning rate the optimizer was given at that step
``update`` ``(steps, n)``  what the step subtracted: ``w[t] - w_after[t]``
``segments`` ``(n,)``      optional: the tensor of each coordinate (integers from 0, in
                           order); default: one tensor
========== =============== =========================================================

The trace must start at the optimizer's first step (its state at zero). Floats of any width are
read as float64. The file is read with ``allow_pickle=False``: a trace can never run code.
Identification fits the program on the first three quarters of the steps and reports its
distance on the last quarter, which the search never sees.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from proxy_tasks.identification.spec import TargetError
from proxy_tasks.identification.streams import Stream

MAX_TRACE_BYTES = 512 * 2**20
"""A larger file is refused before reading: the search keeps every array in every worker."""
MAX_TRACE_VALUES = 20_000_000
"""Steps times coordinates, at most: the search runs every candidate over the whole trace."""
MIN_STEPS = 8
REQUIRED = ("w", "g", "lr", "update")


def load_trace(path: str | Path) -> tuple[Stream, np.ndarray]:
    """The trace's stream and the target's updates; a :class:`TargetError` (one line naming the
    file and what is wrong) for anything malformed."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as e:
        raise TargetError(f"{path}: cannot read the trace ({e.strerror or e})") from None
    if size > MAX_TRACE_BYTES:
        raise TargetError(f"{path}: {size} bytes; a trace may have at most {MAX_TRACE_BYTES}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: np.asarray(data[k]) for k in data.files if k in (*REQUIRED, "segments")}
            names = set(data.files)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise TargetError(f"{path}: not a readable .npz trace ({e})") from None
    missing = [k for k in REQUIRED if k not in names]
    if missing:
        raise TargetError(f"{path}: the trace lacks {', '.join(missing)} (it needs w, g, lr, "
                          "update; see proxy_tasks/identification/traces.py)")
    for key in REQUIRED:
        if not np.issubdtype(arrays[key].dtype, np.floating):
            raise TargetError(f"{path}: {key} must hold floats, got {arrays[key].dtype}")
    w, g, lr, update = (arrays[k].astype(np.float64) for k in REQUIRED)
    if w.ndim != 2:
        raise TargetError(f"{path}: w must be (steps, n), got shape {w.shape}")
    steps, n = w.shape
    for key, value, shape in (("g", g, (steps, n)), ("update", update, (steps, n)),
                              ("lr", lr, (steps,))):
        if value.shape != shape:
            raise TargetError(f"{path}: {key} must have shape {shape} like w, got {value.shape}")
    if steps < MIN_STEPS or n < 1:
        raise TargetError(f"{path}: a trace needs at least {MIN_STEPS} steps and 1 coordinate, "
                          f"got {steps} x {n}")
    if steps * n > MAX_TRACE_VALUES:
        raise TargetError(f"{path}: {steps} x {n} values; at most {MAX_TRACE_VALUES}")
    for key, value in (("w", w), ("g", g), ("lr", lr), ("update", update)):
        if not np.all(np.isfinite(value)):
            raise TargetError(f"{path}: {key} holds NaN or inf")
    segments = arrays.get("segments")
    if segments is None:
        segments = np.zeros(n, np.int64)
    else:
        if (segments.shape != (n,) or not np.issubdtype(segments.dtype, np.integer)
                or segments.min() != 0 or np.any(np.diff(segments) < 0)
                or np.any(np.diff(segments) > 1)):
            raise TargetError(f"{path}: segments must be ({n},) integers from 0, "
                              "non-decreasing by steps of 0 or 1")
        segments = segments.astype(np.int64)
    return Stream(path.name, w, g, lr, segments), update
