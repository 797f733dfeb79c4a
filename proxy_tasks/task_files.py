"""Tasks from a user's own Python file: the user's model and data, searched like any task.

A task file is ordinary Python that defines a :class:`proxy_tasks.Task` subclass and registers
it under ``family/size`` names with :func:`proxy_tasks.register_sizes` (or
:func:`proxy_tasks.register`); ``examples/own_task.py`` is a complete one and
``docs/own-task.md`` the guide. It is the user's own code and runs as such, in the driver (for
``rank``, ``simplify``, ``benchmark``), in every local evaluator process and on every Ray
actor. Evaluators do not read it from disk: its text travels with the job
(:func:`bundle`), since a cluster's nodes do not share the user's disk, and its SHA-256 says
which version scored a search (a checkpoint keeps it, and ``--resume`` refuses a changed or
missing file instead of silently scoring on different tasks).

:func:`check` runs a file in a fresh process before any evaluator starts and tries every task
it registers (the data builds, the initial parameters match the layout, the training and
validation losses are finite scalars on one step), so that a mistake in it is one line naming
the file and the task, not a traceback from every worker.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_TASK_FILE_BYTES = 1 << 20
"""A task file is a model and a data generator: a megabyte of Python is far more than one
needs, and its text is sent to every evaluator."""

CHECK_TIMEOUT = 300.0
"""Seconds the up-front check of task files may take (it builds each task's data once)."""


class TaskFileError(ValueError):
    """A task file that cannot be used: the message names the file (and line, and task)."""


@dataclass(frozen=True)
class TaskFile:
    """A task file's path as the user gave it, its text and the text's SHA-256."""

    path: str
    text: str
    sha256: str

    @classmethod
    def read(cls, path: str | Path) -> TaskFile:
        path = Path(path)
        try:
            size = path.stat().st_size
            if size > MAX_TASK_FILE_BYTES:
                raise TaskFileError(f"{path}: {size} bytes; a task file may have at most "
                                    f"{MAX_TASK_FILE_BYTES}")
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise TaskFileError(f"{path}: no such task file") from None
        except UnicodeDecodeError as e:
            raise TaskFileError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
        except OSError as e:
            raise TaskFileError(f"{path}: cannot read ({e.strerror or e})") from None
        return cls(str(path), text, hashlib.sha256(text.encode("utf-8")).hexdigest())

    def to_data(self) -> dict[str, str]:
        return {"path": self.path, "text": self.text, "sha256": self.sha256}

    @classmethod
    def from_data(cls, data: Any) -> TaskFile:
        if (not isinstance(data, Mapping) or not all(isinstance(data.get(k), str)
                                                     for k in ("path", "text", "sha256"))):
            raise TaskFileError(f"malformed task file entry {str(data)[:80]!r}")
        text = data["text"]
        if hashlib.sha256(text.encode("utf-8")).hexdigest() != data["sha256"]:
            raise TaskFileError(f"{data['path']}: its text does not match its hash")
        return cls(data["path"], text, data["sha256"])


_LOADED: dict[str, list[str]] = {}
"""SHA-256 of each task file loaded in this process -> the task names it registered."""


def load(task_file: TaskFile) -> list[str]:
    """Run the file (once per process and version) and return the task names it registered.
    An exception in it is a :class:`TaskFileError` naming the file and line."""
    if task_file.sha256 in _LOADED:
        return _LOADED[task_file.sha256]
    from proxy_tasks import registry

    before = set(registry.task_names())
    name = f"evosearch_task_file_{task_file.sha256[:16]}"
    spec = importlib.util.spec_from_loader(name, loader=None, origin=task_file.path)
    module = importlib.util.module_from_spec(spec)
    module.__file__ = task_file.path
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    try:
        code = compile(task_file.text, task_file.path, "exec")
        exec(code, module.__dict__)  # noqa: S102 - the user's own task code, by design
    except SyntaxError as e:
        sys.modules.pop(name, None)
        raise TaskFileError(f"{task_file.path}:{e.lineno}:{e.offset or 0}: syntax error: "
                            f"{e.msg}") from None
    except BaseException as e:  # noqa: BLE001 - the user's code may raise anything
        sys.modules.pop(name, None)
        raise TaskFileError(f"{task_file.path}:{_user_line(e, task_file.path)}: "
                            f"{type(e).__name__}: {e}") from None
    names = sorted(set(registry.task_names()) - before)
    if not names:
        raise TaskFileError(f"{task_file.path}: registers no task (call "
                            "proxy_tasks.register_sizes or proxy_tasks.register)")
    _LOADED[task_file.sha256] = names
    return names


def _user_line(error: BaseException, path: str) -> int:
    """The line of the user's file where ``error`` was raised (the innermost frame there)."""
    line = 0
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename == path:
            line = frame.lineno or 0
    return line


def load_all(task_files: Iterable[TaskFile]) -> list[str]:
    return [name for f in task_files for name in load(f)]


def read_all(paths: Sequence[str | Path]) -> tuple[TaskFile, ...]:
    return tuple(TaskFile.read(p) for p in paths)


def try_task(name: str, source: str) -> None:
    """Build task ``name`` and run one training-loss and one validation-loss evaluation on
    its initial parameters; any problem is a :class:`TaskFileError` naming ``source`` and the
    task."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from proxy_tasks.registry import get_task

    def fail(what: str) -> TaskFileError:
        return TaskFileError(f"{source}: task {name!r}: {what}")

    try:
        task = get_task(name)
        layout = task.layout
        flat = task.init_params(0)
        params = task.unflatten(jnp.asarray(flat))
        data = {k: jnp.asarray(v) for k, v in task.data.items()}
        idx = jnp.asarray(task.batch_indices(0)[0])
        train = jax.eval_shape(task.train_loss, params, data, idx)
        val = jax.eval_shape(task.val_loss, params, data)
    except TaskFileError:
        raise
    except AssertionError as e:  # init_params checks each tensor's shape against the layout
        raise fail(str(e)) from None
    except Exception as e:  # noqa: BLE001 - the user's code may raise anything
        raise fail(f"{type(e).__name__}: {e}") from None
    for what, shape in (("train_loss", train), ("val_loss", val)):
        if getattr(shape, "shape", None) != ():
            raise fail(f"{what} must return a scalar, got shape {getattr(shape, 'shape', None)}")
    if len(flat) != sum(int(np.prod(s)) for _, s in layout):
        raise fail("init_params does not match the layout")
    loss = float(task.val_loss(params, data))
    if not np.isfinite(loss):
        raise fail(f"val_loss at the initial parameters is {loss}")


def check_here(task_files: Sequence[TaskFile]) -> dict[str, list[str]]:
    """Load the files and try every task they register, in this process: {path: task names}."""
    out = {}
    for f in task_files:
        names = load(f)
        for name in names:
            try_task(name, f.path)
        out[f.path] = names
    return out


def _check_main(conn: Any, data: list[dict[str, str]]) -> None:
    try:
        from proxy_tasks.threads import configure_single_thread

        configure_single_thread()
        conn.send(("ok", check_here([TaskFile.from_data(d) for d in data])))
    except TaskFileError as e:
        conn.send(("error", str(e)))
    except BaseException:  # noqa: BLE001 - report, never hang the driver
        conn.send(("error", traceback.format_exc(limit=3).strip().splitlines()[-1]))


def check(task_files: Sequence[TaskFile], timeout: float = CHECK_TIMEOUT) -> dict[str, list[str]]:
    """:func:`check_here` in a fresh process (so that a driver that evaluates elsewhere imports
    no jax, and a task file that crashes or hangs cannot take the driver with it)."""
    if not task_files:
        return {}
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_check_main, args=(child, [f.to_data() for f in task_files]),
                          daemon=True, name="evosearch-task-file-check")
    process.start()
    child.close()
    try:
        if not parent.poll(timeout):
            raise TaskFileError(f"{', '.join(f.path for f in task_files)}: checking the task "
                                f"file(s) took more than {timeout:.0f} s")
        kind, payload = parent.recv()
    except EOFError:
        raise TaskFileError(f"{', '.join(f.path for f in task_files)}: the process checking "
                            f"the task file(s) died (exit code {process.exitcode})") from None
    finally:
        if process.is_alive():
            process.kill()
        process.join(5.0)
        parent.close()
    if kind == "error":
        raise TaskFileError(payload)
    return payload


def bundle(suite: Any, task_files: Sequence[TaskFile]) -> Any:
    """A suite reference that carries the task files it needs (see
    :mod:`proxy_tasks.suites`): plain data, sent to every evaluator."""
    if not task_files:
        return suite
    return {"suite": suite, "task_files": [f.to_data() for f in task_files]}
