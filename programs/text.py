"""Program text: parse with Python's ``ast`` (never executed) and format back.

The text form is a Python function::

    def train(w, g, m, v, lr):
      m = interp(g, m, 0.9)
      update = sign(m)
      update = update * lr
      return update, m, v

Each statement assigns one call of a library function, or one ``+ - * /`` of two operands;
operands are variables or float constants. Everything else (imports, attributes, lambdas,
loops, keyword arguments, nested calls, ...) is rejected with a :class:`ProgramError` naming the
line and column. ``parse(format(p)) == p`` for every program ``p`` that parses. The formatter
itself lives beside the value (:func:`programs.program.format_program`) and is re-exported here.
"""

from __future__ import annotations

import ast
import difflib
from pathlib import Path

from programs.analysis import check
from programs.ops import INFIX, INPUTS, OPS
from programs.program import (
    Arg,
    Program,
    ProgramError,
    Statement,
    format_arg,
    format_program,
    format_statement,
)

_BINOPS: dict[type, str] = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div"}


def _err(message: str, node: ast.AST | None, filename: str | None) -> ProgramError:
    line = getattr(node, "lineno", None)
    col = getattr(node, "col_offset", None)
    return ProgramError(
        message, line=line, column=None if col is None else col + 1, filename=filename
    )


