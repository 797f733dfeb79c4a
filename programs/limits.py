"""How large program text may be, and the checks made before Python's parser sees it.

Program text comes from files people write, from run directories and from the command line, and
it is parsed with Python's own parser (:mod:`ast`, never executed). That parser recurses once per
level of an expression, so a long ``+`` chain or thousands of unary minus signs exhaust its stack
(``RecursionError``, ``MemoryError``) before any syntax error could be reported; and nothing
bounds a file's size or a name's length, while a run directory stores each program's text many
times over (population, lineage, logs). Each limit below sits far above what a program of the
language needs and low enough that no later stage meets an input it cannot handle. Text over a
limit is refused with a :class:`programs.ProgramError` naming the line and column and the limit.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Callable

from programs.program import ProgramError

MAX_PROGRAM_BYTES = 256 * 1024
"""Bytes of program text (UTF-8). A program of :data:`MAX_STATEMENTS` statements of ordinary
length fits, comments and all; a run directory keeps many copies of each program's text, so a
file can cost tens of times its size there."""

MAX_LINE_LENGTH = 500
"""Characters per line. A statement with three names of :data:`MAX_IDENTIFIER_LENGTH` and a
comment fits with room to spare. Within one line of this length no expression can nest deeply
enough to exhaust Python's parser (that takes about a thousand levels)."""

MAX_STATEMENT_TOKENS = 500
"""Tokens per statement: the same bound as :data:`MAX_LINE_LENGTH` for a statement that continues
over several lines (inside brackets or after a backslash). A valid statement has at most 15."""

MAX_IDENTIFIER_LENGTH = 64
"""Characters per variable name. Names appear in every report, lineage line and log record of a
run; the standalone exporter keeps names up to this length."""

MAX_STATEMENTS = 1000
"""Statements per program. The compiled interpreter runs at most 96 live statements
(:data:`proxy_tasks.encoding.CAPACITIES`) and the search caps programs far lower
(``evolution.max_statements``); a thousand leaves room for dead code and hand-written files."""

_NEWLINE = re.compile(r"\r\n?|\n")
_BRACKET_OR_NEWLINE = re.compile(r"[()\[\]{}\n\r]")
_LAYOUT = frozenset({tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT,
                     tokenize.DEDENT, tokenize.ENDMARKER})


def position(text: str, index: int) -> tuple[int, int]:
    """The 1-based line and column of character ``index`` of ``text``."""
    line = 1 + len(_NEWLINE.findall(text, 0, index))
    start = max(text.rfind("\n", 0, index), text.rfind("\r", 0, index)) + 1
    return line, index - start + 1


def check_text(text: str, filename: str | None = None) -> None:
    """Refuse text that Python's parser must not see: over a size limit, a line or statement
    too long, NUL bytes, or characters that are not text (lone surrogates). Raises
    :class:`ProgramError` with line and column."""

    def refuse(message: str, line: int, column: int) -> ProgramError:
        return ProgramError(message, line=line, column=column, filename=filename)

    size = len(text)
    if size > MAX_PROGRAM_BYTES // 4:  # else it cannot be over the limit: 4 bytes a character
        size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_PROGRAM_BYTES:
        raise refuse(f"program text too large: {size} bytes (at most {MAX_PROGRAM_BYTES})", 1, 1)
    nul = text.find("\x00")
    if nul >= 0:
        raise refuse("NUL byte in program text", *position(text, nul))
    if not text.isascii():
        surrogate = re.search("[\ud800-\udfff]", text)
        if surrogate is not None:
            raise refuse("invalid character in program text (a lone surrogate: the text was "
                         "not decoded as UTF-8)", *position(text, surrogate.start()))
    lines = text.split("\n") if "\r" not in text else _NEWLINE.split(text)
    if max(map(len, lines)) > MAX_LINE_LENGTH:
        number, line = next((i, x) for i, x in enumerate(lines, 1) if len(x) > MAX_LINE_LENGTH)
        raise refuse(f"line too long: {len(line)} characters (at most {MAX_LINE_LENGTH})",
                     number, MAX_LINE_LENGTH + 1)
    if "\\" in text or not _lines_are_statements(text):
        _check_statement_tokens(text, refuse)


def _lines_are_statements(text: str) -> bool:
    """Cheaply, and erring towards ``False``: does every bracket close on the line it opens
    (so that no statement continues over lines)? Brackets in comments and strings count too."""
    depth = 0
    for c in _BRACKET_OR_NEWLINE.findall(text):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif depth:
            return False
    return depth == 0


def _check_statement_tokens(text: str, refuse: Callable[[str, int, int], ProgramError]) -> None:
    """Count tokens per statement where a statement may continue over lines. Only then: every
    line is bounded already, and tokenizing costs more than parsing."""
    count = 0
    tokens = tokenize.generate_tokens(io.StringIO(text).readline)
    try:
        for token in tokens:
            if token.type == tokenize.NEWLINE:
                count = 0
            elif token.type not in _LAYOUT:
                count += 1
                if count > MAX_STATEMENT_TOKENS:
                    raise refuse(f"statement too long: more than {MAX_STATEMENT_TOKENS} tokens "
                                 "(the limit; a statement calls one function)", token.start[0],
                                 token.start[1] + 1)
    except (tokenize.TokenError, SyntaxError):
        return  # the parser reports it, on text that is bounded up to here
