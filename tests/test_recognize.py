"""Recognition of known optimizers: every library program as itself, under rewrites that keep
what a program computes, and never a look-alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import programs
from programs import Match, Program, ProgramError, Statement, canonical, library, parse, recognize
from programs.analysis import reaching_definitions
from programs.equivalence import same_behaviour
from programs.ops import INPUTS

ROOT = Path(__file__).resolve().parent.parent

# The hyperparameters each library file documents in its first-line comment.
LIBRARY = {
    "adabelief": ("adabelief", {"b1": 0.9, "b2": 0.999, "lr_scale": 1e-3}),
    "adagrad": ("adagrad", {"lr_scale": 0.01}),
    "adam": ("adam", {"b1": 0.9, "b2": 0.999, "lr_scale": 1e-3}),
    "adamw": ("adamw", {"b1": 0.9, "b2": 0.999, "weight_decay": 0.01, "lr_scale": 1e-3}),
    "addsign": ("addsign", {"b": 0.9, "alpha": 1.0, "lr_scale": 0.01}),
    "lion": ("lion", {"b1": 0.9, "b2": 0.99, "weight_decay": 0.1, "lr_scale": 1e-4}),
    "momentum": ("momentum", {"b": 0.9, "lr_scale": 0.01}),
    "nesterov": ("nesterov", {"b": 0.9, "lr_scale": 0.01}),
    "powersign": ("powersign", {"b": 0.9, "base": float(np.e), "lr_scale": 0.01}),
    "rmsprop": ("rmsprop", {"b": 0.99, "lr_scale": 1e-3}),
    "sgd": ("sgd", {"lr_scale": 0.1}),
    "signsgd": ("signsgd", {"lr_scale": 1e-4}),
    "signum": ("signum", {"b": 0.9, "lr_scale": 1e-4}),
}
LION = {"b1": 0.9, "b2": 0.99, "weight_decay": 0.1, "lr_scale": 1e-4}


def assert_match(match: Match | None, name: str, params: dict[str, float]) -> None:
    assert match is not None, f"expected {name}, got nothing"
    assert match.name == name, f"expected {name}, got {match}"
    assert list(match.params) == list(params), match
    for key, value in params.items():
        assert match.params[key] == pytest.approx(value, rel=1e-6, abs=1e-12), (key, match)


def test_library_covers_every_expected_program():
    assert sorted(LIBRARY) == library.names()


@pytest.mark.parametrize("name", sorted(LIBRARY))
def test_library_program_is_recognized_as_itself(name):
    expected_name, params = LIBRARY[name]
    assert_match(recognize(library.load(name)), expected_name, params)


def test_match_prints_like_a_call():
    match = recognize(library.load("lion"))
    assert str(match) == "lion(b1=0.9, b2=0.99, weight_decay=0.1, lr_scale=1e-4)"


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("lion", {"b1": 0.95, "b2": 0.98, "weight_decay": 0.0, "lr_scale": 3e-5}),
        ("lion", {"b1": 0.5, "b2": 0.9999, "weight_decay": 1.0, "lr_scale": 2.0}),
        ("lion", {"b1": 0.99, "b2": 0.9, "weight_decay": 1e-3, "lr_scale": 1e-7}),
        ("signum", {"b": 0.99, "lr_scale": 0.5}),
        ("momentum", {"b": 0.5, "lr_scale": 1.0}),
        ("nesterov", {"b": 0.99, "lr_scale": 0.1}),
        ("adam", {"b1": 0.8, "b2": 0.95, "lr_scale": 0.01}),
        ("adamw", {"b1": 0.95, "b2": 0.99, "weight_decay": 0.3, "lr_scale": 0.01}),
        ("rmsprop", {"b": 0.9, "lr_scale": 0.1}),
        ("adabelief", {"b1": 0.7, "b2": 0.99, "lr_scale": 1.0}),
        ("adamw_split", {"b1": 0.9, "b2": 0.99, "b3": 0.999, "weight_decay": 0.01,
                         "lr_scale": 1e-3}),
        ("adamw_split", {"b1": 0.99, "b2": 0.9, "b3": 0.95, "weight_decay": 0.0,
                         "lr_scale": 0.1}),
        ("powersign", {"b": 0.5, "base": 2.0, "lr_scale": 0.1}),
        ("addsign", {"b": 0.95, "alpha": 0.5, "lr_scale": 0.1}),
        ("sgd", {"weight_decay": 0.05, "lr_scale": 0.1}),
    ],
)
def test_canonical_programs_round_trip(name, params):
    program = canonical(name, params)
    assert not programs.check(program)
    assert_match(recognize(program), name, params)


def test_adamw_split_with_equal_betas_is_adamw():
    program = canonical("adamw_split", {"b1": 0.9, "b2": 0.9, "b3": 0.999, "weight_decay": 0.01,
                                        "lr_scale": 1e-3})
    assert_match(recognize(program), "adamw",
                 {"b1": 0.9, "b2": 0.999, "weight_decay": 0.01, "lr_scale": 1e-3})


def test_adam_with_lions_split_momentum_is_not_lion_nor_adamw():
    # The experiment's variant file: the intermediate between AdamW and Lion.
    program = programs.read(ROOT / "experiments" / "variants" / "adam_split.prog")
    assert_match(recognize(program), "adamw_split",
                 {"b1": 0.9, "b2": 0.99, "b3": 0.999, "weight_decay": 0.01, "lr_scale": 1e-3})
    assert recognize(program, among=("lion", "adamw")) is None


def test_lion_with_equal_betas_is_signum():
    program = canonical("lion", {"b1": 0.9, "b2": 0.9, "weight_decay": 0.0, "lr_scale": 1e-4})
    assert_match(recognize(program), "signum", {"b": 0.9, "lr_scale": 1e-4})


# --- hand-written rewrites of Lion ----------------------------------------------------------------

LION_REWRITES = {
    "renamed, reordered, dead code": """
