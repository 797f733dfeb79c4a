"""Islands, aging, tournaments and migration."""

from __future__ import annotations

import numpy as np
import pytest

from evosearch.engine.population import Population


def test_oldest_leaves_and_islands_split_evenly():
    p = Population(7, 2)
    assert p.capacity == [4, 3]
    p.fill(0)
    assert len(p) == 7 and set(p) == {0}
    for rid in range(1, 5):
        assert p.add(0, rid) == 0
    assert list(p.islands[0]) == [1, 2, 3, 4]
    assert p.add(0, 5) == 1


def test_tournament_picks_the_best_of_a_sample():
    p = Population(10, 1)
    p.fill(0)
    for rid in range(1, 11):
        p.add(0, rid)
    key = lambda rid: (0, float(rid))  # noqa: E731 - smaller id is better
    rng = np.random.default_rng(0)
    whole = {p.tournament(rng, 0, 10, key) for _ in range(20)}
    assert whole == {1}
    picks = [p.tournament(rng, 0, 2, key) for _ in range(2000)]
    # The best of two uniform draws without replacement: P(id = 1) = 2/10.
    assert 0.16 < picks.count(1) / 2000 < 0.24
    assert 10 not in picks


def test_migration_moves_each_best_to_the_next_island():
    p = Population(6, 3)
    for i in range(3):
        p.islands[i].extend([10 * i + 1, 10 * i + 2])
    moves = p.migrate(lambda rid: (0, float(rid % 10)))
    assert moves == [(0, 1, 1), (1, 2, 11), (2, 0, 21)]
    assert list(p.islands[1]) == [12, 1]


def test_round_trip_and_bad_sizes():
    p = Population(5, 2)
    p.fill(3)
    assert Population.from_json(p.to_json()).islands == p.islands
    with pytest.raises(ValueError):
        Population(1, 2)
