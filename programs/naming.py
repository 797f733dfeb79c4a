"""Variable names: into static single assignment (SSA) form and back to readable names.

Rewriting passes are easiest when every statement assigns a fresh name (:func:`to_ssa`): then
substituting one name by another is always safe. People read programs best when the outputs
are called ``update``, ``m`` and ``v`` and a name is reused once its old value is dead
(``lr = lr * 0.001``). :func:`readable` goes from the first to the second. Neither changes what
the program computes.
"""

from __future__ import annotations

from itertools import count

from programs.ops import INPUTS, OPS, STATE
from programs.program import Program, Statement

_ROLE_NAMES = ("update", *STATE)


def to_ssa(program: Program) -> Program:
    """The same program with every assignment to a fresh name (static single assignment).

    A name keeps its spelling at its first assignment (unless that is an input's name, which a
    later statement could then not read); later re-assignments get ``_2``, ``_3``... Outputs refer
    to the final definitions. Substituting one name by another is then always safe.
    """
    current: dict[str, str] = {name: name for name in INPUTS}
    taken = set(INPUTS) | {s.target for s in program.statements}
    used: set[str] = set(INPUTS)
    statements = []
    for s in program.statements:
        args = tuple(current[a] if isinstance(a, str) else a for a in s.args)
        name = s.target
        if name in used:
            k = 2
            while f"{s.target}_{k}" in taken or f"{s.target}_{k}" in used:
                k += 1
            name = f"{s.target}_{k}"
        used.add(name)
        current[s.target] = name
        statements.append(Statement(name, s.op, args))
    outputs = tuple(current[o] for o in program.outputs)
    return Program(tuple(statements), outputs)  # type: ignore[arg-type]


def readable(
    statements: list[Statement],
    outputs: tuple[str, str, str],
    preferred: dict[str, str] | None = None,
) -> Program:
    """A program from SSA statements (each target unique and not an input name).

    Each output gets its role's name (``update``, ``m``, ``v``) where that clobbers nothing
    still needed; a statement that writes a state slot moves as late as its readers allow, so
    that reads of the old value come first. Other values take ``preferred[name]`` (a base name,
    numbered ``x2, x3, ...`` on a clash) or keep their own name.
    """
    preferred = dict(preferred or {})
    statements = _defer_state_writes(list(statements), outputs)
    named: set[str] = set()
    for role, name in zip(_ROLE_NAMES, outputs, strict=True):
        if name not in INPUTS and name not in named:  # a value returned twice: first role
            preferred[name] = role
            named.add(name)

    last_use: dict[str, int] = {}
    for i, s in enumerate(statements):
        for a in s.reads:
            last_use[a] = i
    end = len(statements)
    for name in outputs:
        last_use[name] = end

    binding: dict[str, str] = {name: name for name in INPUTS}  # visible name -> SSA value
    rename: dict[str, str] = {name: name for name in INPUTS}  # SSA value -> visible name
    out: list[Statement] = []
    for i, s in enumerate(statements):
        args = tuple(rename[a] if isinstance(a, str) else a for a in s.args)
        name = _free_name(preferred.get(s.target, s.target), i, binding, last_use)
        binding[name] = s.target
        rename[s.target] = name
        out.append(Statement(name, s.op, args))
    return Program(tuple(out), tuple(rename[name] for name in outputs))  # type: ignore[arg-type]


def _free_name(base: str, i: int, binding: dict[str, str], last_use: dict[str, int]) -> str:
    """``base`` if the value it names now is not read after statement ``i``, else ``base2``,
    ``base3``, ... (never a library function's name)."""
    for k in count(1):
        name = base if k == 1 else f"{base}{k}"
        if name in OPS:
            continue
        held = binding.get(name)
        if held is None or last_use.get(held, -1) <= i:
            return name
    raise AssertionError("unreachable")


def _defer_state_writes(
    statements: list[Statement], outputs: tuple[str, str, str]
) -> list[Statement]:
    """Move each statement that computes a state output to just before its first reader (or
    to the end), so that reads of the old state can come before it is overwritten."""
    for name in outputs[1:]:
        index = next((i for i, s in enumerate(statements) if s.target == name), None)
        if index is None:
            continue
        stmt = statements.pop(index)
        first_reader = next(
            (i for i in range(index, len(statements)) if name in statements[i].reads),
            len(statements),
        )
        statements.insert(first_reader, stmt)
    return statements