def train(w, g, m, v, lr):
  scale = lr * 0.0001
  noise = exp(w)
  momentum = interp(g, m, 0.99)
  decay = w * 0.1
  blend = interp(g, m, 0.9)
  direction = sign(blend)
  waste = noise * momentum
  step = direction + decay
  out = step * scale
  return out, momentum, waste
""",
    "slots swapped": """
def train(w, g, m, v, lr):
  c = interp(g, v, 0.9)
  u = sign(c)
  wd = w * 0.1
  u = u + wd
  lr = lr * 0.0001
  update = u * lr
  v = interp(g, v, 0.99)
  return update, m, v
""",
    "interp as (1 - b) g + b m": """
def train(w, g, m, v, lr):
  a = g * 0.1
  b = m * 0.9
  c = a + b
  u = sign(c)
  wd = w * 0.1
  u = u + wd
  lr = lr * 0.0001
  update = u * lr
  x = g * 0.01
  y = m * 0.99
  m = x + y
  return update, m, v
""",
    "interp as g + b (m - g)": """
def train(w, g, m, v, lr):
  d = m - g
  e = d * 0.9
  c = g + e
  u = sign(c)
  wd = w * 0.1
  u = u + wd
  lr = lr * 0.0001
  update = u * lr
  f = d * 0.99
  m = g + f
  return update, m, v
""",
    "sign as x / abs(x)": """
def train(w, g, m, v, lr):
  c = interp(g, m, 0.9)
  a = abs(c)
  u = c / a
  wd = w * 0.1
  u = u + wd
  lr = lr * 0.0001
  update = u * lr
  m = interp(g, m, 0.99)
  return update, m, v
""",
    "sign as x / sqrt(square(x))": """
def train(w, g, m, v, lr):
  c = interp(g, m, 0.9)
  s = square(c)
  r = sqrt(s)
  u = c / r
  wd = w * 0.1
  u = u + wd
  lr = lr * 0.0001
  update = u * lr
  m = interp(g, m, 0.99)
  return update, m, v
""",
    "lr scale split over constants, weight decay applied separately": """
def train(w, g, m, v, lr):
  c = interp(g, m, 0.9)
  u = sign(c)
  k = lr * 0.01
  k = k * 0.1
  k = k / 10.0
  step = u * k
  wd = w * lr
  wd = wd * 0.00001
  update = step + wd
  m = interp(g, m, 0.99)
  return update, m, v
""",
    "weight decay inside a larger scale": """
def train(w, g, m, v, lr):
  c = interp(g, m, 0.9)
  u = sign(c)
  u = u * 4.0
  wd = w * 0.4
  u = u + wd
  lr = lr * 0.000025
  update = u * lr
  m = interp(g, m, 0.99)
  return update, m, v
""",
    "state stored scaled by 10": """
def train(w, g, m, v, lr):
  true_m = m / 10.0
  c = interp(g, true_m, 0.9)
  u = sign(c)
  wd = w * 0.1
  u = u + wd
  lr = lr * 0.0001
  update = u * lr
  new_m = interp(g, true_m, 0.99)
  m = new_m * 10.0
  return update, m, v
""",
    "state stored negated, in v": """
def train(w, g, m, v, lr):
  t = negative(v)
  c = interp(g, t, 0.9)
  u = sign(c)
  wd = w * 0.1
  u = u + wd
  lr = lr * 0.0001
  update = u * lr
  n = interp(g, t, 0.99)
  v = negative(n)
  return update, m, v
