"""Where evaluations run: behind one interface (:class:`evosearch.backends.base.Executor`)."""

from __future__ import annotations

from evosearch.backends.base import (
    Batch,
    Executor,
    ExecutorError,
    ExecutorEvent,
    Job,
    SuiteInfo,
)
from evosearch.config import ExecutorSettings
from proxy_tasks.suites import SuiteRef


def make_executor(settings: ExecutorSettings, suite: SuiteRef) -> Executor:
    """The executor the settings name, evaluating ``suite``."""
    if settings.backend == "inprocess":
        from evosearch.backends.local import InProcessExecutor

        return InProcessExecutor(suite)
    if settings.backend == "local":
        from evosearch.backends.local import LocalPool

        return LocalPool(suite, settings.workers)
    if settings.backend == "ray":
        from evosearch.backends.ray import RayExecutor  # imports ray: only when asked for

        return RayExecutor(suite, settings.workers, settings.address)
    raise ValueError(f"unknown backend {settings.backend!r}")


__all__ = [
    "Batch",
    "Executor",
    "ExecutorError",
    "ExecutorEvent",
    "Job",
    "SuiteInfo",
    "make_executor",
]
