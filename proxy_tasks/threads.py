"""Configure a process for single-threaded evaluation, before jax is imported.

Measured on the 2-core target (research note; ``benchmarks/eval_bench.py``): two
single-threaded evaluator processes, one per core, beat one process whose XLA uses both cores.
XLA reads its flags once, when jax initialises its CPU backend, so this must run before the
first ``import jax`` in the process. This module imports nothing heavy.
"""

from __future__ import annotations

import os
import sys

SINGLE_THREAD_FLAGS = ("--xla_cpu_multi_thread_eigen=false", "intra_op_parallelism_threads=1")


def single_thread_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) with XLA limited to one thread, for a child process."""
    out = dict(os.environ if env is None else env)
    flags = out.get("XLA_FLAGS", "").split()
    for flag in SINGLE_THREAD_FLAGS:
        key = flag.split("=")[0]
        flags = [f for f in flags if f.split("=")[0] != key]
        flags.append(flag)
    out["XLA_FLAGS"] = " ".join(flags)
    return out


def configure_single_thread() -> None:
    """Limit this process's XLA to one thread. Raises ``RuntimeError`` if jax is already
    imported (the flags would silently not apply)."""
    if "jax" in sys.modules:
        raise RuntimeError(
            "configure_single_thread() must run before jax is imported in this process; "
            "call it first thing in the worker, or pass single_thread_env() to the child"
        )
    os.environ["XLA_FLAGS"] = single_thread_env()["XLA_FLAGS"]
