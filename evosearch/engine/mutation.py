"""Mutations: small random edits of a program, each drawing from a ``numpy.random.Generator``.

Every kind is one entry of :data:`MUTATIONS` (its edit function, default weight and doc): the
setting ``mutation.weights.<kind>`` (:class:`evosearch.config.MutationWeights`), its validation,
:data:`KINDS`, :data:`EDITS` and the report's outcome table all come from that table, so adding
a kind is writing its edit function and one entry.

Six kinds, as in the Lion paper plus output re-pointing: insert a random statement, delete one,
change one argument, change a function, perturb a constant, return another variable. Three more
rewire the dataflow: ``duplicate`` (copy a statement, re-point one reader), ``edge`` (pass a
read value through a new function) and ``rewrite`` (change a function to one of another arity).
Without them a search from AdamW never split its momentum, even where the fitness rewards only
that (``experiments/reachability/``). A single edit may produce an invalid program;
:class:`Mutator` builds a *child* by applying one or more edits and keeps it only if abstract
execution accepts it and its fingerprint differs from the parent's (or, with probability
``evolution.neutral``, it computes the same with other text: a *neutral* child), retrying (a
bounded number of times) otherwise. Validity is checked on the finished child only, so a
coordinated change may pass through invalid intermediate programs, which is one way across the
valleys between AdamW and Lion; neutral children are another (``experiments/reachability/``).

Each edit returns a one-line description (``"insert 3: c = interp(g, m, 0.9)"``) so that the
lineage of a program reads as a story.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from programs import INPUTS, OPS, Program, Statement, check, fingerprint
from programs.ops import INPUT_KINDS, OUTPUTS, ArgKind, Kind, ResultKind
from programs.program import Arg
from programs.text import format_arg, format_statement

if TYPE_CHECKING:  # evosearch.config derives its MutationWeights from this module's table
    from evosearch.config import EvolutionSettings, MutationSettings

Edit = tuple[Program, str]
"""A mutated program and the description of the edit."""


@dataclass(frozen=True)
class Child:
    """A valid mutant of its parent with a different fingerprint."""

    program: Program
    fingerprint: str
    kinds: tuple[str, ...]  # the mutation kind of each edit, in order
    edits: tuple[str, ...]  # the description of each edit
    tries: int  # attempts it took (1: the first was valid and new)
    invalid: int  # attempts rejected by abstract execution
    unchanged: int  # attempts rejected because the fingerprint equalled the parent's
    neutral: bool = False  # computes what the parent does (kept by ``evolution.neutral``)


# --- random choices -------------------------------------------------------------------------------


def _lenient_kinds(program: Program, stop: int) -> dict[str, Kind]:
    """The kind of every variable defined before statement ``stop``.

    Tolerates invalid programs (an intermediate edit of a multi-edit child may be invalid): an
    unknown argument counts as a tensor. Costs a few microseconds per statement.
    """
    kinds = dict(INPUT_KINDS)
    for s in program.statements[:stop]:
        op = OPS.get(s.op)
        if op is None:
            kinds[s.target] = Kind.TENSOR
            continue
        arg_kinds = tuple(
            kinds.get(a, Kind.TENSOR) if isinstance(a, str) else Kind.SCALAR for a in s.args
        )
        if op.result is ResultKind.SCALAR:
            kinds[s.target] = Kind.SCALAR
        elif op.result is ResultKind.FIRST:
            kinds[s.target] = arg_kinds[0] if arg_kinds else Kind.SCALAR
        else:
            kinds[s.target] = Kind.TENSOR if Kind.TENSOR in arg_kinds else Kind.SCALAR
    return kinds


def _choice(rng: np.random.Generator, items: list | tuple):
    return items[int(rng.integers(len(items)))]


def draw_constant(rng: np.random.Generator, interp_weight: bool) -> float:
    """A fresh constant. An interp weight is ``1 - 10^U(-3, -0.3)`` (0.5 .. 0.999, spread evenly
    in log(1 - b), where the optimizers of the library put their betas); any other constant has
    magnitude ``10^U(-3, 1)``, negative one time in four."""
    if interp_weight:
        distance = float(f"{10.0 ** rng.uniform(-3.0, -0.3):.4g}")
        return round(1.0 - distance, 3 - math.floor(math.log10(distance)))
    magnitude = 10.0 ** rng.uniform(-3.0, 1.0)
    sign = -1.0 if rng.random() < 0.25 else 1.0
    return float(f"{sign * magnitude:.4g}")


def _is_interp_weight(op: str, position: int) -> bool:
    return op == "interp" and position == 2


class _Random:
    """The random choices shared by the edits, bound to one settings object."""

    def __init__(self, settings: MutationSettings) -> None:
        self.s = settings
        self.functions = tuple(settings.functions) or tuple(OPS)
        self.by_arity: dict[int, tuple[str, ...]] = {}
        for name in self.functions:
            self.by_arity.setdefault(OPS[name].arity, ())
            self.by_arity[OPS[name].arity] += (name,)

    def argument(
        self,
        rng: np.random.Generator,
        want: ArgKind,
        kinds: dict[str, Kind],
        interp_weight: bool,
        exclude: Arg | None = None,
    ) -> Arg | None:
        """A new argument for a position that accepts ``want``: a variable of a fitting kind
        defined at that point, or a constant where a scalar is allowed."""
        scalar_ok = want is not ArgKind.TENSOR
        if want is ArgKind.SCALAR:
            p_constant = self.s.scalar_constant
        elif want is ArgKind.ANY:
            p_constant = self.s.constant_argument
        else:
            p_constant = 0.0
        names = [
            n for n, k in kinds.items()
            if n != exclude and (want is ArgKind.ANY or k.value == want.value)
        ]
        if scalar_ok and (not names or rng.random() < p_constant):
            return draw_constant(rng, interp_weight)
        if not names:
            return None
        return _choice(rng, names)

    def arguments(
        self, rng: np.random.Generator, op_name: str, kinds: dict[str, Kind],
        given: dict[int, Arg] | None = None,
    ) -> tuple[Arg, ...] | None:
        """All arguments of a new ``op_name`` statement: those in ``given`` (by position) as
        they are, the others drawn in order by :meth:`argument`; None if one cannot be."""
        given = given or {}
        args: list[Arg] = []
        for pos, want in enumerate(OPS[op_name].arg_kinds):
            arg = given[pos] if pos in given else self.argument(
                rng, want, kinds, _is_interp_weight(op_name, pos))
            if arg is None:
                return None
            args.append(arg)
        return tuple(args)


# --- the edits --------------------------------------------------------------------------------


def insert(program: Program, rng: np.random.Generator, r: _Random, max_len: int) -> Edit | None:
    """A random statement at a random place: a random function, arguments drawn from the
    variables defined above that point and fresh constants, writing a fresh temporary or an
    existing variable."""
    n = len(program.statements)
    if n >= max_len:
        return None
    index = int(rng.integers(n + 1))
    kinds = _lenient_kinds(program, index)
    op_name = _choice(rng, r.functions)
    args = r.arguments(rng, op_name, kinds)
    if args is None:
        return None
    if rng.random() < r.s.new_variable:
        target = fresh_name(program)
    else:
        target = _choice(rng, list(kinds) + [v for v in program.variables if v not in kinds])
    statement = Statement(target, op_name, args)
    return program.insert(index, statement), f"insert {index}: {format_statement(statement)}"


def fresh_name(program: Program) -> str:
    """The first ``t<k>`` that the program does not use yet."""
    used = set(program.variables) | set(INPUTS) | set(OUTPUTS)
    k = 0
    while f"t{k}" in used:
        k += 1
    return f"t{k}"


def delete(program: Program, rng: np.random.Generator, r: _Random, max_len: int) -> Edit | None:
    if not program.statements:
        return None
    index = int(rng.integers(len(program.statements)))
    gone = program.statements[index]
    return program.delete(index), f"delete {index}: {format_statement(gone)}"


def argument(program: Program, rng: np.random.Generator, r: _Random, max_len: int) -> Edit | None:
    """One argument of one statement becomes another variable or a constant."""
    candidates = [i for i, s in enumerate(program.statements) if s.args]
    if not candidates:
        return None
    index = _choice(rng, candidates)
    s = program.statements[index]
    pos = int(rng.integers(len(s.args)))
    op = OPS.get(s.op)
    want = op.arg_kinds[pos] if op is not None and pos < op.arity else ArgKind.ANY
    old = s.args[pos]
    new = r.argument(
        rng, want, _lenient_kinds(program, index), _is_interp_weight(s.op, pos), exclude=old
    )
    if new is None or new == old:
        return None
    args = s.args[:pos] + (new,) + s.args[pos + 1 :]
    detail = f"argument {index}.{pos}: {format_arg(old)} -> {format_arg(new)}"
    return program.replace_statement(index, s.replace(args=args)), detail


def function(program: Program, rng: np.random.Generator, r: _Random, max_len: int) -> Edit | None:
    """A statement's function becomes another of the same arity."""
    if not program.statements:
        return None
    index = int(rng.integers(len(program.statements)))
    s = program.statements[index]
    options = [name for name in r.by_arity.get(len(s.args), ()) if name != s.op]
    if not options:
        return None
    new = _choice(rng, options)
    return program.replace_statement(index, s.replace(op=new)), f"function {index}: {s.op} -> {new}"


