"""The known optimizers as families of programs with hyperparameters.

Each family is a canonical program written with named constants, and a *fit*: a few open-loop
experiments on an unknown program (chosen gradient sequences from zero state, see
:class:`programs.probe.Probe`) whose closed-form answers are the family's hyperparameters if
the program belongs to it. Fits only propose; :func:`programs.recognize` accepts a proposal only
after the canonical program built from it computes the same updates as the unknown one on
random inputs.

Every family's update has the form ``lr_scale * lr * (direction + weight_decay * w)``, with the
direction computed by ``core``; ``weight_decay`` (decoupled, as in AdamW) is fitted the same way
for all of them and reported where it is not zero (always for Lion and AdamW). The experiments
use gradients of size ``G`` (large, so that the ``eps`` guards of a division are negligible) and
read updates at ``w = 0``, ``lr = 1``, where the update is ``lr_scale * direction``.

The families and their directions (state from zeros; ``interp(x, y, b) = (1 - b) x + b y``):

========== ================================================================================
sgd        ``g``
signsgd    ``sign(g)``
momentum   ``m = b m + g``; ``m`` (heavy ball; an EMA form is the same with another lr_scale)
nesterov   ``m = b m + g``; ``g + b m``
signum     ``m = interp(g, m, b)``; ``sign(m)``
lion       ``sign(interp(g, m, b1))``; then ``m = interp(g, m, b2)``; ``b1 != b2``
adagrad    ``v = v + g^2``; ``g / sqrt(v)``
rmsprop    ``v = interp(g^2, v, b)``; ``g / sqrt(v)``
adam       ``m = interp(g, m, b1)``, ``v = interp(g^2, v, b2)``; ``m / sqrt(v)`` (adamw: with
           weight decay; no bias correction, no eps)
adamw_split ``c = interp(g, m, b1)``, ``m = interp(g, m, b2)``, ``v = interp(g^2, v, b3)``;
           ``c / sqrt(v)``; ``b1 != b2`` (Adam with Lion's split momentum: the step between
           AdamW and Lion; on the ``diverse`` suite it ranks above Lion, experiments/landscape)
adabelief  ``m = interp(g, m, b1)``, ``v = interp((g - m)^2, v, b2)``; ``m / sqrt(v)``
powersign  ``m = interp(g, m, b)``; ``g * base^(sign(g) sign(m))``
addsign    ``m = interp(g, m, b)``; ``g * (alpha + sign(g) sign(m))``
========== ================================================================================
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from programs.probe import Probe
from programs.program import Program
from programs.text import parse

G = 1e3
"""Size of the probing gradients."""

Params = dict[str, float]


@dataclass(frozen=True)
class Family:
    """A known optimizer: its hyperparameters, canonical program and fit.

    ``core`` is program text (one statement per line, ``{name}`` for a hyperparameter) that
    updates the state and leaves the update's direction in ``direction``. ``guards`` name values of
    the canonical program that must be well away from zero for a comparison to be meaningful
    (a ``sign`` argument, a denominator): there the unknown program's own ``eps`` guards or
    the fitted constants' last digits may legitimately tip the result.
    """

    name: str
    params: tuple[str, ...]
    core: str
    direction: str
    guards: tuple[str, ...]
    fit: Callable[[Probe], list[Params]]
    valid: Callable[[Params], bool] = lambda p: True
    always_weight_decay: bool = False


def _in_unit(*names: str) -> Callable[[Params], bool]:
    return lambda p: all(0.0 < p[n] < 1.0 for n in names)


# --- fits: closed forms of the family's response to chosen gradient sequences -----------------


def _fit_sgd(p: Probe) -> list[Params]:
    return [{"lr_scale": p.updates([[G]])[0, 0] / G}]


def _fit_unit_first_step(p: Probe) -> list[Params]:
    """For directions of size 1 at the first step: sign(g), g / sqrt(g^2) (adagrad)."""
    return [{"lr_scale": p.updates([[G]])[0, 0]}]


def _fit_momentum(p: Probe) -> list[Params]:
    u1, u2 = p.updates([[G], [0.0]])[:, 0]
    b = u2 / u1
    return [{"b": b, "lr_scale": u1 / G}]


def _fit_nesterov(p: Probe) -> list[Params]:
    _, u2, u3 = p.updates([[G], [0.0], [0.0]])[:, 0]
    b = u3 / u2
    return [{"b": b, "lr_scale": u2 / (b * b * G)}]


def _turns_negative(p: Probe, prefix: list[float]) -> float | None:
    """The ``x`` at which the last update of ``prefix + [-x G]`` turns from positive to
    negative: the threshold of a sign."""
    rows = [[g] for g in prefix]

    def positive(xs: np.ndarray) -> np.ndarray:
        grads = np.array([np.full_like(xs, r[0]) for r in rows] + [-xs * G])
        return p.updates(grads)[-1] > 0

    return p.crossing(positive)


def _fit_signum(p: Probe) -> list[Params]:
    # m1 = (1 - b) G; the second update is sign((1 - b) (b G - x G)): it flips at x = b.
    b = _turns_negative(p, [G])
    if b is None:
        return []
    return [{"b": b, "lr_scale": p.updates([[G]])[0, 0]}]


def _split_momentum(p: Probe) -> tuple[float, float, float] | None:
    """``(x1, b1, b2)`` of an update whose sign is that of ``c = interp(g, m, b1)`` with
    ``m = interp(g, m, b2)`` stored (Lion, AdamW-split). After g = G: m = (1 - b2) G, and c flips
    at x1 = b1 (1 - b2) / (1 - b1); after g = G, 0: m = b2 (1 - b2) G, so it flips at x2 = b2 x1."""
    x1 = _turns_negative(p, [G])
    x2 = _turns_negative(p, [G, 0.0])
    if x1 is None or x2 is None:
        return None
    b2 = x2 / x1
    return x1, x1 / (x1 + 1.0 - b2), b2


def _fit_lion(p: Probe) -> list[Params]:
    found = _split_momentum(p)
    if found is None:
        return []
    _, b1, b2 = found
    return [{"b1": b1, "b2": b2, "lr_scale": p.updates([[G]])[0, 0]}]


def _fit_rmsprop(p: Probe) -> list[Params]:
    # g = G, G: v1 = (1 - b) G^2, v2 = (1 - b)(1 + b) G^2, so u1 / u2 = sqrt(1 + b).
    u1, u2 = p.updates([[G], [G]])[:, 0]
    b = (u1 / u2) ** 2 - 1.0
    return [{"b": b, "lr_scale": u1 * math.sqrt(abs(1.0 - b))}]


def _fit_adam(p: Probe) -> list[Params]:
    # g = G, +-G: u2 / u1 = (b1 +- 1) / sqrt(1 + b2) (the (1 - b) factors cancel).
    up = p.updates([[G], [G]])[:, 0]
    down = p.updates([[G], [-G]])[:, 0]
    q1, q2 = up[1] / up[0], down[1] / down[0]
    b2 = (2.0 / (q1 - q2)) ** 2 - 1.0
    b1 = (q1 + q2) / (q1 - q2)
    scale = up[0] * math.sqrt(abs(1.0 - b2)) / (1.0 - b1)
    return [{"b1": b1, "b2": b2, "lr_scale": scale}]


def _fit_adamw_split(p: Probe) -> list[Params]:
    # b1 and b2 as for Lion. Then, after g = G, 0: u1 = (1 - b1) / sqrt(1 - b3) and
    # u2 = b1 (1 - b2) / sqrt(b3 (1 - b3)), so u2 / u1 = x1 / sqrt(b3).
    found = _split_momentum(p)
    if found is None:
        return []
    x1, b1, b2 = found
    u1, u2 = p.updates([[G], [0.0]])[:, 0]
    if u2 == 0.0:
        return []
    b3 = (x1 * u1 / u2) ** 2
    return [{"b1": b1, "b2": b2, "b3": b3,
             "lr_scale": u1 * math.sqrt(abs(1.0 - b3)) / (1.0 - b1)}]


def _fit_adabelief(p: Probe) -> list[Params]:
    # m2 = (1 - b1)(b1 G - x G) flips sign at x = b1; after g = G, 0:
    # u2 / u1 = b1 / sqrt(b2 + (1 - b1)^2).
    b1 = _turns_negative(p, [G])
    if b1 is None:
        return []
    u1, u2 = p.updates([[G], [0.0]])[:, 0]
    b2 = (b1 * u1 / u2) ** 2 - (1.0 - b1) ** 2
    scale = u1 * math.sqrt(abs(1.0 - b2)) * b1 / (1.0 - b1)
    return [{"b1": b1, "b2": b2, "lr_scale": scale}]


def _fit_sign_agreement(p: Probe) -> tuple[float, float, float] | None:
    """For g * f(sign(g) sign(m)): ``(b, agree, disagree)``, the EMA's coefficient and the
    update per unit gradient when the signs agree and when they do not."""
    agree = p.updates([[G]])[0, 0] / G

    def ratio(xs: np.ndarray) -> np.ndarray:
        grads = np.array([np.full_like(xs, G), -xs * G])
        return p.updates(grads)[-1] / (-xs * G)

    # After g = G, a gradient -x G disagrees with m while x < b. The regimes are told apart by
    # the midpoint of their two values, where a program's eps-smoothed sign also crosses.
    disagree_small_x = ratio(np.array([1e-7]))[0]
    if not np.isfinite(disagree_small_x) or disagree_small_x == agree:
        return None
    midpoint = (agree + disagree_small_x) / 2.0
    below_is_smaller = disagree_small_x < agree
    b = p.crossing(lambda xs: (ratio(xs) < midpoint) == below_is_smaller)
    if b is None:
        return None
    disagree = ratio(np.array([0.5 * b]))[0]
    if abs(disagree) <= 1e-6 * abs(agree):
        disagree = 0.0  # eps noise of an exact cancellation (AddSign's 1 - 1)
    return b, agree, disagree


def _fit_powersign(p: Probe) -> list[Params]:
    found = _fit_sign_agreement(p)
    if found is None:
        return []
    b, agree, disagree = found  # s * base and s / base
    if disagree == 0 or agree / disagree <= 0:
        return []
    return [{"b": b, "base": math.sqrt(agree / disagree), "lr_scale": math.sqrt(agree * disagree)}]


def _fit_addsign(p: Probe) -> list[Params]:
    found = _fit_sign_agreement(p)
    if found is None:
        return []
    b, agree, disagree = found  # s (alpha + 1) and s (alpha - 1)
    scale = (agree - disagree) / 2.0
    return [{"b": b, "alpha": (agree + disagree) / (agree - disagree), "lr_scale": scale}]


# --- the table ----------------------------------------------------------------------------------

_EMA_SIGNS = """
m = interp(g, m, {b})
sg = sign(g)
sm = sign(m)
agree = sg * sm
"""

FAMILIES: tuple[Family, ...] = (
    # Simplest first: the first family whose canonical program matches wins, so a degenerate
    # fit of a richer family (Lion with b1 = b2) never hides the simpler name (Signum).
    # PowerSign and AddSign are one family in two parametrisations (g times one factor when the
    # signs of g and m agree, another when not): PowerSign is tried first and answers whenever
    # both factors are positive; AddSign takes the rest (alpha <= 1, the paper's alpha = 1).
    Family("sgd", (), "", "g", (), _fit_sgd),
    Family("signsgd", (), "u = sign(g)", "u", ("g",), _fit_unit_first_step),
    Family("momentum", ("b",), "m = m * {b}\nm = m + g", "m", (), _fit_momentum, _in_unit("b")),
    Family(
        "nesterov",
        ("b",),
        "m = m * {b}\nm = m + g\nlook = m * {b}\nlook = look + g",
        "look",
        (),
        _fit_nesterov,
        _in_unit("b"),
    ),
    Family(
        "signum", ("b",), "m = interp(g, m, {b})\nu = sign(m)", "u", ("m",), _fit_signum,
        _in_unit("b"),
    ),
    Family(
        "lion",
        ("b1", "b2"),
        "c = interp(g, m, {b1})\nu = sign(c)\nm = interp(g, m, {b2})",
        "u",
        ("c",),
        _fit_lion,
        lambda p: _in_unit("b1", "b2")(p) and not math.isclose(p["b1"], p["b2"], rel_tol=1e-9),
        always_weight_decay=True,
    ),
    Family(
        "adagrad",
        (),
        "g2 = square(g)\nv = v + g2\nsqrt_v = sqrt(v)\nu = g / sqrt_v",
        "u",
        ("sqrt_v",),
        _fit_unit_first_step,
    ),
    Family(
        "rmsprop",
        ("b",),
        "g2 = square(g)\nv = interp(g2, v, {b})\nsqrt_v = sqrt(v)\nu = g / sqrt_v",
        "u",
        ("sqrt_v",),
        _fit_rmsprop,
        _in_unit("b"),
    ),
    Family(
        "adam",
        ("b1", "b2"),
        "g2 = square(g)\nm = interp(g, m, {b1})\nv = interp(g2, v, {b2})\nsqrt_v = sqrt(v)\n"
        "u = m / sqrt_v",
        "u",
        ("sqrt_v",),
        _fit_adam,
        _in_unit("b1", "b2"),
    ),
    Family(
        "adamw_split",
        ("b1", "b2", "b3"),
        "g2 = square(g)\nc = interp(g, m, {b1})\nm = interp(g, m, {b2})\n"
        "v = interp(g2, v, {b3})\nsqrt_v = sqrt(v)\nu = c / sqrt_v",
        "u",
        ("c", "sqrt_v"),
        _fit_adamw_split,
        lambda p: _in_unit("b1", "b2", "b3")(p)
        and not math.isclose(p["b1"], p["b2"], rel_tol=1e-9),
        always_weight_decay=True,
    ),
    Family(
        "adabelief",
        ("b1", "b2"),
        "m = interp(g, m, {b1})\nd = g - m\nd2 = square(d)\nv = interp(d2, v, {b2})\n"
        "sqrt_v = sqrt(v)\nu = m / sqrt_v",
        "u",
        ("sqrt_v",),
        _fit_adabelief,
        _in_unit("b1", "b2"),
    ),
    Family(
        "powersign",
        ("b", "base"),
        _EMA_SIGNS + "k = power({base}, agree)\nu = g * k",
        "u",
        ("g", "m"),
        _fit_powersign,
        lambda p: _in_unit("b")(p) and p["base"] > 1,
    ),
    Family(
        "addsign",
        ("b", "alpha"),
        _EMA_SIGNS + "k = agree + {alpha}\nu = g * k",
        "u",
        ("g", "m"),
        _fit_addsign,
        lambda p: _in_unit("b")(p) and p["alpha"] > 0,
    ),
)

BY_NAME: dict[str, Family] = {f.name: f for f in FAMILIES}
ALIASES: dict[str, str] = {"adamw": "adam"}
"""Reported names that are a family with weight decay: AdamW is Adam with decoupled decay."""


def display_name(family: Family, weight_decay: float) -> str:
    if family.name == "adam" and weight_decay != 0.0:
        return "adamw"
    return family.name


def param_names(name: str) -> tuple[str, ...]:
    """The parameters a match of this name reports, in order."""
    family = BY_NAME[ALIASES.get(name, name)]
    wd = ("weight_decay",) if family.always_weight_decay or name in ALIASES else ()
    return family.params + wd + ("lr_scale",)


def canonical(name: str, params: Params) -> Program:
    """The canonical program of a known optimizer, e.g.
    ``canonical("lion", {"b1": 0.9, "b2": 0.99, "weight_decay": 0.1, "lr_scale": 1e-4})``.

    ``weight_decay`` may be left out (zero) except where the family always reports it.
    Raises ``KeyError`` for an unknown name or a missing parameter.
    """
    family = BY_NAME.get(ALIASES.get(name, name))
    if family is None:
        raise KeyError(f"no known optimizer {name!r}; known: {', '.join(known_names())}")
    missing = [p for p in family.params + ("lr_scale",) if p not in params]
    if missing:
        raise KeyError(f"{name} needs parameters {', '.join(missing)}")
    values = tuple(float(params[p]) for p in family.params)
    return _canonical(family.name, values, float(params.get("weight_decay", 0.0)),
                      float(params["lr_scale"]))


@lru_cache(maxsize=1024)
def _canonical(
    name: str, values: tuple[float, ...], weight_decay: float, lr_scale: float
) -> Program:
    family = BY_NAME[name]
    core = family.core.format(**{p: repr(v) for p, v in zip(family.params, values, strict=True)})
    lines = [line for line in core.strip().splitlines() if line]
    direction = family.direction
    if weight_decay != 0.0:
        lines += [f"wd = w * {weight_decay!r}", f"dir = {direction} + wd"]
        direction = "dir"
    lines += [f"scale = lr * {lr_scale!r}", f"update = {direction} * scale"]
    body = "".join(f"  {line}\n" for line in lines)
    return parse(f"def train(w, g, m, v, lr):\n{body}  return update, m, v\n")


def known_names() -> list[str]:
    """Every name :func:`programs.recognize` can answer."""
    names = [f.name for f in FAMILIES]
    return names[: names.index("adam") + 1] + ["adamw"] + names[names.index("adam") + 1 :]
