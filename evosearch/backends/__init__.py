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
    """One place evaluations can run: how to make its executor, what it is (the doc of the
    setting ``executor.backend``), and, optionally, what the driver can check of its settings
    before anything starts (raises :class:`~evosearch.backends.base.ExecutorError`)."""

    make: Callable[[ExecutorSettings, SuiteRef], Executor]
    doc: str
    check: Callable[[ExecutorSettings], None] | None = None


def _local(settings: ExecutorSettings, suite: SuiteRef) -> Executor:
    from evosearch.backends.local import LocalPool

    return LocalPool(suite, settings.workers)


def _check_cpus(settings: ExecutorSettings) -> None:
    from evosearch.backends.local import worker_plan

    worker_plan(settings.workers)


def _check_ray(settings: ExecutorSettings) -> None:
    if settings.address.strip() in ("", "local"):  # a private Ray: this machine's CPUs
        _check_cpus(settings)  # (a cluster's are counted once joined)


def _inprocess(settings: ExecutorSettings, suite: SuiteRef) -> Executor:
    from evosearch.backends.local import InProcessExecutor

    return InProcessExecutor(suite)


def _ray(settings: ExecutorSettings, suite: SuiteRef) -> Executor:
    from evosearch.backends.ray import RayExecutor  # imports ray: only when asked for

    return RayExecutor(suite, settings.workers, settings.address)


BACKENDS: dict[str, Backend] = {
    "local": Backend(_local, "a pool of worker processes: one single-threaded worker per CPU "
                     "core, or one per accelerator where jax sees one", _check_cpus),
    "inprocess": Backend(_inprocess, "the driver"),
    "ray": Backend(_ray, "actors on a Ray cluster (docs/cluster.md)", _check_ray),
}
"""THE table of backends: a new backend is one entry (name -> factory, doc)."""


def _backend(settings: ExecutorSettings) -> Backend:
    backend = BACKENDS.get(settings.backend)
    if backend is None:
        raise ValueError(f"unknown backend {settings.backend!r}; known: {', '.join(BACKENDS)}")
    return backend


def check_executor(settings: ExecutorSettings) -> None:
    """What the driver can check of the settings before a run folder or a worker exists (the
    worker count against this machine's CPUs, ...)."""
    backend = _backend(settings)
    if backend.check is not None:
        backend.check(settings)


def make_executor(settings: ExecutorSettings, suite: SuiteRef) -> Executor:
    """The executor the settings name, evaluating ``suite``."""
    return _backend(settings).make(settings, suite)


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
    "check_executor",
    "make_executor",
]
