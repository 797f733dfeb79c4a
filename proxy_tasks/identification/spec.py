"""Reading a target's name: ``optax:lion(b1=0.95, weight_decay=0.3)`` and its kin, never by
``eval``.

A target is written ``LIBRARY:NAME`` or ``LIBRARY:NAME(key=value, ...)`` for an optimizer a
library builds (``optax``, ``torch``), or as a program (a library name such as ``lion``, a
``.prog`` file) or a recorded trace (a ``.npz`` file). The text is parsed with :mod:`ast` in
expression mode and accepted only if it is a bare name called with keyword arguments whose
values are literals: numbers, booleans, ``None``, strings, and tuples of those. Anything else
(attribute access, calls inside the arguments, ``**kwargs``, positional arguments) is refused
with a message saying what is not allowed, so that target text from a file or a command line can
never run code.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from typing import Any

MAX_SPEC_LENGTH = 500
"""Longer target text is refused before parsing: no optimizer's settings need more, and
``ast.parse`` of adversarial text can cost memory and recursion depth."""

LIBRARIES = ("optax", "torch")
"""Optimizer libraries a target may name, as ``LIBRARY:NAME(...)``."""


class TargetError(ValueError):
    """A target that cannot be used; the message says which and why, in one line."""


@dataclass(frozen=True)
class CallSpec:
    """``library:name(**kwargs)`` as data."""

    library: str
    name: str
    kwargs: tuple[tuple[str, Any], ...] = ()

    def __str__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs)
        return f"{self.library}:{self.name}({args})" if args else f"{self.library}:{self.name}"


def parse_call(text: str) -> CallSpec:
    """Parse ``LIBRARY:NAME`` or ``LIBRARY:NAME(key=literal, ...)``; see the module docstring."""
    if len(text) > MAX_SPEC_LENGTH:
        raise TargetError(f"target text is {len(text)} characters; at most {MAX_SPEC_LENGTH}")
    library, sep, rest = text.partition(":")
    if not sep or library not in LIBRARIES:
        raise TargetError(f"target {text!r}: expected one of {', '.join(LIBRARIES)} followed "
                          "by ':' and a name, e.g. optax:lion(b1=0.95)")
    rest = rest.strip()
    if not rest.isascii() or "\x00" in rest:
        raise TargetError(f"target {text!r}: only ASCII text is allowed")
    try:
        tree = ast.parse(rest, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
        detail = getattr(e, "msg", None) or type(e).__name__
        raise TargetError(f"target {text!r}: not NAME or NAME(key=value, ...) ({detail})") from None
    node = tree.body
    if isinstance(node, ast.Name):
        return CallSpec(library, node.id)
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise TargetError(f"target {text!r}: expected NAME or NAME(key=value, ...), e.g. "
                          f"{library}:lion(b1=0.95)")
    if node.args:
        raise TargetError(f"target {text!r}: positional arguments are not allowed; write "
                          "key=value")
    kwargs = []
    for keyword in node.keywords:
        if keyword.arg is None:
            raise TargetError(f"target {text!r}: **kwargs is not allowed")
        kwargs.append((keyword.arg, _literal(keyword.value, text, keyword.arg)))
    names = [k for k, _ in kwargs]
    if len(set(names)) != len(names):
        raise TargetError(f"target {text!r}: a keyword is given twice")
    return CallSpec(library, node.func.id, tuple(kwargs))


def _literal(node: ast.AST, text: str, key: str) -> Any:
    """A literal value: a number (with a sign), a bool, None, a string, or a tuple/list of
    those. Nothing is evaluated: the value is read off the syntax tree."""
    if isinstance(node, ast.Constant) and (node.value is None
                                           or isinstance(node.value, bool | int | float | str)):
        value = node.value
    elif (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd)
          and isinstance(node.operand, ast.Constant)
          and isinstance(node.operand.value, int | float)
          and not isinstance(node.operand.value, bool)):
        value = -node.operand.value if isinstance(node.op, ast.USub) else node.operand.value
    elif isinstance(node, ast.Tuple | ast.List):
        return tuple(_literal(item, text, key) for item in node.elts)
    else:
        raise TargetError(f"target {text!r}: {key}= must be a literal (a number, True/False, "
                          f"None, a string or a tuple of those), got {ast.unparse(node)!r}")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**18:
        raise TargetError(f"target {text!r}: {key}= is too large")
    if isinstance(value, float) and not math.isfinite(value):
        raise TargetError(f"target {text!r}: {key}= must be finite")
    return value


def check_target_text(text: str) -> None:
    """What can be checked of a target without building it (no jax, no torch, no data): a
    library call's syntax, a program's existence and validity, a trace file's existence. The
    rest (an unknown optax name, a keyword the optimizer does not take, NaN on the probe
    streams) is found when the suite is built."""
    from pathlib import Path

    from programs import ProgramError, library

    text = text.strip()
    if text.partition(":")[0] in LIBRARIES:
        parse_call(text)
    elif text.endswith(".npz"):
        if not Path(text).is_file():
            raise TargetError(f"{text}: no such trace file")
    else:
        try:
            library.resolve(text)
        except (LookupError, ProgramError) as e:
            raise TargetError(f"target {text!r}: {e.args[0] if e.args else e} (a target is "
                              "optax:NAME(...), torch:NAME(...), a library program, a .prog "
                              "file or a .npz trace)") from None
