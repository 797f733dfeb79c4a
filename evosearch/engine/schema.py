"""Checks for plain data read back from a checkpoint, one field at a time.

A checkpoint is a file a user may edit, copy or receive from someone else, and the search trusts
what it loads for hours: a wrong type or a dangling id found late truncates a log, spins in a
loop or crashes after the workers have started. So each ``from_json`` checks its part with the
helpers below (type, range, ids that exist) before building anything, and the first problem
raises :class:`StateError` naming the field's path (``search.counters.batches``) and what was
expected, so that the user reads one line saying what is wrong and where. Values quoted in
messages are shortened, so that a megabyte-long string stays a one-line error.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable
from typing import Any, NoReturn, TypeVar

T = TypeVar("T")

SHOWN = 60
"""Characters of an offending value quoted in a message."""

LARGEST = 2**53
"""The default upper bound of a saved integer (ids, counters): far beyond any search, and the
largest integer every JSON reader keeps exactly."""


class StateError(ValueError):
    """Saved state that cannot be trusted: ``path`` is the field (``counters.batches``)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}" if path else problem)
        self.path = path
        self.problem = problem


def show(value: Any) -> str:
    """``repr(value)`` cut to :data:`SHOWN` characters."""
    text = repr(value) if not isinstance(value, dict | list) or len(value) < 20 else (
        f"<{type(value).__name__} of {len(value)} items>")
    return text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."


def fail(path: str, problem: str) -> NoReturn:
    raise StateError(path, problem)


def require(condition: bool, path: str, problem: str) -> None:
    if not condition:
        fail(path, problem)


def join(path: str, key: str | int) -> str:
    """The path of a member: ``a.b`` for a key, ``a[3]`` for an index."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def mapping(
    value: Any, path: str, keys: Iterable[str] | None = None, optional: Iterable[str] = ()
) -> dict[str, Any]:
    """A JSON object; with ``keys``, exactly those keys (plus any of ``optional``)."""
    if not isinstance(value, dict):
        fail(path, f"must be an object, got {show(value)}")
    if keys is not None:
        required = list(keys)
        allowed = set(required) | set(optional)
        missing = [k for k in required if k not in value]
        if missing:
            fail(path, f"missing field {missing[0]!r}")
        unknown = sorted(k for k in value if k not in allowed)
        if unknown:
            fail(join(path, unknown[0]), "unknown field")
    return value


def sequence(value: Any, path: str, length: int | None = None,
             min_length: int = 0, max_length: int | None = None) -> list[Any]:
    """A JSON array, of exactly ``length`` items or within the bounds given."""
    if not isinstance(value, list):
        fail(path, f"must be a list, got {show(value)}")
    if length is not None and len(value) != length:
        fail(path, f"must have {length} items, got {len(value)}")
    if len(value) < min_length:
        fail(path, f"must have at least {min_length} items, got {len(value)}")
    if max_length is not None and len(value) > max_length:
        fail(path, f"must have at most {max_length} items, got {len(value)}")
    return value


def integer(value: Any, path: str, low: int | None = 0, high: int | None = LARGEST) -> int:
    """An integer (not a bool) in ``[low, high]``; None: no bound on that side."""
    if isinstance(value, bool) or not isinstance(value, int):
        fail(path, f"must be an integer{_bounds(low, high)}, got {show(value)}")
    if (low is not None and value < low) or (high is not None and value > high):
        fail(path, f"must be an integer{_bounds(low, high)}, got {show(value)}")
    return value


def _bounds(low: float | None, high: float | None) -> str:
    if high == LARGEST:  # the default bound: not worth naming
        high = None
    if low is not None and high is not None:
        return f" in [{low}, {high}]"
    if low is not None:
        return f" >= {low}"
    if high is not None:
        return f" <= {high}"
    return ""


def number(value: Any, path: str, low: float | None = None, high: float | None = None) -> float:
    """A finite number (an integer is accepted) in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        fail(path, f"must be a number{_bounds(low, high)}, got {show(value)}")
    result = float(value)
    if not math.isfinite(result) or (low is not None and result < low) or (
            high is not None and result > high):
        fail(path, f"must be a finite number{_bounds(low, high)}, got {show(value)}")
    return result


def boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        fail(path, f"must be true or false, got {show(value)}")
    return value


def string(value: Any, path: str, nonempty: bool = False) -> str:
    if not isinstance(value, str):
        fail(path, f"must be a string, got {show(value)}")
    if nonempty and not value:
        fail(path, "must not be empty")
    return value


def strings(value: Any, path: str) -> tuple[str, ...]:
    """A list of strings, as a tuple."""
    return tuple(string(v, join(path, i)) for i, v in enumerate(sequence(value, path)))


def choice(value: Any, path: str, options: Collection[str]) -> str:
    if not isinstance(value, str) or value not in options:
        fail(path, f"must be one of {', '.join(map(repr, options))}, got {show(value)}")
    return value


def optional(value: Any, path: str, check: Callable[..., T], **bounds: Any) -> T | None:
    """None, or a value that passes ``check``."""
    return None if value is None else check(value, path, **bounds)


def each(value: Any, path: str, check: Callable[[Any, str], T]) -> list[T]:
    """A list whose items each pass ``check(item, path[i])``."""
    return [check(v, join(path, i)) for i, v in enumerate(sequence(value, path))]


def build(path: str, make: Callable[[], T]) -> T:
    """``make()``, with a ``ValueError`` from a constructor of checked values (a score's own
    checks, a program that does not parse) reported at ``path``."""
    try:
        return make()
    except StateError:
        raise
    except ValueError as e:
        problem = str(e).splitlines()[0] if str(e) else type(e).__name__
        fail(path, problem if len(problem) <= 3 * SHOWN else problem[: 3 * SHOWN - 3] + "...")
