"""A program as integer and float arrays, for an interpreter compiled once.

Why arrays: one compiled training loop must run any program, so the program is data to it, not
code. Why this particular layout: on a 2-core CPU an optimizer statement over 74k parameters is
a pass over memory (~30 us), so what matters is touching as few full-size vectors as possible:

* Values come in two representations. *Full* values are parameter-sized vectors (``w``, ``g``,
  ``m``, ``v``, everything computed from them, and reductions broadcast back, as
  :func:`programs.reference.step` computes ``norm``). *Uniform* values are single numbers
  (``lr``, constants, and anything computed from those alone).
* Uniform statements depend only on ``lr`` and constants, never on a full value (a reduction's
  result is stored full), so they form a *scalar prologue*: the interpreter evaluates them once
  per training run for every step's ``lr`` at once, before the step loop, and a step reads
  step ``t``'s row. Constants are written once, never per step.
* Full statements form the *tensor program*, run every step. Each one names a *branch*: the
  function together with which of its arguments are full (register rows) and which uniform
  (scalars of this step), so a uniform argument costs nothing and the branch reads its rows
  itself (XLA fuses the reads into the function).
* Registers are allocated by liveness, with the new state preferring its own slot, so a step
  writes few rows and copies state only when it must. The step ends with ``w = w - update`` and
  the state moves, encoded as ordinary statements.

Only live code is encoded (:func:`programs.remove_dead_code`): dead statements cost nothing.
Arrays are padded to a fixed :class:`Capacity`; the interpreter loops over the real length.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from programs.analysis import check, remove_dead_code
from programs.ops import OP_NAMES, OPS, ArgKind
from programs.program import Program, ProgramError

FULL, UNIFORM = "F", "U"

# Reductions whose result is stored full: per-tensor ``norm`` varies over tensors; the global
# ones are stored broadcast so that nothing uniform ever depends on a full value.
_FULL_RESULT = frozenset({"norm", "global_norm", "dot", "cosine_sim"})

COPY, SPLAT = "copy", "splat"
"""Pseudo-functions of the tensor program: ``copy`` a row; ``splat`` a uniform value into a row."""

REG_W, REG_G, REG_M, REG_V = 0, 1, 2, 3
"""The input rows of the register file; ``m`` and ``v`` rows hold the state between steps."""
N_INPUT_ROWS = 4
SLOT_LR = 0
"""The scalar slot that holds the step's learning rate; constants and uniform results follow."""


@dataclass(frozen=True)
class Branch:
    """One case of the tensor program's switch: a function and which arguments are full."""

    op: str
    pattern: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.op}[{''.join(self.pattern)}]"


def _tensor_branches() -> tuple[Branch, ...]:
    branches: list[Branch] = [Branch(COPY, (FULL,)), Branch(SPLAT, (UNIFORM,))]
    for name in OP_NAMES:
        op = OPS[name]
        if op.arity == 0:
            continue  # constants are uniform
        choices = [(FULL,) if k is ArgKind.TENSOR else (FULL, UNIFORM) for k in op.arg_kinds]
        for pattern in itertools.product(*choices):
            if FULL in pattern:
                branches.append(Branch(name, pattern))
    return tuple(branches)


TENSOR_BRANCHES: tuple[Branch, ...] = _tensor_branches()
"""Every tensor-program branch, in a fixed order (the branch ids the arrays hold)."""
BRANCH_ID: dict[tuple[str, tuple[str, ...]], int] = {
    (b.op, b.pattern): i for i, b in enumerate(TENSOR_BRANCHES)
}
SCALAR_OP_ID: dict[str, int] = {name: i for i, name in enumerate(OP_NAMES)}
"""Scalar-prologue function ids: the order of :data:`programs.ops.OP_NAMES`."""


