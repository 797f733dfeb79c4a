"""``evaluate(task, programs, lrs, seeds) -> Scores``: train every program at every learning rate
and seed, and pick each program's best learning rate.

Lower is better everywhere. A run that saw NaN or inf scores the task's ``worst_loss`` (see
:class:`proxy_tasks.task.Task`) and never disturbs another run. Same programs, lrs and seeds
give the same scores: data order and initial weights come from the seed alone, and the compiled
computation is deterministic on CPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from programs.program import Program
from proxy_tasks.encoding import encode_batch
from proxy_tasks.lr_policy import CoarseToFine, Grid, LrPolicy, grid_for
from proxy_tasks.registry import get_task
from proxy_tasks.task import Task


@dataclass(frozen=True)
class Scores:
    """Every run of one :func:`evaluate` call on one task.

    ``losses[p, i, s]`` is program ``p``'s validation loss at lr multiplier ``lrs[p, i]`` and
    seed ``seeds[s]`` (``worst_loss`` for a failed run, flagged in ``failed_runs``). The best
    lr is the one with the lowest mean over seeds (ties: the smaller lr). ``coarse`` holds the
    coarse grid's scores when a :class:`~proxy_tasks.lr_policy.CoarseToFine` policy ran.
    """

    task: str
    losses: np.ndarray
    failed_runs: np.ndarray
    lrs: np.ndarray
    seeds: tuple[int, ...]
    worst_loss: float
    seconds: np.ndarray
    coarse: Scores | None = field(default=None, repr=False)

    @property
    def mean_losses(self) -> np.ndarray:
        """``(programs, lrs)``: mean over seeds."""
        return self.losses.mean(axis=2)

    @property
    def best_index(self) -> np.ndarray:
        """``(programs,)``: index of the best lr."""
        return np.argmin(self.mean_losses, axis=1)

    @property
    def best_lr(self) -> np.ndarray:
        """``(programs,)``: the best lr multiplier."""
        return self.lrs[np.arange(len(self.lrs)), self.best_index]

    @property
    def best_loss(self) -> np.ndarray:
        """``(programs,)``: mean loss over seeds at the best lr."""
        return self.mean_losses[np.arange(len(self.lrs)), self.best_index]

    @property
    def best_seed_losses(self) -> np.ndarray:
        """``(programs, seeds)``: each seed's loss at the best lr (for paired tests)."""
        return self.losses[np.arange(len(self.lrs)), self.best_index]

    @property
    def failed(self) -> np.ndarray:
        """``(programs,)``: some run failed at every lr."""
        return self.failed_runs.any(axis=2).all(axis=1)


def _as_task(task: Task | str) -> Task:
    if isinstance(task, str):
        return get_task(task)
    if not isinstance(task, Task):
        raise TypeError(f"task must be a Task or a task name, got {type(task).__name__}")
    return task


def _as_seeds(seeds: Sequence[int] | int) -> tuple[int, ...]:
    if isinstance(seeds, int | np.integer):
        seeds = (int(seeds),)
    out = tuple(int(s) for s in seeds)
    if not out:
        raise ValueError("seeds: need at least one seed")
    if len(set(out)) != len(out):
        raise ValueError(f"seeds must be distinct, got {out}")
    return out


def evaluate(
    task: Task | str,
    programs: Sequence[Program] | Program,
    lrs: Sequence[float] | np.ndarray | LrPolicy | None = None,
    seeds: Sequence[int] | int = (0,),
    layout: str | None = None,
) -> Scores:
    """Train each program at each lr multiplier and seed on ``task``; see :class:`Scores`.

    ``lrs``: ``None`` for the default quarter-decade grid from 0.1x to 10x the task's
    :attr:`~proxy_tasks.task.Task.lr_scale`; a policy from :mod:`proxy_tasks.lr_policy` (its
    multipliers are relative to ``lr_scale`` too); or explicit multipliers of each program's
    ``lr`` input, a sequence shared by all programs or a ``(programs, lrs)`` array (taken as
    they are). ``Scores.lrs`` holds the multipliers actually used. Invalid programs raise
    :class:`programs.ProgramError` (a ``ValueError``) naming the program's index before
    anything trains.
    """
    from proxy_tasks.training import train_runs

    task = _as_task(task)
    if isinstance(programs, Program):
        programs = [programs]
    programs = list(programs)
    seeds = _as_seeds(seeds)
    encoded = encode_batch(programs)
    for e in encoded:
        e.capacity()  # raises for a program too large, before any training
    policy = grid_for(lrs, len(programs))

    def run(mults: np.ndarray, run_seeds: tuple[int, ...], which=None) -> Scores:
        chosen = encoded if which is None else [encoded[i] for i in which]
        losses, ok, seconds = train_runs(task, chosen, mults, run_seeds, layout=layout)
        return Scores(task.name, losses, ~ok, np.asarray(mults, np.float64), run_seeds,
                      float(np.float32(task.worst_loss)), seconds)

    if isinstance(policy, np.ndarray):
        return run(policy, seeds)
    if isinstance(policy, Grid):
        mults = np.array(policy.multipliers) * task.lr_scale
        return run(np.broadcast_to(mults, (len(programs), len(mults))), seeds)
    assert isinstance(policy, CoarseToFine)
    coarse = np.array(policy.coarse.multipliers) * task.lr_scale
    coarse_mults = np.broadcast_to(coarse, (len(programs), len(coarse)))
    coarse = run(coarse_mults, seeds[: policy.coarse_seeds])
    centers, extra_seconds = _extend_at_edges(coarse, policy, run)
    fine = run(policy.fine(centers), seeds)
    return Scores(fine.task, fine.losses, fine.failed_runs, fine.lrs, fine.seeds,
                  fine.worst_loss, fine.seconds + coarse.seconds + extra_seconds, coarse=coarse)


def _extend_at_edges(coarse: Scores, policy: CoarseToFine, run) -> tuple[np.ndarray, np.ndarray]:
    """Each program's best coarse multiplier, after walking past the grid's edge for programs
    whose best point is on it (see :class:`CoarseToFine`). Returns the centres for the fine grid
    and the extra seconds spent per program."""
    mults = np.asarray(policy.coarse.multipliers)
    centers = coarse.best_lr.copy()
    best = coarse.best_loss.astype(np.float64).copy()
    extra = np.zeros(len(centers))
    if len(mults) < 2 or policy.extend == 0:
        return centers, extra
    index = coarse.best_index
    direction = np.where(index == 0, -1, np.where(index == len(mults) - 1, 1, 0))
    direction[coarse.failed] = 0  # failed everywhere: no direction to follow
    up, down = mults[-1] / mults[-2], mults[0] / mults[1]
    for _ in range(policy.extend):
        moving = np.flatnonzero(direction)
        if moving.size == 0:
            break
        trial = centers[moving] * np.where(direction[moving] > 0, up, down)
        scores = run(trial[:, None], coarse.seeds, which=moving)
        extra[moving] += scores.seconds
        loss = scores.mean_losses[:, 0]
        better = loss < best[moving]
        centers[moving[better]] = trial[better]
        best[moving[better]] = loss[better]
        direction[moving[~better]] = 0
    return centers, extra
