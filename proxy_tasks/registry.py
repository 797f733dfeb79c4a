"""Tasks by name (``family/size``, e.g. ``teacher/s``): a table of factories, built lazily."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from functools import cache

from proxy_tasks.task import Task

_FACTORIES: dict[str, tuple[Callable[[], Task], float]] = {}


def register(name: str, factory: Callable[[], Task], lr_scale: float = 1.0) -> None:
    """Add a task under ``name``; a family module calls this once per size at import.
    ``lr_scale``: see :attr:`proxy_tasks.task.Task.lr_scale`."""
    if "/" not in name:
        raise ValueError(f"task names are 'family/size', got {name!r}")
    if name in _FACTORIES:
        raise ValueError(f"task {name!r} is registered twice")
    if not lr_scale > 0:
        raise ValueError(f"task {name!r}: lr_scale must be positive, got {lr_scale}")
    _FACTORIES[name] = (factory, float(lr_scale))


def register_sizes(
    family: str, sizes: dict[str, dict], make: Callable[..., Task]
) -> None:
    """Register ``family/<size>`` for each row of a size table: the row's ``lr_scale`` goes to
    the registry, the rest are ``make``'s keyword arguments."""
    for size, row in sizes.items():
        kwargs = {k: v for k, v in row.items() if k != "lr_scale"}
        register(f"{family}/{size}", lambda kw=kwargs: make(**kw),
                 lr_scale=row.get("lr_scale", 1.0))


def _load_families() -> None:
    import proxy_tasks.tasks  # noqa: F401 - registers every family


def task_names() -> list[str]:
    """Every registered task name, sorted."""
    _load_families()
    return sorted(_FACTORIES)


@cache
def get_task(name: str) -> Task:
    """The task called ``name`` (one instance per process, so its data is built once)."""
    _load_families()
    entry = _FACTORIES.get(name)
    if entry is None:
        close = difflib.get_close_matches(name, list(_FACTORIES), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown task {name!r}{hint} (known: {', '.join(sorted(_FACTORIES))})")
    factory, lr_scale = entry
    task = factory()
    task.name = name
    task.lr_scale = lr_scale
    return task