def rewrite(program: Program, rng: np.random.Generator, r: _Random, max_len: int) -> Edit | None:
    """A statement's function becomes one of any arity: its arguments are kept, in order, where
    they fit the new function's argument kinds, and the rest are drawn as for an insert.

    ``function`` keeps the arity, so it never turns ``u = c / s`` into ``u = sign(c)``: that
    took an insert and a re-pointed argument, and the imitation benchmark
    (``experiments/reachability/``) showed searches approximating a sign by saturating
    functions (``clip(cbrt(c / 0))``) instead of finding it."""
    if not program.statements:
        return None
    index = int(rng.integers(len(program.statements)))
    s = program.statements[index]
    new = _choice(rng, r.functions)
    if new == s.op:
        return None
    kinds = _lenient_kinds(program, index)
    left = list(s.args)
    kept: dict[int, Arg] = {}
    for pos, want in enumerate(OPS[new].arg_kinds):
        keep = next((a for a in left if _fits(a, want, kinds)), None)
        if keep is not None:
            left.remove(keep)
            kept[pos] = keep
    args = r.arguments(rng, new, kinds, kept)
    if args is None:
        return None
    statement = s.replace(op=new, args=args)
    return (program.replace_statement(index, statement),
            f"rewrite {index}: {s.op} -> {format_statement(statement)}")


