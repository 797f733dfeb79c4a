"""Parsing and formatting program text: round trip and every kind of malformed input."""

import pytest

import programs
from programs import Program, ProgramError, Statement, format, parse

ADAMW_TEXT = """\
def train(w, g, m, v, lr):
  g2 = square(g)
  m = interp(g, m, 0.9)
  v = interp(g2, v, 0.999)
  sqrt_v = sqrt(v)
  update = m / sqrt_v
  wd = w * 0.01
  update = update + wd
  lr = lr * 0.001
  update = update * lr
  return update, m, v
"""


def test_parse_reads_the_adamw_example() -> None:
    p = parse(ADAMW_TEXT)
    assert len(p) == 9
    assert p.statements[1] == Statement("m", "interp", ("g", "m", 0.9))
    assert p.statements[4] == Statement("update", "div", ("m", "sqrt_v"))
    assert p.outputs == ("update", "m", "v")


def test_format_is_canonical_text() -> None:
    assert format(parse(ADAMW_TEXT)) == ADAMW_TEXT


@pytest.mark.parametrize("name", programs.library.names())
def test_round_trip_every_library_program(name: str) -> None:
    p = programs.library.load(name)
    assert parse(format(p)) == p
    assert hash(parse(format(p))) == hash(p)


def test_round_trip_constants_and_negative_numbers() -> None:
    p = Program(
        (
            Statement("a", "mul", ("g", -0.5)),
            Statement("b", "sub", (-1e-12, "a")),
            Statement("c", "interp", ("b", "m", 0.1 + 0.2)),  # repr keeps every digit
            Statement("d", "get_pi", ()),
            Statement("update", "mul", ("c", "d")),
        ),
        ("update", "c", "v"),
    )
    assert parse(format(p)) == p


def test_function_call_forms_of_operators_are_accepted() -> None:
    p = parse("def train(w, g, m, v, lr):\n  u = mul(g, lr)\n  return u, m, v\n")
    assert p.statements[0] == Statement("u", "mul", ("g", "lr"))
    assert "u = g * lr" in format(p)


def test_integers_become_floats_and_other_names_are_fine() -> None:
    p = parse("def lion_like(w, g, m, v, lr):\n  u = g * 2\n  return u, m, v\n")
    assert p.statements[0].args == ("g", 2.0)
    assert isinstance(p.statements[0].args[1], float)


def test_comments_and_docstrings_are_ignored() -> None:
    text = (
        '"""module doc"""\n# comment\ndef train(w, g, m, v, lr):\n'
        '  """doc"""\n  u = g * lr  # x\n  return u, m, v\n'
    )
    assert len(parse(text)) == 1


def _error(text: str) -> ProgramError:
    with pytest.raises(ProgramError) as info:
        parse(text, filename="prog.txt")
    assert isinstance(info.value, ValueError)
    return info.value


def _body(*lines: str, ret: str = "return u, m, v") -> str:
    return "def train(w, g, m, v, lr):\n" + "".join(f"  {x}\n" for x in lines) + f"  {ret}\n"


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [
        (_body("u = foo(g)"), 2, 7, "unknown function 'foo'"),
        (_body("u = sine(g)"), 2, 7, "did you mean 'sin'"),
        (_body("u = interp(g, m)"), 2, 7, "wrong arity: interp() takes 3 arguments, got 2"),
        (_body("u = sign(g, m)"), 2, 7, "takes 1 argument, got 2"),
        (_body("u = g * x"), 2, 11, "undefined variable 'x'"),
        (_body("u = g * lr", ret="return u, m"), 3, 3, "malformed return"),
        (_body("u = g * lr", ret="return u, m, q"), 3, 16, "undefined variable 'q'"),
        (_body("u = g * lr", ret="return u, m, v * 2"), 3, 16, "return variables"),
        (_body("u = g * lr", ret="x = g * lr"), 1, 1, "missing return"),
        (_body("import os", "u = g"), 2, 3, "imports are not allowed"),
        (_body("u = os.system(g)"), 2, 7, "attribute access"),
        (_body("u = (lambda x: x)(g)"), 2, 8, "lambdas are not allowed"),
        (_body("u = [sign][0](g)"), 2, 7, "indexing"),
        (_body("for i in g:", "  u = g"), 2, 3, "loops are not allowed"),
        (_body("u = sign(square(g))"), 2, 12, "nested expressions"),
        (_body("u = g * lr * 2.0"), 2, 7, "nested expressions"),
        (_body("u = g ** 2"), 2, 7, "unsupported operator Pow"),
        (_body("u = g"), 2, 7, "plain copies"),
        (_body("u = -g"), 2, 7, "negative(g)"),
        (_body("u = clip(g, c=1.0)"), 2, 15, "keyword"),
        (_body("u += g"), 2, 3, "augmented assignment"),
        (_body("u, x = g, m"), 2, 3, "exactly one variable"),
        (_body("u = g * 'a'"), 2, 11, "constants must be numbers"),
        (_body("sign = sign(g)"), 2, 3, "name of a library function"),
        (_body("u = g * lr", "return u, m, v"), 3, 3, "after 'return'"),
        ("def train(w, g, m, v):\n  return g, m, v\n", 1, 1, "signature must be exactly"),
        ("x = 1\n", 1, 1, "expected 'def train"),
        ("", 1, 1, "empty program"),
        ("def train(w, g, m, v, lr):\n  u = g *\n", 2, None, "syntax error"),
        (_body("u = g * lr") + "def f(w, g, m, v, lr):\n  return g, m, v\n", 4, 1, "only one"),
    ],
)
def test_malformed_text_names_line_column_and_problem(
    text: str, line: int | None, column: int | None, words: str
) -> None:
    e = _error(text)
    assert words in str(e), str(e)
    assert e.line == line, str(e)
    if column is not None:
        assert e.column == column, str(e)
    assert str(e).startswith("prog.txt"), str(e)


def test_text_is_never_executed(tmp_path) -> None:
    marker = tmp_path / "pwned"
    text = _body(f"u = __import__('os').system('touch {marker}')")
    with pytest.raises(ProgramError):
        parse(text)
    assert not marker.exists()


def test_non_string_input_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        parse(b"def train(w, g, m, v, lr): pass")  # type: ignore[arg-type]


def test_read_reports_file_and_line_of_check_problems(tmp_path) -> None:
    path = tmp_path / "bad.prog"
    path.write_text(_body("x = w * lr", "u = interp(g, m, x)"))
    with pytest.raises(ProgramError) as info:
        programs.read(path)
    assert str(info.value).startswith(f"{path}:3:"), str(info.value)
    assert "interp() argument 3 must be a scalar" in str(info.value)


def test_read_accepts_a_valid_file(tmp_path) -> None:
    path = tmp_path / "ok.prog"
    path.write_text(ADAMW_TEXT)
    assert programs.read(path) == parse(ADAMW_TEXT)


def test_non_finite_constants_are_rejected() -> None:
    with pytest.raises(ProgramError, match="finite"):
        Statement("u", "mul", ("g", float("nan")))
    e = _error(_body("u = g * 1e999"))
    assert "finite" in str(e)


def test_programs_are_frozen_hashable_values() -> None:
    p = parse(ADAMW_TEXT)
    q = parse(ADAMW_TEXT.replace("0.01", "0.02"))
    assert p != q and {p, q, parse(ADAMW_TEXT)} == {p, q}
    with pytest.raises(AttributeError):
        p.statements = ()  # type: ignore[misc]
    edited = p.replace_statement(5, Statement("wd", "mul", ("w", 0.02)))
    assert edited == q and p != q
