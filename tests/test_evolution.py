"""The engine: warm start, funnel, cache, restarts, determinism, exact continuation.

Fitness is real training (the numpy suite: least squares, then logistic regression, with the
reference step), evaluated in process, consumed in submission order as the runner does.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from search_state import deterministic

from evosearch.backends.evaluate import evaluate_texts
from evosearch.config import Config, ConfigError, apply_overrides
from evosearch.engine.evolution import Evolution
from programs import fingerprint, library
from proxy_tasks.suites.numpy import NumpySuite

SUITE = NumpySuite()
BASELINES = [SUITE.baseline(k).fitness for k in range(2)]


def _config(*overrides: str) -> Config:
    return apply_overrides(Config(), [
        "search.suite=numpy", "search.max_evaluations=90", "evolution.population=16",
        "evolution.tournament=3", "executor.batch_size=3", "executor.in_flight=3",
        "restart.plateau=0", *overrides,
    ])


def _engine(config: Config, warm: str = "adamw") -> Evolution:
    return Evolution(config, SUITE.stage_names, BASELINES, library.load(warm))


def drive(engine: Evolution, submitted: list | None = None, max_batches: int | None = None):
    """Run to the end (or ``max_batches`` consumed), like the runner: after consuming each
    batch, top up to ``in_flight`` batches."""
    depth = engine.config.executor.in_flight

    def top_up():
        while len(engine.in_flight) < depth:
            batch = engine.next_batch()
            if batch is None:
                return
            if submitted is not None:
                submitted.append(batch)

    top_up()
    consumed = 0
    while not engine.done and (max_batches is None or consumed < max_batches):
        if not engine.in_flight:
            top_up()
            continue
        batch = engine.in_flight[0]
        engine.consume(batch.id, evaluate_texts(SUITE, [(j.text, j.stage) for j in batch.jobs]))
        consumed += 1
        top_up()
    return engine


def _state(engine: Evolution) -> dict:
    return deterministic(engine.to_json())


def test_warm_start_is_scored_first_then_fills_the_population():
    engine = _engine(_config())
    first = engine.next_batch()
    adamw = fingerprint(library.load("adamw"))
    assert [(j.stage, j.fingerprint) for j in first.jobs] == [(0, adamw)]
    assert engine.next_batch() is None  # nothing to mutate until the warm start is scored
    engine.consume(first.id, evaluate_texts(SUITE, [(first.jobs[0].text, 0)]))
    # Scored on stage 0: the population is copies of it at once, children can be made while
    # it goes on to stage 1 (AdamW ties its own baseline: promoted).
    assert set(engine.population) == {engine.initial_id} and len(engine.population) == 16
    assert engine.lineage[engine.initial_id].stage == 0 and engine.best() is None
    second = engine.next_batch()
    assert second.jobs[0].stage == 1 and second.jobs[0].fingerprint == adamw
    assert all(j.stage == 0 for j in second.jobs[1:]) and len(second.jobs) == 3
    drive(engine, max_batches=1)
    assert engine.lineage[engine.initial_id].stage == 1
    assert set(engine.population) >= {engine.initial_id}


def test_a_search_runs_the_funnel_and_meta_validates():
    submitted: list = []
    engine = drive(_engine(_config()), submitted)
    c = engine.counters
    assert engine.done
    assert c.evaluations == sum(c.by_stage) == sum(len(b.jobs) for b in submitted)
    assert c.evaluations >= 90 and c.by_stage[1] > 1
    # No job is ever submitted twice: the cache and the in-flight table catch duplicates.
    jobs = Counter((j.fingerprint, j.stage) for b in submitted for j in b.jobs)
    assert max(jobs.values()) == 1
    # Every record on stage 1 passed the screen's threshold (AdamW's stage-0 fitness, loosened
    # by the funnel's factor); every record that stopped on stage 0 did not (or failed).
    bound = engine.funnel.baseline_threshold(0)
    assert bound >= BASELINES[0]
    for r in engine.lineage.records.values():
        if r.stage == 1:
            assert r.scores[0] <= bound
        elif not r.failed:
            assert r.scores[0] > bound
    # Meta-validation: the best programs all have a last-stage score, sorted.
    rows = engine.meta_validation()
    assert len(rows) == engine.config.search.meta_validate
    assert [s.fitness for _, s in rows] == sorted(s.fitness for _, s in rows)
    assert sum(row[0] for row in engine.outcomes.values()) >= c.joined
    assert engine.best().key == min(engine.lineage[rid].key for rid in engine.hall_of_fame)


def test_same_seed_same_trajectory_other_seed_another():
    a = drive(_engine(_config()))
    b = drive(_engine(_config()))
    c = drive(_engine(_config("search.seed=1")))
    assert _state(a) == _state(b)
    assert _state(a) != _state(c)


def test_a_saved_state_continues_exactly():
    whole = drive(_engine(_config()))
    part = drive(_engine(_config()), max_batches=9)
    assert part.in_flight  # saved with batches out
    part.prune()
    saved = json.loads(json.dumps(part.to_json()))
    resumed = drive(Evolution.from_json(_config(), saved))
    whole.prune()
    resumed.prune()
    assert _state(resumed) == _state(whole)


def test_batches_must_be_consumed_in_order():
    engine = _engine(_config())
    batch = engine.next_batch()
    with pytest.raises(ValueError, match="out of order"):
        engine.consume(batch.id + 1, [])
    with pytest.raises(ValueError, match="1 jobs"):
        engine.consume(batch.id, [])


def test_plateau_restarts_from_the_best_and_restart_on_command():
    engine = drive(_engine(_config("restart.plateau=25")))
    assert engine.counters.restarts >= 1
    engine.restart("initial")
    assert set(engine.population) == {engine.initial_id}
    engine.restart("best")
    assert set(engine.population) == {engine.best_id}
    with pytest.raises(ValueError):
        engine.restart("worst")


def test_islands_migrate():
    engine = drive(_engine(_config("evolution.islands=2", "evolution.migration_interval=10")))
    assert engine.counters.migrations >= 2
    islands = {engine.lineage[rid].island for rid in engine.population if rid != 0}
    assert islands == {0, 1}


def test_a_larger_budget_resumes_a_finished_search():
    engine = drive(_engine(_config()))
    evaluations = engine.counters.evaluations
    more = _config("search.max_evaluations=120")
    resumed = Evolution.from_json(more, json.loads(json.dumps(engine.to_json())))
    resumed.resume_budget()
    assert resumed.phase == "search"
    drive(resumed)
    assert resumed.done and resumed.counters.evaluations >= 120 > evaluations


def test_restart_of_the_worst_island_keeps_the_others():
    engine = drive(_engine(_config("evolution.islands=2", "evolution.migration_interval=0")))
    best_of = [engine.key(engine.population.best(i, engine.key)) for i in (0, 1)]
    worst = engine.population.worst(engine.key)
    other = 1 - worst
    assert best_of[worst] >= best_of[other]
    kept = list(engine.population.islands[other])
    engine.restart("initial", scope="worst")
    assert set(engine.population.islands[worst]) == {engine.initial_id}
    assert list(engine.population.islands[other]) == kept
    assert engine.events[-1]["islands"] == [worst]
    with pytest.raises(ValueError):
        engine.restart("initial", scope="some")


def test_worst_island_scope_needs_islands():
    with pytest.raises(ConfigError, match="restart.scope"):
        _config("restart.scope=worst")