@dataclass(frozen=True, order=True)
class Capacity:
    """The array shapes of one compile: statement and register bounds.

    ``tensor_statements``/``rows`` bound the tensor program and its register file (rows are
    parameter-sized vectors); ``scalar_statements``/``scalar_slots`` bound the prologue.
    """

    tensor_statements: int
    rows: int
    scalar_statements: int
    scalar_slots: int

    def fits(self, e: EncodedProgram) -> bool:
        return (
            e.n_tensor <= self.tensor_statements
            and e.n_rows <= self.rows
            and e.n_scalar <= self.scalar_statements
            and e.n_slots <= self.scalar_slots
        )


CAPACITIES: tuple[Capacity, ...] = (
    Capacity(tensor_statements=32, rows=12, scalar_statements=32, scalar_slots=48),
    Capacity(tensor_statements=96, rows=40, scalar_statements=96, scalar_slots=160),
)
"""The capacities programs are padded to, smallest first: a program uses the first that fits,
so a task compiles at most ``len(CAPACITIES)`` times. The small one holds every library
program with room to spare; rows are memory (rows x parameters floats), not time: unused rows
are never read."""


@dataclass(frozen=True)
class EncodedProgram:
    """A program as arrays (unpadded). See the module docstring for the meaning.

    Scalar prologue: statement ``k`` computes ``scalar_op[k]`` (an index of
    :data:`programs.ops.OP_NAMES`) of slots ``scalar_args[k]`` into slot ``scalar_target[k]``.
    ``slot_init`` holds each slot's value before the prologue (constants; the lr slot is filled
    per step). Tensor program: statement ``k`` runs branch ``tensor_branch[k]`` of
    :data:`TENSOR_BRANCHES` on ``tensor_args[k]`` (a row for a full argument, a slot for a
    uniform one) into row ``tensor_target[k]``.
    """

    scalar_op: np.ndarray
    scalar_args: np.ndarray
    scalar_target: np.ndarray
    slot_init: np.ndarray
    tensor_branch: np.ndarray
    tensor_args: np.ndarray
    tensor_target: np.ndarray
    n_rows: int

    @property
    def n_scalar(self) -> int:
        return len(self.scalar_op)

    @property
    def n_tensor(self) -> int:
        return len(self.tensor_branch)

    @property
    def n_slots(self) -> int:
        return len(self.slot_init)

    def padded(self, capacity: Capacity) -> dict[str, np.ndarray]:
        """The arrays at ``capacity``'s shapes, plus the real lengths (what the interpreter
        takes). Padding statements are never executed."""
        if not capacity.fits(self):
            raise ValueError(f"program does not fit capacity {capacity}")

        def pad(a: np.ndarray, n: int) -> np.ndarray:
            out = np.zeros((n, *a.shape[1:]), a.dtype)
            out[: len(a)] = a
            return out

        return {
            "scalar_op": pad(self.scalar_op, capacity.scalar_statements),
            "scalar_args": pad(self.scalar_args, capacity.scalar_statements),
            "scalar_target": pad(self.scalar_target, capacity.scalar_statements),
            "n_scalar": np.int32(self.n_scalar),
            "slot_init": pad(self.slot_init, capacity.scalar_slots),
            "tensor_branch": pad(self.tensor_branch, capacity.tensor_statements),
            "tensor_args": pad(self.tensor_args, capacity.tensor_statements),
            "tensor_target": pad(self.tensor_target, capacity.tensor_statements),
            "n_tensor": np.int32(self.n_tensor),
        }

    def capacity(self) -> Capacity:
        """The smallest of :data:`CAPACITIES` this program fits."""
        for c in CAPACITIES:
            if c.fits(self):
                return c
        biggest = CAPACITIES[-1]
        raise ProgramError(
            f"program too large to evaluate: {self.n_tensor} tensor statements, {self.n_rows} "
            f"live rows, {self.n_scalar} scalar statements, {self.n_slots} scalar slots after "
            f"dead-code removal (at most {biggest.tensor_statements}, {biggest.rows}, "
            f"{biggest.scalar_statements}, {biggest.scalar_slots})"
        )

    def describe(self) -> str:
        """A readable listing (for debugging and error messages)."""
        lines = [f"slots {self.slot_init.tolist()}"]
        for op, args, tgt in zip(self.scalar_op, self.scalar_args, self.scalar_target,
                                 strict=True):
            name = OP_NAMES[op]
            operands = ", ".join(f"s{a}" for a in args[: OPS[name].arity])
            lines.append(f"s{tgt} = {name}({operands})")
        for b, args, tgt in zip(self.tensor_branch, self.tensor_args, self.tensor_target,
                                strict=True):
            br = TENSOR_BRANCHES[b]
            parts = [("r" if k == FULL else "s") + str(a)
                     for k, a in zip(br.pattern, args, strict=False)]
            lines.append(f"r{tgt} = {br.op}({', '.join(parts)})")
        return "\n".join(lines)


