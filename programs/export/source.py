"""A program as the text of a standalone Python module: ``to_source(program, target)``.

The module needs only jax and optax (``target="optax"``) or torch (``target="torch"``), so a
discovered optimizer can be copied into any project. It is the matching runtime file
(:mod:`programs.export.jax_runtime` or :mod:`programs.export.torch_runtime`, copied verbatim),
one small function per library function the program uses, and the program itself as
``train(w, g, m, v, lr)``, one line per statement, in the program's own variable names.

Generated text must never carry code that was not written here. Everything that comes from the
program is checked before it is written: functions must be in the library, variable names must
match a strict ASCII identifier pattern and avoid keywords, builtins and the module's own names
(others are renamed), constants must be finite floats and are written with ``repr``, and the
program's text in the module docstring is escaped so that it cannot end the string.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import math
import re
import textwrap
from importlib import resources

from programs.export.prepare import Prepared, prepare
from programs.ops import EPS, INPUTS, OPS, STATE, Op, function_source
from programs.program import Program, ProgramError
from programs.text import format_program

TARGETS = ("optax", "torch")


def _written_as_operator(op: Op) -> bool:
    """Unguarded arithmetic (``x + y``, not ``div``'s guarded quotient) is written as the
    operator itself rather than as a call."""
    return op.infix is not None and op.source.strip() == f"x {op.infix} y"


_AWAY_FROM_ZERO = (
    "def _away_from_zero(y):",
    '    """y pushed at least EPS away from zero, keeping its sign (0 counts as positive)."""',
    "    return xp.where(y >= 0, y + EPS, y - EPS)",
)

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_FLOAT_LITERAL = re.compile(r"-?(\d+\.\d*|\d+(\.\d*)?e[+-]?\d+)")

_NEEDS = {"optax": "jax and optax", "torch": "torch"}


def _usage(prepared: Prepared, target: str) -> list[str]:
    """How to use the module, and what its learning rate means (which case applies)."""
    default = _literal(prepared.default_learning_rate)
    if target == "optax":
        if prepared.lr_factor is None:
            lines = ["tx = optimizer(learning_rate=1.0)  # an optax.GradientTransformation; a "
                     "number or an", "# optax schedule, fed to the program's lr input as it is"]
        else:
            lines = [f"tx = optimizer()  # an optax.GradientTransformation, learning rate "
                     f"{default}", "tx = optimizer(learning_rate=3e-4)  # a number or an optax "
                     "schedule: the step size"]
    elif prepared.lr_factor is None:
        lines = ["opt = Optimizer(model.parameters(), lr=1.0)  # a torch.optim.Optimizer; lr "
                 "is", "# fed to the program's lr input as it is"]
    else:
        lines = [f"opt = Optimizer(model.parameters())  # a torch.optim.Optimizer, lr {default}",
                 "opt = Optimizer(model.parameters(), lr=3e-4)  # lr: the step size"]
    paragraph = textwrap.wrap(prepared.learning_rate_doc(), 95)
    return [*(f"    {line}" for line in lines), "", *paragraph]


def _runtime_source(target: str) -> str:
    """The runtime file's text, read as data: writing a torch module must not need torch."""
    name = "jax_runtime.py" if target == "optax" else "torch_runtime.py"
    return resources.files("programs.export").joinpath(name).read_text(encoding="utf-8")


def _without_docstring(source: str) -> str:
    tree = ast.parse(source)
    first = tree.body[0] if tree.body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        source = "\n".join(source.splitlines()[first.end_lineno :])
    return source.strip("\n") + "\n"


def _module_names(source: str) -> set[str]:
    """Every name a module binds at top level (imports, functions, classes, assignments)."""
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def reserved_names(target: str) -> frozenset[str]:
    """Names a program variable may not keep in generated code for ``target``."""
    runtime = _module_names(_runtime_source(target))
    generated = {"EPS", "_away_from_zero", "train", "optimizer", "Optimizer"}
    return frozenset(
        runtime | generated | set(OPS) | set(dir(builtins)) | set(keyword.kwlist)
        | set(keyword.softkwlist)
    )  # fmt: skip


def python_names(program: Program, reserved: frozenset[str]) -> dict[str, str]:
    """A safe, distinct Python name for every variable of ``program``.

    A name is kept when it is a plain ASCII identifier that is not reserved; a reserved one
    gets a trailing underscore (``abs_``); anything else becomes ``var<i>``. Inputs keep theirs.
    """
    names = {name: name for name in INPUTS}
    taken = set(reserved) | set(INPUTS)
    for i, name in enumerate([*program.variables, *program.outputs]):
        if name in names:
            continue
        plain = _IDENTIFIER.fullmatch(name) and not name.startswith("__")
        candidate = name if plain else f"var{i}"
        while candidate in taken:
            candidate += "_"
        taken.add(candidate)
        names[name] = candidate
    return names


def _literal(value: float) -> str:
    text = repr(value)
    if type(value) is not float or not math.isfinite(value) or not _FLOAT_LITERAL.fullmatch(text):
        raise ProgramError(f"constants must be finite floats, got {text}")
    return text


def _escaped(text: str) -> str:
    """``text`` safe inside a triple-quoted docstring: backslashes, quotes, control and
    non-ASCII characters all escaped, so that nothing in it can end the string."""
    lines = text.split("\n")
    return "\n".join(
        line.encode("unicode_escape").decode("ascii").replace('"', '\\"') for line in lines
    )


def _statement(target: str, op: str, args: list[str]) -> str:
    if _written_as_operator(OPS[op]):
        return f"{target} = {args[0]} {OPS[op].infix} {args[1]}"
    return f"{target} = {op}({', '.join(args)})"


def _functions(prepared: Prepared, target: str) -> list[str]:
    """``EPS``, the guard helper if a function needs it, and each function the program calls,
    as written in its :class:`programs.ops.Op` entry (:func:`programs.ops.function_source`)."""
    used = [OPS[name] for name in dict.fromkeys(s.op for s in prepared.program.statements)]
    used = [op for op in used if not _written_as_operator(op)]
    runtime = _module_names(_runtime_source(target)) | {"EPS", "train", "optimizer", "Optimizer"}
    clashes = sorted({op.name for op in used} & runtime)
    if clashes:  # only a function added to the table can: the built-in ones are tested
        raise ValueError(f"function {clashes[0]!r} has the name of a definition of the "
                         f"exported {target} module; rename it in the ops table")
    lines = [f"EPS = {_literal(EPS)}", ""]
    if any("_away_from_zero" in op.source_for(target) for op in used):
        lines += ["", *_AWAY_FROM_ZERO, ""]
    for op in used:
        lines += ["", *function_source(op, target).rstrip("\n").split("\n"), ""]
    return lines


def _train(prepared: Prepared, names: dict[str, str]) -> list[str]:
    lines = [
        "",
        f"def train({', '.join(INPUTS)}):",
        '    """One step over all parameters: returns (update, m, v); training does '
        'w = w - update."""',
    ]
    for s in prepared.program.statements:
        args = [names[a] if isinstance(a, str) else _literal(a) for a in s.args]
        lines.append("    " + _statement(names[s.target], s.op, args))
    lines.append("    return " + ", ".join(names[n] for n in prepared.program.outputs))
    return lines


def _entry_point(prepared: Prepared, target: str) -> list[str]:
    assert set(prepared.slots) <= set(STATE)
    quoted = [f'"{slot}"' for slot in prepared.slots]
    slots = f"({quoted[0]},)" if len(quoted) == 1 else f"({', '.join(quoted)})"
    default = _literal(prepared.default_learning_rate)
    if prepared.lr_factor is None:
        meaning = f"is fed to the program's ``lr`` input as it is (default {default})"
    else:
        meaning = f"is the step size; the default, {default}, is the program's own lr factor"
    if target == "optax":
        return [
            "",
            "",
            f"def optimizer(learning_rate: Any = {default}) -> optax.GradientTransformation:",
            '    """The program as an optax transformation. ``learning_rate`` (a number or an',
            *textwrap.wrap(f"optax schedule) {meaning}. Compose it with ``optax.chain``; add its "
                           'updates with ``optax.apply_updates``."""', 92,
                           initial_indent="    ", subsequent_indent="    "),
            "    return program_transformation(",
            f"        train, {slots}, reads_params={prepared.reads_params}, "
            "learning_rate=learning_rate",
            "    )",
        ]
    return [
        "",
        "",
        "class Optimizer(ProgramOptimizer):",
        *textwrap.wrap(f'"""The program as a torch optimizer. ``lr`` (per param group) {meaning}. '
                       'State per parameter: only the slots the program reads."""', 92,
                       initial_indent="    ", subsequent_indent="    "),
        "",
        f"    slots = {slots}",
        f"    reads_params = {prepared.reads_params}",
        f"    default_lr = {default}",
        "    train = staticmethod(train)",
    ]


def to_source(program: Program, target: str = "optax") -> str:
    """The text of a standalone, importable module that runs ``program`` as an optimizer.

    ``target="optax"``: the module needs jax and optax and defines ``optimizer(learning_rate)``
    (an ``optax.GradientTransformation``). ``target="torch"``: it needs torch and defines
    ``Optimizer`` (a ``torch.optim.Optimizer``). Both match :func:`to_optax`/:func:`to_torch`,
    the learning rate included: the step size, its default the program's constant lr factor,
    which is divided out of the program (where it has one; the module's docstring says).
    Raises :class:`programs.ProgramError` for an invalid program, ``ValueError`` for an unknown
    target.
    """
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}: choose one of {', '.join(TARGETS)}")
    prepared = prepare(program)
    names = python_names(prepared.program, reserved_names(target))
    renamed = [f"{old} -> {new}" for old, new in names.items() if old != new]
    divided = ", its lr factor divided out" if prepared.lr_factor is not None else ""
    header = [
        '"""An optimizer found by evosearch, exported as a standalone module.',
        "",
        f"Needs only {_NEEDS[target]}. Use:",
        "",
        *_usage(prepared, target),
        "",
        f"The program (evosearch's text form, dead code removed{divided}):",
        "",
        *(f"    {line}" if line else "" for line in _escaped(format_program(prepared.program))
          .rstrip("\n").split("\n")),
        *(["", "Renamed to be plain, unambiguous Python: " + _escaped(", ".join(renamed))]
          if renamed else []),
        '"""',
        "",
        f"# --- the runtime, shared with evosearch's own {target} export " + "-" * 40,
        "",
    ]  # fmt: skip
    header[-2] = header[-2][:100]
    runtime = _without_docstring(_runtime_source(target))
    banner = ["", "", "# --- the program " + "-" * 82, ""]
    body = [
        *_functions(prepared, target), *_train(prepared, names), *_entry_point(prepared, target)
    ]
    text = "\n".join(header) + runtime + "\n".join(banner + body) + "\n"
    ast.parse(text)  # a generator bug must fail here, not in the user's import
    return text
