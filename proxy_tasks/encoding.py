"""A program as integer and float arrays, for an interpreter compiled once.

Why arrays: one compiled training loop must run any program, so the program is data to it, not
code. Why this particular layout: on a 2-core CPU a statement over 74k parameters is a few
passes over memory (~30 us each; dispatch is ~0.3 us), so what matters is how many full-size
vectors a step reads and writes:

* Values come in three representations. *Full* values are parameter-sized rows of a register
  file (``g``, ``m``, ``v``, everything computed from them, and reductions broadcast back, as
  :func:`programs.reference.step` computes ``norm``). *Uniform* values are single numbers
  (``lr``, constants, and anything computed from those alone). The *weights* ``w`` stay the
  model's own tensors, outside the register file, so the model reads them without copies.
* Uniform statements depend only on ``lr`` and constants, never on a full value (a reduction's
  result is stored full), so they form a *scalar prologue*: :func:`scalar_table` evaluates them
  on the host, with numpy and the same function table, for every step's ``lr`` at once before
  a run, and the compiled step reads step ``t``'s row. Constants are written once, never per
  step, and the prologue's 47 functions cost the compiler nothing.
* Full statements form the *tensor program*, run every step. Each names a *branch*: the
  function together with the kind of each argument, so a uniform argument costs nothing and the
  branch reads its rows itself (XLA fuses the reads into the function).
* A peephole folds ``x * s`` (``s`` uniform) into its only reader when that reader is ``add``,
  ``sub`` or the weight update: arguments of kind *scaled* (a row times a slot) and *scaled
  weights*. Weight decay (``u + w * wd``) and ``update * lr`` then cost no statement.
* The step ends with the state moves (encoded as statements, usually none: the new state
  prefers its own row) and the weight update ``w -= row[update_row] * slot[update_slot]``,
  which the interpreter runs outside the switch, in place.
* Reductions split the tensor program into phases (see :mod:`proxy_tasks.interpreter`, which
  runs statements chunk by chunk).
* Registers are allocated by liveness. The weights are copied into a row only if a function
  other than ``add``/``sub``/the update reads them.

Only live code is encoded (:func:`programs.remove_dead_code`): dead statements cost nothing.
Arrays are padded to a fixed :class:`Capacity`; the interpreter loops over the real length.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from programs.analysis import check, remove_dead_code
from programs.ops import OPS, ArgKind, derived
from programs.program import Program, ProgramError

FULL, UNIFORM, SCALED, WEIGHTS, SCALED_WEIGHTS = "F", "U", "S", "W", "X"
"""Argument kinds: a row; a slot; a row times a slot; the weights; the weights times a slot."""
ARG_WIDTH: dict[str, int] = {FULL: 1, UNIFORM: 1, SCALED: 2, WEIGHTS: 0, SCALED_WEIGHTS: 1}
"""How many indices each argument kind takes in ``tensor_args``."""
ARGS_PER_STATEMENT = 4

_SCALABLE = frozenset({"add", "sub"})

COPY, SPLAT, LOAD_WEIGHTS = "copy", "splat", "load_weights"
"""Pseudo-functions: copy a row; write a uniform value into a row; copy the weights into a row."""

REG_G, REG_M, REG_V = 0, 1, 2
"""The input rows of the register file; the ``m`` and ``v`` rows carry the state across steps."""
N_INPUT_ROWS = 3
SLOT_LR = 0
"""The scalar slot that holds the step's learning rate; constants and uniform results follow."""


@dataclass(frozen=True)
class Branch:
    """One case of the tensor program's switch: a function and the kind of each argument."""

    op: str
    pattern: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.op}[{''.join(self.pattern)}]"


