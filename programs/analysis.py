"""Abstract execution, liveness and the dataflow graph.

Abstract execution runs a program on *kinds* instead of data (is each value a per-tensor scalar
or a tensor of the parameters' shape?), so that the search can reject an invalid child in
microseconds, before anything trains. Liveness works across steps: a state output is live only
if the next step reads the state, and a statement is live only if a live output needs it.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from programs.ops import (
    INPUT_KINDS,
    INPUTS,
    OPS,
    OUTPUTS,
    STATE,
    ArgKind,
    Kind,
    ResultKind,
    derived,
)
from programs.program import Program, format_statement

_BIT = {name: 1 << i for i, name in enumerate(INPUTS)}
_G = _BIT["g"]
_SCALAR, _TENSOR = Kind.SCALAR, Kind.TENSOR



@derived
def _fast() -> dict[str, tuple[int, tuple[ArgKind, ...], ResultKind]]:
    """Per-function facts in the shape the hot loop wants: (arity, arg kinds, result rule)."""
    return {name: (op.arity, op.arg_kinds, op.result) for name, op in OPS.items()}


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a program is invalid. ``statement`` is the index of the offending statement, or
    ``None`` for a problem with the outputs."""

    statement: int | None
    message: str

    def __str__(self) -> str:
        where = "return" if self.statement is None else f"statement {self.statement}"
        return f"{where}: {self.message}"


def check(program: Program) -> list[Problem]:
    """Abstract execution: every problem that makes ``program`` invalid (empty: valid).

    Rejects unknown functions, wrong arity, use before definition, an argument of the wrong kind
    (a tensor where the function wants a scalar, or the reverse), an ``update`` that is not a
    tensor, and an ``update`` that does not depend on the gradient ``g``, directly or through the
    state carried from earlier steps.
    """
    kinds: dict[str, Kind] = dict(INPUT_KINDS)
    deps: dict[str, int] = dict(_BIT)
    problems: list[Problem] = []
    facts = _fast()
    for i, s in enumerate(program.statements):
        fast = facts.get(s.op)
        if fast is None:
            problems.append(Problem(i, f"unknown function {s.op!r}"))
            continue
        arity, arg_kinds, result = fast
        if len(s.args) != arity:
            problems.append(Problem(i, f"{s.op}() takes {arity} arguments, got {len(s.args)}"))
            continue
        dep = 0
        any_tensor = False
        first_kind = _SCALAR
        ok = True
        for j, a in enumerate(s.args):
            if a.__class__ is str:
                kind = kinds.get(a)
                if kind is None:
                    problems.append(Problem(i, f"variable {a!r} is used before it is defined"))
                    ok = False
                    continue
                dep |= deps[a]
            else:
                kind = _SCALAR
            want = arg_kinds[j]
            if want is not ArgKind.ANY and want.value != kind.value:
                problems.append(
                    Problem(i, f"{s.op}() argument {j + 1} must be a {want.value}, got a {kind}")
                )
                ok = False
            if kind is _TENSOR:
                any_tensor = True
            if j == 0:
                first_kind = kind
        if not ok:
            continue
        if result is ResultKind.BROADCAST:
            kinds[s.target] = _TENSOR if any_tensor else _SCALAR
        elif result is ResultKind.SCALAR:
            kinds[s.target] = _SCALAR
        else:
            kinds[s.target] = first_kind
        deps[s.target] = dep
    if problems:
        return problems
    for name, role in zip(program.outputs, OUTPUTS, strict=True):
        if name not in kinds:
            problems.append(Problem(None, f"returned {role} {name!r} is not defined"))
    if problems:
        return problems
    update = program.outputs[0]
    if kinds[update] is not _TENSOR:
        problems.append(Problem(None, f"update {update!r} must be a tensor, got a scalar"))
    if not _reaches_gradient(deps, program.outputs):
        problems.append(Problem(None, "update does not depend on the gradient g"))
    return problems


def _reaches_gradient(deps: dict[str, int], outputs: tuple[str, str, str]) -> bool:
    """Does the update depend on g, now or through state written at an earlier step?"""
    reach = deps[outputs[0]]
    state_out = {_BIT["m"]: deps[outputs[1]], _BIT["v"]: deps[outputs[2]]}
    while True:
        grown = reach
        for bit, out_deps in state_out.items():
            if reach & bit:
                grown |= out_deps
        if grown == reach:
            return bool(reach & _G)
        reach = grown


def is_valid(program: Program) -> bool:
    return not check(program)


