"""The identification suite: fitness = distance of a candidate's updates to a target's.

``identify:<target>`` is a suite like any other (:class:`proxy_tasks.suites.Suite`): the search,
its cache, funnel, checkpoints and backends run it unchanged. Its stages grow in length and
variety so that the funnel screens cheaply and judges on the hardest evidence:

* ``s``: one short probe stream (40 steps): about 3 ms a candidate;
* ``m``: a longer probe stream and a real training run driven by the target;
* ``l``: long streams (long memory: an EMA of 0.999 against 0.9999 shows only after hundreds of
  steps) and another training run;
* held out (never scored during the search): fresh streams and a fresh training run, on which
  identification reports the emitted program's distance and checks exactness.

Fitness at a stage is :func:`proxy_tasks.identification.distance.fit` over all of the stage's
streams at once, with one fitted lr scale for all (the scale the emitted program gets). For a
recorded trace the stages are its first quarter, half and three quarters, and held out is its
last quarter (with the state carried through the steps before it).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from programs import Program, library
from proxy_tasks.identification.distance import coordinate_weights, step_errors
from proxy_tasks.identification.spec import TargetError
from proxy_tasks.identification.streams import Stream, probe_stream, training_trace
from proxy_tasks.identification.targets import (
    Target,
    _program_stepper,
    is_trace,
    load_target,
    target_updates,
)
from proxy_tasks.identification.traces import load_trace
from proxy_tasks.suites.base import WORST_FITNESS, Score, SuiteError, check_request

PREFIX = "identify:"
STAGE_NAMES = ("s", "m", "l")

TRACE_LR = 0.01
"""Peak learning rate of the training runs recorded with the target (tried 10x smaller once if
the run diverges): a rate at which sign methods and adaptive methods alike train the
logistic-regression problem."""

EXACT = 1e-4
"""A program reproduces the target exactly when every held-out step's relative error is below
this (float64 on both sides; a guard ``eps`` of 1e-8 in the program costs ~1e-5 at most)."""


@dataclass(frozen=True)
class Experiment:
    """One stream, the target's updates on it, the coordinate weights, and which steps count."""

    stream: Stream
    target: np.ndarray
    weights: np.ndarray
    mask: np.ndarray
    size: float  # the target's weighted sum of squares over the steps that count

    @classmethod
    def of(cls, stream: Stream, target: np.ndarray, mask: np.ndarray | None = None) -> Experiment:
        mask = np.ones(stream.steps, bool) if mask is None else mask
        weights = coordinate_weights(target, mask)
        size = float(np.sum(weights * np.sum(target[mask] ** 2, axis=0)))
        return cls(stream, target, weights, mask, size)


@dataclass(frozen=True)
class Assessment:
    """A program against held-out experiments: joint ``distance`` and fitted ``scale``, the
    worst step's relative error at that scale, and whether that is below :data:`EXACT`."""

    distance: float
    scale: float
    max_step_error: float

    @property
    def exact(self) -> bool:
        return self.max_step_error < EXACT


def run_program(program: Program, stream: Stream) -> np.ndarray | None:
    """The program's updates on ``stream`` (teacher-forced), or None if any is not finite."""
    step = _program_stepper(program, stream.segments)
    out = np.empty_like(stream.g)
    with np.errstate(all="ignore"):
        for t in range(stream.steps):
            try:
                out[t] = step(stream.w[t], stream.g[t], float(stream.lr[t]))
            except (ArithmeticError, ValueError, TypeError, AttributeError):
                return None  # scored like a non-finite program, in the driver's fitting too
            if not np.isfinite(out[t]).all():
                return None
    return out


def _runs(program: Program, experiments: Sequence[Experiment]) -> list[np.ndarray] | None:
    """The program's updates on each experiment's stream, or None if any is not finite."""
    runs = []
    for e in experiments:
        u = run_program(program, e.stream)
        if u is None:
            return None
        runs.append(u)
    return runs


def joint_fit(runs: Sequence[np.ndarray], experiments: Sequence[Experiment],
              scale: float | None = None) -> tuple[float, float]:
    """``(distance, scale)`` over several experiments with one scale: the mean of the
    experiments' relative errors, minimised over the scale in closed form (or at the ``scale``
    given)."""
    a = b = 0.0  # distance(c) = (c^2 a - 2 c b) / k + 1
    with np.errstate(over="ignore", invalid="ignore"):
        for u, e in zip(runs, experiments, strict=True):
            tt = e.size
            if tt == 0.0:
                continue
            uu = float(np.sum(e.weights * np.sum(u[e.mask] ** 2, axis=0)))
            ut = float(np.sum(e.weights * np.sum(u[e.mask] * e.target[e.mask], axis=0)))
            a += uu / tt
            b += ut / tt
    if not (np.isfinite(a) and np.isfinite(b)):
        return 1.0, 1.0
    if scale is not None:
        distance = (scale * scale * a - 2.0 * scale * b) / len(experiments) + 1.0
        return float(max(distance, 0.0)), float(scale)
    if a == 0.0:
        return 1.0, 1.0
    scale = b / a
    distance = 1.0 - b * b / (a * len(experiments))
    return float(min(max(distance, 0.0), 1.0)), float(scale)