def _fits(arg: Arg, want: ArgKind, kinds: dict[str, Kind]) -> bool:
    """Whether ``arg`` (a variable defined at that point, or a constant) may fill a position
    that accepts ``want``."""
    if not isinstance(arg, str):
        return want is not ArgKind.TENSOR
    kind = kinds.get(arg)
    return kind is not None and want.accepts(kind)


def perturb(
    value: float, rng: np.random.Generator, s: MutationSettings, interp_weight: bool
) -> float:
    """A perturbed constant: redrawn with probability ``constant_redraw``; otherwise multiplied
    by ``2^a``, ``a ~ N(0, sigma)`` or, for an interp weight ``0 < b < 1``, the same in
    ``1 - b``: ``1 - (1 - b) 2^a``. Multiplying 0.9 by ``2^a`` (sigma 1) lands above 1, where
    interp extrapolates, 44 % of the time; in ``1 - b`` it never does, and a step moves b by the
    same share of its distance to 1 whatever b is (0.9 -> 0.95 as easily as 0.99 -> 0.995)."""
    if rng.random() < s.constant_redraw:
        return draw_constant(rng, interp_weight)
    factor = 2.0 ** rng.normal(0.0, s.constant_sigma)
    if interp_weight and s.interp_log_space and 0.0 < value < 1.0:
        # b stays in (0, 1): a step past b = 0 (1 - b > 1) is reflected back (clamping would
        # pile weights up at 0, where interp(x, y, b) is just x). Round 1 - b, not b, so that
        # 0.9999 stays distinct from 1.
        distance = (1.0 - value) * factor
        if distance > 1.0:
            distance = 1.0 / distance
        distance = float(f"{min(max(distance, 1e-6), 1.0 - 1e-6):.6g}")
        decimals = 5 - math.floor(math.log10(distance))  # 6 significant digits of 1 - b
        return round(1.0 - distance, decimals)
    new = value * factor
    if not math.isfinite(new):
        return value
    return float(f"{new:.6g}")


def constant(program: Program, rng: np.random.Generator, r: _Random, max_len: int) -> Edit | None:
    places = [
        (i, pos)
        for i, s in enumerate(program.statements)
        for pos, a in enumerate(s.args)
        if not isinstance(a, str)
    ]
    if not places:
        return None
    index, pos = _choice(rng, places)
    s = program.statements[index]
    old = s.args[pos]
    new = perturb(old, rng, r.s, _is_interp_weight(s.op, pos))
    if new == old:
        return None
    args = s.args[:pos] + (new,) + s.args[pos + 1 :]
    detail = f"constant {index}.{pos}: {format_arg(old)} -> {format_arg(new)}"
    return program.replace_statement(index, s.replace(args=args)), detail


