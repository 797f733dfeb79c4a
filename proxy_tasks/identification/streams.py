"""The inputs of an identification experiment: streams of weights, gradients and learning rates
that make an optimizer's behaviour visible.

A candidate and the target see the same ``w``, ``g`` and ``lr`` at every step (teacher
forcing: the weights do not follow either optimizer's updates), each with its own state, so that
a candidate is compared with the target step by step, not through a trajectory that diverges
after the first difference. What each ingredient is there to reveal:

* per-coordinate gradient scales over five decades: normalisation (Adam, RMSProp, sign) against
  none (SGD), and where an ``eps`` starts to matter;
* a slowly drifting signal under noise, with sign changes: the memory of each state slot (an
  EMA with 0.9 against 0.99 against 0.999) and momentum's overshoot;
* coordinates whose gradient is often exactly zero: what an optimizer does with no signal;
* weights of magnitudes from 0.1 to 1000: a decay of 1e-4 (optax's AdamW) is a visible share
  of an update on the largest ones, and a decay of 0.1 rules it there;
* several tensors of different sizes: per-tensor norms (``norm``, LAMB-like trust ratios)
  against global ones;
* a warmup-cosine learning rate: how the step scales with ``lr``, and weight decay coupled to it
  or not.

Besides the synthetic streams, :func:`training_trace` records a real training run (the project's
least-squares and logistic-regression problems, :mod:`proxy_tasks.suites.numpy`) driven by the
target itself: the correlated, shrinking gradients of actual optimisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LEAF_SIZES = (48, 96, 16, 96)
"""Coordinates per tensor: four tensors of different sizes (256 coordinates in all)."""


@dataclass(frozen=True)
class Stream:
    """``w``, ``g``: ``(steps, n)``; ``lr``: ``(steps,)``; ``segments``: the tensor of each
    coordinate, ``(n,)``. All float64 (the segments int)."""

    name: str
    w: np.ndarray
    g: np.ndarray
    lr: np.ndarray
    segments: np.ndarray

    def __post_init__(self) -> None:
        steps, n = self.g.shape
        if self.w.shape != (steps, n) or self.lr.shape != (steps,) or self.segments.shape != (n,):
            raise ValueError(f"stream {self.name!r}: inconsistent shapes w {self.w.shape}, "
                             f"g {self.g.shape}, lr {self.lr.shape}, segments "
                             f"{self.segments.shape}")

    @property
    def steps(self) -> int:
        return int(self.g.shape[0])

    @property
    def n_segments(self) -> int:
        return int(self.segments.max()) + 1 if self.segments.size else 0


def warmup_cosine(steps: int, peak: float = 1.0, warmup: float = 0.05) -> np.ndarray:
    """The learning rate at each step: linear warmup, then cosine decay to 0."""
    t = np.arange(steps)
    warm = max(1, int(round(warmup * steps)))
    decay = 0.5 * (1 + np.cos(np.pi * np.clip(t - warm, 0, None) / max(steps - warm, 1)))
    return peak * np.where(t < warm, (t + 1) / warm, decay)


def probe_stream(name: str, steps: int, seed: int, peak_lr: float = 1.0) -> Stream:
    """A synthetic stream; see the module docstring for what each part reveals."""
    rng = np.random.default_rng([seed, 0x1D])
    sizes = np.array(LEAF_SIZES)
    n = int(sizes.sum())
    segments = np.repeat(np.arange(len(sizes)), sizes)
    tensor_scale = 10.0 ** rng.uniform(-1.0, 1.0, size=len(sizes))
    scale = tensor_scale[segments] * 10.0 ** rng.uniform(-2.0, 2.0, size=n)
    memory = rng.choice([0.9, 0.99], size=n)  # a fast and a slow drifting signal
    drift = np.empty((steps, n))
    drift[0] = rng.normal(size=n)
    for t in range(1, steps):
        drift[t] = memory * drift[t - 1] + np.sqrt(1 - memory**2) * rng.normal(size=n)
    strength = rng.uniform(0.2, 2.0, size=n)
    g = scale * (strength * drift + rng.normal(size=(steps, n)))
    sparse = rng.random(n) < 0.1  # a tenth of the coordinates see a gradient a quarter of the time
    g[:, sparse] *= rng.random((steps, int(sparse.sum()))) < 0.25
    w0 = rng.choice([-1.0, 1.0], size=n) * 10.0 ** rng.uniform(-1.0, 3.0, size=n)
    w = w0 + np.cumsum(0.01 * np.abs(w0) * rng.normal(size=(steps, n)), axis=0)
    return Stream(name, w, g, warmup_cosine(steps, peak_lr), segments)


def training_trace(name: str, step_fn, steps: int, seed: int, peak_lr: float) -> Stream | None:
    """A real training run driven by the target: ``step_fn(w, g, lr) -> update`` (the target's
    own state kept inside it) trains the project's logistic-regression problem (two tensors:
    weights and a bias row) on mini-batches. Returns the stream it saw, or None if the run
    produced a non-finite value (the caller tries a smaller ``peak_lr``)."""
    rng = np.random.default_rng([seed, 0x7ACE])
    dim, n_examples, batch = 31, 2048, 32
    w_true = rng.normal(size=dim) / np.sqrt(dim)
    x = rng.normal(size=(n_examples, dim)) * np.linspace(0.3, 3.0, dim)
    y = (rng.random(n_examples) < 1.0 / (1.0 + np.exp(-3.0 * (x @ w_true)))).astype(float)
    x = np.concatenate([x, np.ones((n_examples, 1))], axis=1)  # the bias: a tensor of its own
    segments = np.array([0] * dim + [1])
    lr = warmup_cosine(steps, peak_lr)
    w = rng.normal(size=dim + 1) * 2.0
    ws, gs = np.empty((steps, dim + 1)), np.empty((steps, dim + 1))
    with np.errstate(all="ignore"):
        for t in range(steps):
            idx = rng.integers(n_examples, size=batch)
            z = np.clip(x[idx] @ w, -30, 30)
            p = 1.0 / (1.0 + np.exp(-z))
            g = x[idx].T @ (p - y[idx]) / batch
            ws[t], gs[t] = w, g
            update = np.asarray(step_fn(w, g, float(lr[t])), np.float64)
            if not np.all(np.isfinite(update)):
                return None
            w = w - update
            if not np.all(np.isfinite(w)):
                return None
    return Stream(name, ws, gs, lr, segments)
