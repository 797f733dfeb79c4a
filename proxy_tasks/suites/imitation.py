"""A suite that rewards behaving like a target program: a benchmark of the search, not a proxy.

``imitate:<target>`` (a library name such as ``lion``, or a path to a ``.prog`` file) scores a
program by how far its updates point from the target's when both see the same inputs: synthetic
gradient streams (a slowly drifting signal plus noise, with per-coordinate scales spread over
three decades), weights on a random walk and a warmup-cosine ``lr``. Fitness is ``1 - cos``
between the program's updates and the target's, all steps taken as one vector: 0 for the
target, whatever its lr scale, and larger the more the directions or the step-to-step profile
(the lr schedule, the weight decay's share) differ.

Why it exists: a search on the proxy tasks can fail to find a program for two reasons, because
the fitness does not make it the best (the landscape), or because the mutations do not reach it
in the budget (the search). This suite removes the first reason: the target *is* the optimum.
How many evaluations a search from AdamW needs to reach ``imitate:lion``'s optimum measures the
second (``experiments/reachability/``). It is a diagnostic of the search operators. The headline
search never uses it: its fitness looks at the target's behaviour, which a search for new
optimizers must not.

Runs on numpy with the reference step (milliseconds per program, no compilation), like the
``numpy`` suite.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from programs import Program, ProgramError, library
from programs.reference import NumpyBackend, run_flat
from proxy_tasks.suites.base import WORST_FITNESS, Score, SuiteError, check_request
from proxy_tasks.suites.numpy import adamw_baseline

PREFIX = "imitate:"

STREAMS = 4
"""Independent gradient streams, laid out as the leaves of one flat parameter vector (so that
``norm``, ``dot`` and ``global_norm`` see several tensors, as in training)."""
DIM = 64
"""Coordinates per stream."""
WEIGHT_SCALE = 2.0
"""Spread of the weights: large enough that a weight decay of 0.1 is a visible part of a sign
update. Lion without its weight decay scores 0.019 here; with weights of 0.5 and a per-step
cosine it scored about 0.001, and searches dropped the decay."""
STAGE_STEPS = {"s": 40, "m": 100, "l": 250}
"""Steps per stage: longer streams show long-memory differences (b2 = 0.99 against 0.999)."""


def load_target(spec: str) -> Program:
    """The program named by ``spec``: a library name or a ``.prog`` file, checked."""
    try:
        return library.resolve(spec)
    except (LookupError, ProgramError) as e:
        raise SuiteError(f"imitation target: {e.args[0] if e.args else e}") from None


@dataclass(frozen=True)
class _Stream:
    """The inputs every program sees at one stage: ``(steps, STREAMS * DIM)`` arrays."""

    w: np.ndarray
    g: np.ndarray
    lr: np.ndarray


def _make_stream(steps: int, seed: int) -> _Stream:
    rng = np.random.default_rng([seed, 0x1717])
    n = STREAMS * DIM
    scale = 10.0 ** rng.uniform(-2.0, 1.0, size=n)
    drift = np.empty((steps, n))
    drift[0] = rng.normal(size=n)
    for t in range(1, steps):  # AR(1) signal with a memory of about 30 steps, signs change
        drift[t] = 0.97 * drift[t - 1] + np.sqrt(1 - 0.97**2) * rng.normal(size=n)
    g = scale * (0.5 * drift + rng.normal(size=(steps, n)))
    w = WEIGHT_SCALE * rng.normal(size=n) + np.cumsum(0.02 * rng.normal(size=(steps, n)), axis=0)
    t = np.arange(steps)
    warm = max(1, steps // 20)
    lr = np.where(t < warm, (t + 1) / warm,
                  0.5 * (1 + np.cos(np.pi * np.clip(t - warm, 0, None) / max(steps - warm, 1))))
    return _Stream(w.astype(np.float32), g.astype(np.float32), lr.astype(np.float32))


def _updates(program: Program, stream: _Stream) -> np.ndarray | None:
    """The program's update at every step, or None if any update or state is not finite."""
    n = stream.w.shape[1]
    backend = NumpyBackend(np.repeat(np.arange(STREAMS), DIM), STREAMS)
    m = np.zeros(n, np.float32)
    v = np.zeros(n, np.float32)
    out = np.empty_like(stream.g)
    for t in range(len(stream.g)):
        update, m, v = run_flat(program, stream.w[t], stream.g[t], m, v, float(stream.lr[t]),
                                backend)
        if not (np.isfinite(update).all() and np.isfinite(m).all() and np.isfinite(v).all()):
            return None
        out[t] = update
    return out


def _distance(updates: np.ndarray, target: np.ndarray) -> float:
    """``1 - cos`` between the whole trajectories of updates (all steps as one vector).

    One overall scale is free (a program's lr scale), but the step-to-step profile is not: a
    program that ignores ``lr`` misses the schedule, and one without weight decay misses the
    part of each step that pulls the weights in. Zero against non-zero counts as orthogonal."""
    # Element-wise sums, not ``a @ b``: BLAS threads contending with busy evaluator processes
    # made each 64K-element dot product take milliseconds.
    a = updates.astype(np.float64).ravel()
    b = target.astype(np.float64).ravel()
    na, nb = np.sqrt(np.sum(a * a)), np.sqrt(np.sum(b * b))
    if na == 0.0 or nb == 0.0:
        return 0.0 if na == nb else 1.0
    return float(max(0.0, 1.0 - np.sum(a * b) / (na * nb)))


class ImitationSuite:
    """Three stages of growing length (``s``, ``m``, ``l``); fitness = distance to the target."""

    stage_names = tuple(STAGE_STEPS)

    def __init__(self, target: str) -> None:
        self.target_spec = target
        self.name = PREFIX + target
        self.target = load_target(target)
        self.streams = tuple(_make_stream(steps, seed) for seed, steps
                             in enumerate(STAGE_STEPS.values()))
        self.target_updates = []
        for stream in self.streams:
            updates = _updates(self.target, stream)
            if updates is None:
                raise SuiteError(f"imitation target {target!r} is not finite on the streams")
            self.target_updates.append(updates)

    def evaluate(self, programs: Sequence[Program], stage: int) -> list[Score]:
        stage = check_request(programs, stage, self.stage_names, self.name)
        name = self.stage_names[stage]
        out = []
        for program in programs:
            start = time.perf_counter()
            updates = _updates(program, self.streams[stage])
            seconds = time.perf_counter() - start
            if updates is None:
                out.append(Score(WORST_FITNESS, failed=True, seconds=seconds))
                continue
            d = _distance(updates, self.target_updates[stage])
            out.append(Score(d, seconds=seconds, per_task={name: d}))
        return out

    def baseline(self, stage: int) -> Score:
        return adamw_baseline(self, stage)
