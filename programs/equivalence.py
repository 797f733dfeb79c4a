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
    ws = [rng.normal(size=n) * 2.0 for _ in range(_STEPS)]
    drift = rng.normal(size=n)  # gradients with a mean, as in training, so that EMAs matter
    gs = [(drift + rng.normal(size=n)) * 2.0 for _ in range(_STEPS)]
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


def close(a: np.ndarray, b: np.ndarray, rtol: float) -> bool:
    """Elementwise equal within ``rtol`` (relative to the larger magnitude), with non-finite
    values required in the same places and an absolute floor for values near zero."""
    fa, fb = np.isfinite(a), np.isfinite(b)
    if not np.array_equal(fa, fb):
        return False
    if not np.array_equal(a[~fa], b[~fb], equal_nan=True):
        return False
    x, y = a[fa], b[fb]
    if x.size == 0:
        return True
    # Below a millionth of the largest value, differences are eps-guard noise: ``g * (s + 1)``
    # with ``s = g / |g| * m / |m|`` leaves ~1e-8 where ``sign(g) * sign(m) + 1`` cancels to 0.
    scale = max(float(np.max(np.abs(x))), float(np.max(np.abs(y))))
    floor = 1e-6 * scale
    return bool(np.all(np.abs(x - y) <= rtol * np.maximum(np.abs(x), np.abs(y)) + floor))


def same_behaviour(a: Program, b: Program, *, rtol: float = 1e-4, seed: int = 0) -> bool:
    """Do ``a`` and ``b`` (both valid) compute the same updates on random inputs?

    The default tolerance absorbs the language's ``eps`` guards (``x / |x|`` against
    ``sign(x)`` differs by ``eps / |x|``) and nothing a real rewrite would change.
    """
    with np.errstate(all="ignore"):
        ua, ub = updates(a, seed), updates(b, seed)
    return all(close(x, y, rtol) for x, y in zip(ua, ub, strict=True))
