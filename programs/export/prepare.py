"""What every exporter needs to know about a program before it writes an optimizer.

An exported optimizer stores only the state its program reads and runs only its live statements:
a searched program is often 70% dead code, and carrying a dead slot would double an optimizer's
memory for nothing. Its learning rate is the step size, as everywhere in optax and torch: the
program's constant lr factor (``lr = lr * 0.0001`` in Lion) is divided out and becomes the
default learning rate (:mod:`programs.learning_rate`). Validation happens here, once, so that
every exporter rejects an invalid program with the same message instead of failing halfway
through a trace.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from programs.analysis import check, liveness, remove_dead_code
from programs.learning_rate import split_lr_factor
from programs.ops import STATE
from programs.program import Program, ProgramError, Statement


@dataclass(frozen=True)
class Prepared:
    """A valid program ready to export.

    ``program``: the input without dead statements, and without its constant lr factor where it
    has one. ``slots``: the state slots it reads, in ``STATE`` order (``("m",)`` for Lion,
    ``("m", "v")`` for AdamW). ``reads_params``: whether it reads the weights ``w`` (weight
    decay does), so that an optax update can demand ``params``. ``lr_factor``: the factor that
    was divided out (``1e-4`` for Lion; ``None`` where ``lr`` is not one constant factor of the
    update, and the exported learning rate is the program's ``lr`` input as it is).
    """

    program: Program
    slots: tuple[str, ...]
    reads_params: bool
    lr_factor: float | None

    @property
    def default_learning_rate(self) -> float:
        """The exported optimizer's default learning rate: the lr factor, which reproduces the
        program as searched (at ``lr = 1``); 1.0 where there is none."""
        return 1.0 if self.lr_factor is None else self.lr_factor

    def learning_rate_doc(self) -> str:
        """What the exported learning rate means, for docstrings (which case applies)."""
        if self.lr_factor is None:
            return (
                "The program does not use its learning rate as one constant factor of the "
                "update, so the learning rate is fed to the program's lr input as it is (as in "
                "the search); the default is 1.0."
            )
        return (
            "The learning rate is the step size, as in optax and torch: the program's "
            f"constant lr factor, {self.lr_factor!r}, is divided out of the program and is the "
            "default learning rate (which reproduces the program as searched)."
        )


def _check_types(program: Program) -> None:
    """Reject values of the wrong type, which a Program built in code can hold (its dataclass
    does not check) and which abstract execution would fail on with a less useful error."""
    if not isinstance(program, Program):
        raise TypeError(f"expected a programs.Program, got {type(program).__name__}")
    for i, s in enumerate(program.statements):
        if not isinstance(s, Statement):
            raise ProgramError(f"statement {i}: expected a Statement, got {type(s).__name__}")
        if type(s.target) is not str or type(s.op) is not str:
            raise ProgramError(f"statement {i}: target and function must be str, got {s!r}")
        for a in s.args:
            if type(a) is not str and (type(a) is not float or not math.isfinite(a)):
                raise ProgramError(
                    f"statement {i}: arguments are names or finite floats, got {a!r}"
                )
    for name in program.outputs:
        if type(name) is not str:
            raise ProgramError(f"return: outputs are variable names, got {name!r}")


def prepare(program: Program) -> Prepared:
    """Validate ``program`` and strip it to what matters; raise :class:`ProgramError` if invalid."""
    _check_types(program)
    problems = check(program)
    if problems:
        raise ProgramError("cannot export an invalid program: " + "; ".join(map(str, problems)))
    live = remove_dead_code(program)
    split = split_lr_factor(live)
    if split is not None:
        live = split.program
    info = liveness(live)
    slots = tuple(slot for slot in STATE if slot in info.state)
    return Prepared(live, slots, "w" in info.reads, None if split is None else split.factor)