# --- encoding ---------------------------------------------------------------------------------


@dataclass
class _Value:
    """One SSA value of the program: an input, a constant, or a statement's result."""

    kind: str  # FULL or UNIFORM
    last_use: int = -1  # index into the tensor program (len = end of step), -1 if unused there


def encode(program: Program) -> EncodedProgram:
    """Encode a valid program; raises :class:`programs.ProgramError` for an invalid one."""
    if not isinstance(program, Program):
        raise TypeError(f"expected a programs.Program, got {type(program).__name__}")
    problems = check(program)
    if problems:
        raise ProgramError("invalid program: " + "; ".join(map(str, problems)))
    program = remove_dead_code(program)

    # SSA values: inputs, then one per constant and per statement.
    values: list[_Value] = []
    env: dict[str, int] = {}
    for name in ("w", "g", "m", "v"):
        env[name] = len(values)
        values.append(_Value(FULL))
    env["lr"] = len(values)
    values.append(_Value(UNIFORM))
    input_row = {env[n]: r for n, r in zip("wgmv", (REG_W, REG_G, REG_M, REG_V), strict=True)}

    slot_of: dict[int, int] = {env["lr"]: SLOT_LR}
    slot_init: list[float] = [0.0]
    const_value: dict[float, int] = {}

    def constant(c: float) -> int:
        key = float(np.float32(c))
        if key not in const_value:
            vid = len(values)
            values.append(_Value(UNIFORM))
            const_value[key] = vid
            slot_of[vid] = len(slot_init)
            slot_init.append(key)
        return const_value[key]

    scalar_stmts: list[tuple[int, list[int], int]] = []  # (op id, arg slots, target slot)
    tensor_stmts: list[tuple[str, list[int], int]] = []  # (op, arg value ids, target value id)
    for s in program.statements:
        arg_ids = [env[a] if isinstance(a, str) else constant(a) for a in s.args]
        kinds = [values[a].kind for a in arg_ids]
        full = s.op in _FULL_RESULT or FULL in kinds
        vid = len(values)
        values.append(_Value(FULL if full else UNIFORM))
        if full:
            tensor_stmts.append((s.op, arg_ids, vid))
        else:
            slot_of[vid] = len(slot_init)
            slot_init.append(0.0)
            scalar_stmts.append((SCALAR_OP_ID[s.op], [slot_of[a] for a in arg_ids], slot_of[vid]))
        env[s.target] = vid

    out_update, out_m, out_v = (env[name] for name in program.outputs)
    return _allocate(values, input_row, slot_of, slot_init, scalar_stmts, tensor_stmts,
                     (out_update, out_m, out_v))


