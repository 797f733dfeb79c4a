"""A program's weight decay, read and replaced through the program's structure.

Programs carry their decoupled weight decay as a constant: the library's Lion computes
``wd = w * 0.1`` and adds it to the direction before the lr product, so that
``update = lr_scale * lr * (direction + 0.1 * w)``. A study that tunes the decay per optimizer
needs the same program with another constant. Two ways, in order:

1. **The decay statement.** The one statement that multiplies the weights ``w`` by a constant
   (``t = w * c`` or ``t = c * w``): its constant is the decay, and replacing it changes
   nothing else in the program (its form, its names, its other constants).
2. **A known optimizer without one.** A program with no such statement that
   :func:`programs.recognize` names (Signum, Adam, ...) becomes the family's canonical program
   with the fitted hyperparameters and the new ``weight_decay``: the same optimizer with
   decoupled decay added, ``lr_scale * lr * (direction + wd * w)``.

Anything else (two statements scaling ``w``, an unknown program without one) raises
``ValueError``: there is no single decay to tune.
"""

from __future__ import annotations

import math

from programs import Program, Statement, recognize
from programs.families import canonical


def _decay_statements(program: Program) -> list[int]:
    """Indices of the statements ``t = w * c`` / ``t = c * w`` with a constant ``c``."""
    out = []
    for i, st in enumerate(program.statements):
        if st.op == "mul" and len(st.args) == 2 and "w" in st.args:
            other = st.args[1] if st.args[0] == "w" else st.args[0]
            if isinstance(other, float):
                out.append(i)
    return out


def weight_decay_of(program: Program) -> float | None:
    """The program's decay constant; 0.0 for a known optimizer without decay; ``None`` when
    the program has none that this module can name (see the module docstring)."""
    found = _decay_statements(program)
    if len(found) == 1:
        st = program.statements[found[0]]
        return float(next(a for a in st.args if isinstance(a, float)))
    if found:
        return None
    match = recognize(program)
    if match is None:
        return None
    return float(match.params.get("weight_decay", 0.0))


def with_weight_decay(program: Program, weight_decay: float) -> Program:
    """``program`` with its decoupled weight decay set to ``weight_decay``."""
    if not math.isfinite(weight_decay) or weight_decay < 0:
        raise ValueError(f"weight decay must be finite and non-negative, got {weight_decay}")
    found = _decay_statements(program)
    if len(found) == 1:
        st = program.statements[found[0]]
        args = tuple(a if isinstance(a, str) else float(weight_decay) for a in st.args)
        return program.replace_statement(found[0], Statement(st.target, st.op, args))
    if found:
        raise ValueError(f"the program scales w by a constant in {len(found)} statements "
                         f"(lines {', '.join(str(i + 1) for i in found)} of its body): "
                         "no single decay constant to tune")
    match = recognize(program)
    if match is None:
        raise ValueError("the program has no decay statement (w * constant) and is no known "
                         "optimizer: no weight decay to tune")
    return canonical(match.name, {**match.params, "weight_decay": float(weight_decay)})
