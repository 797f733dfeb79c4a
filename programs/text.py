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

Before Python's parser sees the text, :func:`programs.limits.check_text` bounds its size, its
lines and its statements (the parser cannot take unbounded nesting). Names must be ASCII:
Python folds look-alike letters (NFKC), so a full-width ``ｍ`` would silently be the state ``m``.
Every error is a :class:`ProgramError` whose message starts with ``file:line:column:``.
"""

from __future__ import annotations

import ast
import codecs
import difflib
import re
import unicodedata
import warnings
from pathlib import Path

from programs.analysis import check
from programs.limits import (
    MAX_IDENTIFIER_LENGTH,
    MAX_PROGRAM_BYTES,
    MAX_STATEMENTS,
    check_text,
    position,
)
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

_SIGNATURE = f"def train({', '.join(INPUTS)}):"


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
    ast.AsyncWith: "'with' blocks",
    ast.FunctionDef: "nested functions",
    ast.AsyncFunctionDef: "nested functions",
    ast.ClassDef: "classes",
    ast.Lambda: "lambdas",
    ast.Attribute: "attribute access",
    ast.Subscript: "indexing",
    ast.Slice: "slices",
    ast.IfExp: "conditional expressions",
    ast.Compare: "comparisons",
    ast.BoolOp: "boolean operators",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.AugAssign: "augmented assignment (write 'x = x + y')",
    ast.AnnAssign: "annotated assignment",
    ast.Try: "try blocks",
    ast.Delete: "'del'",
    ast.Global: "'global'",
    ast.Nonlocal: "'nonlocal'",
    ast.NamedExpr: "walrus operators (:=)",
    ast.JoinedStr: "f-strings",
    ast.FormattedValue: "f-strings",
    ast.Starred: "starred expressions (*x)",
    ast.Await: "'await' expressions",
    ast.Yield: "'yield' expressions",
    ast.YieldFrom: "'yield' expressions",
    ast.List: "lists",
    ast.Tuple: "tuples",
    ast.Set: "sets",
    ast.Dict: "dictionaries",
    ast.Raise: "'raise' statements",
    ast.Assert: "'assert' statements",
    ast.Pass: "'pass' statements",
    ast.Break: "'break' statements",
    ast.Continue: "'continue' statements",
    ast.Match: "'match' statements",
}
for _name, _words in (("TryStar", "try blocks"), ("TypeAlias", "type aliases")):
    if hasattr(ast, _name):  # newer Pythons
        _NODE_NAMES[getattr(ast, _name)] = _words


def _what(node: ast.AST) -> str:
    """The construct a node is, in words (never the name of an ``ast`` class)."""
    return _NODE_NAMES.get(type(node), "this kind of expression or statement")


def _unsupported(node: ast.AST) -> str:
    return f"unsupported syntax: {_what(node)} are not allowed in a program"


_RAW_NAME = re.compile(r"[^\W\d]\w*")


class _Source:
    """The text being parsed, to turn ``ast`` positions into line and column for messages."""

    def __init__(self, text: str, filename: str | None) -> None:
        self.filename = filename
        self.ascii = text.isascii()
        self.lines = re.split(r"\r\n?|\n", text)

    def column(self, line: int, byte_offset: int) -> int:
        """The 1-based character column of an ``ast`` offset (``ast`` counts UTF-8 bytes)."""
        if self.ascii or not 1 <= line <= len(self.lines):
            return byte_offset + 1
        raw = self.lines[line - 1].encode("utf-8", "surrogatepass")[:byte_offset]
        return len(raw.decode("utf-8", "replace")) + 1

    def err(self, message: str, node: ast.AST | None) -> ProgramError:
        line = getattr(node, "lineno", None)
        col = getattr(node, "col_offset", None)
        if line is None:
            return ProgramError(message, line=1, column=1, filename=self.filename)
        column = None if col is None else self.column(line, col)
        return ProgramError(message, line=line, column=column, filename=self.filename)

    def name(self, node: ast.Name | ast.arg) -> str:
        """The node's name, refused if it is too long or not written in ASCII."""
        name = node.id if isinstance(node, ast.Name) else node.arg
        if not self.ascii:
            column = self.column(node.lineno, node.col_offset)
            found = _RAW_NAME.match(self.lines[node.lineno - 1], column - 1)
            self.require_ascii(found.group() if found else name, node.lineno, column)
        if len(name) > MAX_IDENTIFIER_LENGTH:
            raise self.err(
                f"name too long: {len(name)} characters (at most {MAX_IDENTIFIER_LENGTH})", node
            )
        return name

    def require_ascii(self, raw: str, line: int, column: int) -> None:
        if raw.isascii():
            return
        folded = unicodedata.normalize("NFKC", raw)
        reads_as = f"; Python would read it as {folded!r}" if folded.isascii() else ""
        raise ProgramError(
            f"non-ASCII name {raw!r}: names are ASCII letters, digits and '_'{reads_as}",
            line=line, column=column, filename=self.filename,
        )


