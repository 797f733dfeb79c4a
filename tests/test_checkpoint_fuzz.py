"""Checkpoints edited by hand, by accident or by an attacker: every field of a real checkpoint
is given wrong types, negative and huge numbers, emptied containers, duplicated items, and
each mutant is resumed with ``evosearch search --resume``. Each must be refused with one line
naming the file (exit 2, the folder byte-identical afterwards) or resume and finish normally
(and ``evosearch report`` read it); nothing may escape as a traceback."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from run_folders import interrupted_run, snapshot

from evosearch import cli
from evosearch.run.progress import read_log


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory) -> Path:
    out = interrupted_run(tmp_path_factory.mktemp("fuzz") / "run", 6)
    search = json.loads((out / "checkpoint.json").read_text())["search"]
    # The fields worth fuzzing are all there.
    assert search["in_flight"] and search["candidates"] and search["waiting"]
    assert len(search["lineage"]) >= 3 and search["best_id"] is not None
    return out


# --- mutants ----------------------------------------------------------------------------------


def paths(value: Any, path: tuple = ()) -> Iterator[tuple]:
    """Every value's path, sampling the first and last item of each list and object (the
    items between are checked by the same code)."""
    yield path
    if isinstance(value, dict):
        keys = list(value)
        if path[-1:] in (("entries",), ("outcomes",)):  # keyed by data, not field names
            keys = sorted({keys[0], keys[-1]}) if keys else []
        for key in keys:
            yield from paths(value[key], (*path, key))
    elif isinstance(value, list) and value:
        for i in sorted({0, len(value) - 1}):
            yield from paths(value[i], (*path, i))


def replacements(value: Any) -> list[Any]:
    """Values of the wrong type, out of range, emptied or duplicated, for one field."""
    if isinstance(value, bool):
        out: list[Any] = ["x", None, 0]
    elif isinstance(value, int):
        out = ["x", None, True, [], -1, 10**30, value + 1, 1.5]
    elif isinstance(value, float):
        out = ["x", None, True, -1.0, 1e300]
    elif isinstance(value, str):
        out = [None, [], "", 7, value + "x"]
    elif isinstance(value, list):
        out = ["x", None, {}, [], value[:-1], [*value, value[0]]] if value else ["x", {}, [1]]
    elif isinstance(value, dict):
        out = ["x", None, [], {}, dict(list(value.items())[:-1])]
    else:  # null
        out = ["x", True, 0, -1]
    return [r for r in out if r != value or type(r) is not type(value)]


def mutants(data: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for section in ("search", "run", "config"):
        for path in paths(data[section], (section,)):
            if section == "config" and len(path) > 1:
                continue  # the config's own checks are tested with the config
            parent = data
            for key in path[:-1]:
                parent = parent[key]
            original = parent[path[-1]]
            for value in replacements(original):
                parent[path[-1]] = value
                yield ".".join(map(str, path)) + f" = {json.dumps(value)[:30]}", copy.deepcopy(data)
            parent[path[-1]] = original


def test_every_mutated_checkpoint_is_refused_in_one_line_or_resumes(saved_run, tmp_path, capsys):
    original = json.loads((saved_run / "checkpoint.json").read_text())
    folder = tmp_path / "run"
    refused = resumed = 0
    for name, data in mutants(original):
        if not folder.exists():
            shutil.copytree(saved_run, folder)
        (folder / "checkpoint.json").write_text(json.dumps(data))
        before = snapshot(folder)
        code = cli.main(["search", "--resume", "--out", str(folder), "--quiet",
                         "--backend", "inprocess"])
        out, err = capsys.readouterr()
        if code == 2:
            refused += 1
            lines = err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("evosearch search: error: "), (
                name, err)
            assert "checkpoint" in lines[0], (name, err)
            assert snapshot(folder) == before, name
        else:
            resumed += 1
            assert code == 0, (name, err)
            assert "finished:" in out, (name, out)
            batches, _ = read_log(folder / "log.jsonl")
            assert [r["batch"] for r in batches] == list(range(1, len(batches) + 1)), name
            (folder / "checkpoint.json").write_text(json.dumps(data))  # report the mutant
            assert cli.main(["report", str(folder), "--no-plots"]) == 0, name
            capsys.readouterr()
            shutil.rmtree(folder)
    assert refused > 300 and resumed > 0  # both outcomes were exercised


# --- and nothing a real search saves is refused -----------------------------------------------


@pytest.mark.parametrize("overrides", [
    [],
    ["cache.functional=true", "evolution.neutral=0.5"],
    ["evolution.islands=2", "evolution.migration_interval=4", "restart.plateau=12",
     "restart.scope=worst"],
    ["search.hall_of_fame=20", "search.meta_validate=15", "restart.source=initial"],
    ["funnel.threshold=quantile", "funnel.min_members=2", "search.max_children=20"],
])
def test_every_state_a_search_passes_through_is_accepted(overrides):
    """Saved after every batch (where the runner checkpoints), after a commanded restart or an
    injected program and before the first batch, each state loads and saves back unchanged."""
    from evosearch.backends.evaluate import evaluate_texts
    from evosearch.config import Config, apply_overrides
    from evosearch.engine.evolution import Evolution
    from programs import library
    from proxy_tasks.suites.numpy import NumpySuite

    suite = NumpySuite()
    config = apply_overrides(Config(), [
        "search.suite=numpy", "search.max_evaluations=45", "evolution.population=8",
        "evolution.tournament=2", "executor.batch_size=3", "executor.in_flight=3",
        "restart.plateau=0", *overrides,
    ])
    baselines = [suite.baseline(k).fitness for k in range(len(suite.stage_names))]
    engine = Evolution(config, suite.stage_names, baselines, library.load("adamw"))

    phases = set()

    def saved_and_loaded() -> None:
        data = json.loads(json.dumps(engine.to_json()))
        assert Evolution.from_json(config, data).to_json() == data
        engine.prune()
        phases.add(engine.phase)

    saved_and_loaded()
    consumed = 0
    while not engine.done:
        while len(engine.in_flight) < config.executor.in_flight and engine.next_batch():
            pass
        saved_and_loaded()
        if not engine.in_flight:
            continue
        batch = engine.in_flight[0]
        engine.consume(batch.id, evaluate_texts(suite, [(j.text, j.stage) for j in batch.jobs]))
        consumed += 1
        if consumed == 3 and engine.best_id is not None:  # as identification does
            engine.inject(library.load("lion"), engine.best_id, "fitted constants")
        if consumed == 5:
            engine.restart("initial", reason="command")
        saved_and_loaded()
    assert {"search", "done"} <= phases and engine.injected
    if "search.meta_validate=15" in overrides:  # more best than promoted: some need scoring
        assert "meta" in phases