@dataclass(frozen=True)
class BranchTable:
    """The ids the encoded arrays hold, derived from the function table :data:`programs.ops.OPS`.

    ``tensor_branches``: every case of the tensor program's switch, in a fixed order (the branch
    ids), with ``branch_id`` the inverse. ``reduce_branches``: the reduction branches (whole-vector
    sums), id 0 meaning a phase that starts with no reduction; ``reduce_id`` the inverse.
    ``op_names``: the scalar prologue's function ids (``scalar_op_id`` the inverse).
    ``reductions``: functions that sum over whole vectors (:attr:`programs.ops.Op.reduction`):
    each starts a phase (see :mod:`proxy_tasks.interpreter`), and their results are stored full
    (broadcast), so that nothing uniform depends on a full value. ``max_sums``: the most sums
    one function asks its backend for.
    """

    op_names: tuple[str, ...]
    tensor_branches: tuple[Branch, ...]
    branch_id: dict[tuple[str, tuple[str, ...]], int]
    reduce_branches: tuple[Branch | None, ...]
    reduce_id: dict[tuple[str, tuple[str, ...]], int]
    scalar_op_id: dict[str, int]
    reductions: frozenset[str]
    max_sums: int


@derived
def branch_table() -> BranchTable:
    """The current :class:`BranchTable` (rebuilt only when the function table changes, so a
    function added with :func:`programs.ops.register` gets branches at the next compile)."""
    branches: list[Branch] = [
        Branch(COPY, (FULL,)), Branch(SPLAT, (UNIFORM,)), Branch(LOAD_WEIGHTS, (WEIGHTS,)),
    ]
    for name, op in OPS.items():
        if op.arity == 0:
            continue  # constants are uniform
        if name in _SCALABLE:
            choices = [(SCALED, SCALED_WEIGHTS, UNIFORM)] * op.arity
        else:
            choices = [(FULL,) if k is ArgKind.TENSOR else (FULL, UNIFORM) for k in op.arg_kinds]
        for pattern in itertools.product(*choices):
            if any(kind != UNIFORM for kind in pattern):
                branches.append(Branch(name, pattern))
    reductions = frozenset(name for name, op in OPS.items() if op.reduction)
    reduce_branches = (None, *(b for b in branches if b.op in reductions))
    return BranchTable(
        op_names=tuple(OPS),
        tensor_branches=tuple(branches),
        branch_id={(b.op, b.pattern): i for i, b in enumerate(branches)},
        reduce_branches=reduce_branches,
        reduce_id={(b.op, b.pattern): i for i, b in enumerate(reduce_branches) if b is not None},
        scalar_op_id={name: i for i, name in enumerate(OPS)},
        reductions=reductions,
        max_sums=max(op.sums for op in OPS.values()),
    )


_TABLE_FIELDS = {
    "TENSOR_BRANCHES": "tensor_branches",
    "BRANCH_ID": "branch_id",
    "REDUCE_BRANCHES": "reduce_branches",
    "REDUCE_ID": "reduce_id",
    "SCALAR_OP_ID": "scalar_op_id",
    "REDUCTIONS": "reductions",
}


def __getattr__(name: str) -> object:
    """The fields of the current :func:`branch_table` under their constant-style names."""
    field_name = _TABLE_FIELDS.get(name)
    if field_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(branch_table(), field_name)


@dataclass(frozen=True, order=True)
class Capacity:
    """The array shapes of one compile: statement and register bounds.

    ``tensor_statements``/``rows``/``phases`` bound the tensor program, its register file (rows
    are parameter-sized vectors) and its reductions (each starts a phase);
    ``scalar_statements``/``scalar_slots`` bound the prologue.
    """

    tensor_statements: int
    rows: int
    phases: int
    scalar_statements: int
    scalar_slots: int

    def fits(self, e: EncodedProgram) -> bool:
        return (
            e.n_tensor <= self.tensor_statements
            and e.n_rows <= self.rows
            and e.n_phases <= self.phases
            and e.n_scalar <= self.scalar_statements
            and e.n_slots <= self.scalar_slots
        )


CAPACITIES: tuple[Capacity, ...] = (
    Capacity(tensor_statements=32, rows=12, phases=8, scalar_statements=32, scalar_slots=48),
    Capacity(tensor_statements=96, rows=40, phases=32, scalar_statements=96, scalar_slots=160),
)
"""The capacities programs are padded to, smallest first: a program uses the first that fits,
so a task compiles at most ``len(CAPACITIES)`` times. The small one holds every library
program with room to spare; rows are memory (rows x parameters floats), not time: unused rows
are never read."""