""",
}


@pytest.mark.parametrize("rewrite", sorted(LION_REWRITES))
def test_lion_is_recognized_under_rewrites(rewrite):
    program = parse(LION_REWRITES[rewrite])
    assert_match(recognize(program), "lion", LION)


def test_lion_without_weight_decay_reports_zero():
    program = parse("""
def train(w, g, m, v, lr):
  c = interp(g, m, 0.9)
  u = sign(c)
  update = u * lr
  m = interp(g, m, 0.99)
  return update, m, v
""")
    assert_match(recognize(program), "lion", {"b1": 0.9, "b2": 0.99, "weight_decay": 0.0,
                                              "lr_scale": 1.0})


# --- look-alikes ---------------------------------------------------------------------------------

LOOKALIKES = {
    # A fit of b1 = 1, b2 = 0 would "match" Lion: it is signSGD lagged one step.
    "lagged signSGD": """
def train(w, g, m, v, lr):
  u = sign(m)
  update = u * lr
  m = g * 1.0
  return update, m, v
""",
    "Lion with coupled L2 (decay inside the sign)": """
def train(w, g, m, v, lr):
  d = w * 0.1
  h = g + d
  c = interp(h, m, 0.9)
  u = sign(c)
  update = u * lr
  m = interp(h, m, 0.99)
  return update, m, v
""",
    "Lion with tanh for sign": """
def train(w, g, m, v, lr):
  c = interp(g, m, 0.9)
  u = tanh(c)
  update = u * lr
  m = interp(g, m, 0.99)
  return update, m, v
""",
    "Lion normalised per tensor": """
def train(w, g, m, v, lr):
  c = interp(g, m, 0.9)
  n = norm(c)
  u = c / n
  update = u * lr
  m = interp(g, m, 0.99)
  return update, m, v
""",
    "Lion with a constant drift": """
def train(w, g, m, v, lr):
  c = interp(g, m, 0.9)
  u = sign(c)
  u = u + 0.5
  update = u * lr
  m = interp(g, m, 0.99)
  return update, m, v
""",
    "Lion whose step ignores lr": """
def train(w, g, m, v, lr):
  c = interp(g, m, 0.9)
  u = sign(c)
  update = u * 0.001
  m = interp(g, m, 0.99)
  return update, m, v
""",
    "Lion with b1 > 1": """
def train(w, g, m, v, lr):
  c = interp(g, m, 1.2)
  u = sign(c)
  update = u * lr
  m = interp(g, m, 0.99)
  return update, m, v
""",
    "gradient ascent Lion": """
def train(w, g, m, v, lr):
  c = interp(g, m, 0.9)
  u = sign(c)
  u = negative(u)
  update = u * lr
  m = interp(g, m, 0.99)
  return update, m, v
""",
    "Adam on a lagged gradient": """
def train(w, g, m, v, lr):
  g2 = square(m)
  v = interp(g2, v, 0.999)
  s = sqrt(v)
  update = m / s
  update = update * lr
  m = g * 1.0
  return update, m, v
