"""The program encoding: what reaches the compiled interpreter, and what never does."""

from __future__ import annotations

import numpy as np
import pytest

from programs import ProgramError, library, parse, remove_dead_code
from programs.reference import NumpyBackend, run_flat
from proxy_tasks.encoding import (
    CAPACITIES,
    REDUCE_BRANCHES,
    TENSOR_BRANCHES,
    encode,
    encode_batch,
    scalar_table,
)

HEAD = "def train(w, g, m, v, lr):\n"


def prog(body: str):
    return parse(HEAD + body)


@pytest.mark.parametrize("name", library.names())
def test_every_library_program_encodes_into_the_small_capacity(name):
    e = encode(library.load(name))
    assert e.capacity() == CAPACITIES[0]
    padded = e.padded(CAPACITIES[0])
    assert padded["tensor_branch"].shape == (CAPACITIES[0].tensor_statements,)
    assert int(padded["n_tensor"]) == e.n_tensor
    assert e.n_phases == 1  # no library program uses a reduction


def test_lion_costs_four_statements_per_step():
    # c = interp(g, m, b1); u = sign(c); u + w * wd (folded); m = interp(g, m, b2); the
    # update * lr and w -= update are folded into the weight update.
    e = encode(library.load("lion"))
    ops = [TENSOR_BRANCHES[b].op for b in e.tensor_branch]
    assert ops == ["interp", "sign", "add", "interp"]
    assert e.n_scalar == 1  # lr * 1e-4, on the host


def test_dead_code_is_not_encoded():
    live = library.load("adamw")
    dead = parse(str(live).replace(
        "  return update, m, v",
        "  junk = exp(g)\n  junk2 = junk * w\n  lr2 = lr * 3.0\n  return update, m, v",
    ))
    a, b = encode(live), encode(dead)
    assert a.n_tensor == b.n_tensor and a.n_scalar == b.n_scalar
    np.testing.assert_array_equal(a.tensor_branch, b.tensor_branch)
    np.testing.assert_array_equal(a.slot_init, b.slot_init)
    assert encode(remove_dead_code(dead)).n_tensor == a.n_tensor


def test_state_stays_in_its_row_when_it_can():
    # m is overwritten in place: no copy statement at the end of the step.
    e = encode(library.load("adam"))
    assert "copy" not in [TENSOR_BRANCHES[b].op for b in e.tensor_branch]


def test_swapped_state_goes_through_a_spare_row():
    e = encode(prog("  a = g * 0.5\n  b = m + a\n  update = b * lr\n  return update, v, b\n"))
    ops = [TENSOR_BRANCHES[b].op for b in e.tensor_branch]
    assert ops.count("copy") >= 2  # m <- v and v <- b


def test_reductions_start_phases():
    e = encode(prog(
        "  n = norm(g)\n  a = g / n\n  d = dot(a, m)\n  b = a * d\n  m = interp(g, m, 0.9)\n"
        "  update = b * lr\n  return update, m, v\n"
    ))
    assert e.n_phases == 2  # norm starts phase 0, dot starts phase 1
    assert e.reduce_branch.tolist()[0] != 0
    starts = e.phase_start.tolist()
    assert starts[0] == 0 and starts[-1] == e.n_tensor
    for p in range(e.n_phases):
        first = TENSOR_BRANCHES[e.tensor_branch[starts[p]]] if starts[p] < e.n_tensor else None
        reduce = REDUCE_BRANCHES[e.reduce_branch[p]]
        if reduce is not None:
            assert first is not None and first.op == reduce.op


def test_scalar_table_matches_the_reference_on_uniform_values():
    # lr2 and c are uniform; the reference computes them in float32 numpy too.
    p = prog("  c = exp(lr)\n  lr2 = lr * c\n  lr3 = lr2 / 7.0\n  u = sign(g)\n"
             "  update = u * lr3\n  return update, m, v\n")
    e = encode(p)
    lrs = np.linspace(0.1, 1.0, 7).astype(np.float32)
    table = scalar_table(e, lrs)
    backend = NumpyBackend(np.zeros(1, np.int64), 1)
    one = np.ones(1, np.float32)
    for t, lr in enumerate(lrs):
        update, _, _ = run_flat(p, one, one, one * 0, one * 0, float(lr), backend)
        assert table[t, e.update_slot] == pytest.approx(float(update[0]), rel=1e-6)


def test_invalid_programs_are_rejected_with_the_reason():
    bad = prog("  u = sign(lr)\n  update = u * lr\n  return update, m, v\n")
    with pytest.raises(ProgramError, match="update"):
        encode(bad)
    with pytest.raises(ProgramError, match=r"programs\[1\]"):
        encode_batch([library.load("sgd"), bad])
    with pytest.raises(TypeError, match="not a programs.Program"):
        encode_batch(["def train(w, g, m, v, lr): ..."])


def test_a_program_too_large_for_every_capacity_says_so():
    lines = ["  a0 = g * 1.0"] + [f"  a{i} = a{i - 1} + g" for i in range(1, 130)]
    p = prog("\n".join(lines) + "\n  update = a129 * lr\n  return update, m, v\n")
    with pytest.raises(ProgramError, match="too large"):
        encode(p).capacity()
