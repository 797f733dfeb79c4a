"""Tasks: registered by name in funnel sizes, deterministic data and seeds, models that train."""

from __future__ import annotations

import numpy as np
import pytest

from programs import library
from proxy_tasks import Budget, evaluate, get_task, task_names

FAMILIES = ("teacher", "teacher10", "char", "glyphs", "illcond")


def _cost(task) -> float:
    """A rough cost model: parameters x steps x batch (what a training step's FLOPs scale with)."""
    return task.n_params * task.budget.steps * task.budget.batch_size


def test_every_family_comes_in_funnel_sizes():
    names = set(task_names())
    for family in FAMILIES:
        for size in ("xs", "s", "m", "l"):
            assert f"{family}/{size}" in names
        s, m, l = (get_task(f"{family}/{size}") for size in ("s", "m", "l"))
        assert _cost(s) < _cost(m) < _cost(l)


@pytest.mark.parametrize("name", [f"{f}/{s}" for f in FAMILIES for s in ("xs", "s", "m")])
def test_data_init_and_batches_are_deterministic(name):
    task = get_task(name)
    again = type(task).make_data(task)  # regenerated, not the cached copy
    for key, value in task.data.items():
        np.testing.assert_array_equal(value, again[key])
    assert task.init_params(0).shape == (task.n_params,)
    assert task.init_params(0).dtype == np.float32
    np.testing.assert_array_equal(task.init_params(3), task.init_params(3))
    assert not np.array_equal(task.init_params(3), task.init_params(4))
    idx = task.batch_indices(2)
    assert idx.shape == (task.budget.steps, task.budget.batch_size)
    assert idx.min() >= 0 and idx.max() < task.n_train
    np.testing.assert_array_equal(idx, task.batch_indices(2))
    assert np.isfinite(task.worst_loss) and task.worst_loss > 0
    assert task.name == name and task.description


def test_the_teacher_task_has_noisy_training_labels_and_clean_validation_labels():
    clean, noisy = get_task("teacher10/m").data, get_task("teacher/m").data
    np.testing.assert_array_equal(clean["val_y"], noisy["val_y"])
    disagree = np.mean(clean["train_y"] != noisy["train_y"])
    assert 0.05 < disagree < 0.3  # 10 % vs 20 % of labels replaced (some by the same class)


def test_the_char_corpus_ships_with_python():
    data = get_task("char/s").data
    assert len(data["train_text"]) > 400_000
    assert data["train_text"].max() < 97 and data["val_pos"].max() < len(data["val_text"])


def test_schedules_warm_up_then_decay_to_zero():
    sched = Budget(100, 8).lr_schedule()
    assert sched[0] == pytest.approx(0.2) and sched[4] == pytest.approx(1.0)
    assert np.all(np.diff(sched[5:]) <= 0) and sched[-1] < 0.01
    np.testing.assert_array_equal(Budget(10, 8, schedule="constant").lr_schedule(), 1.0)
    with pytest.raises(ValueError, match="unknown schedule"):
        Budget(10, 8, schedule="linear")


@pytest.mark.parametrize("name", ["char/xs", "glyphs/xs"])
def test_each_kind_of_model_trains(name):
    """AdamW at its tuned lr clearly beats the untrained model (teacher and illcond are
    trained throughout the other tests)."""
    task = get_task(name)
    trained = evaluate(task, [library.load("adamw")]).best_loss[0]  # the default grid
    untrained = evaluate(task, [library.load("adamw")], lrs=[1e-9]).best_loss[0]
    assert trained < 0.9 * untrained


def test_unknown_task_names_suggest_the_close_ones():
    with pytest.raises(KeyError, match="char/s"):
        get_task("chars/s")