def output(program: Program, rng: np.random.Generator, r: _Random, max_len: int) -> Edit | None:
    """Return another variable as ``update``, ``m`` or ``v``."""
    role = int(rng.integers(3))
    names = [n for n in (*INPUTS, *program.variables) if n != program.outputs[role]]
    names = list(dict.fromkeys(names))
    new = _choice(rng, names)
    outputs = list(program.outputs)
    old = outputs[role]
    outputs[role] = new
    return program.with_outputs(*outputs), f"output {OUTPUTS[role]}: {old} -> {new}"


def _readers(program: Program, index: int) -> list[tuple[int, int]]:
    """Where the value made by statement ``index`` is read: (statement, argument position)
    pairs, and (-1, role) for an output that returns it."""
    from programs.analysis import reaching_definitions

    try:
        arg_sources, out_sources = reaching_definitions(program)
    except KeyError:
        # A read before any write: an earlier edit of the same child left the program invalid
        # for now (a later edit may repair it; the child is checked at the end).
        return []
    target = program.statements[index].target
    found = []
    for j in range(index + 1, len(program.statements)):
        srcs = iter(arg_sources[j])
        for pos, a in enumerate(program.statements[j].args):
            if isinstance(a, str) and next(srcs) == index and a == target:
                found.append((j, pos))
    found += [(-1, role) for role, src in enumerate(out_sources) if src == index]
    return found


def _reroute(program: Program, reader: tuple[int, int], name: str) -> Program:
    j, pos = reader
    if j < 0:
        outputs = list(program.outputs)
        outputs[pos] = name
        return program.with_outputs(*outputs)
    s = program.statements[j]
    return program.replace_statement(j, s.replace(args=s.args[:pos] + (name,) + s.args[pos + 1:]))


def duplicate(program: Program, rng: np.random.Generator, r: _Random, max_len: int) -> Edit | None:
    """A copy of a statement under a fresh name, and one reader of the original re-pointed to
    it. Alone this changes nothing; it lets later edits change one use of a value without the
    others (gene duplication): e.g. a fast momentum for the update beside a slow one kept as
    state, which random inserts reach only by luck."""
    n = len(program.statements)
    if n == 0 or n >= max_len:
        return None
    index = int(rng.integers(n))
    readers = _readers(program, index)
    if not readers:
        return None
    s = program.statements[index]
    name = fresh_name(program)
    copy = Statement(name, s.op, s.args)
    # Placed just before the original: its arguments resolve to the same definitions.
    child = program.insert(index, copy)
    j, pos = _choice(rng, readers)
    child = _reroute(child, (j + 1 if j >= 0 else j, pos), name)
    return child, f"duplicate {index}: {format_statement(copy)}"


def edge(program: Program, rng: np.random.Generator, r: _Random, max_len: int) -> Edit | None:
    """A random function inserted on a dataflow edge: a value a statement (or an output) reads
    passes through ``t = f(value, ...)`` first, the other arguments drawn as for an insert."""
    n = len(program.statements)
    if n >= max_len:
        return None
    uses = [(j, pos) for j, st in enumerate(program.statements)
            for pos, a in enumerate(st.args) if isinstance(a, str)]
    uses += [(-1, role) for role in range(3)]
    j, pos = _choice(rng, uses)
    value = program.outputs[pos] if j < 0 else program.statements[j].args[pos]
    at = n if j < 0 else j
    kinds = _lenient_kinds(program, at)
    op_name = _choice(rng, r.functions)
    op = OPS[op_name]
    value_kind = kinds.get(value, Kind.TENSOR)
    slots = [k for k, want in enumerate(op.arg_kinds) if want.accepts(value_kind)]
    if not slots:
        return None
    slot = _choice(rng, slots)
    args = r.arguments(rng, op_name, kinds, {slot: value})
    if args is None:
        return None
    name = fresh_name(program)
    statement = Statement(name, op_name, args)
    child = _reroute(program.insert(at, statement), (j + 1 if j >= 0 else j, pos), name)
    return child, f"edge {at}: {format_statement(statement)}"


EditFunction = Callable[[Program, np.random.Generator, _Random, int], Edit | None]
"""``edit(program, rng, random_choices, max_statements)``: an edited copy and its description,
or None where the kind does not apply (no constant to perturb, a full program for an insert)."""


@dataclass(frozen=True)
class MutationKind:
    """One kind of edit: what it does, how often by default, and why (the setting's doc)."""

    edit: EditFunction
    weight: float
    doc: str


