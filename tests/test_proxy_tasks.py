"""Tasks: registered by name in funnel sizes, deterministic data and seeds, models that train."""

from __future__ import annotations

import numpy as np
import pytest

from programs import library
from proxy_tasks import Budget, evaluate, get_task, task_names
from proxy_tasks.data.sparse import sparse_data

FAMILIES = ("teacher", "teacher10", "char", "glyphs", "illcond", "transformer", "sparse")


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


def test_the_sparse_task_has_zipfian_tokens_balanced_classes_and_clean_validation_labels():
    task = get_task("sparse/m")
    counts = np.bincount(task.data["train_tokens"].ravel(), minlength=task.vocab)
    assert counts[0] > 1000 and np.sum((counts > 0) & (counts < 5)) > task.vocab // 4
    classes = np.bincount(task.data["train_y"], minlength=task.n_classes)
    assert classes.min() > 0.5 * classes.max()  # centred teacher: no class wins by default
    noisy = sparse_data(task.vocab, task.length, task.n_train, task.n_val, noise=0.3)
    np.testing.assert_array_equal(noisy["val_y"], task.data["val_y"])
    assert 0.15 < np.mean(noisy["train_y"] != task.data["train_y"]) < 0.3  # 7/8 of 30 %
    with pytest.raises(ValueError, match="label noise"):
        sparse_data(64, 4, 16, 16, noise=1.5)
    with pytest.raises(ValueError, match="vocab"):
        sparse_data(1, 4, 16, 16)


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


@pytest.mark.parametrize("name", ["char/xs", "glyphs/xs", "transformer/xs", "sparse/xs"])
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


def test_cross_entropy_of_huge_equal_logits_is_not_rounded_to_zero():
    # A search blew the weights up to 1.6e8 so that every logit was the same huge number:
    # logsumexp(l) - l[label] then rounds to 0 in float32. Shifted first, it is log(classes).
    import jax.numpy as jnp

    from proxy_tasks.models import cross_entropy

    huge = jnp.full((4, 10), -1.5657963e8, jnp.float32)
    assert float(cross_entropy(huge, jnp.arange(4))) == pytest.approx(np.log(10.0), rel=1e-5)
    confident = jnp.zeros((2, 10), jnp.float32).at[0, 3].set(3e8).at[1, 3].set(3e8)
    losses = float(cross_entropy(confident, jnp.array([3, 4])))
    assert losses == pytest.approx(1.5e8, rel=1e-3)  # one right, one wrong by 3e8: mean 1.5e8


def test_a_program_that_blows_the_weights_up_scores_no_better_than_chance():
    # The program a search on `diverse` found exploiting that rounding (fitness 0.0 at stage l).
    from programs import parse

    program = parse("""
def train(w, g, m, v, lr):
  g2 = exp(lr)
  m = interp(g, m, 0.9)
  v = interp(g2, v, 0.999)
  sqrt_v = sqrt(v)
  t0 = negative(m)
  update = t0 / sqrt_v
  wd = rsqrt(w)
  update = update + wd
  lr = arccos(lr)
  update = update * lr
  t1 = arccosh(m)
  return update, t1, v
""")
    task = get_task("wide10/s")
    score = float(evaluate(task, [program], lrs=[0.1], seeds=[0]).losses[0, 0, 0])
    assert score >= np.log(10.0) * 0.99