@dataclass(frozen=True)
class EncodedProgram:
    """A program as arrays (unpadded). See the module docstring for the meaning.

    Scalar prologue: statement ``k`` computes ``scalar_op[k]`` (an index of
    :attr:`BranchTable.op_names`) of slots ``scalar_args[k]`` into slot ``scalar_target[k]``.
    ``slot_init`` holds each slot's value before the prologue (constants; the lr slot is filled
    per step). Tensor program: statement ``k`` runs branch ``tensor_branch[k]`` of
    :attr:`BranchTable.tensor_branches` on ``tensor_args[k]`` (per argument,
    :data:`ARG_WIDTH` indices: rows and slots) into row ``tensor_target[k]``. Phase ``p`` runs
    statements ``phase_start[p]`` to ``phase_start[p + 1]``; the first is the reduction
    ``reduce_branch[p]`` of :attr:`BranchTable.reduce_branches` (0: none). Then
    ``w -= row[update_row] * slot[update_slot]``.
    """

    scalar_op: np.ndarray
    scalar_args: np.ndarray
    scalar_target: np.ndarray
    slot_init: np.ndarray
    tensor_branch: np.ndarray
    tensor_args: np.ndarray
    tensor_target: np.ndarray
    phase_start: np.ndarray
    reduce_branch: np.ndarray
    update_row: int
    update_slot: int
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

    @property
    def n_phases(self) -> int:
        return len(self.reduce_branch)

    def padded(self, capacity: Capacity) -> dict[str, np.ndarray]:
        """The tensor program's arrays at ``capacity``'s shapes, plus the real lengths (what
        the compiled step takes; the prologue runs on the host, :func:`scalar_table`). Padding
        statements are never executed."""
        if not capacity.fits(self):
            raise ValueError(f"program does not fit capacity {capacity}")

        def pad(a: np.ndarray, n: int) -> np.ndarray:
            out = np.zeros((n, *a.shape[1:]), a.dtype)
            out[: len(a)] = a
            return out

        return {
            "tensor_branch": pad(self.tensor_branch, capacity.tensor_statements),
            "tensor_args": pad(self.tensor_args, capacity.tensor_statements),
            "tensor_target": pad(self.tensor_target, capacity.tensor_statements),
            "n_tensor": np.int32(self.n_tensor),
            "phase_start": pad(self.phase_start, capacity.phases + 1),
            "reduce_branch": pad(self.reduce_branch, capacity.phases),
            "n_phases": np.int32(self.n_phases),
            "update": np.array([self.update_row, self.update_slot], np.int32),
        }

    def capacity(self) -> Capacity:
        """The smallest of :data:`CAPACITIES` this program fits."""
        for c in CAPACITIES:
            if c.fits(self):
                return c
        biggest = CAPACITIES[-1]
        raise ProgramError(
            f"program too large to evaluate: {self.n_tensor} tensor statements, {self.n_rows} "
            f"live rows, {self.n_phases} phases (reductions), {self.n_scalar} scalar "
            f"statements, {self.n_slots} scalar slots after dead-code removal (at most "
            f"{biggest.tensor_statements}, {biggest.rows}, {biggest.phases}, "
            f"{biggest.scalar_statements}, {biggest.scalar_slots})"
        )

    def describe(self) -> str:
        """A readable listing (for debugging and error messages)."""
        table = branch_table()
        lines = [f"slots {self.slot_init.tolist()}"]
        for op, args, tgt in zip(self.scalar_op, self.scalar_args, self.scalar_target,
                                 strict=True):
            name = table.op_names[op]
            operands = ", ".join(f"s{a}" for a in args[: OPS[name].arity])
            lines.append(f"s{tgt} = {name}({operands})")
        for b, args, tgt in zip(self.tensor_branch, self.tensor_args, self.tensor_target,
                                strict=True):
            br = table.tensor_branches[b]
            parts, i = [], 0
            for kind in br.pattern:
                idx = args[i : i + ARG_WIDTH[kind]]
                i += ARG_WIDTH[kind]
                parts.append({FULL: f"r{idx[0] if len(idx) else ''}",
                              UNIFORM: f"s{idx[0] if len(idx) else ''}",
                              SCALED: f"r{idx[0]}*s{idx[-1]}" if len(idx) else "",
                              WEIGHTS: "w",
                              SCALED_WEIGHTS: f"w*s{idx[0]}" if len(idx) else ""}[kind])
            lines.append(f"r{tgt} = {br.op}({', '.join(parts)})")
        lines.append(f"w -= r{self.update_row} * s{self.update_slot}")
        return "\n".join(lines)