class _Reader:
    """Turns one function definition into statements, tracking which names are defined."""

    def __init__(self, source: _Source) -> None:
        self.source = source
        self.defined: set[str] = set(INPUTS)

    def err(self, message: str, node: ast.AST | None) -> ProgramError:
        return self.source.err(message, node)

    def operand(self, node: ast.expr) -> Arg:
        if isinstance(node, ast.Name):
            name = self.source.name(node)
            if name not in self.defined:
                hint = _suggest(name, sorted(self.defined))
                raise self.err(f"undefined variable {name!r}{hint}", node)
            return name
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
            try:
                result = sign * float(value)
            except OverflowError:
                result = sign * float("inf")
            if result != result or result in (float("inf"), float("-inf")):
                raise self.err(f"constants must be finite, got {result!r}", inner)
            return result
        if isinstance(inner, ast.Call | ast.BinOp | ast.UnaryOp):
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
        name = self.source.name(node.func)
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
            if isinstance(node, ast.Expr) and type(node.value) in _NODE_NAMES:
                raise self.err(_unsupported(node.value), node.value)
            raise self.err(_unsupported(node), node)
        if len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
            raise self.err("assign to exactly one variable name", node)
        target = self.source.name(node.targets[0])
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
            name = self.source.name(elt)
            if name not in self.defined:
                hint = _suggest(name, sorted(self.defined))
                raise self.err(f"undefined variable {name!r}{hint}", elt)
            names.append(name)
        return names[0], names[1], names[2]