def _suggest(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


_NODE_NAMES: dict[type, str] = {
    ast.Import: "imports",
    ast.ImportFrom: "imports",
    ast.For: "loops",
    ast.AsyncFor: "loops",
    ast.While: "loops",
    ast.If: "conditionals",
    ast.With: "'with' blocks",
    ast.FunctionDef: "nested functions",
    ast.ClassDef: "classes",
    ast.Lambda: "lambdas",
    ast.Attribute: "attribute access",
    ast.Subscript: "indexing",
    ast.IfExp: "conditional expressions",
    ast.Compare: "comparisons",
    ast.BoolOp: "boolean operators",
    ast.ListComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.AugAssign: "augmented assignment (write 'x = x + y')",
    ast.AnnAssign: "annotated assignment",
    ast.Try: "try blocks",
    ast.Delete: "'del'",
    ast.Global: "'global'",
    ast.Nonlocal: "'nonlocal'",
}


def _unsupported(node: ast.AST) -> str:
    what = _NODE_NAMES.get(type(node), f"'{type(node).__name__}'")
    return f"unsupported syntax: {what} are not allowed in a program"


class _Reader:
    """Turns one function definition into statements, tracking which names are defined."""

    def __init__(self, filename: str | None) -> None:
        self.filename = filename
        self.defined: set[str] = set(INPUTS)

    def err(self, message: str, node: ast.AST | None) -> ProgramError:
        return _err(message, node, self.filename)

    def operand(self, node: ast.expr) -> Arg:
        if isinstance(node, ast.Name):
            if node.id not in self.defined:
                hint = _suggest(node.id, sorted(self.defined))
                raise self.err(f"undefined variable {node.id!r}{hint}", node)
            return node.id
        sign = 1.0
        inner = node
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
            inner = node.operand
            if isinstance(inner, ast.Name):
                raise self.err(
                    f"unary minus on a variable is not an operand: write 'negative({inner.id})'",
                    node,
                )
        if isinstance(inner, ast.Constant):
            value = inner.value
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self.err(f"constants must be numbers, got {value!r}", inner)
            result = sign * float(value)
            if result != result or result in (float("inf"), float("-inf")):
                raise self.err(f"constants must be finite, got {result!r}", inner)
            return result
        if isinstance(inner, ast.Call | ast.BinOp):
            raise self.err(
                "nested expressions are not allowed: assign the inner expression to a "
                "variable first",
                inner,
            )
        raise self.err(_unsupported(inner), inner)

    def call(self, node: ast.Call) -> tuple[str, tuple[Arg, ...]]:
        if not isinstance(node.func, ast.Name):
            if type(node.func) in _NODE_NAMES:
                raise self.err(_unsupported(node.func), node.func)
            raise self.err("only library functions can be called, by name", node.func)
        name = node.func.id
        op = OPS.get(name)
        if op is None:
            hint = _suggest(name, list(OPS))
            raise self.err(f"unknown function {name!r}{hint}", node.func)
        if node.keywords:
            raise self.err(f"{name}() takes no keyword arguments", node.keywords[0])
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise self.err(f"{name}() takes no *arguments", node)
        if len(node.args) != op.arity:
            s = "" if op.arity == 1 else "s"
            raise self.err(
                f"wrong arity: {name}() takes {op.arity} argument{s}, got {len(node.args)}",
                node,
            )
        return name, tuple(self.operand(a) for a in node.args)

    def statement(self, node: ast.stmt) -> Statement:
        if not isinstance(node, ast.Assign):
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
                raise self.err("a call must be assigned to a variable", node)
            raise self.err(_unsupported(node), node)
        if len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
            raise self.err("assign to exactly one variable name", node)
        target = node.targets[0].id
        if target in OPS:
            raise self.err(
                f"variable {target!r} has the name of a library function; pick another",
                node.targets[0],
            )
        value = node.value
        if isinstance(value, ast.Call):
            op, args = self.call(value)
        elif isinstance(value, ast.BinOp):
            op = _BINOPS.get(type(value.op))
            if op is None:
                symbol = type(value.op).__name__
                raise self.err(
                    f"unsupported operator {symbol}: only + - * / (or library functions)", value
                )
            args = (self.operand(value.left), self.operand(value.right))
        elif isinstance(value, ast.UnaryOp) and isinstance(value.operand, ast.Name):
            raise self.err(
                f"unary operators are not statements: write 'negative({value.operand.id})'", value
            )
        elif isinstance(value, ast.Name | ast.Constant | ast.UnaryOp):
            raise self.err(
                "a statement must call a function or apply + - * /; plain copies and "
                "constants are not statements",
                value,
            )
        else:
            raise self.err(_unsupported(value), value)
        self.defined.add(target)
        return Statement(target, op, args)

    def returns(self, node: ast.stmt) -> tuple[str, str, str]:
        if not isinstance(node, ast.Return) or node.value is None:
            raise self.err("missing return: a program ends with 'return update, m, v'", node)
        value = node.value
        if not isinstance(value, ast.Tuple) or len(value.elts) != 3:
            raise self.err(
                "malformed return: return exactly three variables (update, m, v)", node
            )
        names = []
        for elt in value.elts:
            if not isinstance(elt, ast.Name):
                raise self.err("malformed return: return variables, not expressions", elt)
            if elt.id not in self.defined:
                hint = _suggest(elt.id, sorted(self.defined))
                raise self.err(f"undefined variable {elt.id!r}{hint}", elt)
            names.append(elt.id)
        return names[0], names[1], names[2]


def _function(module: ast.Module, filename: str | None) -> ast.FunctionDef:
    body = list(module.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # a module docstring
    if not body:
        raise _err("empty program: expected 'def train(w, g, m, v, lr):'", None, filename)
    first = body[0]
    if not isinstance(first, ast.FunctionDef):
        raise _err(
            f"expected 'def train(w, g, m, v, lr):', found {_unsupported(first).split(': ')[-1]}"
            if type(first) in _NODE_NAMES
            else "expected 'def train(w, g, m, v, lr):'",
            first,
            filename,
        )
    if len(body) > 1:
        raise _err("only one function definition is allowed per program", body[1], filename)
    if first.decorator_list:
        raise _err("decorators are not allowed", first.decorator_list[0], filename)
    a = first.args
    params = [p.arg for p in a.args]
    if (
        params != list(INPUTS)
        or a.vararg
        or a.kwarg
        or a.kwonlyargs
        or a.posonlyargs
        or a.defaults
        or any(p.annotation for p in a.args)
        or first.returns
    ):
        raise _err(
            f"the signature must be exactly ({', '.join(INPUTS)}), got ({', '.join(params)})",
            first,
            filename,
        )
    return first


def parse_with_lines(text: str, filename: str | None = None) -> tuple[Program, tuple[int, ...]]:
    """Parse program text; also return each statement's line number (for error messages)."""
    if not isinstance(text, str):
        raise TypeError(f"program text must be a str, got {type(text).__name__}")
    try:
        module = ast.parse(text, filename=filename or "<program>")
    except SyntaxError as e:
        raise ProgramError(
            f"syntax error: {e.msg}", line=e.lineno, column=e.offset, filename=filename
        ) from None
    fn = _function(module, filename)
    reader = _Reader(filename)
    body = list(fn.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # a docstring
    if not body or not isinstance(body[-1], ast.Return):
        # Point at the first offending statement if there is a return in the middle.
        for node in body:
            if isinstance(node, ast.Return):
                raise _err("statements after 'return' are not allowed", node, filename)
        raise _err("missing return: a program ends with 'return update, m, v'", fn, filename)
    statements = []
    lines = []
    for node in body[:-1]:
        if isinstance(node, ast.Return):
            raise _err("statements after 'return' are not allowed", node, filename)
        statements.append(reader.statement(node))
        lines.append(node.lineno)
    outputs = reader.returns(body[-1])
    return Program(tuple(statements), outputs), tuple(lines)


def parse(text: str, filename: str | None = None) -> Program:
    """Read program text into a :class:`Program`; malformed text raises :class:`ProgramError`."""
    return parse_with_lines(text, filename)[0]


def read(path: str | Path) -> Program:
    """Read and validate a program file: syntax errors and abstract-execution problems both
    raise :class:`ProgramError` naming the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ProgramError(f"not a UTF-8 text file ({e.reason})", filename=str(path)) from None
    program, lines = parse_with_lines(text, str(path))
    problems = check(program)
    if problems:
        p = problems[0]
        line = lines[p.statement] if p.statement is not None else None
        extra = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ProgramError(p.message + extra, line=line, filename=str(path))
    return program


assert set(INFIX.values()) == set(_BINOPS.values())

__all__ = [
    "format_arg",
    "format_program",
    "format_statement",
    "parse",
    "parse_with_lines",
    "read",
]
