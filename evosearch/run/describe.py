"""Names and short forms of programs for people: recognition and simplification.

Both come from the language package (:func:`programs.recognize`, :func:`programs.simplify`) and
are used for the progress line, the report and the summary, never for fitness or selection.
Either may fail on an odd program; a search that runs for hours must not stop for a label, so
failures give no name (or the program without its dead code).
"""

from __future__ import annotations

from functools import lru_cache

import programs
from programs import Program


@lru_cache(maxsize=1024)
def recognize(program: Program) -> str:
    """The known optimizer the program is, with its hyperparameters (``"lion(b1=0.9, ...)"``),
    or ``""``."""
    try:
        match = programs.recognize(program)
    except Exception:  # noqa: BLE001 - a label is a nicety
        return ""
    return "" if match is None else str(match)


@lru_cache(maxsize=1024)
def simplify(program: Program) -> Program:
    """The shortest equivalent program the language finds (at least: no dead code)."""
    try:
        return programs.simplify(program)
    except Exception:  # noqa: BLE001
        return programs.remove_dead_code(program)
