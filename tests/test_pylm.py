"""The pylm family: Python source that ships with Python, one pass over it, a model that learns,
and ``evosearch rank`` on it like on any task."""

from __future__ import annotations

import json
import math

import jax
import numpy as np
import pytest

from evosearch.cli import main
from programs import library
from proxy_tasks import evaluate, get_task
from proxy_tasks.data import pysource
from proxy_tasks.data.pysource import is_validation, python_source, source_files
from proxy_tasks.tasks.pylm import SIZES


def test_every_size_is_registered_and_larger_sizes_have_more_parameters():
    tasks = [get_task(f"pylm/{size}") for size in ("xs", "s", "m", "l", "xl")]
    params = [t.n_params for t in tasks]
    assert params == sorted(params) and 20e6 < params[-1] < 30e6
    assert set(SIZES) == {"xs", "s", "m", "l", "xl"}


@pytest.mark.parametrize("size", list(SIZES))
def test_one_pass_over_distinct_windows_at_every_size(size):
    task = get_task(f"pylm/{size}")
    b = task.budget
    assert b.steps * b.batch_size * task.context + 1 == task.train_bytes
    assert task.n_train == b.steps * b.batch_size  # exactly the windows the budget draws
    if size in ("xs", "s"):  # building a large size's data is covered by the description test
        assert len(task.data["train_text"]) == task.train_bytes
        idx = task.batch_indices(0)
        assert np.unique(idx).size == idx.size == task.n_train  # every window once


def test_data_are_deterministic_and_recorded_in_the_description():
    task = get_task("pylm/xs")
    first = {k: np.array(v) for k, v in task.make_data().items()}
    python_source.cache_clear()
    source_files.cache_clear()
    again = type(task)(**{k: v for k, v in SIZES["xs"].items() if k != "lr_scale"})
    for key, value in again.make_data().items():
        np.testing.assert_array_equal(value, first[key])
    assert again.corpus.sha256 == task.corpus.sha256
    assert task.corpus.sha256 in task.description
    assert f"{task.train_bytes:,} train bytes" in task.description
    # validation files never train, and the split is a property of each path alone
    train, val = source_files()
    assert val and not set(train) & set(val)
    assert all(is_validation(p) for p in val) and not any(is_validation(p) for p in train)


def test_the_corpus_skips_tests_installed_packages_and_generated_files(tmp_path):
    files = {"a.py": "x = 1\n" * 50, "pkg/b.py": "y = 2\n" * 50,
             "site-packages/c.py": "no", "test/d.py": "no", "lib2to3/tests/data/e.py": "no",
             "_sysconfigdata__linux.py": "no", "config-3.11-x86_64/f.py": "no",
             "__pycache__/g.py": "no", "notes.txt": "no"}
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    train, val = source_files(str(tmp_path))
    assert sorted(train + val) == ["a.py", "pkg/b.py"]
    corpus = python_source(100, str(tmp_path))
    assert corpus.train.size == 100 and corpus.summary()["train_bytes"] == 100
    with pytest.raises(ValueError, match="needs 1,000,000"):
        python_source(1_000_000, str(tmp_path))


def test_xs_trains_in_seconds_and_its_loss_falls():
    task = get_task("pylm/xs")
    before = float(task.val_loss(task.unflatten(jax.numpy.asarray(task.init_params(0))),
                                 {k: jax.numpy.asarray(v) for k, v in task.data.items()}))
    scores = evaluate(task, [library.load("adamw")],
                      lrs=[task.lr_scale / 3], seeds=(0,))
    after = float(scores.best_loss[0])
    assert not scores.failed[0]
    assert after < before - 1.0 and after < math.log(pysource.VOCAB_SIZE) - 2.0


def test_rank_ranks_programs_on_pylm_xs(tmp_path, capsys):
    out = tmp_path / "rank.json"
    code = main(["rank", "--tasks", "pylm/xs", "--programs", "adamw,lion", "--seeds", "2",
                 "--tune-seeds", "0", "--lrs", "10", "--json", str(out)])
    assert code == 0
    captured = capsys.readouterr()
    assert "pylm/xs" in captured.out and "layout" in captured.err  # the device line
    data = json.loads(out.read_text())
    assert sorted(data["ranking"]) == ["adamw", "lion"]
    for name in ("adamw", "lion"):
        entry = data["per_task"]["pylm/xs"][name]
        assert len(entry["losses"]) == 2 and entry["best_lr"] == 10.0
        assert entry["mean"] < math.log(256)
