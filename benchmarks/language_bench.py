"""Throughput of the language's hot functions on one core: check, fingerprints, reference step.

The search calls ``check`` and ``fingerprint`` on every child it makes, so their cost bounds how
many children the driver can produce per second. Programs here are the library's optimizers grown
to 10-15 statements with random extra statements (live or dead), like a search's children.

    python benchmarks/language_bench.py [--json benchmarks/results/language.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

import programs
from programs import OPS, Program, Statement

_UNARY_OR_BINARY = [name for name, op in OPS.items() if op.arity in (1, 2) and all(
    k.value == "any" for k in op.arg_kinds)]


def grown_programs(n: int, seed: int = 0) -> list[Program]:
    """``n`` valid programs of 10-15 statements: library programs plus random statements."""
    rng = np.random.default_rng(seed)
    bases = [programs.library.load(name) for name in programs.library.names()]
    out: list[Program] = []
    while len(out) < n:
        p = bases[rng.integers(len(bases))]
        target_len = int(rng.integers(10, 16))
        tries = 0
        while len(p) < target_len and tries < 50:
            tries += 1
            at = int(rng.integers(len(p) + 1))
            defined = list(programs.INPUTS) + [s.target for s in p.statements[:at]]
            op = OPS[_UNARY_OR_BINARY[rng.integers(len(_UNARY_OR_BINARY))]]
            args = tuple(
                defined[rng.integers(len(defined))] if rng.random() < 0.8
                else float(np.round(rng.normal(), 3))
                for _ in range(op.arity)
            )
            target = (
                f"t{rng.integers(6)}" if rng.random() < 0.7 else defined[rng.integers(len(defined))]
            )
            if target == "lr":
                continue
            candidate = p.insert(at, Statement(target, op.name, args))
            if programs.is_valid(candidate):
                p = candidate
        out.append(p)
    return out


def _rate(fn, items, min_seconds: float = 1.0) -> float:
    count = 0
    start = time.perf_counter()
    while True:
        for item in items:
            fn(item)
        count += len(items)
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default="benchmarks/results/language.json")
    parser.add_argument("--programs", type=int, default=200)
    args = parser.parse_args()

    progs = grown_programs(args.programs)
    lengths = [len(p) for p in progs]
    rng = np.random.default_rng(1)
    w = rng.normal(size=1000).astype(np.float32)
    g = rng.normal(size=1000).astype(np.float32)
    zeros = np.zeros_like(w)

    rows = [
        ("check", _rate(programs.check, progs)),
        ("fingerprint", _rate(programs.fingerprint, progs)),
        ("functional_fingerprint", _rate(programs.functional_fingerprint, progs)),
        ("remove_dead_code", _rate(programs.remove_dead_code, progs)),
        ("step (1,000 params)", _rate(lambda p: programs.step(p, w, g, zeros, zeros, 1.0), progs)),
    ]
    print(f"{len(progs)} programs of {min(lengths)}-{max(lengths)} statements "
          f"(mean {np.mean(lengths):.1f}), one core, Python {platform.python_version()}")
    print(f"{'function':<26}{'calls/s':>12}{'us/call':>10}")
    for name, rate in rows:
        print(f"{name:<26}{rate:>12,.0f}{1e6 / rate:>10.1f}")
    result = {
        "programs": len(progs),
        "mean_statements": float(np.mean(lengths)),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "calls_per_second": {name: rate for name, rate in rows},
    }
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