""",
}


@pytest.mark.parametrize("name", sorted(LOOKALIKES))
def test_lookalikes_are_not_lion(name):
    match = recognize(parse(LOOKALIKES[name]))
    assert match is None or match.name != "lion", match
    assert match is None, f"{name} recognized as {match}"


def test_among_restricts_the_answer():
    lion = library.load("lion")
    assert recognize(lion, among=("lion",)).name == "lion"
    assert recognize(lion, among=("signum", "adam")) is None
    assert recognize(library.load("adamw"), among=("adamw",)).name == "adamw"
    with pytest.raises(KeyError, match="unknown optimizer"):
        recognize(lion, among=("lionn",))


def test_invalid_programs_raise():
    with pytest.raises(ProgramError, match="invalid program"):
        recognize(Program((Statement("update", "sign", ("m",)),)))


def test_known_optimizers_lists_every_name():
    names = programs.known_optimizers()
    assert {"lion", "signum", "signsgd", "sgd", "momentum", "nesterov", "adam", "adamw",
            "rmsprop", "adagrad", "adamw_split", "adabelief", "powersign",
            "addsign"} == set(names)


# --- random rewrites of every library program -----------------------------------------------------


def random_fresh_names(program: Program, rng: np.random.Generator) -> Program:
    """Every statement writes a fresh random name (renaming and un-reusing names at once; unlike
    :func:`programs.to_ssa`, which keeps each name's first spelling, nothing of the original
    names survives)."""
    current = {name: name for name in INPUTS}
    out = []
    for i, s in enumerate(program.statements):
        args = tuple(current[a] if isinstance(a, str) else a for a in s.args)
        name = f"n{rng.integers(1_000_000)}_{i}"
        current[s.target] = name
        out.append(Statement(name, s.op, args))
    return Program(tuple(out), tuple(current[n] for n in program.outputs))


def expand_statements(program: Program, rng: np.random.Generator) -> Program:
    """Rewrite some statements into equal arithmetic: interp as sums, sign as x / |x|,
    a constant factor split in two (on SSA programs: fresh names are safe)."""
    out = []
    for i, s in enumerate(program.statements):
        fresh = f"r{i}_"
        coin = rng.random() < 0.6
        if s.op == "interp" and coin and isinstance(s.args[2], float):
            x, y, b = s.args
            if rng.random() < 0.5:  # (1 - b) x + b y
                out += [Statement(fresh + "a", "mul", (x, 1.0 - b)),
                        Statement(fresh + "b", "mul", (y, b)),
                        Statement(s.target, "add", (fresh + "a", fresh + "b"))]
            else:  # x + b (y - x)
                out += [Statement(fresh + "d", "sub", (y, x)),
                        Statement(fresh + "e", "mul", (fresh + "d", b)),
                        Statement(s.target, "add", (x, fresh + "e"))]
        elif s.op == "sign" and coin:
            (x,) = s.args
            if rng.random() < 0.5:
                out += [Statement(fresh + "a", "abs", (x,)),
                        Statement(s.target, "div", (x, fresh + "a"))]
            else:
                out += [Statement(fresh + "s", "square", (x,)),
                        Statement(fresh + "r", "sqrt", (fresh + "s",)),
                        Statement(s.target, "div", (x, fresh + "r"))]
        elif s.op == "mul" and coin and isinstance(s.args[1], float):
            x, c = s.args
            k = float(2.0 ** rng.integers(-3, 4))
            out += [Statement(fresh + "k", "mul", (x, c * k)),
                    Statement(s.target, "div", (fresh + "k", k))]
        else:
            out.append(s)
    return Program(tuple(out), program.outputs)


def add_dead_code(program: Program, rng: np.random.Generator) -> Program:
    statements = list(program.statements)
    for j in range(int(rng.integers(1, 4))):
        position = int(rng.integers(len(statements) + 1))
        visible = [s.target for s in statements[:position]] + ["w", "g", "m", "v"]
        source = visible[rng.integers(len(visible))]
        statements.insert(position, Statement(f"dead{j}", "exp", (source,)))
    return Program(tuple(statements), program.outputs)


def shuffle_independent(program: Program, rng: np.random.Generator) -> Program:
    """A random topological order of an SSA program's dataflow."""
    arg_sources, _ = reaching_definitions(program)
    deps = [{src for src in sources if isinstance(src, int)} for sources in arg_sources]
    done: set[int] = set()
    order = []
    while len(order) < len(deps):
        ready = [i for i in range(len(deps)) if i not in done and deps[i] <= done]
        pick = ready[rng.integers(len(ready))]
        order.append(pick)
        done.add(pick)
    return Program(tuple(program.statements[i] for i in order), program.outputs)


def swap_slots(program: Program) -> Program:
    """m and v exchanged everywhere (an SSA program never writes an input name)."""
    swap = {"m": "v", "v": "m"}
    statements = tuple(
        Statement(s.target, s.op, tuple(swap.get(a, a) if isinstance(a, str) else a
                                        for a in s.args))
        for s in program.statements
    )
    update, m_out, v_out = (swap.get(o, o) for o in program.outputs)
    return Program(statements, (update, v_out, m_out))


def rewrite(program: Program, rng: np.random.Generator) -> Program:
    p = expand_statements(random_fresh_names(program, rng), rng)
    p = shuffle_independent(add_dead_code(p, rng), rng)
    return swap_slots(p) if rng.random() < 0.5 else p


@pytest.mark.parametrize("name", sorted(LIBRARY))
def test_library_program_is_recognized_under_random_rewrites(name):
    rng = np.random.default_rng(sorted(LIBRARY).index(name))
    original = library.load(name)
    expected_name, params = LIBRARY[name]
    for _ in range(4):
        program = rewrite(original, rng)
        assert not programs.check(program), program
        assert same_behaviour(original, program)  # the rewrite itself is faithful
        assert_match(recognize(program), expected_name, params)


@pytest.mark.parametrize("name", sorted(LIBRARY))
def test_simplify_undoes_rewrites_and_keeps_the_match(name):
    rng = np.random.default_rng(100 + sorted(LIBRARY).index(name))
    original = library.load(name)
    expected_name, params = LIBRARY[name]
    for _ in range(2):
        rewritten = rewrite(original, rng)
        simplest = programs.simplify(rewritten)
        assert len(simplest) <= len(original) < len(rewritten), (rewritten, simplest)
        assert_match(recognize(simplest), expected_name, params)
