"""Where evaluations run: behind one interface (:class:`evosearch.backends.base.Executor`).

Every backend is one entry of :data:`BACKENDS` (a factory and a doc): the setting
``executor.backend`` (its validation and doc), the ``--backend`` choices of ``evosearch search``
and :func:`make_executor` all come from that table, so adding a backend is writing its
:class:`~evosearch.backends.base.Executor` and one entry.

Importing this package is cheap (no numpy, no jax, no ray): the command line builds its
``--backend`` choices from the table, and ``evosearch --help`` must stay instant. The executor
classes load when a factory runs; the names below load on first use.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # evosearch.config derives executor.backend from this table
    from evosearch.backends.base import Executor
    from evosearch.config import ExecutorSettings
    from proxy_tasks.suites import SuiteRef


@dataclass(frozen=True)
class Backend:
    """One place evaluations can run: how to make its executor, and what it is (the doc of the
    setting ``executor.backend``)."""

    make: Callable[[ExecutorSettings, SuiteRef], Executor]
    doc: str


def _local(settings: ExecutorSettings, suite: SuiteRef) -> Executor:
    from evosearch.backends.local import LocalPool

    return LocalPool(suite, settings.workers)


def _inprocess(settings: ExecutorSettings, suite: SuiteRef) -> Executor:
    from evosearch.backends.local import InProcessExecutor

    return InProcessExecutor(suite)


def _ray(settings: ExecutorSettings, suite: SuiteRef) -> Executor:
    from evosearch.backends.ray import RayExecutor  # imports ray: only when asked for

    return RayExecutor(suite, settings.workers, settings.address)


BACKENDS: dict[str, Backend] = {
    "local": Backend(_local, "a pool of single-threaded worker processes"),
    "inprocess": Backend(_inprocess, "the driver"),
    "ray": Backend(_ray, "actors on a Ray cluster (docs/cluster.md)"),
}
"""THE table of backends: a new backend is one entry (name -> factory, doc)."""


def make_executor(settings: ExecutorSettings, suite: SuiteRef) -> Executor:
    """The executor the settings name, evaluating ``suite``."""
    backend = BACKENDS.get(settings.backend)
    if backend is None:
        raise ValueError(f"unknown backend {settings.backend!r}; known: {', '.join(BACKENDS)}")
    return backend.make(settings, suite)


_LAZY = {
    "Batch": "evosearch.backends.base",
    "Executor": "evosearch.backends.base",
    "ExecutorError": "evosearch.backends.base",
    "ExecutorEvent": "evosearch.backends.base",
    "Job": "evosearch.backends.base",
    "SuiteInfo": "evosearch.backends.base",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'evosearch.backends' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "BACKENDS",
    "Backend",
    "Batch",
    "Executor",
    "ExecutorError",
    "ExecutorEvent",
    "Job",
    "SuiteInfo",
    "make_executor",
]
