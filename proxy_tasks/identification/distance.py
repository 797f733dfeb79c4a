"""How far a candidate's updates are from the target's, with the overall lr scale fitted.

Both are ``(steps, n)`` arrays from the same teacher-forced stream. Each coordinate is weighted
by the inverse of the target's mean square update on it, so that a coordinate whose gradients
are a thousand times smaller counts as much as any other (else the largest coordinates would hide
what an optimizer does to small gradients: an ``eps``, a sign). The candidate's overall scale is
free: ``c`` minimises the weighted squared error in closed form, and the distance is what is
left, relative to the target's own weighted size:

    distance = min_c sum_ti k_i (c u_ti - u*_ti)^2 / sum_ti k_i u*_ti^2   in [0, 1]

0 for the target itself (or any program that computes the same up to a constant factor), 1 for
a candidate orthogonal to it (or all zeros). The fitted ``c`` is baked into the program that
identification emits, so that the exported optimizer takes the target's learning rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FLOOR = 1e-12
"""Relative floor of a coordinate's weight: a coordinate the target never moves is weighted as
one that moves ``FLOOR`` times the average, not infinitely."""


@dataclass(frozen=True)
class Fit:
    distance: float
    scale: float


def coordinate_weights(target: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """``k_i``: the inverse mean square of the target's update on each coordinate."""
    rows = target if mask is None else target[mask]
    ms = np.mean(rows * rows, axis=0)
    floor = FLOOR * max(float(np.mean(ms)), 1e-300)
    return 1.0 / np.maximum(ms, floor)


def fit(updates: np.ndarray, target: np.ndarray, weights: np.ndarray,
        mask: np.ndarray | None = None) -> Fit:
    """The distance and the fitted scale (see the module docstring); ``mask`` selects the steps
    that count (a trace's held-out tail), all by default."""
    if mask is not None:
        updates, target = updates[mask], target[mask]
    uu = float(np.sum(weights * np.sum(updates * updates, axis=0)))
    ut = float(np.sum(weights * np.sum(updates * target, axis=0)))
    tt = float(np.sum(weights * np.sum(target * target, axis=0)))
    if tt == 0.0:
        return Fit(0.0 if uu == 0.0 else 1.0, 1.0)
    if uu == 0.0 or not np.isfinite(uu) or not np.isfinite(ut):
        return Fit(1.0, 1.0)
    scale = ut / uu
    distance = max(0.0, 1.0 - ut * ut / (uu * tt))
    return Fit(min(distance, 1.0), scale)


def step_errors(updates: np.ndarray, target: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Each step's relative error ``|c u_t - u*_t| / |u*_t|`` (0 where both are zero, inf
    where only the target is zero)."""
    diff = np.linalg.norm(scale * updates - target, axis=1)
    size = np.linalg.norm(target, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(size > 0, diff / np.where(size > 0, size, 1.0),
                        np.where(diff > 0, np.inf, 0.0))
