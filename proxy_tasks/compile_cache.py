"""Opt-in: keep compiled training functions on disk, so that the next process loads them.

Measured here: a task's training function compiles in 3-5 s; loading it from jax's persistent
cache takes ~0.8 s. Worth it for a pool of evaluator processes that all compile the same tasks,
and for repeated command-line runs. Off by default: it writes files, and it is a process-wide
jax setting that the rest of the process shares.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "EVOSEARCH_COMPILE_CACHE"
"""If set (to a directory), :func:`enable_compile_cache` with no argument uses it."""


def enable_compile_cache(directory: str | Path | None = None) -> Path | None:
    """Use jax's persistent compilation cache in ``directory`` (default: ``$EVOSEARCH_COMPILE_
    CACHE``, else nothing is enabled). Returns the directory in use, or ``None``."""
    directory = directory or os.environ.get(ENV)
    if not directory:
        return None
    import jax

    path = Path(directory).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    return path
