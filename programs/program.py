"""Statement and Program: frozen, hashable values.

A program is a straight-line list of statements ``target = op(arg, ...)`` over the inputs
``w, g, m, v, lr``, and three output names (``update``, the new ``m``, the new ``v``). An argument
is a variable name (``str``) or a float constant (``float``). Nothing here validates meaning:
:func:`programs.check` does that, so that mutation can build any candidate cheaply and
abstract execution can reject it with a reason. Every edit returns a new Program.

The canonical text of a value (:func:`format_program`) lives here too, beside the value it prints,
so that ``str(program)`` needs nothing above this module; :mod:`programs.text` parses that text
back.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from programs.ops import INPUTS, OPS, OUTPUTS

Arg = str | float
"""A statement argument: a variable name, or a float constant."""


class ProgramError(ValueError):
    """Malformed program: the message names the file, line and column where known."""

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        filename: str | None = None,
    ) -> None:
        self.reason = message
        self.line = line
        self.column = column
        self.filename = filename
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.filename:
            where.append(self.filename)
        if self.line is not None:
            where.append(str(self.line))
            if self.column is not None:
                where.append(str(self.column))
        prefix = ":".join(where)
        return f"{prefix}: {self.reason}" if prefix else self.reason

    def with_filename(self, filename: str) -> ProgramError:
        return ProgramError(self.reason, line=self.line, column=self.column, filename=filename)


def is_var(arg: Arg) -> bool:
    return isinstance(arg, str)


def _check_constant(value: float) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ProgramError(f"constants must be finite, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Statement:
    """``target = op(*args)``."""

    target: str
    op: str
    args: tuple[Arg, ...] = ()

    def __post_init__(self) -> None:
        # Normalise ints and numpy floats to Python floats so that equal programs are equal, and
        # refuse NaN and inf, which would make equal programs unequal and text unparsable.
        args = self.args
        for a in args:
            if a.__class__ is not str and (a.__class__ is not float or not math.isfinite(a)):
                object.__setattr__(
                    self,
                    "args",
                    tuple(x if isinstance(x, str) else _check_constant(x) for x in args),
                )
                break

    @property
    def reads(self) -> tuple[str, ...]:
        """The variable names this statement reads, in argument order."""
        return tuple(a for a in self.args if isinstance(a, str))

    def replace(self, **changes: object) -> Statement:
        fields = {"target": self.target, "op": self.op, "args": self.args}
        fields.update(changes)
        return Statement(**fields)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return format_statement(self)


@dataclass(frozen=True, slots=True)
class Program:
    """A straight-line optimizer: ``train(w, g, m, v, lr) -> (update, m, v)``."""

    statements: tuple[Statement, ...] = ()
    outputs: tuple[str, str, str] = field(default=OUTPUTS)

    def __post_init__(self) -> None:
        if not isinstance(self.statements, tuple):
            object.__setattr__(self, "statements", tuple(self.statements))
        if not isinstance(self.outputs, tuple):
            object.__setattr__(self, "outputs", tuple(self.outputs))
        if len(self.outputs) != 3:
            raise ProgramError(f"a program returns 3 values (update, m, v), got {self.outputs}")

    def __len__(self) -> int:
        return len(self.statements)

    def __iter__(self) -> Iterator[Statement]:
        return iter(self.statements)

    def __str__(self) -> str:
        return format_program(self)

    # --- edits: each returns a new Program -----------------------------------------------------
    def with_statements(self, statements: Iterable[Statement]) -> Program:
        return Program(tuple(statements), self.outputs)

    def insert(self, index: int, statement: Statement) -> Program:
        s = list(self.statements)
        s.insert(index, statement)
        return Program(tuple(s), self.outputs)

    def delete(self, index: int) -> Program:
        s = list(self.statements)
        del s[index]
        return Program(tuple(s), self.outputs)

    def replace_statement(self, index: int, statement: Statement) -> Program:
        s = list(self.statements)
        s[index] = statement
        return Program(tuple(s), self.outputs)

    def with_outputs(self, update: str, m: str, v: str) -> Program:
        return Program(self.statements, (update, m, v))

    @property
    def constants(self) -> tuple[float, ...]:
        return tuple(a for s in self.statements for a in s.args if not isinstance(a, str))

    @property
    def variables(self) -> tuple[str, ...]:
        """Every name assigned by a statement, first assignment first, without repeats."""
        seen: dict[str, None] = {}
        for s in self.statements:
            seen.setdefault(s.target, None)
        return tuple(seen)


# --- the text form -------------------------------------------------------------------------------

_INDENT = "  "


def format_arg(arg: Arg) -> str:
    """A variable's name, or a constant's ``repr`` (exact: parsing it gives the same float)."""
    return arg if isinstance(arg, str) else repr(float(arg))


def format_statement(s: Statement) -> str:
    """``target = op(args)``, or ``target = a + b`` for the four arithmetic operators."""
    op = OPS.get(s.op)
    if op is not None and op.infix and len(s.args) == 2:
        return f"{s.target} = {format_arg(s.args[0])} {op.infix} {format_arg(s.args[1])}"
    return f"{s.target} = {s.op}({', '.join(format_arg(a) for a in s.args)})"


def format_program(program: Program, name: str = "train") -> str:
    """The canonical text of a program (two-space indentation, ``repr`` of each constant)."""
    lines = [f"def {name}({', '.join(INPUTS)}):"]
    lines += [_INDENT + format_statement(s) for s in program.statements]
    lines.append(_INDENT + "return " + ", ".join(program.outputs))
    return "\n".join(lines) + "\n"