def _function(module: ast.Module, source: _Source) -> ast.FunctionDef:
    body = list(module.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # a module docstring
    if not body:
        raise source.err(f"empty program: expected '{_SIGNATURE}'", None)
    first = body[0]
    if not isinstance(first, ast.FunctionDef):
        found = f", found {_what(first)}" if type(first) in _NODE_NAMES else ""
        raise source.err(f"expected '{_SIGNATURE}'{found}", first)
    if len(body) > 1:
        raise source.err("only one function definition is allowed per program", body[1])
    if first.decorator_list:
        raise source.err("decorators are not allowed", first.decorator_list[0])
    if not source.ascii:
        found = re.search(r"def\s+([^\s(]+)", source.lines[first.lineno - 1])
        if found:
            source.require_ascii(found.group(1), first.lineno, found.start(1) + 1)
    _signature(first, source)
    return first


def _signature(fn: ast.FunctionDef, source: _Source) -> None:
    """Exactly ``(w, g, m, v, lr)``; otherwise say what is wrong with it."""
    a = fn.args
    for p in a.posonlyargs + a.args + a.kwonlyargs:
        source.name(p)
    extra = a.vararg or a.kwarg
    if extra is not None:
        star = "*" if extra is a.vararg else "**"
        raise source.err(f"'{star}{extra.arg}' is not allowed: write '{_SIGNATURE}'", extra)
    if a.posonlyargs or a.kwonlyargs:
        raise source.err(f"'/' and '*' markers are not allowed: write '{_SIGNATURE}'", fn)
    defaults = [d for d in a.defaults + a.kw_defaults if d is not None]
    if defaults:
        raise source.err(
            f"default values are not allowed in the signature: write '{_SIGNATURE}'", defaults[0]
        )
    annotated = [p.annotation for p in a.args if p.annotation is not None]
    if annotated or fn.returns is not None:
        node = annotated[0] if annotated else fn.returns
        raise source.err(f"annotations are not allowed: write '{_SIGNATURE}'", node)
    params = [p.arg for p in a.args]
    if params != list(INPUTS):
        raise source.err(
            f"the signature must be exactly ({', '.join(INPUTS)}), got ({', '.join(params)})", fn
        )


Position = tuple[int, int]
"""A line and a column, both from 1."""


def parse_located(
    text: str, filename: str | None = None
) -> tuple[Program, tuple[Position, ...], Position]:
    """Parse program text; also return where each statement and the return statement are
    (for messages about the parsed program, such as abstract execution's)."""
    if not isinstance(text, str):
        raise TypeError(f"program text must be a str, got {type(text).__name__}")
    check_text(text, filename)
    try:
        with warnings.catch_warnings():  # "invalid decimal literal" and the like: errors here
            warnings.simplefilter("ignore", SyntaxWarning)
            module = ast.parse(text, filename=filename or "<program>")
    except SyntaxError as e:
        raise ProgramError(
            f"syntax error: {e.msg}", line=e.lineno or 1, column=e.offset or 1, filename=filename
        ) from None
    source = _Source(text, filename)
    fn = _function(module, source)
    reader = _Reader(source)
    body = list(fn.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # a docstring
    if len(body) > MAX_STATEMENTS + 1:
        raise source.err(
            f"too many statements: {len(body) - 1} (at most {MAX_STATEMENTS})",
            body[MAX_STATEMENTS],
        )
    if not body or not isinstance(body[-1], ast.Return):
        # Point at the first offending statement if there is a return in the middle.
        for node in body:
            if isinstance(node, ast.Return):
                raise source.err("statements after 'return' are not allowed", node)
        raise source.err("missing return: a program ends with 'return update, m, v'", fn)
    statements = []
    where = []
    for node in body[:-1]:
        if isinstance(node, ast.Return):
            raise source.err("statements after 'return' are not allowed", node)
        statements.append(reader.statement(node))
        where.append((node.lineno, source.column(node.lineno, node.col_offset)))
    end = body[-1]
    outputs = reader.returns(end)
    returned = (end.lineno, source.column(end.lineno, end.col_offset))
    return Program(tuple(statements), outputs), tuple(where), returned


def parse(text: str, filename: str | None = None) -> Program:
    """Read program text into a :class:`Program`; malformed text raises :class:`ProgramError`
    whose message starts with ``filename:line:column:`` (``line:column:`` without a filename)."""
    return parse_located(text, filename)[0]


def read(path: str | Path) -> Program:
    """Read and validate a program file: a file that cannot be read, text over a limit
    (:mod:`programs.limits`), syntax errors and abstract-execution problems all raise
    :class:`ProgramError`, its message starting with ``file:line:column:`` wherever the
    problem has a place in the text."""
    path = Path(path)
    filename = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_PROGRAM_BYTES:
            raise ProgramError(f"file too large: {size} bytes (at most {MAX_PROGRAM_BYTES})",
                               line=1, column=1, filename=filename)
        with path.open("rb") as f:
            data = f.read(MAX_PROGRAM_BYTES + 1)
    except OSError as e:
        raise ProgramError(f"cannot read the file ({e.strerror or e})", filename=filename) from None
    if len(data) > MAX_PROGRAM_BYTES:
        raise ProgramError(f"file too large: more than {MAX_PROGRAM_BYTES} bytes (the limit)",
                           line=1, column=1, filename=filename)
    text = _decode(data, filename)
    program, where, returned = parse_located(text, filename)
    problems = check(program)
    if problems:
        p = problems[0]
        line, column = where[p.statement] if p.statement is not None else returned
        extra = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ProgramError(p.message + extra, line=line, column=column, filename=filename)
    return program


def _decode(data: bytes, filename: str) -> str:
    """UTF-8 text (a byte-order mark is dropped); an undecodable byte is named with its place."""
    start = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[start:].decode("utf-8")
    except UnicodeDecodeError as e:
        bad = start + e.start
        prefix = data[start:bad].decode("utf-8", "replace")
        line, column = position(prefix + "?", len(prefix))
        raise ProgramError(
            f"not UTF-8 text: byte 0x{data[bad]:02x} cannot be decoded ({e.reason})",
            line=line, column=column, filename=filename,
        ) from None


assert set(INFIX.values()) == set(_BINOPS.values())

__all__ = [
    "format_arg",
    "format_program",
    "format_statement",
    "parse",
    "parse_located",
    "read",
]