MUTATIONS: dict[str, MutationKind] = {
    "insert": MutationKind(insert, 1.0, "insert a random statement at a random place"),
    "delete": MutationKind(delete, 1.0, "delete a statement"),
    "argument": MutationKind(
        argument, 1.0, "change one argument to another variable or a constant"),
    "function": MutationKind(
        function, 1.0, "change a statement's function to another of the same arity"),
    "constant": MutationKind(constant, 1.0, "perturb (x 2^N(0, s)) or redraw a constant"),
    "output": MutationKind(output, 0.25, "return another variable as update, m or v"),
    "duplicate": MutationKind(
        duplicate, 0.5, "copy a statement to a fresh name and re-point one reader to the copy"),
    "edge": MutationKind(
        edge, 0.5, "pass a value a statement reads through a new random function"),
    "rewrite": MutationKind(
        rewrite, 0.5,
        "change a statement's function to one of any arity, keeping the arguments that fit"),
}
"""THE table of mutation kinds, in the order of the settings. A new kind is one entry: its name
becomes the setting ``mutation.weights.<name>`` with this default weight and doc."""

KINDS = MUTATIONS.keys()
"""The mutation kinds' names, in table order (a live view of :data:`MUTATIONS`)."""


class _Edits(Mapping[str, EditFunction]):
    """Name -> edit function, a live view of :data:`MUTATIONS`."""

    def __getitem__(self, kind: str) -> EditFunction:
        return MUTATIONS[kind].edit

    def __iter__(self) -> Iterator[str]:
        return iter(MUTATIONS)

    def __len__(self) -> int:
        return len(MUTATIONS)


EDITS: Mapping[str, EditFunction] = _Edits()


# --- children ------------------------------------------------------------------------------------


class Mutator:
    """Makes children: one or more random edits, then validity and novelty checks."""

    def __init__(self, mutation: MutationSettings, evolution: EvolutionSettings) -> None:
        self.random = _Random(mutation)
        self.evolution = evolution
        self.kinds = tuple(MUTATIONS)
        self.edits = tuple(MUTATIONS[k].edit for k in self.kinds)
        weights = np.array([getattr(mutation.weights, k) for k in self.kinds], dtype=float)
        self.probabilities = weights / weights.sum()
        self.cumulative = np.cumsum(self.probabilities)

    def edit(self, program: Program, rng: np.random.Generator) -> tuple[str, Edit] | None:
        """One edit of a kind drawn by weight; None if the drawn kind does not apply (e.g. no
        constant to perturb) or drew a no-op."""
        index = int(np.searchsorted(self.cumulative, rng.random() * self.cumulative[-1],
                                    side="right"))
        kind = self.kinds[index]
        result = self.edits[index](program, rng, self.random, self.evolution.max_statements)
        return None if result is None else (kind, result)

    def edit_count(self, rng: np.random.Generator) -> int:
        """1, then one more with probability ``mutations_continue``, up to ``mutations_max``."""
        n = 1
        while n < self.evolution.mutations_max and rng.random() < self.evolution.mutations_continue:
            n += 1
        return n

    def child(
        self, parent: Program, rng: np.random.Generator, parent_fingerprint: str | None = None
    ) -> Child | None:
        """A valid child whose fingerprint differs from the parent's, or None after
        ``max_tries`` attempts. With probability ``evolution.neutral`` a child with the
        parent's fingerprint but other text is kept instead (a *neutral* child): it costs no
        evaluation, and it lets two-step changes through a neutral middle (duplicate a
        statement, then change one copy; insert dead code, then use it)."""
        if parent_fingerprint is None:
            parent_fingerprint = fingerprint(parent)
        invalid = unchanged = 0
        for attempt in range(1, self.evolution.max_tries + 1):
            program = parent
            kinds: list[str] = []
            edits: list[str] = []
            for _ in range(self.edit_count(rng)):
                result = self.edit(program, rng)
                if result is None:
                    continue
                kind, (program, detail) = result
                kinds.append(kind)
                edits.append(detail)
            if not edits:
                unchanged += 1
                continue
            if check(program):
                invalid += 1
                continue
            fp = fingerprint(program)
            neutral = fp == parent_fingerprint
            if neutral and not (program != parent and rng.random() < self.evolution.neutral):
                unchanged += 1
                continue
            return Child(program, fp, tuple(kinds), tuple(edits), attempt, invalid, unchanged,
                         neutral)
        return None
