"""Which known optimizer is this program? Names it, with fitted hyperparameters.

Recognition treats a program as a black box that runs from zero state: nothing looks at its
text, names, order, dead code or which slot holds which state, and any algebraic rewriting is
invisible by construction. For each known family (:mod:`programs.families`, simplest first):

1. **fit**: a few open-loop experiments (chosen gradient sequences, every experiment one element
   of a vector, so one run of the program answers hundreds) give the hyperparameters in closed
   form, or locate the threshold of a ``sign`` by bisection;
2. **verify**: the family's canonical program with those hyperparameters must compute the same
   updates as the program on random inputs (two tensors, several steps, two learning rates,
   random weights), except where the canonical program sits on a knife's edge (a ``sign``
   argument or a denominator near zero), where ``eps`` guards may legitimately differ.

Degenerate fits are refused (an EMA coefficient must lie strictly between 0 and 1: a fit of Lion
with ``b1 = 1, b2 = 0`` is a one-step lag, not Lion), and simpler families are tried first, so Lion
with ``b1 == b2`` is reported as Signum. Recognition is for reports, stopping and tests; the search
never uses it for fitness.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from programs.analysis import check
from programs.families import (
    ALIASES,
    BY_NAME,
    FAMILIES,
    Family,
    G,
    Params,
    canonical,
    display_name,
    known_names,
    param_names,
)
from programs.probe import Probe
from programs.program import Program, ProgramError
from programs.reference import NumpyBackend, run_flat, run_flat_env

_SIGNIFICANT = 10
"""Fitted parameters are rounded to this many significant digits (fits are exact to ~1e-12)."""

_RTOL = 1e-3
_GUARD = 1e-2
"""A guarded value below this (absolutely) is too close to zero to compare: ``x / (|x| + eps)``
and ``sqrt(v + eps)`` then differ from the canonical form by more than 1e-4."""
_GUARD_RELATIVE = 1e-4
"""... or below this fraction of its median size (fitted constants are exact to ~1e-10)."""
_MAX_MASKED = 0.25


@dataclass(frozen=True)
class Match:
    """A recognised optimizer: ``name`` and its hyperparameters ``params``, in the order of
    the family's formula (:mod:`programs.families`), then ``weight_decay`` and ``lr_scale``: for
    Lion, ``update = lr_scale * lr * (sign(interp(g, m, b1)) + weight_decay * w)`` and
    ``m = interp(g, m, b2)``."""

    name: str
    params: dict[str, float]

    def __hash__(self) -> int:
        return hash((self.name, tuple(self.params.items())))

    def __str__(self) -> str:
        args = ", ".join(f"{k}={format_number(v)}" for k, v in self.params.items())
        return f"{self.name}({args})"

    def program(self) -> Program:
        """The canonical program of this optimizer with these hyperparameters."""
        return canonical(self.name, self.params)


def format_number(x: float) -> str:
    """Short and exact to 6 digits: ``0.9``, ``0.01``, ``1e-4``, ``2.5e-7``."""
    plain = f"{x:.6g}"
    mantissa, _, exponent = f"{x:.5e}".partition("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    scientific = f"{mantissa}e{int(exponent)}"
    return scientific if len(scientific) < len(plain) else plain


def recognize(program: Program, *, among: Iterable[str] | None = None) -> Match | None:
    """The known optimizer ``program`` is, or ``None``.

    ``among`` restricts the answer to some names (``("lion",)``; any of
    :func:`known_optimizers`). Invalid programs raise :class:`ProgramError`. Results are cached.
    """
    names = None if among is None else frozenset(among)
    if names is not None:
        unknown = names - set(known_names())
        if unknown:
            raise KeyError(f"unknown optimizer names: {', '.join(sorted(unknown))}")
    return _recognize(program, names)


def known_optimizers() -> list[str]:
    """Every name :func:`recognize` can return."""
    return known_names()


@lru_cache(maxsize=4096)
def _recognize(program: Program, names: frozenset[str] | None) -> Match | None:
    problems = check(program)
    if problems:
        raise ProgramError("invalid program: " + "; ".join(map(str, problems)))
    probe = Probe(program)
    for family in FAMILIES:
        if names is not None and not (
            family.name in names or any(ALIASES.get(n) == family.name for n in names)
        ):
            continue
        match = _try(family, probe, program)
        if match is not None and (names is None or match.name in names):
            return match
    return None


def _try(family: Family, probe: Probe, program: Program) -> Match | None:
    with np.errstate(all="ignore"):
        try:
            proposals = family.fit(probe)
        except (ArithmeticError, ValueError):
            return None
        for proposal in proposals:
            params = _complete(family, probe, proposal)
            if params is None or not family.valid(params) or params["lr_scale"] <= 0:
                continue
            name = display_name(family, params["weight_decay"])
            reported = {k: params[k] for k in param_names(name) if k in params}
            if "weight_decay" not in reported and params["weight_decay"] != 0.0:
                reported = {**reported, "weight_decay": params["weight_decay"]}
                reported["lr_scale"] = reported.pop("lr_scale")  # keep lr_scale last
            match = Match(name, reported)
            if verify(program, match):
                return match
    return None


def _complete(family: Family, probe: Probe, proposal: Params) -> Params | None:
    """The proposal with decoupled weight decay fitted (``u(w = 1) - u(w = 0)`` at the first
    step is ``lr_scale * weight_decay``) and every value rounded; ``None`` if not finite."""
    scale = proposal["lr_scale"]
    if not math.isfinite(scale) or scale == 0:
        return None
    u0 = probe.updates([[G]], [[0.0]])[0, 0]
    u1 = probe.updates([[G]], [[1.0]])[0, 0]
    params = {**proposal, "weight_decay": (u1 - u0) / scale}
    if abs(params["weight_decay"]) < 1e-12:
        params["weight_decay"] = 0.0
    if not all(math.isfinite(v) for v in params.values()):
        return None
    return {k: _round(v) for k, v in params.items()}


def _round(x: float) -> float:
    return float(f"{x:.{_SIGNIFICANT}g}")


# --- verification -------------------------------------------------------------------------------

_LEAF_SIZES = (40, 24)
_STEPS = 8
_LRS = (0.7, 1.9)


@lru_cache(maxsize=1)
def _verification_inputs() -> tuple[list[np.ndarray], list[np.ndarray], NumpyBackend]:
    rng = np.random.default_rng(20230213)
    n = sum(_LEAF_SIZES)
    # Gradient sizes spread over six decades, drawn anew each step: a large gradient followed by
    # small ones is what exposes a slow EMA (Lion with b2 = 0.9999 looks like signSGD for
    # thousands of steps on gradients of one size). Weights as varied, so that weight decay
    # sometimes dominates the update and sometimes vanishes in it.
    drift = rng.normal(size=n)
    grads = [10.0 ** rng.uniform(-1.5, 4.5, size=n) * (drift + rng.normal(size=n))
             for _ in range(_STEPS)]
    weights = [10.0 ** rng.uniform(-3, 3, size=n) * rng.normal(size=n) for _ in range(_STEPS)]
    segments = np.repeat(np.arange(len(_LEAF_SIZES)), _LEAF_SIZES)
    return grads, weights, NumpyBackend(segments, len(_LEAF_SIZES))


def verify(program: Program, match: Match) -> bool:
    """Does ``program`` compute the updates of ``match``'s canonical program on random inputs?

    Compared to a relative 1e-3 at every element and step where the canonical program's guarded
    values (``sign`` arguments, denominators) are well away from zero; at most a quarter of the
    comparisons may be skipped that way.
    """
    family = BY_NAME[ALIASES.get(match.name, match.name)]
    reference = match.program()
    grads, weights, backend = _verification_inputs()
    skipped = total = 0
    with np.errstate(all="ignore"):
        for lr in _LRS:
            m = v = rm = rv = np.zeros_like(grads[0])
            for g, w in zip(grads, weights, strict=True):
                u, m, v = run_flat(program, w, g, m, v, lr, backend)
                env = _run_env(reference, w, g, rm, rv, lr, backend)
                expected, rm, rv = env["update"], env["m"], env["v"]
                ok = _well_conditioned(env, family.guards)
                skipped += int(np.count_nonzero(~ok))
                total += ok.size
                if not _close(u[ok], expected[ok]):
                    return False
    return skipped <= _MAX_MASKED * total


def _close(actual: np.ndarray, expected: np.ndarray) -> bool:
    if not np.all(np.isfinite(actual)):
        return False
    # Differences below a millionth of the typical update size are noise: an eps guard against an
    # exact cancellation (AddSign's ``g * (1 - 1)``) leaves ~1e-8 where the canonical form has 0.
    floor = 1e-6 * float(np.median(np.abs(expected))) if expected.size else 0.0
    err = np.abs(actual - expected)
    return bool(np.all(err <= _RTOL * np.maximum(np.abs(actual), np.abs(expected)) + floor))


def _well_conditioned(env: dict[str, np.ndarray], guards: tuple[str, ...]) -> np.ndarray:
    ok = np.ones(env["update"].shape, dtype=bool)
    for name in guards:
        x = np.abs(np.broadcast_to(env[name], ok.shape))
        ok &= x >= max(_GUARD, _GUARD_RELATIVE * float(np.median(x)))
    return ok


def _run_env(
    program: Program,
    w: np.ndarray,
    g: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    lr: float,
    backend: NumpyBackend,
) -> dict[str, np.ndarray]:
    """One step of the reference semantics, keeping every named value (for the guards)."""
    env = run_flat_env(program, w, g, m, v, lr, backend)
    for name in ("update", "m", "v"):
        env[name] = np.broadcast_to(env[name], w.shape)
    return env
