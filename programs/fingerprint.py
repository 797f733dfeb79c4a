"""Fingerprints: when are two programs the same optimizer?

``fingerprint`` is structural: a hash of the live dataflow, blind to variable names, dead
statements (across steps too), the order of independent statements, the argument order of
commutative functions, and which of the two state slots holds which state. It costs tens of
microseconds, so the search can compute one for every child.

``functional_fingerprint`` is behavioural, like AutoML-Zero's functional equivalence cache: it
runs the reference step on fixed pseudo-random inputs for a few steps and hashes the rounded
updates, so that algebraically equal programs (``x * 2`` and ``x + x``) collide too.
"""

from __future__ import annotations

import hashlib

import numpy as np

from programs.analysis import check, liveness, reaching_definitions
from programs.ops import OPS, STATE
from programs.program import Program
from programs.reference import NumpyBackend, run_flat


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def _structural(program: Program, slot_label: dict[str, str]) -> str:
    info = liveness(program)
    arg_sources, out_sources = reaching_definitions(program)
    memo: dict[int, str] = {}
    # A live slot whose output is its own input is never written: its value is always zero.
    zero = {
        slot
        for k, slot in enumerate(STATE)
        if slot in info.reads and out_sources[1 + k] == slot
    }

    def source_hash(src: int | str) -> str:
        if isinstance(src, str):
            if src in zero:
                return "zero"
            return slot_label.get(src, src)
        h = memo.get(src)
        if h is None:
            h = statement_hash(src)
            memo[src] = h
        return h

    def statement_hash(i: int) -> str:
        # Iterative over dependencies to stay clear of recursion limits on long programs.
        stack = [i]
        while stack:
            j = stack[-1]
            todo = [
                s for s in arg_sources[j] if isinstance(s, int) and s not in memo and s != j
            ]
            if todo:
                stack.extend(todo)
                continue
            stack.pop()
            if j in memo:
                continue
            s = program.statements[j]
            srcs = iter(arg_sources[j])
            parts = [
                source_hash(next(srcs)) if isinstance(a, str) else f"c{float(a)!r}"
                for a in s.args
            ]
            if OPS[s.op].commutative:
                parts.sort()
            memo[j] = _digest(f"{s.op}({','.join(parts)})")
        return memo[i]

    parts = [source_hash(out_sources[0])]
    for k, slot in enumerate(STATE):
        if slot in info.state and slot not in zero:
            parts.append(f"{slot_label[slot]}={source_hash(out_sources[1 + k])}")
    return _digest(";".join(sorted(parts[1:]) + ["u=" + parts[0]]))


def fingerprint(program: Program) -> str:
    """A structural hash of the live dataflow (see the module docstring)."""
    a = _structural(program, {"m": "s0", "v": "s1"})
    b = _structural(program, {"m": "s1", "v": "s0"})
    return min(a, b)


# --- functional fingerprint -------------------------------------------------------------------

_FUNCTIONAL_STEPS = 4
_LEAF_SIZES = (6, 3)  # two leaves, so that per-tensor and global reductions differ
_SIGNIFICANT = 5


def _functional_inputs() -> tuple[np.ndarray, list[np.ndarray], np.ndarray, NumpyBackend]:
    rng = np.random.default_rng(20230213)  # fixed: the fingerprint must never change
    n = sum(_LEAF_SIZES)
    w = rng.normal(size=n)
    grads = [rng.normal(size=n) * 0.5 + 0.1 for _ in range(_FUNCTIONAL_STEPS)]
    lrs = np.array([0.3, 0.5, 0.7, 0.9])[:_FUNCTIONAL_STEPS]
    segments = np.repeat(np.arange(len(_LEAF_SIZES)), _LEAF_SIZES)
    return w, grads, lrs, NumpyBackend(segments, len(_LEAF_SIZES))


_INPUTS = _functional_inputs()


def functional_fingerprint(program: Program) -> str:
    """Hash of the updates over a few steps on fixed random inputs, rounded to 5 significant
    digits. Programs that compute the same updates collide whatever their form."""
    problems = check(program)
    if problems:
        raise ValueError("invalid program: " + "; ".join(map(str, problems)))
    w, grads, lrs, backend = _INPUTS
    w = w.copy()
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    rows = []
    for grad, lr in zip(grads, lrs, strict=True):
        update, m, v = run_flat(program, w, grad, m, v, float(lr), backend)
        rows.append(",".join(map(_fmt, update.tolist())))
        w = w - update
    return _digest("|".join(rows))


def _fmt(x: float) -> str:
    if not np.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    return f"{x:.{_SIGNIFICANT - 1}e}"