# --- encoding ---------------------------------------------------------------------------------


@dataclass
class _Value:
    """One SSA value: an input, a constant, a statement's result, or the weights' row."""

    kind: str  # FULL, UNIFORM or WEIGHTS
    last_use: int = -1  # last tensor statement reading its row (the end of the step: len)
    scaled: tuple[int, int] | None = None  # folded ``base * scale``: (base, scale) value ids


def encode(program: Program) -> EncodedProgram:
    """Encode a valid program; raises :class:`programs.ProgramError` for an invalid one."""
    if not isinstance(program, Program):
        raise TypeError(f"expected a programs.Program, got {type(program).__name__}")
    problems = check(program)
    if problems:
        raise ProgramError("invalid program: " + "; ".join(map(str, problems)))
    return _Encoder(remove_dead_code(program)).encode()


class _Encoder:
    """SSA values, the scalar prologue, the peephole, then rows by liveness (see the module
    docstring). One instance encodes one program."""

    def __init__(self, program: Program) -> None:
        self.table = table = branch_table()
        self.values: list[_Value] = []
        self.slot_of: dict[int, int] = {}
        self.slot_init: list[float] = []
        self.constants: dict[float, int] = {}
        self.scalar_code: list[tuple[int, list[int], int]] = []
        self.statements: list[tuple[str, list[int], int]] = []  # full: (op, args, result)
        env = {name: self.new(kind) for name, kind in
               (("w", WEIGHTS), ("g", FULL), ("m", FULL), ("v", FULL), ("lr", UNIFORM))}
        self.w, self.g, self.m, self.v = env["w"], env["g"], env["m"], env["v"]
        self.give_slot(env["lr"], 0.0)  # slot 0 = SLOT_LR
        for st in program.statements:
            args = [env[a] if isinstance(a, str) else self.constant(a) for a in st.args]
            kinds = {self.values[a].kind for a in args}
            full = st.op in table.reductions or FULL in kinds or WEIGHTS in kinds
            vid = self.new(FULL if full else UNIFORM)
            if full:
                self.statements.append((st.op, args, vid))
            else:
                self.give_slot(vid, 0.0)
                self.scalar_code.append(
                    (table.scalar_op_id[st.op], [self.slot_of[a] for a in args],
                     self.slot_of[vid]))
            env[st.target] = vid
        self.update, self.m_out, self.v_out = (env[name] for name in program.outputs)
        self.w_row = self.new(FULL)  # the weights copied into a row, if some function needs it

    # --- values and slots ---------------------------------------------------------------------
    def new(self, kind: str) -> int:
        self.values.append(_Value(kind))
        return len(self.values) - 1

    def give_slot(self, vid: int, init: float) -> None:
        self.slot_of[vid] = len(self.slot_init)
        self.slot_init.append(init)

    def constant(self, c: float) -> int:
        key = float(np.float32(c))
        if key not in self.constants:
            vid = self.new(UNIFORM)
            self.constants[key] = vid
            self.give_slot(vid, key)
        return self.constants[key]

    # --- the peephole --------------------------------------------------------------------------
    def fold_scalings(self) -> list[tuple[str, list[int], int]]:
        """Drop ``x = base * s`` whose only reader is an add/sub or the weight update."""
        readers: dict[int, list[str]] = {}
        for op, args, _ in self.statements:
            for a in args:
                readers.setdefault(a, []).append(op)
        for vid, role in ((self.update, "update"), (self.m_out, "state"), (self.v_out, "state")):
            readers.setdefault(vid, []).append(role)
        kept = []
        for op, args, vid in self.statements:
            kinds = [self.values[a].kind for a in args]
            users = readers.get(vid, [])
            if op == "mul" and sorted(kinds) in ([FULL, UNIFORM], [UNIFORM, WEIGHTS]) \
                    and len(users) == 1 and users[0] in ("add", "sub", "update"):
                base = args[0] if kinds[0] != UNIFORM else args[1]
                scale = args[1] if kinds[0] != UNIFORM else args[0]
                if not (users[0] == "update" and self.values[base].kind == WEIGHTS):
                    self.values[vid].scaled = (base, scale)
                    continue
            kept.append((op, args, vid))
        return kept

    # --- rows -----------------------------------------------------------------------------------
    def encode(self) -> EncodedProgram:
        table = self.table
        BRANCH_ID = table.branch_id  # noqa: N806 - the table's constant, read often here
        code = self.fold_scalings()
        values, end = self.values, len(code)

        def resolve(a: int, op: str) -> int:
            """The value whose row (or weights) argument ``a`` of ``op`` reads."""
            folded = values[a].scaled
            if folded is not None:
                a = folded[0]
            if values[a].kind == WEIGHTS and op not in _SCALABLE:
                return self.w_row
            return a

        for k, (op, args, _) in enumerate(code):
            for a in args:
                values[resolve(a, op)].last_use = k
        update = values[self.update].scaled[0] if values[self.update].scaled else self.update
        finals = [resolve(self.m_out, "state"), resolve(self.v_out, "state"), update]
        for vid in finals:
            values[vid].last_use = end

        holder: dict[int, int | None] = {REG_G: self.g, REG_M: self.m, REG_V: self.v}
        row_of = {self.g: REG_G, self.m: REG_M, self.v: REG_V}
        reserved: dict[int, int] = {}  # the new state prefers its own row: no copy at the end
        for vid, row in ((finals[0], REG_M), (finals[1], REG_V)):
            if values[vid].kind == FULL and vid not in reserved.values():
                reserved[row] = vid

        def take_row(vid: int, k: int, dying_here: bool) -> int:
            free = sorted(r for r, v in holder.items() if v is None
                          or values[v].last_use < k or (dying_here and values[v].last_use == k))
            mine = [r for r in free if reserved.get(r) == vid]
            general = [r for r in free if r not in reserved]
            row = mine[0] if mine else general[0] if general else max(holder) + 1
            holder[row] = vid
            row_of[vid] = row
            return row

        out: list[tuple[int, list[int], int]] = []
        one = None

        def operands(op: str, args: list[int]) -> tuple[tuple[str, ...], list[int]]:
            nonlocal one
            kinds, where = [], []
            for a in args:
                v = values[a]
                if op in _SCALABLE and v.kind != UNIFORM:
                    base, scale = v.scaled if v.scaled else (a, None)
                    if scale is None:
                        one = self.constant(1.0) if one is None else one
                        scale = one
                    if values[base].kind == WEIGHTS:
                        kinds.append(SCALED_WEIGHTS)
                        where += [self.slot_of[scale]]
                    else:
                        kinds.append(SCALED)
                        where += [row_of[base], self.slot_of[scale]]
                elif v.kind == UNIFORM:
                    kinds.append(UNIFORM)
                    where.append(self.slot_of[a])
                else:
                    kinds.append(FULL)
                    where.append(row_of[resolve(a, op)])
            return tuple(kinds), where

        def load_weights(k: int) -> None:
            if self.w_row not in row_of:
                out.append((BRANCH_ID[(LOAD_WEIGHTS, (WEIGHTS,))], [],
                            take_row(self.w_row, k, dying_here=False)))

        for k, (op, args, vid) in enumerate(code):
            if any(resolve(a, op) == self.w_row for a in args):
                load_weights(k)
            kinds, where = operands(op, args)
            out.append((BRANCH_ID[(op, kinds)], where, take_row(vid, k, dying_here=True)))

        # End of step: the m and v rows receive the new state (a value that a later final still
        # reads is first saved to a spare row), then the weight update reads its row.
        if self.w_row in finals:
            load_weights(end)
        for i, (vid, row) in enumerate(((finals[0], REG_M), (finals[1], REG_V))):
            if holder.get(row) == vid:
                continue  # already in place
            later = {f for f in finals[i + 1:] if values[f].kind == FULL}
            current = holder.get(row)
            if current is not None and current in later:
                busy = {row_of[f] for f in later} | {REG_M, REG_V}
                spare = next((r for r in sorted(holder) if r not in busy), max(holder) + 1)
                out.append((BRANCH_ID[(COPY, (FULL,))], [row], spare))
                holder[spare] = current
                row_of[current] = spare
            if values[vid].kind == UNIFORM:
                out.append((BRANCH_ID[(SPLAT, (UNIFORM,))], [self.slot_of[vid]], row))
            else:
                out.append((BRANCH_ID[(COPY, (FULL,))], [row_of[vid]], row))
            holder[row] = vid
        scale = values[self.update].scaled[1] if values[self.update].scaled else None
        if scale is None:
            scale = one = self.constant(1.0) if one is None else one
        n_rows = max(max(holder) + 1, N_INPUT_ROWS)
        # Each reduction starts a phase (its sums need every chunk of its arguments).
        phase_start, reduce_branch = [0], [0]
        for k, (branch, _, _) in enumerate(out):
            b = table.tensor_branches[branch]
            if b.op in table.reductions:
                if k > 0:
                    phase_start.append(k)
                    reduce_branch.append(0)
                reduce_branch[-1] = table.reduce_id[(b.op, b.pattern)]
        phase_start.append(len(out))

        def table(rows: list[list[int]], width: int) -> np.ndarray:
            arr = np.zeros((len(rows), width), np.int32)
            for i, r in enumerate(rows):
                arr[i, : len(r)] = r
            return arr

        return EncodedProgram(
            scalar_op=np.array([c[0] for c in self.scalar_code], np.int32),
            scalar_args=table([c[1] for c in self.scalar_code], 3),
            scalar_target=np.array([c[2] for c in self.scalar_code], np.int32),
            slot_init=np.array(self.slot_init, np.float32),
            tensor_branch=np.array([c[0] for c in out], np.int32),
            tensor_args=table([c[1] for c in out], ARGS_PER_STATEMENT),
            tensor_target=np.array([c[2] for c in out], np.int32),
            phase_start=np.array(phase_start, np.int32),
            reduce_branch=np.array(reduce_branch, np.int32),
            update_row=row_of[update],
            update_slot=self.slot_of[scale],
            n_rows=n_rows,
        )


