"""The identification benchmark's claims about the language: every zoo member it calls
expressible has a hand-written program that reproduces the target exactly on the held-out
streams, at the target's own learning rate; the ones it calls inexpressible are not matched by
their nearest expressible program."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from programs import parse
from proxy_tasks.suites import get_suite

ZOO_PATH = Path(__file__).resolve().parent.parent / "experiments" / "identify" / "zoo.py"


def _zoo():
    spec = importlib.util.spec_from_file_location("identify_zoo", ZOO_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


ZOO = _zoo().ZOO


@pytest.mark.parametrize("entry", [e for e in ZOO if e.reference], ids=lambda e: e.target)
def test_expressible_members_have_an_exact_reference_program(entry):
    suite = get_suite(f"identify:{entry.target}")
    assessment = suite.assess(parse(entry.reference), fit_scale=False)
    assert assessment.exact, (entry.target, assessment)


def test_inexpressible_members_say_why_and_adam_is_not_its_bias_free_program():
    assert all(e.reason for e in ZOO if not e.reference)
    suite = get_suite("identify:optax:adam")
    bias_free = parse("def train(w, g, m, v, lr):\n  g2 = square(g)\n  m = interp(g, m, 0.9)\n"
                      "  v = interp(g2, v, 0.999)\n  d = sqrt(v)\n  update = m / d\n"
                      "  update = update * lr\n  return update, m, v\n")
    assert not suite.assess(bias_free, fit_scale=False).exact
