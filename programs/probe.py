"""Open-loop experiments on a program: chosen gradient sequences, many at once.

Recognition (:mod:`programs.recognize`) fits a known optimizer's hyperparameters from a program's
answers to such experiments; each family's fit (:mod:`programs.families`) says which experiments
to run. Both read this module, which needs nothing but the reference semantics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from programs.program import Program
from programs.reference import NumpyBackend, run_flat


class Probe:
    """Runs a program open-loop on chosen inputs, many independent experiments at once.

    Each column of ``grads`` (shape ``(steps, n)``) is one experiment: a gradient sequence fed
    from zero state. Elementwise programs treat columns independently; for one that reduces
    over elements (``norm``) the answers are meaningless, and verification rejects the fit.
    """

    def __init__(self, program: Program) -> None:
        self.program = program

    def updates(
        self, grads: Any, weights: Any = None, lr: float = 1.0
    ) -> np.ndarray:
        g = np.asarray(grads, dtype=np.float64)
        w = np.zeros_like(g) if weights is None else np.broadcast_to(
            np.asarray(weights, dtype=np.float64), g.shape
        )
        n = g.shape[1]
        backend = NumpyBackend(np.zeros(n, dtype=np.int64), 1)
        m = np.zeros(n)
        v = np.zeros(n)
        out = np.empty_like(g)
        with np.errstate(all="ignore"):
            for t in range(g.shape[0]):
                u, m, v = run_flat(self.program, w[t], g[t], m, v, lr, backend)
                out[t] = u
        return out

    def crossing(
        self, below: Callable[[np.ndarray], np.ndarray], lo: float = 1e-9, hi: float = 1e9
    ) -> float | None:
        """The ``x`` in ``(lo, hi)`` where ``below(x)`` (a vectorised bool) turns from True to
        False, if it does so exactly once: a log grid, then bisection to ~1e-13."""
        xs = np.geomspace(lo, hi, 241)
        flags = below(xs)
        if not flags[0] or flags[-1]:
            return None
        if np.count_nonzero(flags[:-1] != flags[1:]) != 1:
            return None
        k = int(np.argmin(flags))
        a, b = xs[k - 1], xs[k]
        for _ in range(9):
            xs = np.linspace(a, b, 33)
            flags = below(xs)
            if not flags[0] or flags[-1]:
                return None
            k = int(np.argmin(flags))
            a, b = xs[k - 1], xs[k]
        return float((a + b) / 2.0)
