"""Compile-once evaluation of optimizer programs on small proxy tasks.

A task (:mod:`proxy_tasks.task`, families in :mod:`proxy_tasks.tasks`) is a model, data, a
training budget and a validation loss, registered by name (``teacher/s``, ``char/m``, ...).
:func:`evaluate` trains programs on a task at several learning rates and seeds with one
compiled interpreter per task (:mod:`proxy_tasks.encoding`, :mod:`proxy_tasks.interpreter`,
:mod:`proxy_tasks.training`); suites (:mod:`proxy_tasks.suites`) turn that into the search's
fitness; :mod:`proxy_tasks.rank` ranks known programs on a suite of tasks.

Importing this package does not import jax (attributes load on first use), so that a worker
can call :func:`configure_single_thread` first.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Scores": "proxy_tasks.evaluation",
    "evaluate": "proxy_tasks.evaluation",
    "Task": "proxy_tasks.task",
    "Budget": "proxy_tasks.task",
    "get_task": "proxy_tasks.registry",
    "task_names": "proxy_tasks.registry",
    "register": "proxy_tasks.registry",
    "register_sizes": "proxy_tasks.registry",
    "Grid": "proxy_tasks.lr_policy",
    "CoarseToFine": "proxy_tasks.lr_policy",
    "Suite": "proxy_tasks.suites",
    "Score": "proxy_tasks.suites",
    "WORST_FITNESS": "proxy_tasks.suites",
    "get_suite": "proxy_tasks.suites",
    "suite_names": "proxy_tasks.suites",
    "compile_count": "proxy_tasks.training",
    "default_layout": "proxy_tasks.training",
    "device_info": "proxy_tasks.device",
    "device_summary": "proxy_tasks.device",
    "configure_single_thread": "proxy_tasks.threads",
    "enable_compile_cache": "proxy_tasks.compile_cache",
    "single_thread_env": "proxy_tasks.threads",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'proxy_tasks' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