class IdentificationSuite:
    """See the module docstring. ``target`` is any target text
    (:func:`proxy_tasks.identification.targets.load_target`) or a ``.npz`` trace."""

    stage_names = STAGE_NAMES

    def __init__(self, target: str) -> None:
        self.target_text = target
        self.name = PREFIX + target
        try:
            if is_trace(target):
                self.target: Target | None = None
                self.stages, self.held_out = _trace_experiments(target)
            else:
                self.target = load_target(target)
                self.stages, self.held_out = _probe_experiments(self.target)
        except TargetError as e:
            raise SuiteError(str(e)) from None
        self._baselines: dict[int, Score] = {}

    def _score(self, program: Program, experiments: Sequence[Experiment]) -> Score:
        start = time.perf_counter()
        runs = _runs(program, experiments)
        if runs is None:
            return Score(WORST_FITNESS, failed=True, seconds=time.perf_counter() - start)
        distance, scale = joint_fit(runs, experiments)
        per_task = {e.stream.name: joint_fit([u], [e])[0] for u, e in zip(runs, experiments,
                                                                         strict=True)}
        return Score(distance, seconds=time.perf_counter() - start, per_task=per_task,
                     best_lr={"scale": scale})

    def evaluate(self, programs: Sequence[Program], stage: int) -> list[Score]:
        stage = check_request(programs, stage, self.stage_names, self.name)
        return [self._score(p, self.stages[stage]) for p in programs]

    def baseline(self, stage: int) -> Score:
        stage = check_request([], stage, self.stage_names, self.name)
        if stage not in self._baselines:
            self._baselines[stage] = self._score(library.load("adamw"), self.stages[stage])
        return self._baselines[stage]

    def distance(self, program: Program, experiments: Sequence[Experiment],
                 scale: float | None = None) -> tuple[float, float]:
        """``(distance, scale)`` of ``program`` on ``experiments`` with the scale fitted (or
        fixed at ``scale``); a non-finite program is at distance 1 (or more, at a fixed scale)."""
        runs = _runs(program, experiments)
        if runs is None:
            return (1.0 if scale is None else float("inf")), 1.0
        return joint_fit(runs, experiments, scale)

    def assess(self, program: Program, experiments: Sequence[Experiment] | None = None,
               fit_scale: bool = True) -> Assessment:
        """``program`` on the held-out experiments (or the ones given). ``fit_scale=False``
        judges the program as it is, at scale 1: what its export does with the target's
        learning rate."""
        experiments = self.held_out if experiments is None else experiments
        runs = _runs(program, experiments)
        if runs is None:
            return Assessment(1.0, 1.0, float("inf"))
        distance, scale = joint_fit(runs, experiments, None if fit_scale else 1.0)
        worst = max(float(np.max(step_errors(u[e.mask], e.target[e.mask], scale), initial=0.0))
                    for u, e in zip(runs, experiments, strict=True))
        return Assessment(distance, scale, worst)


def _probe_experiments(target: Target) -> tuple[list[list[Experiment]], list[Experiment]]:
    peak = target.learning_rate

    def probe(name: str, steps: int, seed: int) -> Experiment:
        stream = probe_stream(name, steps, seed, peak)
        return Experiment.of(stream, target_updates(target.make, stream))

    def trace(name: str, steps: int, seed: int) -> Experiment:
        for lr in (TRACE_LR, TRACE_LR / 10):
            stream = training_trace(name, target.make(np.array([0] * 31 + [1])), steps, seed, lr)
            if stream is not None:
                return Experiment.of(stream, target_updates(target.make, stream))
        raise TargetError(f"target {target.text!r}: diverges on the logistic-regression run "
                          f"even at lr {TRACE_LR / 10}")

    stages = [
        [probe("probe40", 40, 0)],
        [probe("probe120", 120, 1), trace("train100", 100, 1)],
        [probe("probe400", 400, 2), trace("train300", 300, 2)],
    ]
    held_out = [probe("heldout400", 400, 100), trace("heldout_train300", 300, 101)]
    return stages, held_out


def _trace_experiments(path: str) -> tuple[list[list[Experiment]], list[Experiment]]:
    stream, updates = load_trace(path)
    steps = stream.steps

    def prefix(k: int, name: str) -> Experiment:
        cut = max(2, steps * k // 4)
        part = Stream(name, stream.w[:cut], stream.g[:cut], stream.lr[:cut], stream.segments)
        return Experiment.of(part, updates[:cut])

    tail = np.zeros(steps, bool)
    tail[steps * 3 // 4:] = True
    held_out = [Experiment.of(stream, updates, tail)]
    return [[prefix(1, "first_quarter")], [prefix(2, "first_half")],
            [prefix(3, "first_three_quarters")]], held_out
