"""A tiny suite on numpy: real training, milliseconds per program, no compilation.

The search's own machinery (determinism, resume, dead workers, overhead) is tested and
benchmarked on this suite, because a jax suite costs seconds of compilation per process. It
trains with the reference step (:func:`programs.reference.run_flat`) on two small problems,
one per funnel stage: noisy linear least squares, then logistic regression, each with
mini-batch gradients from a fixed seed and a small learning-rate grid. It is a
:class:`~proxy_tasks.suites.base.Suite` like any other; it is not a proxy for anything.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from programs import Program, library
from programs.reference import NumpyBackend, run_flat
from proxy_tasks.suites.base import WORST_FITNESS, Score, Suite, check_request

LEARNING_RATES = (1.0, 10.0, 100.0, 1000.0)
"""Multipliers of the lr input; library programs carry their own scale (AdamW: lr * 1e-3)."""


@dataclass(frozen=True)
class _Problem:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    logistic: bool
    steps: int
    batch: int

    def loss_and_grad(
        self, w: np.ndarray, x: np.ndarray, y: np.ndarray
    ) -> tuple[float, np.ndarray]:
        z = x @ w
        if self.logistic:
            p = 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))
            loss = float(np.mean(np.logaddexp(0.0, z) - y * z))
            return loss, x.T @ (p - y) / len(y)
        r = z - y
        return float(0.5 * np.mean(r * r)), x.T @ r / len(y)


def _make(name: str, dim: int, n: int, logistic: bool, steps: int, seed: int) -> _Problem:
    rng = np.random.default_rng(seed)
    w_true = rng.normal(size=dim) / np.sqrt(dim)
    x = rng.normal(size=(n, dim)) * np.linspace(0.3, 3.0, dim)  # ill-conditioned on purpose
    z = x @ w_true
    if logistic:
        y = (rng.random(n) < 1.0 / (1.0 + np.exp(-3.0 * z))).astype(float)
    else:
        y = z + 0.3 * rng.normal(size=n)
    cut = n * 3 // 4
    return _Problem(name, x[:cut], y[:cut], x[cut:], y[cut:], logistic, steps, 16)


class NumpySuite:
    """Two stages: ``lsq`` (least squares, 20-d, 40 steps) and ``logreg`` (logistic, 40-d, 80)."""

    name = "numpy"
    stage_names = ("lsq", "logreg")

    def __init__(self) -> None:
        self.problems = (
            _make("lsq", 20, 400, False, 40, 1),
            _make("logreg", 40, 800, True, 80, 2),
        )

    def _train(self, program: Program, problem: _Problem, lr: float) -> float:
        rng = np.random.default_rng(7)  # same batches for every program: paired comparison
        dim = problem.x_train.shape[1]
        w = np.zeros(dim)
        m = np.zeros(dim)
        v = np.zeros(dim)
        backend = NumpyBackend(np.zeros(dim, dtype=int), 1)
        n = len(problem.y_train)
        with np.errstate(all="ignore"):
            for _ in range(problem.steps):
                idx = rng.integers(n, size=problem.batch)
                _, g = problem.loss_and_grad(w, problem.x_train[idx], problem.y_train[idx])
                update, m, v = run_flat(program, w, g, m, v, lr, backend)
                w = w - update
                if not np.all(np.isfinite(w)):
                    return float("nan")
            loss, _ = problem.loss_and_grad(w, problem.x_val, problem.y_val)
        return loss

    def evaluate(self, programs: Sequence[Program], stage: int) -> list[Score]:
        stage = check_request(programs, stage, self.stage_names, self.name)
        out = []
        for program in programs:
            start = time.perf_counter()
            problem = self.problems[stage]
            losses = [self._train(program, problem, lr) for lr in LEARNING_RATES]
            finite = [(loss, lr) for loss, lr in zip(losses, LEARNING_RATES, strict=True)
                      if np.isfinite(loss)]
            seconds = time.perf_counter() - start
            if not finite:
                out.append(Score(WORST_FITNESS, failed=True, seconds=seconds))
                continue
            loss, lr = min(finite)
            out.append(Score(min(loss, WORST_FITNESS), seconds=seconds,
                             per_task={problem.name: loss}, best_lr={problem.name: lr}))
        return out

    def baseline(self, stage: int) -> Score:
        return adamw_baseline(self, stage)


@cache
def adamw_baseline(suite: Suite, stage: int) -> Score:
    """The library AdamW's score on ``suite``'s stage, once per suite object."""
    return suite.evaluate([library.load("adamw")], stage)[0]