def infer_kinds(program: Program) -> list[Kind]:
    """The kind of each statement's result (the program must be valid)."""
    kinds: dict[str, Kind] = dict(INPUT_KINDS)
    out = []
    for s in program.statements:
        op = OPS[s.op]
        arg_kinds = tuple(kinds[a] if isinstance(a, str) else _SCALAR for a in s.args)
        kinds[s.target] = op.result_kind(arg_kinds)
        out.append(kinds[s.target])
    return out


# --- reaching definitions and liveness --------------------------------------------------------

Source = int | str
"""Where a value comes from: a statement index, or an input name."""


def reaching_definitions(program: Program) -> tuple[list[tuple[Source, ...]], tuple[Source, ...]]:
    """For each statement, where each of its variable arguments was defined; and the same for
    the three outputs. Constants are skipped."""
    latest: dict[str, Source] = {name: name for name in INPUTS}
    arg_sources: list[tuple[Source, ...]] = []
    for i, s in enumerate(program.statements):
        arg_sources.append(tuple(latest[a] for a in s.args if isinstance(a, str)))
        latest[s.target] = i
    return arg_sources, tuple(latest[name] for name in program.outputs)


@dataclass(frozen=True)
class Liveness:
    """Which statements and state slots matter, across steps.

    ``statements``: indices of live statements. ``state``: the slots whose carried value is read
    by a live statement or output (their outputs are then live too). ``reads``: the inputs read.
    """

    statements: frozenset[int]
    state: frozenset[str]
    reads: frozenset[str]


def liveness(program: Program) -> Liveness:
    arg_sources, out_sources = reaching_definitions(program)
    live: set[int] = set()
    reads: set[str] = set()
    pending: list[Source] = [out_sources[0]]
    state_done: set[str] = set()
    while True:
        while pending:
            src = pending.pop()
            if isinstance(src, str):
                reads.add(src)
            elif src not in live:
                live.add(src)
                pending.extend(arg_sources[src])
        more = [slot for slot in STATE if slot in reads and slot not in state_done]
        if not more:
            break
        for slot in more:
            state_done.add(slot)
            pending.append(out_sources[1 + STATE.index(slot)])
    return Liveness(frozenset(live), frozenset(state_done), frozenset(reads))


def live_statements(program: Program) -> list[int]:
    return sorted(liveness(program).statements)


def redundancy(program: Program) -> float:
    """The share of statements that are dead (the paper reports 70% in its search)."""
    if not program.statements:
        return 0.0
    return 1.0 - len(liveness(program).statements) / len(program.statements)


def remove_dead_code(program: Program) -> Program:
    """The same optimizer without dead statements.

    Dropping dead statements never rebinds a live read: a live statement's reaching definition
    is live itself. A dead state slot returns whatever its slot name refers to at the end (no
    step reads it, so its value does not matter).
    """
    info = liveness(program)
    kept = tuple(s for i, s in enumerate(program.statements) if i in info.statements)
    update, m_out, v_out = program.outputs
    outputs = (
        update,
        m_out if "m" in info.state else "m",
        v_out if "v" in info.state else "v",
    )
    return Program(kept, outputs)


# --- the dataflow graph ------------------------------------------------------------------------


def graph(program: Program) -> nx.DiGraph:
    """The dataflow graph of one step, with the state carried to the next step.

    Nodes: ``"in:<name>"`` for the inputs, the statement index (an ``int``) for each statement,
    ``"out:<role>"`` for the three outputs. An edge ``u -> v`` means v reads the value u made,
    with attribute ``position`` (the argument position). A ``recurrent=True`` edge
    ``"out:m" -> "in:m"`` closes each live state loop across steps. Each node has ``kind``
    (``input``, ``statement``, ``output``), ``label`` (text) and ``live`` (bool).
    """
    info = liveness(program)
    arg_sources, out_sources = reaching_definitions(program)
    g = nx.DiGraph()

    def node_of(src: Source) -> str | int:
        return f"in:{src}" if isinstance(src, str) else src

    for name in INPUTS:
        g.add_node(f"in:{name}", kind="input", label=name, live=name in info.reads)
    for i, s in enumerate(program.statements):
        g.add_node(i, kind="statement", label=format_statement(s), live=i in info.statements)
        positions = [j for j, a in enumerate(s.args) if isinstance(a, str)]
        for pos, src in zip(positions, arg_sources[i], strict=True):
            g.add_edge(node_of(src), i, position=pos)
    for k, role in enumerate(OUTPUTS):
        live = k == 0 or STATE[k - 1] in info.state
        g.add_node(f"out:{role}", kind="output", label=program.outputs[k], live=live)
        g.add_edge(node_of(out_sources[k]), f"out:{role}", position=0)
    for slot in info.state:
        g.add_edge(f"out:{slot}", f"in:{slot}", recurrent=True)
    return g
