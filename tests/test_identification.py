"""Identification: targets read without eval, distances that make the target the unique optimum,
constant fitting that lands on the target's own numbers, exports checked against the target, and
the command end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evosearch.cli import main
from programs import format, library, parse
from proxy_tasks.identification import TargetError, load_target
from proxy_tasks.identification.exported import check_export
from proxy_tasks.identification.recover import finish
from proxy_tasks.identification.spec import parse_call
from proxy_tasks.identification.streams import probe_stream
from proxy_tasks.identification.targets import target_updates
from proxy_tasks.suites import SuiteError, get_suite

HEAD = "def train(w, g, m, v, lr):\n"
OPTAX_LION = parse(HEAD + "  c = interp(g, m, 0.9)\n  u = sign(c)\n  wd = w * 0.001\n"
                   "  u = u + wd\n  update = u * lr\n  m = interp(g, m, 0.99)\n"
                   "  return update, m, v\n")
NEAR_LION = parse(HEAD + "  c = interp(g, m, 0.87)\n  u = sign(c)\n  wd = w * 0.002\n  u = u + wd\n"
                  "  lr = lr * 0.0001\n  update = u * lr\n  m = interp(g, m, 0.995)\n"
                  "  return update, m, v\n")


def test_target_text_is_read_off_the_syntax_tree_never_evaluated():
    spec = parse_call("optax:lion(b1=0.95, b2=0.98, weight_decay=-0.3, mask=None)")
    assert spec.name == "lion"
    assert dict(spec.kwargs) == {"b1": 0.95, "b2": 0.98, "weight_decay": -0.3, "mask": None}
    for text, message in [
        ("optax:lion(b1=__import__('os'))", "must be a literal"),
        ("optax:lion(b1=0.9 + 0.1)", "must be a literal"),
        ("optax:lion(0.1)", "positional arguments"),
        ("optax:lion(**{'b1': 1})", r"\*\*kwargs"),
        ("optax:lion.__class__", "expected NAME"),
        ("optax:lion(b1=1e400)", "must be finite"),
        ("optax:lion(b1=1, b1=2)", "given twice|keyword argument repeated"),
        ("jax:lion", "expected one of optax, torch"),
        ("optax:" + "x" * 600, "at most 500"),
        ("optax:lïon", "only ASCII"),
    ]:
        with pytest.raises(TargetError, match=message):
            parse_call(text)


def test_unknown_names_and_keywords_are_named_with_suggestions():
    with pytest.raises(TargetError, match="optax has no optimizer 'lino'; did you mean lion"):
        load_target("optax:lino")
    with pytest.raises(TargetError, match="takes no keyword 'beta1'"):
        load_target("optax:lion(beta1=0.9)")
    with pytest.raises(TargetError, match="torch.optim has no optimizer 'Adamm'"):
        load_target("torch:Adamm")
    with pytest.raises(SuiteError, match="non-finite updates"):
        get_suite("identify:optax:sgd(learning_rate=1e308, momentum=2.0)")


def test_exact_programs_score_zero_and_neighbours_do_not():
    suite = get_suite("identify:optax:lion")
    variants = {"exact": OPTAX_LION, "b1 0.89": parse(format(OPTAX_LION).replace("0.9)", "0.89)")),
                "no decay": parse(format(OPTAX_LION).replace("w * 0.001", "w * 0.0")),
                "adamw": library.load("adamw")}
    scores = dict(zip(variants, suite.evaluate(list(variants.values()), 1), strict=True))
    assert scores["exact"].fitness < 1e-20
    assert all(scores[k].fitness > 1e-3 for k in ("b1 0.89", "no decay", "adamw"))
    assessment = suite.assess(OPTAX_LION, fit_scale=False)
    assert assessment.exact and assessment.max_step_error < 1e-12


def test_torch_and_optax_targets_agree_where_they_are_the_same_optimizer():
    stream = probe_stream("p", 30, 5)
    rmsprop = parse(HEAD + "  g2 = square(g)\n  v = interp(g2, v, 0.99)\n  d = sqrt(v)\n"
                    "  update = g / d\n  update = update * lr\n  return update, m, v\n")
    torch_updates = target_updates(load_target("torch:RMSprop(alpha=0.99)").make, stream)
    program_updates = target_updates(_program_target(rmsprop).make, stream)
    assert np.allclose(torch_updates, program_updates, rtol=1e-6, atol=0)


def _program_target(program):
    from proxy_tasks.identification.targets import Target, _program_stepper

    return Target("program", "program", lambda segments: _program_stepper(program, segments))


def test_finishing_fits_constants_to_the_targets_own_numbers():
    suite = get_suite("identify:optax:lion")
    recovery = finish(NEAR_LION, suite)
    assert recovery.exact
    text = format(recovery.program)
    assert "0.9)" in text and "0.99)" in text and "0.001" in text  # rounded to the target's
    _, report = check_export(recovery.program, suite, "optax")
    assert report["ok"] and report["max_step_error"] < 1e-10
    _, wrong = check_export(NEAR_LION, suite, "optax")
    assert not wrong["ok"] and "differs from the target" in wrong["message"]


def test_a_recorded_trace_is_a_target(tmp_path):
    target = load_target("optax:rmsprop(decay=0.95)")
    stream = probe_stream("p", 64, 9)
    updates = target_updates(target.make, stream)
    path = tmp_path / "trace.npz"
    np.savez(path, w=stream.w, g=stream.g, lr=stream.lr, update=updates,
             segments=stream.segments)
    suite = get_suite(f"identify:{path}")
    exact = parse(HEAD + "  g2 = square(g)\n  v = interp(g2, v, 0.95)\n  s = v + 1e-8\n"
                  "  d = sqrt(s)\n  update = g / d\n  update = update * lr\n"
                  "  return update, m, v\n")
    assert suite.evaluate([exact], 2)[0].fitness < 1e-9
    assert suite.assess(exact, fit_scale=False).exact
    assert suite.evaluate([library.load("sgd")], 0)[0].fitness > 0.1


@pytest.mark.parametrize(("arrays", "message"), [
    ({"w": np.zeros((10, 3)), "g": np.zeros((10, 3)), "lr": np.ones(10)}, "lacks update"),
    ({"w": np.zeros((10, 3)), "g": np.zeros((10, 4)), "lr": np.ones(10),
      "update": np.zeros((10, 3))}, "g must have shape"),
    ({"w": np.zeros((10, 3)), "g": np.full((10, 3), np.nan), "lr": np.ones(10),
      "update": np.zeros((10, 3))}, "g holds NaN"),
    ({"w": np.zeros((3, 3)), "g": np.zeros((3, 3)), "lr": np.ones(3),
      "update": np.zeros((3, 3))}, "at least 8 steps"),
    ({"w": np.zeros((10, 3)), "g": np.zeros((10, 3)), "lr": np.ones(10),
      "update": np.array([object()] * 30).reshape(10, 3)}, "not a readable"),
])
def test_a_malformed_trace_is_one_clear_error(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    if any(a.dtype == object for a in arrays.values()):
        np.savez(path, **arrays, allow_pickle=True)
    else:
        np.savez(path, **arrays)
    with pytest.raises(SuiteError, match=message):
        get_suite(f"identify:{path}")
    path.write_bytes(b"not a zip file")
    with pytest.raises(SuiteError, match="not a readable .npz trace"):
        get_suite(f"identify:{path}")


def test_identify_command_recovers_exactly_and_writes_its_result(tmp_path, capsys):
    warm = tmp_path / "near_lion.prog"
    warm.write_text(format(NEAR_LION))
    out = tmp_path / "run"
    status = main(["identify", "optax:lion", "--warm-start", str(warm), "--out", str(out),
                   "--backend", "inprocess", "--max-minutes", "2", "--export", "optax",
                   "--quiet"])
    assert status == 0
    result = json.loads((out / "result.json").read_text())
    assert result["exact"] and result["status"] == "identified"
    assert result["recognized"]["name"] == "lion"
    params = result["recognized"]["params"]
    assert params["b1"] == pytest.approx(0.9) and params["b2"] == pytest.approx(0.99)
    assert params["weight_decay"] == pytest.approx(1e-3, rel=0.01)
    assert result["distance"] < 1e-12 and result["export"]["ok"]
    assert parse((out / "program.prog").read_text()) is not None
    assert (out / "raw.prog").exists() and (out / "optimizer_optax.py").exists()
    assert "exact" in capsys.readouterr().out


def test_identify_command_refuses_a_bad_target_before_writing_anything(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["identify", "optax:lion(b1=os.system)", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("evosearch identify: error:")
    assert not out.exists()
