"""Empirical simplification: drop every statement whose removal costs no fitness.

Analytic simplification (:func:`programs.simplify`: dead code, constant folding, algebra) cannot
know that an ``arcsin`` of a small value or a ``clip`` that never bites is useless in practice;
the paper removed such statements from its raw find by hand. Here each live statement is removed in
turn, its result replaced by one of its own inputs (or its constant argument), and a removal is
kept when the program is not worse beyond noise on paired seeds. The comparison is always against
the *original* program, so that many small, individually insignificant losses cannot accumulate.
Repeat until no removal is accepted.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

import programs
from programs import Program, Statement, to_ssa

Scorer = Callable[[Sequence[Program]], np.ndarray]
"""Scores programs on paired seeds: returns an array (n_programs, n_seeds); lower is better."""


def _substitute(program: Program, index: int, replacement: programs.Arg) -> Program | None:
    """Delete statement ``index`` of an SSA program and use ``replacement`` wherever its result
    was read. Returns ``None`` if an output would become a constant (outputs are names)."""
    target = program.statements[index].target
    statements = []
    for i, s in enumerate(program.statements):
        if i == index:
            continue
        if target in s.args:
            s = Statement(s.target, s.op, tuple(replacement if a == target else a for a in s.args))
        statements.append(s)
    outputs = list(program.outputs)
    for k, name in enumerate(outputs):
        if name == target:
            if not isinstance(replacement, str):
                return None
            outputs[k] = replacement
    return Program(tuple(statements), tuple(outputs))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Removal:
    """One candidate: the program without statement ``statement`` (text), its result replaced."""

    statement: str
    replacement: str
    program: Program


def removal_candidates(program: Program) -> list[Removal]:
    """Every valid program made by removing one live statement of ``program``.

    For a statement ``t = f(a, b)``, each distinct argument (variable or constant) is tried as the
    stand-in for ``t``. Candidates that fail abstract execution are skipped; duplicates (same
    structural fingerprint) are kept once.
    """
    ssa = to_ssa(programs.remove_dead_code(program))
    seen: set[str] = set()
    out: list[Removal] = []
    for i, s in enumerate(ssa.statements):
        stand_ins: list[programs.Arg] = []
        for a in s.args:
            if a not in stand_ins:
                stand_ins.append(a)
        for stand_in in stand_ins:
            candidate = _substitute(ssa, i, stand_in)
            if candidate is None or programs.check(candidate):
                continue
            candidate = programs.remove_dead_code(candidate)
            key = programs.fingerprint(candidate)
            if key in seen:
                continue
            seen.add(key)
            shown = stand_in if isinstance(stand_in, str) else repr(stand_in)
            out.append(Removal(str(s), shown, candidate))
    return out


def paired_worse_p_value(candidate: np.ndarray, base: np.ndarray) -> float:
    """One-sided paired t-test p-value for "candidate is worse (higher) than base".

    Small p: the candidate is significantly worse. Identical scores give p = 1.
    """
    from scipy import stats

    diff = np.asarray(candidate, float) - np.asarray(base, float)
    if diff.size < 2 or float(diff.std()) == 0.0:
        return 0.0 if float(diff.mean()) > 0 else 1.0
    with warnings.catch_warnings():  # nearly identical scores: scipy warns, the answer stands
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.ttest_1samp(diff, 0.0, alternative="greater").pvalue)


@dataclass(frozen=True)
class SimplifyStep:
    """One accepted step: what was removed, the program after it, and its scores."""

    removed: str | None  # None for the starting point
    replacement: str | None
    program: Program
    fitness: float  # mean over seeds; lower is better
    p_worse: float  # p-value that it is worse than the original (1.0 for the original)


@dataclass(frozen=True)
class SimplifyResult:
    original: Program
    steps: tuple[SimplifyStep, ...] = field(default_factory=tuple)

    @property
    def program(self) -> Program:
        return self.steps[-1].program if self.steps else self.original


def empirical_simplify(
    program: Program,
    scorer: Scorer,
    *,
    alpha: float = 0.05,
    tolerance: float = 0.0,
    max_relative_loss: float = 0.01,
    max_rounds: int = 50,
    analytic: bool = True,
    progress: Callable[[str], None] | None = None,
) -> SimplifyResult:
    """Shorten ``program`` by removals that do not make it worse beyond noise.

    A candidate is acceptable when its mean score is at most ``tolerance`` above the original's,
    or when the one-sided paired test cannot call it worse at level ``alpha`` *and* its mean is
    within ``max_relative_loss`` of the original's (a t-test alone is blind to one exploding seed:
    the spread it causes hides the loss). Among acceptable
    candidates the one with the lowest mean is taken, then the search repeats from it.
    ``analytic`` first applies :func:`programs.simplify` when available (else dead-code removal).
    """
    start = _analytic(program) if analytic else programs.remove_dead_code(program)
    base = np.asarray(scorer([start])[0], float)
    steps = [SimplifyStep(None, None, start, float(base.mean()), 1.0)]
    current = start
    for _ in range(max_rounds):
        candidates = removal_candidates(current)
        if not candidates:
            break
        scores = np.asarray(scorer([c.program for c in candidates]), float)
        best: tuple[float, int, float] | None = None
        for k, c in enumerate(candidates):
            mean = float(scores[k].mean())
            if not np.isfinite(mean):
                continue
            p = paired_worse_p_value(scores[k], base)
            excess = mean - float(base.mean())
            within = excess <= max_relative_loss * abs(float(base.mean()))
            if excess <= tolerance or (p >= alpha and within):
                key = (mean, len(c.program), p)
                if best is None or key[:2] < (best[0], len(candidates[best[1]].program)):
                    best = (mean, k, p)
        if best is None:
            break
        mean, k, p = best
        chosen = candidates[k]
        current = _analytic(chosen.program) if analytic else chosen.program
        steps.append(SimplifyStep(chosen.statement, chosen.replacement, current, mean, p))
        if progress:
            progress(f"removed `{chosen.statement}` (-> {chosen.replacement}): "
                     f"{len(current)} statements, fitness {mean:.4f}, p(worse) {p:.2f}")
    return SimplifyResult(program, tuple(steps))


def _analytic(program: Program) -> Program:
    simplify = getattr(programs, "simplify", None)
    if simplify is None:
        return programs.remove_dead_code(program)
    return simplify(program)
