"""Known optimizers, shipped as program files (``<name>.prog``).

Each file starts with a one-line ``#`` comment describing the optimizer, then its program. The
library is data: adding an optimizer is adding a file.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from programs.program import Program, ProgramError
from programs.text import parse, read

_SUFFIX = ".prog"


def _files() -> dict[str, str]:
    root = resources.files(__name__)
    return {
        entry.name[: -len(_SUFFIX)]: entry.name
        for entry in root.iterdir()
        if entry.name.endswith(_SUFFIX)
    }


def names() -> list[str]:
    """The names of every program in the library, sorted."""
    return sorted(_files())


def source(name: str) -> str:
    """The text of a library program."""
    files = _files()
    if name not in files:
        raise KeyError(f"no library program {name!r}; known: {', '.join(sorted(files))}")
    return resources.files(__name__).joinpath(files[name]).read_text(encoding="utf-8")


def description(name: str) -> str:
    """The one-line description at the top of a library program."""
    first = source(name).lstrip().splitlines()[0]
    return first.lstrip("#").strip() if first.startswith("#") else ""


@cache
def load(name: str) -> Program:
    """A library program by name, e.g. ``load("lion")``."""
    try:
        return parse(source(name), filename=f"{name}{_SUFFIX}")
    except ProgramError as e:  # a broken shipped file is a bug; say which
        raise ProgramError(f"library program {name!r} is malformed: {e}") from None


def resolve(spec: str) -> Program:
    """A program named on a command line or in a config: a file when ``spec`` ends in ``.prog``
    or is an existing path (read and checked; errors name the file and line), else a library
    program by name. Raises ``LookupError`` naming the known programs when it is neither."""
    path = Path(spec)
    if spec.endswith(_SUFFIX) or path.exists():
        if not path.is_file():
            raise LookupError(f"{spec}: no such program file")
        return read(path)
    if spec not in _files():
        raise LookupError(f"unknown program {spec!r}: neither a program file nor in the "
                          f"library ({', '.join(names())})")
    return load(spec)