def _allocate(
    values: list[_Value],
    input_row: dict[int, int],
    slot_of: dict[int, int],
    slot_init: list[float],
    scalar_stmts: list[tuple[int, list[int], int]],
    tensor_stmts: list[tuple[str, list[int], int]],
    outputs: tuple[int, int, int],
) -> EncodedProgram:
    """Assign rows to full values by liveness and append the end-of-step statements."""
    end = len(tensor_stmts)
    for k, (_, args, _) in enumerate(tensor_stmts):
        for a in args:
            if values[a].kind == FULL:
                values[a].last_use = k
    w_id = next(v for v, r in input_row.items() if r == REG_W)
    update, m_out, v_out = outputs
    for vid in (w_id, update, m_out, v_out):
        if values[vid].kind == FULL:
            values[vid].last_use = end  # read by the end-of-step statements

    row_of: dict[int, int] = dict(input_row)
    holder: dict[int, int | None] = {r: v for v, r in input_row.items()}  # row -> value
    # The state's new value prefers its own row, so that it need not be copied at the end.
    reserved: dict[int, int] = {}
    for out, row in ((m_out, REG_M), (v_out, REG_V)):
        if values[out].kind == FULL and out not in reserved.values():
            reserved[row] = out

    def new_row() -> int:
        return max(holder) + 1

    def take_row(vid: int, k: int) -> int:
        """A row for ``vid`` defined by statement ``k`` (whose arguments may die there)."""
        free = sorted(
            r for r, v in holder.items()
            if r != REG_W and (v is None or values[v].last_use <= k)
        )
        mine = [r for r in free if reserved.get(r) == vid]
        general = [r for r in free if r not in reserved]
        row = mine[0] if mine else general[0] if general else new_row()
        holder[row] = vid
        row_of[vid] = row
        return row

    code: list[tuple[int, list[int], int]] = []

    def operands(args: list[int]) -> tuple[tuple[str, ...], list[int]]:
        pattern = tuple(values[a].kind for a in args)
        where = [row_of[a] if kind == FULL else slot_of[a]
                 for kind, a in zip(pattern, args, strict=True)]
        return pattern, where

    for k, (op, args, vid) in enumerate(tensor_stmts):
        pattern, where = operands(args)
        code.append((BRANCH_ID[(op, pattern)], where, take_row(vid, k)))

    # End of step, in order: w = w - update, then the m and v rows receive the new state. A
    # value that a later end statement reads is saved to a spare row before its row is written.
    finals: list[tuple[str, list[int], int]] = [("sub", [w_id, update], REG_W)]
    for out, row in ((m_out, REG_M), (v_out, REG_V)):
        finals.append((SPLAT if values[out].kind == UNIFORM else COPY, [out], row))
    for i, (op, args, row) in enumerate(finals):
        if op == COPY and holder.get(row) == args[0]:
            continue  # already in place
        needed_later = {a for _, later_args, _ in finals[i + 1:] for a in later_args
                        if values[a].kind == FULL}
        current = holder.get(row)
        if current is not None and current in needed_later:
            busy = {row_of[a] for a in needed_later} | {REG_W, REG_M, REG_V}
            spare = next((r for r in sorted(holder) if r not in busy), new_row())
            code.append((BRANCH_ID[(COPY, (FULL,))], [row], spare))
            holder[spare] = current
            row_of[current] = spare
        pattern, where = operands(args)
        code.append((BRANCH_ID[(op, pattern)], where, row))
        holder[row] = None if op == "sub" else args[0]
    n_rows = max(max(holder) + 1, N_INPUT_ROWS)

    def table(rows: list[list[int]], width: int) -> np.ndarray:
        out = np.zeros((len(rows), width), np.int32)
        for i, r in enumerate(rows):
            out[i, : len(r)] = r
        return out

    return EncodedProgram(
        scalar_op=np.array([s[0] for s in scalar_stmts], np.int32),
        scalar_args=table([s[1] for s in scalar_stmts], 3),
        scalar_target=np.array([s[2] for s in scalar_stmts], np.int32),
        slot_init=np.array(slot_init, np.float32),
        tensor_branch=np.array([c[0] for c in code], np.int32),
        tensor_args=table([c[1] for c in code], 3),
        tensor_target=np.array([c[2] for c in code], np.int32),
        n_rows=n_rows,
    )


def encode_batch(programs: Sequence[Program]) -> list[EncodedProgram]:
    """Encode several programs; the error names the index of the first bad one."""
    out = []
    for i, p in enumerate(programs):
        if not isinstance(p, Program):
            raise TypeError(f"programs[{i}] is a {type(p).__name__}, not a programs.Program")
        try:
            out.append(encode(p))
        except ProgramError as e:
            raise ProgramError(f"programs[{i}]: {e}") from None
    return out
