"""Learning-rate tuning: which multipliers of a program's ``lr`` input to try.

Programs carry their own scale (the library's AdamW computes ``lr * 0.001``), so multiplier 1 is
each program's nominal learning rate; a policy's multipliers are further relative to the task's
:attr:`~proxy_tasks.task.Task.lr_scale` (short, small tasks want larger steps than the nominal
ones, which fit the research note's 400-step tasks). The research note found that
per-program tuning is mandatory (Lion's best lr is 3-10x below AdamW's) and that half-decade
steps miss Lion's win, hence quarter-decade steps. Policies are plain data, so a suite can say
which one each stage uses:

* :class:`Grid`: fixed multipliers for every program (``Grid.around(decades, step)``).
* :class:`CoarseToFine`: a coarse grid on a few seeds, then a fine grid around each program's
  best coarse point on all seeds. Frugal, and it follows a mutated program whose constants
  drifted its scale away from 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _check_multipliers(values: np.ndarray, what: str) -> np.ndarray:
    values = np.asarray(values, np.float64)
    if values.size == 0:
        raise ValueError(f"{what}: no learning rates")
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"{what}: learning-rate multipliers must be positive and finite, "
                         f"got {values.tolist()}")
    return values


@dataclass(frozen=True)
class Grid:
    """The same multipliers for every program."""

    multipliers: tuple[float, ...]

    def __post_init__(self) -> None:
        _check_multipliers(np.array(self.multipliers), "Grid")

    @classmethod
    def around(cls, decades: float = 1.0, step: float = 0.25, center: float = 1.0) -> Grid:
        """``center * 10**k`` for ``k`` from ``-decades`` to ``decades`` in steps of ``step``."""
        if decades < 0 or step <= 0:
            raise ValueError(f"need decades >= 0 and step > 0, got {decades}, {step}")
        ks = np.round(np.arange(-decades, decades + step / 2, step), 6)
        return cls(tuple(float(center * 10.0**k) for k in ks))


@dataclass(frozen=True)
class CoarseToFine:
    """A coarse grid on the first ``coarse_seeds`` seeds, then ``fine_points`` multipliers
    ``fine_step`` decades apart, centred on each program's best coarse point, on every seed.
    The reported scores are the fine grid's.

    ``extend``: when a program's best coarse point is the grid's first or last, the coarse grid
    is walked further in that direction, one coarse step at a time, while the loss improves, at
    most ``extend`` steps. A program whose constants put its best learning rate far from the
    task's usual scale is then tuned, not clipped at the edge; programs inside the grid pay
    nothing for it."""

    coarse: Grid = Grid.around(1.5, 0.5)
    fine_step: float = 0.25
    fine_points: int = 3
    coarse_seeds: int = 1
    extend: int = 2

    def __post_init__(self) -> None:
        if (self.fine_points < 1 or self.fine_step <= 0 or self.coarse_seeds < 1
                or self.extend < 0):
            raise ValueError(f"invalid CoarseToFine {self}")

    def fine(self, centers: np.ndarray) -> np.ndarray:
        """``(programs, fine_points)`` multipliers around each centre."""
        half = (self.fine_points - 1) / 2
        offsets = (np.arange(self.fine_points) - half) * self.fine_step
        return np.asarray(centers, np.float64)[:, None] * 10.0 ** offsets[None, :]


LrPolicy = Grid | CoarseToFine

DEFAULT_POLICY = Grid.around(1.0, 0.25)
"""Nine multipliers, a quarter decade apart, from 0.1x to 10x the task's lr scale."""


def grid_for(lrs: object, n_programs: int) -> np.ndarray | LrPolicy:
    """Normalise :func:`proxy_tasks.evaluate`'s ``lrs`` argument: ``None`` (the default
    policy), a policy, a sequence of multipliers shared by every program, or a
    ``(programs, lrs)`` array."""
    if lrs is None:
        return DEFAULT_POLICY
    if isinstance(lrs, Grid | CoarseToFine):
        return lrs
    arr = np.asarray(lrs, np.float64)
    if arr.ndim == 1:
        arr = np.broadcast_to(_check_multipliers(arr, "lrs"), (n_programs, arr.size))
    elif arr.ndim != 2 or arr.shape[0] != n_programs:
        raise ValueError(f"lrs must be 1-D or (programs={n_programs}, lrs), got shape "
                         f"{arr.shape}")
    return _check_multipliers(arr, "lrs").copy()
