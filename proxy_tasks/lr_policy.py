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


NAMED_POLICIES: dict[str, LrPolicy] = {
    "grid": DEFAULT_POLICY,
    "screen": Grid.around(1.0, 1.0),
    "coarse-to-fine": CoarseToFine(),
    "full": CoarseToFine(coarse=Grid.around(1.5, 0.75), fine_step=0.25, fine_points=3,
                         coarse_seeds=1, extend=3),
}
"""Policies by name, for suite definitions and the command line:

* ``grid``: :data:`DEFAULT_POLICY`, nine points a quarter decade apart;
* ``screen``: three points a decade apart, all a 0.1 s screen can afford;
* ``coarse-to-fine``: :class:`CoarseToFine`'s defaults;
* ``full``: five coarse points over +-1.5 decades (walked further, up to 3 steps, for a program
  whose best is on an edge), then a quarter-decade fine grid on every seed: the fitness stages
  of the built-in suites."""

_GRID_KEYS = {"decades", "step", "center"}
_COARSE_TO_FINE_KEYS = {"coarse", "fine_step", "fine_points", "coarse_seeds", "extend"}


def policy_from_data(value: object, where: str) -> LrPolicy:
    """A policy from its written form (a suite's TOML, the command line):

    * a name of :data:`NAMED_POLICIES` (``"full"``);
    * a list of multipliers (``[0.3, 1.0, 3.0]``): a :class:`Grid`;
    * a table ``{decades = 1.5, step = 0.5}``: ``Grid.around`` (``center`` optional);
    * a table ``{coarse = {decades = 1.5, step = 0.75}, fine_step = 0.25, fine_points = 3,
      coarse_seeds = 1, extend = 3}``: a :class:`CoarseToFine` (keys other than ``coarse``
      optional).

    ``where`` names the setting in error messages (``ValueError``)."""
    if isinstance(value, str):
        policy = NAMED_POLICIES.get(value)
        if policy is None:
            raise ValueError(f"{where}: unknown lr policy {value!r}; named policies: "
                             f"{', '.join(NAMED_POLICIES)}, or a list of multipliers, or a "
                             "table (see proxy_tasks/lr_policy.py)")
        return policy
    if isinstance(value, list | tuple):
        if not value or not all(isinstance(x, int | float) and not isinstance(x, bool)
                                for x in value):
            raise ValueError(f"{where}: a list of lr multipliers must hold numbers, got {value!r}")
        try:
            return Grid(tuple(float(x) for x in value))
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from None
    if isinstance(value, dict):
        try:
            if "coarse" in value:
                unknown = set(value) - _COARSE_TO_FINE_KEYS
                if unknown:
                    raise ValueError(f"unknown keys {sorted(unknown)} (a coarse-to-fine policy "
                                     f"takes {sorted(_COARSE_TO_FINE_KEYS)})")
                coarse = _grid_from_table(value["coarse"])
                rest = {k: _number(value[k], k, int if k != "fine_step" else float)
                        for k in value if k != "coarse"}
                return CoarseToFine(coarse=coarse, **rest)
            return _grid_from_table(value)
        except (ValueError, TypeError) as e:
            raise ValueError(f"{where}: {e}") from None
    raise ValueError(f"{where}: an lr policy is a name, a list of multipliers or a table, "
                     f"got {type(value).__name__}")


def _number(value: object, key: str, kind: type) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} must be a number, got {value!r}")
    if kind is int and not isinstance(value, int):
        raise ValueError(f"{key} must be an integer, got {value!r}")
    return kind(value)


def _grid_from_table(table: object) -> Grid:
    if isinstance(table, list | tuple):
        return Grid(tuple(float(_number(x, "multiplier", float)) for x in table))
    if not isinstance(table, dict):
        raise ValueError(f"a grid is a table {{decades, step}} or a list, got {table!r}")
    unknown = set(table) - _GRID_KEYS
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)} (a grid takes {sorted(_GRID_KEYS)})")
    return Grid.around(**{k: float(_number(v, k, float)) for k, v in table.items()})


def policy_to_data(policy: LrPolicy) -> object:
    """The written form of ``policy``: its name if it has one, else an explicit table or list
    (``policy_from_data(policy_to_data(p)) == p``)."""
    for name, named in NAMED_POLICIES.items():
        if named == policy:
            return name
    if isinstance(policy, Grid):
        return list(policy.multipliers)
    return {"coarse": list(policy.coarse.multipliers), "fine_step": policy.fine_step,
            "fine_points": policy.fine_points, "coarse_seeds": policy.coarse_seeds,
            "extend": policy.extend}
