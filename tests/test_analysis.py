"""Abstract execution, liveness across steps, dead-code removal and the dataflow graph."""

import numpy as np
import pytest

import programs
from programs import Kind, Program, Statement, check, graph, liveness, parse, remove_dead_code


def body(*lines: str, ret: str = "return u, m, v") -> Program:
    return parse("def train(w, g, m, v, lr):\n" + "".join(f"  {x}\n" for x in lines) + f"  {ret}\n")


@pytest.mark.parametrize("name", programs.library.names())
def test_every_library_program_is_valid(name: str) -> None:
    assert check(programs.library.load(name)) == []


def test_kinds_are_inferred() -> None:
    p = body("n = norm(g)", "s = lr * 2.0", "t = g * s", "c = cosine_sim(g, m)", "u = t * n")
    assert programs.infer_kinds(p) == [Kind.SCALAR, Kind.SCALAR, Kind.TENSOR, Kind.SCALAR,
                                       Kind.TENSOR]


@pytest.mark.parametrize(
    ("lines", "ret", "words"),
    [
        (("x = w * lr", "u = interp(g, m, x)"), "return u, m, v", "argument 3 must be a scalar"),
        (("u = clip(g, g)",), "return u, m, v", "argument 2 must be a scalar"),
        (("n = norm(lr)", "u = g * n"), "return u, m, v", "argument 1 must be a tensor"),
        (("d = dot(g, 1.0)", "u = g * d"), "return u, m, v", "argument 2 must be a tensor"),
        (("u = lr * 2.0", "x = g * u"), "return u, m, v", "must be a tensor, got a scalar"),
        (("u = w * lr",), "return u, m, v", "does not depend on the gradient g"),
        (("n = norm(g)", "u = n * lr"), "return u, m, v", "must be a tensor"),
    ],
)
def test_check_rejects_with_reason(lines, ret, words) -> None:
    problems = check(body(*lines, ret=ret))
    assert problems, "expected the program to be rejected"
    assert any(words in str(p) for p in problems), problems


def test_check_rejects_programs_built_without_the_parser() -> None:
    use_before_def = Program((Statement("u", "mul", ("g", "x")),), ("u", "m", "v"))
    assert "used before it is defined" in str(check(use_before_def)[0])
    unknown = Program((Statement("u", "frobnicate", ("g",)),), ("u", "m", "v"))
    assert "unknown function" in str(check(unknown)[0])
    arity = Program((Statement("u", "sign", ("g", "m")),), ("u", "m", "v"))
    assert "takes 1 arguments" in str(check(arity)[0])
    undefined_output = Program((Statement("u", "sign", ("g",)),), ("q", "m", "v"))
    assert "not defined" in str(check(undefined_output)[0])


def test_dependence_on_g_through_state_across_steps() -> None:
    # The update reads only m, but m carries g from the previous step: valid (a lagged update).
    lagged = body("u = sign(m)", "m = g * 1.0")
    assert check(lagged) == []
    # Through both slots: update <- v <- m <- g.
    chained = body("u = v * lr", "v = m * 1.0", "m = g * 1.0")
    assert check(chained) == []
    # m carries w only: invalid.
    no_g = body("u = sign(m)", "m = w * 1.0")
    assert "does not depend on the gradient" in str(check(no_g)[0])


def test_the_language_does_not_import_jax() -> None:
    # The search's driver checks and fingerprints every child; it must not pay for jax.
    import subprocess
    import sys

    code = "import sys, programs; programs.check(programs.library.load('adamw')); " \
        "print('jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_liveness_within_and_across_steps() -> None:
    p = body(
        "dead = cos(w)",  # 0: dead
        "m = interp(g, m, 0.9)",  # 1: live: update reads it
        "v = interp(g, v, 0.5)",  # 2: dead: nothing reads v
        "u = sign(m)",  # 3: live
    )
    info = liveness(p)
    assert info.statements == {1, 3}
    assert info.state == {"m"}
    assert programs.redundancy(p) == pytest.approx(0.5)


def test_state_write_is_dead_when_next_step_never_reads_it() -> None:
    # m is written from g but never read: the write is dead across steps.
    p = body("m = g * 2.0", "u = g * lr")
    assert liveness(p).statements == {1}
    # Reading m makes the write live, even though the read comes first in the step.
    q = body("u = m * lr", "m = g * 2.0")
    assert liveness(q).statements == {0, 1}


def test_remove_dead_code_keeps_behaviour() -> None:
    p = body(
        "a = cos(w)",
        "m = interp(g, m, 0.9)",
        "x = tanh(m)",
        "v = interp(x, v, 0.5)",
        "u = sign(m)",
        "a = sin(u)",
    )
    q = remove_dead_code(p)
    assert len(q) == 2 and check(q) == []
    rng = np.random.default_rng(0)
    w = rng.normal(size=7)
    grads = [rng.normal(size=7) for _ in range(5)]
    _, up = programs.train(p, w, grads, 0.1)
    _, uq = programs.train(q, w, grads, 0.1)
    np.testing.assert_allclose(np.array(up), np.array(uq))


def test_graph_has_statements_inputs_outputs_and_recurrent_state_edges() -> None:
    p = programs.library.load("lion")
    g = graph(p)
    statements = [n for n, d in g.nodes(data=True) if d["kind"] == "statement"]
    assert len(statements) == len(p)
    assert g.has_edge("out:m", "in:m") and g.edges["out:m", "in:m"]["recurrent"]
    assert not g.has_edge("out:v", "in:v")  # Lion never reads v
    assert g.nodes["out:v"]["live"] is False
    assert g.has_edge("in:g", 0)  # c = interp(g, m, 0.9)
    assert all(d["live"] for n, d in g.nodes(data=True) if d["kind"] == "statement")


def test_graph_marks_dead_statements() -> None:
    p = body("d = cos(w)", "u = g * lr")
    g = graph(p)
    assert g.nodes[0]["live"] is False and g.nodes[1]["live"] is True


def test_resolve_reads_files_and_library_names_and_names_the_known_ones(tmp_path):
    from programs import library as lib

    assert lib.resolve("lion") == lib.load("lion")
    path = tmp_path / "mine.prog"
    path.write_text(lib.source("sgd"))
    assert lib.resolve(str(path)) == lib.load("sgd")
    with pytest.raises(LookupError, match="adamw"):
        lib.resolve("nonesuch")
    with pytest.raises(LookupError, match="no such program file"):
        lib.resolve(str(tmp_path / "missing.prog"))