class _NoReductions:
    """Backend of the scalar prologue: reductions never reach it (they are full)."""

    xp = np

    def leaf_sum(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - unreachable
        raise AssertionError("a reduction in the scalar prologue")

    total_sum = leaf_sum


def scalar_table(e: EncodedProgram, lrs: np.ndarray, slots: int | None = None) -> np.ndarray:
    """Every uniform value at every step, ``(steps, slots)`` float32, for the ``lr`` input
    ``lrs[t]`` of each step (slot 0). Computed as :func:`programs.reference.step` would: numpy,
    float32 after every statement."""
    lrs = np.asarray(lrs, np.float32)
    width = e.n_slots if slots is None else slots
    table = np.zeros((len(lrs), width), np.float32)
    table[:, : e.n_slots] = e.slot_init
    table[:, SLOT_LR] = lrs
    backend = _NoReductions()
    names = branch_table().op_names
    with np.errstate(all="ignore"):
        for op_id, args, target in zip(e.scalar_op, e.scalar_args, e.scalar_target,
                                       strict=True):
            op = OPS[names[op_id]]
            out = op.array_for(backend)(backend, *(table[:, a] for a in args[: op.arity]))
            table[:, target] = np.broadcast_to(np.asarray(out, np.float32), (len(lrs),))
    return table


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
