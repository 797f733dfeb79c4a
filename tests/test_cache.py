"""The fitness cache: cosmetic variants hit, the functional key catches algebraic equals."""

from __future__ import annotations

import json

from evosearch.engine.cache import FitnessCache
from programs import fingerprint, library, parse
from proxy_tasks.suites import Score

ADAMW = library.load("adamw")


def _variant_text() -> str:
    # AdamW with renamed temporaries, independent statements swapped and dead code added.
    return """def train(w, g, m, v, lr):
  m = interp(g, m, 0.9)
  sq = square(g)
  junk = exp(w)
  v = interp(sq, v, 0.999)
  root = sqrt(v)
  decay = w * 0.01
  step = m / root
  step = decay + step
  lr = lr * 0.001
  step = step * lr
  return step, m, v
"""


def test_cosmetic_variants_hit_the_same_entry():
    cache = FitnessCache()
    cache.put(fingerprint(ADAMW), 0, Score(0.5))
    variant = parse(_variant_text())
    assert cache.lookup(fingerprint(variant), variant, 0) == Score(0.5)
    other = library.load("lion")
    assert cache.lookup(fingerprint(other), other, 0) is None
    assert cache.get(fingerprint(ADAMW), 1) is None  # stages are separate
    assert (cache.stats.lookups, cache.stats.hits) == (2, 1)
    assert cache.stats.hit_rate == 0.5


def test_functional_key_catches_algebraic_equals():
    doubled = parse("def train(w, g, m, v, lr):\n  u = g * 2.0\n  u = u * lr\n  return u, m, v\n")
    summed = parse("def train(w, g, m, v, lr):\n  u = g + g\n  u = u * lr\n  return u, m, v\n")
    assert fingerprint(doubled) != fingerprint(summed)
    for functional, expected in ((False, None), (True, Score(0.25))):
        cache = FitnessCache(functional=functional)
        cache.put(fingerprint(doubled), 0, Score(0.25), doubled)
        assert cache.lookup(fingerprint(summed), summed, 0) == expected
    assert cache.stats.functional_hits == 1
    # Filed under the structural key too: the next look-up needs no functional fingerprint.
    assert cache.get(fingerprint(summed), 0) == Score(0.25)


def test_round_trip_through_json():
    cache = FitnessCache(functional=True)
    cache.put("a", 0, Score(1.5, seconds=0.25, per_task={"t": 1.5}), ADAMW)
    cache.put("a", 1, Score(9.0, failed=True, error="diverged"))
    cache.lookup("a", ADAMW, 0)
    again = FitnessCache.from_json(json.loads(json.dumps(cache.to_json())))
    assert again.entries == cache.entries
    assert again.aliases == cache.aliases
    assert again.stats == cache.stats
