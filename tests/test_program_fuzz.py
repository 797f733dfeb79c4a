"""Hostile and malformed program files: every one is a ProgramError naming file, line and column.

Program files are read by ``inspect``, ``export``, ``simplify`` and ``search``; whatever is in
them must end in one clear line, never a traceback (``RecursionError`` from Python's parser, a
``MemoryError``, a hint about interpreter settings) and never in silently accepted text (a
full-width letter that Python folds into a state slot's name, a megabyte-long name that then
fills a run directory). The limits are :mod:`programs.limits`.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import programs
from programs import ProgramError, parse
from programs.limits import (
    MAX_IDENTIFIER_LENGTH,
    MAX_LINE_LENGTH,
    MAX_PROGRAM_BYTES,
    MAX_STATEMENT_TOKENS,
    MAX_STATEMENTS,
)

HEAD = "def train(w, g, m, v, lr):\n"
TAIL = "  return u, m, v\n"
NAME = "f.prog"
LOCATED = re.compile(rf"^{re.escape(NAME)}:(\d+):(\d+): \S")
INTERNAL = ("NamedExpr", "JoinedStr", "set_int_max_str_digits", "Traceback", "ast.")


def located_error(text: str) -> ProgramError:
    """The ProgramError that parsing ``text`` as file ``f.prog`` gives, checked to start with
    ``f.prog:line:col:`` and to name nothing internal."""
    with pytest.raises(ProgramError) as info:
        parse(text, filename=NAME)
    message = str(info.value)
    assert LOCATED.match(message), message
    assert not any(word in message for word in INTERNAL), message
    assert "\n" not in message
    return info.value


def at(error: ProgramError) -> tuple[int, int]:
    return error.line, error.column


# --- nesting that Python's parser cannot take -------------------------------------------------


def test_a_long_plus_chain_on_one_line():
    e = located_error(HEAD + "  u = " + " + ".join(["g"] * 5000) + "\n" + TAIL)
    assert at(e) == (2, MAX_LINE_LENGTH + 1)
    assert f"at most {MAX_LINE_LENGTH}" in str(e)


def test_a_long_plus_chain_over_many_lines():
    chain = " +\n    ".join(["g"] * 5000)
    e = located_error(HEAD + f"  u = ({chain})\n" + TAIL)
    assert e.line > 2 and f"more than {MAX_STATEMENT_TOKENS} tokens" in str(e)


@pytest.mark.parametrize("sep", ["", " ", " \\\n  "])
def test_deep_unary_minus(sep):
    e = located_error(HEAD + "  u = g * " + f"-{sep}" * 20000 + "1.0\n" + TAIL)
    assert e.line >= 2


def test_deep_parentheses():
    one_line = located_error(HEAD + "  u = g * " + "(" * 5000 + "1.0" + ")" * 5000 + "\n" + TAIL)
    assert at(one_line) == (2, MAX_LINE_LENGTH + 1)
    many_lines = located_error(HEAD + "  u = g * " + "(\n" * 5000 + "1.0" + ")" * 5000 + "\n"
                               + TAIL)
    assert many_lines.line >= 2


def test_bounded_text_still_gets_the_languages_own_messages():
    e = located_error(HEAD + "  u = " + " + ".join(["g"] * 100) + "\n" + TAIL)
    assert "nested expressions" in str(e)
    e = located_error(HEAD + "  u = g * " + "- " * 200 + "1.0\n" + TAIL)
    assert "nested expressions" in str(e)


# --- sizes --------------------------------------------------------------------------------------


def test_a_huge_file_with_a_huge_name_is_refused_before_it_is_read(tmp_path):
    name = "x" * 1_000_000
    path = tmp_path / "huge.prog"
    path.write_text(HEAD + f"  {name} = sign(g)\n  u = {name} * lr\n" * 1 + TAIL)
    with pytest.raises(ProgramError) as info:
        programs.read(path)
    assert str(info.value).startswith(f"{path}:1:1: file too large")
    assert str(MAX_PROGRAM_BYTES) in str(info.value)


def test_text_over_the_size_limit():
    comment = "# " + "x" * 400 + "\n"
    e = located_error(comment * (MAX_PROGRAM_BYTES // len(comment) + 1) + HEAD
                      + "  u = g * lr\n" + TAIL)
    assert at(e) == (1, 1) and str(MAX_PROGRAM_BYTES) in str(e)


def test_a_long_name():
    long = "n" * (MAX_IDENTIFIER_LENGTH + 1)
    e = located_error(HEAD + f"  {long} = sign(g)\n  u = {long} * lr\n" + TAIL)
    assert at(e) == (2, 3) and f"at most {MAX_IDENTIFIER_LENGTH}" in str(e)
    ok = "n" * MAX_IDENTIFIER_LENGTH
    assert len(parse(HEAD + f"  {ok} = sign(g)\n  u = {ok} * lr\n" + TAIL)) == 2


def test_too_many_statements():
    body = "  u = g * lr\n" * (MAX_STATEMENTS + 1)
    e = located_error(HEAD + body + TAIL)
    assert at(e) == (MAX_STATEMENTS + 2, 3) and f"at most {MAX_STATEMENTS}" in str(e)
    assert len(parse(HEAD + "  u = g * lr\n" * MAX_STATEMENTS + TAIL)) == MAX_STATEMENTS


def test_a_long_comment_line():
    e = located_error(HEAD + "  u = g * lr  # " + "x" * MAX_LINE_LENGTH + "\n" + TAIL)
    assert at(e) == (2, MAX_LINE_LENGTH + 1)


# --- messages with line:col and words, not internal names --------------------------------------


def test_bytes_that_are_not_utf8(tmp_path):
    path = tmp_path / "latin1.prog"
    path.write_bytes((HEAD + "  u = g * lr  # caf\xe9\n" + TAIL).encode("latin-1"))
    with pytest.raises(ProgramError) as info:
        programs.read(path)
    assert str(info.value).startswith(f"{path}:2:20: not UTF-8 text: byte 0xe9"), info.value


def test_a_byte_order_mark_is_fine(tmp_path):
    path = tmp_path / "bom.prog"
    path.write_bytes(b"\xef\xbb\xbf" + (HEAD + "  u = g * lr\n" + TAIL).encode())
    assert len(programs.read(path)) == 1


def test_nul_bytes():
    e = located_error(HEAD + "  u = g * lr\x00\n" + TAIL)
    assert at(e) == (2, 13) and "NUL" in str(e)


def test_lone_surrogates():
    e = located_error(HEAD + "  u = g * lr  # \udcff\n" + TAIL)
    assert at(e) == (2, 17)


@pytest.mark.parametrize("digits", [5000, 450])
def test_a_huge_integer(digits):
    e = located_error(HEAD + "  u = g * 1" + "0" * digits + "\n" + TAIL)
    assert e.line == 2 and e.column >= 1


@pytest.mark.parametrize(
    ("statement", "words", "column"),
    [
        ("u = (x := g)", "walrus operator", 8),
        ("u = f'{g}'", "f-strings", 7),
        ("u = sign(*g)", "no *arguments", 7),
        ("u = {g: m}", "dictionaries", 7),
        ("u = await g", "'await'", 7),
        ("assert g", "'assert'", 3),
        ("pass", "'pass'", 3),
        ("u = g[1:2]", "indexing", 7),
        ("[g]", "lists", 3),
    ],
)
def test_unsupported_syntax_is_named_in_words(statement, words, column):
    e = located_error(HEAD + f"  {statement}\n" + TAIL)
    assert words in str(e) and at(e) == (2, column)


@pytest.mark.parametrize(
    ("signature", "words", "column"),
    [
        ("(w, g, m, v, lr=1.0)", "default values are not allowed", 26),
        ("(w, g, m, v, lr: float)", "annotations are not allowed", 27),
        ("(w, g, m, v, lr) -> tuple", "annotations are not allowed", 30),
        ("(w, g, m, v, lr, *rest)", "'*rest' is not allowed", 28),
        ("(w, g, m, v, lr, **more)", "'**more' is not allowed", 29),
        ("(w, g, m, v, *, lr)", "markers are not allowed", 1),
        ("(w, g, m, lr, v)", "must be exactly (w, g, m, v, lr), got (w, g, m, lr, v)", 1),
    ],
)
def test_the_signature_error_says_what_is_wrong(signature, words, column):
    e = located_error(f"def train{signature}:\n  u = sign(g)\n" + TAIL)
    assert words in str(e) and at(e) == (1, column)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (HEAD + "  ｍ = interp(g, m, 0.9)\n  u = sign(m)\n" + TAIL, (2, 3)),
        (HEAD + "  u = sign(ｇ)\n" + TAIL, (2, 12)),
        (HEAD + "  é = sign(g)\n  u = é * lr\n" + TAIL, (2, 3)),
        ("def train(ｗ, g, m, v, lr):\n  u = sign(g)\n" + TAIL, (1, 11)),
        ("def trａin(w, g, m, v, lr):\n  u = sign(g)\n" + TAIL, (1, 5)),
        (HEAD + "  u = sign(g)\n  return u, ｍ, v\n", (3, 13)),
    ],
)
def test_non_ascii_names_are_refused_not_folded(text, where):
    e = located_error(text)
    assert at(e) == where and "non-ASCII name" in str(e)


def test_non_ascii_comments_and_docstrings_are_fine():
    text = HEAD + '  """Lion — évolué."""\n  u = sign(g)  # ½ step\n' + TAIL
    assert len(parse(text)) == 1


def test_read_names_the_column_of_an_abstract_execution_problem(tmp_path):
    path = tmp_path / "kinds.prog"
    path.write_text(HEAD + "  x = w * lr\n    # a comment\n  u = interp(g, m, x)\n" + TAIL)
    with pytest.raises(ProgramError) as info:
        programs.read(path)
    assert str(info.value).startswith(f"{path}:4:3: interp() argument 3 must be a scalar")
    path.write_text(HEAD + "  u = norm(g)\n" + TAIL)
    with pytest.raises(ProgramError) as info:
        programs.read(path)
    assert str(info.value).startswith(f"{path}:3:3: update 'u' must be a tensor")


def test_a_file_that_cannot_be_read(tmp_path):
    for path in (tmp_path / "missing.prog", tmp_path):
        with pytest.raises(ProgramError) as info:
            programs.read(path)
        assert str(info.value).startswith(f"{path}: cannot read the file")


# --- random damage to valid files ---------------------------------------------------------------


def _mutants(rng: np.random.Generator, text: str, n: int) -> list[str]:
    alphabet = list("()[]{}+-*/=:,.#'\"\\ \n\t0123456789eE_xyzgmvlrwu") + [
        "\x00", "\udcff", "ｍ", "é", "\r", "\ufeff", "lambda", "def ", "return ", "**", ":=",
    ]
    out = []
    for _ in range(n):
        chars = list(text)
        for _ in range(int(rng.integers(1, 6))):
            i = int(rng.integers(len(chars) + 1))
            kind = rng.integers(4)
            if kind == 0:
                chars.insert(i, alphabet[rng.integers(len(alphabet))])
            elif kind == 1 and chars:
                del chars[min(i, len(chars) - 1)]
            elif kind == 2 and chars:
                chars[min(i, len(chars) - 1)] = alphabet[rng.integers(len(alphabet))]
            else:
                j = int(rng.integers(len(chars) + 1))
                chars[i:i] = chars[min(i, j) : max(i, j)][:200]
        out.append("".join(chars))
    return out


def test_randomly_damaged_programs_parse_or_fail_with_a_located_program_error():
    rng = np.random.default_rng(0)
    failures = 0
    for name in ("lion", "adamw", "adabelief"):
        for text in _mutants(rng, programs.library.source(name), 700):
            try:
                parse(text, filename=NAME)
            except ProgramError as e:
                failures += 1
                assert LOCATED.match(str(e)), (text, str(e))
    assert failures > 1000  # most damage breaks a program


def test_randomly_damaged_files_read_or_fail_with_a_located_program_error(tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / NAME
    for text in _mutants(rng, programs.library.source("lion"), 300):
        data = bytearray(text.encode("utf-8", "surrogatepass"))
        if rng.random() < 0.3:
            data[int(rng.integers(len(data)))] = int(rng.integers(128, 256))
        path.write_bytes(bytes(data))
        try:
            programs.read(path)
        except ProgramError as e:
            assert re.match(rf"^{re.escape(str(path))}:\d+:\d+: \S", str(e)), str(e)


# --- the commands that read program files -------------------------------------------------------


@pytest.fixture
def hostile_file(tmp_path):
    path = tmp_path / "chain.prog"
    chain = " +\n    ".join(["g"] * 5000)
    path.write_text(HEAD + f"  u = ({chain})\n" + TAIL)
    return path


@pytest.mark.parametrize("command", [
    ["inspect"], ["export", "--to", "optax"], ["simplify", "--no-analytic"], ["search"]
])
def test_commands_report_one_line_and_exit_2(command, hostile_file, tmp_path, capsys):
    from evosearch.cli import main

    if command == ["search"]:
        args = ["search", "--out", str(tmp_path / "run"), "--backend", "inprocess",
                "--set", f"search.warm_start={hostile_file}"]
    else:
        args = [*command, str(hostile_file)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{hostile_file}:" in err[0] and "tokens" in err[0], err
