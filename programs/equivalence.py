"""Do two programs behave the same? A numeric check, never a symbolic one.

sympy alone cannot be trusted to say that a rewrite is harmless: ``sqrt(x**2)`` is ``|x|`` only for
real ``x``, ``sign(0)`` is 0 where ``x / |x|`` is undefined, and every division in the language
carries an ``eps`` guard that sympy does not see. So every rewrite the simplifier keeps is checked
by running both programs with the reference semantics on the same random inputs for several
steps, each carrying its own state from zeros, and comparing the updates.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from programs.program import Program
from programs.reference import NumpyBackend, run_flat

_LEAF_SIZES = (16, 8)  # two tensors, so that per-tensor and global reductions differ
_STEPS = 6


@cache
def _inputs(seed: int) -> tuple[list[np.ndarray], list[np.ndarray], list[float], NumpyBackend]:
    rng = np.random.default_rng(seed)
    n = sum(_LEAF_SIZES)

    def away_from_zero(signs: np.ndarray) -> np.ndarray:
        # Sizes in [0.1, 4]: an input near zero is where eps guards differ (``rsqrt(x**3)``
        # against ``|x|**-1.5``), which says nothing about whether a rewrite is right.
        return signs * 10.0 ** rng.uniform(-1.0, 0.6, size=n)

    ws = [away_from_zero(rng.choice([-1.0, 1.0], size=n)) for _ in range(_STEPS)]
    # Gradients keep their usual sign three steps in four, as in training, so that EMAs matter.
    usual = rng.choice([-1.0, 1.0], size=n)
    gs = [away_from_zero(np.where(rng.random(n) < 0.75, usual, -usual)) for _ in range(_STEPS)]
    lrs = [float(x) for x in rng.uniform(0.5, 1.5, size=_STEPS)]
    segments = np.repeat(np.arange(len(_LEAF_SIZES)), _LEAF_SIZES)
    return ws, gs, lrs, NumpyBackend(segments, len(_LEAF_SIZES))


def updates(program: Program, seed: int = 0) -> list[np.ndarray]:
    """The program's updates over a few steps on fixed random inputs (float64, from zero
    state; weights, gradients and learning rates drawn anew each step). The program must be
    valid."""
    ws, gs, lrs, backend = _inputs(seed)
    m = np.zeros_like(ws[0])
    v = np.zeros_like(ws[0])
    out = []
    for w, g, lr in zip(ws, gs, lrs, strict=True):
        update, m, v = run_flat(program, w, g, m, v, lr, backend)
        out.append(np.array(update))
    return out


_NEAR_SINGULAR = 0.01
"""The share of values that may miss ``rtol``: where an intermediate value is near zero,
``x / (|x| + eps)`` and ``sign(x)`` differ by ``eps / |x|`` (relatively: by anything, where the
exact form cancels to 0, as AddSign's ``g * (1 - 1)`` does), and sums that nearly cancel
(``0.1 g + 0.9 m``) make such points common enough to show up in a few hundred values. A wrong
rewrite (a dropped clip, ``sqrt(x**2) = x``) misses on a large share."""


def relative_errors(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """Elementwise ``|a - b|`` relative to the larger magnitude plus the median magnitude, so
    that values far below the typical size compare absolutely (AddSign's ``g * (1 - 1)`` is 0
    in one form and ``g * eps / |m|`` in a guarded one); ``None`` if the non-finite values
    differ."""
    fa, fb = np.isfinite(a), np.isfinite(b)
    if not np.array_equal(fa, fb) or not np.array_equal(a[~fa], b[~fb], equal_nan=True):
        return None
    x, y = a[fa], b[fb]
    if x.size == 0:
        return np.zeros(0)
    size = np.maximum(np.abs(x), np.abs(y))
    diff = np.abs(x - y)
    scale = size + float(np.median(size))
    return np.divide(diff, scale, out=np.zeros_like(diff), where=diff > 0)


def same_behaviour(a: Program, b: Program, *, rtol: float = 1e-4, seed: int = 0) -> bool:
    """Do ``a`` and ``b`` (both valid) compute the same updates on random inputs?

    Every update value must agree within ``rtol`` except at most 1% of them (see
    ``_NEAR_SINGULAR``): equal up to the language's ``eps`` guards.
    """
    with np.errstate(all="ignore"):
        ua, ub = updates(a, seed), updates(b, seed)
    errors = [relative_errors(x, y) for x, y in zip(ua, ub, strict=True)]
    if any(e is None for e in errors):
        return False
    flat = np.concatenate(errors)
    if flat.size == 0:
        return True
    return bool(np.count_nonzero(flat > rtol) <= _NEAR_SINGULAR * flat.size)
