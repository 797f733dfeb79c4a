"""Evaluation speed: the compiled interpreter against hand-written optimizers and per-program jit.

Sections (``--sections``, default all):

``step``        per training step, interpreter vs hand-written jitted Lion and AdamW (and one
                ``jax.jit`` per program, "specialized") on the same task, batch and data.
``layouts``     per run-step, the layouts the engine could use: one run per call (the CPU
                default, chunked; unchunked), ``vmap`` over runs of one program (the switch
                stays a conditional), ``vmap`` over programs and runs (a select over every
                function).
``chunks``      the interpreter's chunk size.
``throughput``  programs fully evaluated per second on each task size, vs one ``jax.jit`` per
                program (compile + run), at 1 lr x 1 seed and at the default suite's lr policy.
``suite``       one program through the default suite's cheapest stage (all lrs and seeds).
``threads``     one process with XLA's default threads vs single-threaded processes, one or two
                at a time (separate processes: XLA reads its flags at start-up).

Step timings are the minimum over interleaved repetitions of the process's CPU time (this
machine is shared; CPU time is less disturbed by other processes than wall time); throughput
and thread timings are wall time. The machine's load average is recorded with the results.
Prints tables and writes JSON (``--out``, default ``benchmarks/results/eval_bench.json``).

    .venv/bin/python benchmarks/eval_bench.py            # everything, ~15 minutes
    .venv/bin/python benchmarks/eval_bench.py --quick    # a subset, ~3 minutes
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SECTIONS = ("step", "layouts", "chunks", "throughput", "suite", "threads")
ROOT = Path(__file__).resolve().parent.parent


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sections", default=",".join(SECTIONS))
    p.add_argument("--quick", action="store_true", help="fewer tasks and repetitions")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "eval_bench.json"))
    p.add_argument("--threads", choices=("single", "default"), default="single",
                   help="XLA threads in this process (sections other than 'threads')")
    p.add_argument("--worker", nargs=3, metavar=("TASK", "N", "SEED"),
                   help=argparse.SUPPRESS)  # the threads section's child processes
    return p.parse_args()


ARGS = _parse()
if ARGS.threads == "single" or ARGS.worker:
    from proxy_tasks.threads import configure_single_thread

    if ARGS.worker is None or os.environ.get("EVAL_BENCH_SINGLE") == "1":
        configure_single_thread()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from programs import Program, is_valid, library  # noqa: E402
from proxy_tasks import evaluate, get_suite, get_task  # noqa: E402
from proxy_tasks.baselines import handwritten_run, specialized_run  # noqa: E402
from proxy_tasks.encoding import encode, scalar_table  # noqa: E402
from proxy_tasks.suites import suite_spec  # noqa: E402
from proxy_tasks.training import (  # noqa: E402
    compile_count,
    compile_seconds,
    compiled_run,
    make_run,
    task_arrays,
)

REPS = 3 if ARGS.quick else 7


def mutants(n: int, seed: int = 0) -> list[Program]:
    """Different valid programs, as a search makes them: library programs with perturbed
    constants and some unary functions swapped."""
    rng = np.random.default_rng(seed)
    bases = [library.load(name) for name in library.names()]
    unary = ["sign", "tanh", "arctan", "abs", "square", "sqrt", "negative"]
    out, seen = [], set()
    while len(out) < n:
        p = bases[rng.integers(len(bases))]
        statements = []
        for st in p.statements:
            args = tuple(a if isinstance(a, str) else a * float(2.0 ** rng.normal(0, 0.3))
                         for a in st.args)
            op = unary[rng.integers(len(unary))] if len(args) == 1 and rng.random() < 0.2 \
                else st.op
            statements.append(st.replace(op=op, args=args))
        child = p.with_statements(statements)
        if is_valid(child) and str(child) not in seen:
            seen.add(str(child))
            out.append(child)
    return out


def interleaved(fns: dict[str, Any], reps: int = REPS) -> dict[str, float]:
    """Minimum CPU seconds per call of each function, calls interleaved."""
    for f in fns.values():
        jax.block_until_ready(f())
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(reps):
        for name, f in fns.items():
            start = time.process_time()
            jax.block_until_ready(f())
            best[name] = min(best[name], time.process_time() - start)
    return best


def interpreter_call(task, program: Program, chunk: int | None = None):
    """``chunk=None``: the default; ``0``: unchunked."""
    enc = encode(program)
    cap = enc.capacity()
    fn = compiled_run(task, cap, chunk=chunk or (task.n_params if chunk == 0 else None)).compiled
    arrays = task_arrays(task)
    prog = {k: jnp.asarray(v) for k, v in enc.padded(cap).items()}
    table = jnp.asarray(scalar_table(enc, arrays.schedule, cap.scalar_slots))
    w0, idx = arrays.seed(0)
    return lambda: fn(prog, table, w0, idx, arrays.data)[0]


def baseline_call(task, make):
    arrays = task_arrays(task)
    w0, idx = arrays.seed(0)
    one, sched = jnp.float32(1.0), jnp.asarray(arrays.schedule)
    compiled = jax.jit(make).lower(one, sched, w0, idx, arrays.data).compile()
    return lambda: compiled(one, sched, w0, idx, arrays.data)


# --- sections ----------------------------------------------------------------------------------


def section_step() -> list[dict]:
    names = ["teacher/s", "char/s", "teacher/m", "char/m"] if ARGS.quick else [
        "teacher/s", "teacher/m", "char/s", "char/m", "glyphs/s", "illcond/s", "illcond/m"]
    rows = []
    for name in names:
        task = get_task(name)
        fns = {}
        for opt in ("lion", "adamw"):
            program = library.load(opt)
            fns[f"interp-{opt}"] = interpreter_call(task, program)
            fns[f"hand-{opt}"] = baseline_call(task, handwritten_run(task, opt))
            fns[f"spec-{opt}"] = baseline_call(task, specialized_run(task, program))
        best = interleaved(fns)
        steps = task.budget.steps
        for opt in ("lion", "adamw"):
            row = {
                "task": name, "optimizer": opt, "params": task.n_params,
                "batch": task.budget.batch_size,
                "interp_us": best[f"interp-{opt}"] / steps * 1e6,
                "hand_us": best[f"hand-{opt}"] / steps * 1e6,
                "spec_us": best[f"spec-{opt}"] / steps * 1e6,
            }
            row["ratio"] = row["interp_us"] / row["hand_us"]
            row["spec_ratio"] = row["spec_us"] / row["hand_us"]
            rows.append(row)
            print(f"  {name:10s} {opt:6s} interp {row['interp_us']:7.0f} us  hand "
                  f"{row['hand_us']:7.0f} us  ratio {row['ratio']:.2f}   one-jit-per-program "
                  f"{row['spec_us']:7.0f} us ({row['spec_ratio']:.2f})", flush=True)
    return rows


def section_layouts() -> list[dict]:
    task = get_task("teacher/s")
    programs = [library.load(n) for n in ("lion", "adamw", "rmsprop", "signum")]
    runs = 4
    arrays = task_arrays(task)
    w0, idx = arrays.seed(0)
    encs = [encode(p) for p in programs]
    cap = encs[0].capacity()
    progs = [{k: jnp.asarray(v) for k, v in e.padded(cap).items()} for e in encs]
    tables = [jnp.asarray(scalar_table(e, arrays.schedule, cap.scalar_slots)) for e in encs]

    def per_run(chunk):
        fn = compiled_run(task, cap, chunk=chunk or task.n_params).compiled

        def call():
            return [fn(p, t, w0, idx, arrays.data)[0] for p, t in zip(progs, tables,
                                                                       strict=True)
                    for _ in range(runs)]
        return call

    def vmap_runs(chunk):
        run = make_run(task, cap, chunk)  # make_run: chunk=None is unchunked
        fn = jax.jit(jax.vmap(run, in_axes=(None, 0, 0, 0, None)))
        tb = [jnp.stack([t] * runs) for t in tables]
        w, ix = jnp.stack([w0] * runs), jnp.stack([idx] * runs)
        compiled = fn.lower(progs[0], tb[0], w, ix, arrays.data).compile()
        return lambda: [compiled(p, t, w, ix, arrays.data)[0] for p, t in zip(progs, tb,
                                                                                strict=True)]

    def vmap_programs():
        # Two programs x one run: this layout is ~100x slower on CPU, so it is timed smaller.
        fn = compiled_run(task, cap, "vmap", (2, 1)).compiled
        prog = {k: jnp.stack([p[k] for p in progs[:2]]) for k in progs[0]}
        tb = jnp.stack([t[None] for t in tables[:2]])
        w = jnp.broadcast_to(w0, (2, 1, *w0.shape))
        ix = jnp.broadcast_to(idx, (2, 1, *idx.shape))
        return lambda: fn(prog, tb, w, ix, arrays.data)[0]

    fns = {
        "runs, chunked 2048 (CPU default)": per_run(2048),
        "runs, unchunked": per_run(None),
        "vmap over runs, chunked 2048": vmap_runs(2048),
        "vmap over runs, unchunked": vmap_runs(None),
    }
    best = interleaved(fns, max(3, REPS // 2))
    total = {name: len(programs) * runs * task.budget.steps for name in fns}
    best.update(interleaved({"vmap over programs and runs": vmap_programs()}, 1))
    total["vmap over programs and runs"] = 2 * task.budget.steps
    rows = []
    for name, sec in best.items():
        us = sec / total[name] * 1e6
        rows.append({"layout": name, "task": task.name, "us_per_run_step": us})
        print(f"  {name:36s} {us:9.1f} us per run-step", flush=True)
    return rows


def section_chunks() -> list[dict]:
    task = get_task("teacher/m")
    rows = []
    for opt in ("lion", "adamw"):
        program = library.load(opt)
        fns = {str(c or "none"): interpreter_call(task, program, c)
               for c in (512, 1024, 2048, 4096, 8192, 0)}
        fns["hand"] = baseline_call(task, handwritten_run(task, opt))
        best = interleaved(fns, REPS * 2)
        for chunk, sec in best.items():
            us = sec / task.budget.steps * 1e6
            rows.append({"task": task.name, "optimizer": opt, "chunk": chunk, "us_per_step": us})
            print(f"  {opt:6s} chunk {chunk:>5s}: {us:7.0f} us/step", flush=True)
    return rows


def section_throughput() -> list[dict]:
    names = ["teacher/xs", "teacher/s", "char/s", "teacher/m"] if ARGS.quick else [
        "teacher/xs", "teacher/s", "char/s", "glyphs/s", "illcond/s", "teacher/m", "char/m",
        "teacher/l"]
    policy = suite_spec("default").stages[0].lrs
    rows = []
    for name in names:
        task = get_task(name)
        size = name.split("/")[1]
        n_interp = {"xs": 200, "s": 40, "m": 8, "l": 2}[size]
        n_jit = {"xs": 4, "s": 4, "m": 3, "l": 1}[size]
        if ARGS.quick:
            n_interp, n_jit = max(2, n_interp // 4), max(1, n_jit // 2)
        programs = mutants(n_interp + n_jit, seed=1)
        evaluate(task, programs[:1], lrs=[1.0])  # compile outside the timing
        row: dict[str, Any] = {"task": name, "params": task.n_params}
        for label, lrs, seeds in (("1lr1seed", [1.0], (0,)), ("suite_policy", policy, (0, 1))):
            start = time.perf_counter()
            evaluate(task, programs[:n_interp], lrs=lrs, seeds=seeds)
            interp = n_interp / (time.perf_counter() - start)
            runs_per_program = 1 if label == "1lr1seed" else (
                len(policy.coarse.multipliers) * policy.coarse_seeds
                + policy.fine_points * len(seeds))
            # One jax.jit per program: compile it, then run it as often as the policy does.
            arrays = task_arrays(task)
            w0, idx = arrays.seed(0)
            sched = jnp.asarray(arrays.schedule)
            start = time.perf_counter()
            for p in programs[n_interp : n_interp + n_jit]:
                fn = jax.jit(specialized_run(task, p))
                for r in range(runs_per_program):
                    jax.block_until_ready(fn(jnp.float32(1.0 + r), sched, w0, idx,
                                             arrays.data))
            jit = n_jit / (time.perf_counter() - start)
            row[label] = {"interp_programs_per_s": interp, "jit_programs_per_s": jit,
                          "speedup": interp / jit, "runs_per_program": runs_per_program}
            print(f"  {name:10s} {label:12s} interpreter {interp:8.2f} programs/s   one jit "
                  f"per program {jit:6.3f} programs/s   x{interp / jit:6.1f}", flush=True)
        rows.append(row)
    return rows


def section_suite() -> dict:
    suite = get_suite("default")
    start = time.perf_counter()
    suite.baseline(0)
    first = time.perf_counter() - start
    programs = mutants(6, seed=2)
    times = []
    for p in programs:
        start = time.perf_counter()
        suite.evaluate([p], 0)
        times.append(time.perf_counter() - start)
    stage = suite_spec("default").stages[0]
    out = {"stage": stage.name, "tasks": [t for t, _ in stage.tasks], "seeds": stage.seeds,
           "baseline_with_compiles_s": first, "per_program_s": times,
           "median_per_program_s": float(np.median(times))}
    print(f"  default suite, stage {stage.name}: {np.median(times):.2f} s per program "
          f"(median of {len(times)}; all lrs and seeds; first call with compiles "
          f"{first:.1f} s)", flush=True)
    return out


def _worker(task_name: str, n: int, seed: int) -> None:
    """A child of the threads section: evaluate n mutants, print the wall time."""
    task = get_task(task_name)
    programs = mutants(n + 1, seed=seed)
    evaluate(task, programs[:1], lrs=[1.0])
    start = time.perf_counter()
    evaluate(task, programs[1:], lrs=[1.0, 3.0], seeds=(0,))
    print(json.dumps({"seconds": time.perf_counter() - start, "n": n}))


def section_threads() -> list[dict]:
    task, n = "teacher/m", 6 if ARGS.quick else 12
    me = [sys.executable, str(Path(__file__).resolve())]

    def spawn(single: bool, count: int, seed: int) -> subprocess.Popen:
        env = dict(os.environ)
        env.pop("XLA_FLAGS", None)
        env["EVAL_BENCH_SINGLE"] = "1" if single else "0"
        return subprocess.Popen([*me, "--worker", task, str(count), str(seed)], env=env,
                                stdout=subprocess.PIPE, text=True, cwd=str(ROOT))

    def wall(procs: list[subprocess.Popen]) -> float:
        outs = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
        return max(o["seconds"] for o in outs)

    rows = []
    for label, single, procs in (("1 process, XLA default threads", False, 1),
                                 ("1 process, single-threaded", True, 1),
                                 ("2 processes, single-threaded", True, 2)):
        per = n // procs
        seconds = wall([spawn(single, per, seed=10 + i) for i in range(procs)])
        rate = per * procs * 2 / seconds  # 2 runs (lrs) per program
        rows.append({"config": label, "task": task, "runs_per_s": rate, "seconds": seconds})
        print(f"  {label:34s} {rate:6.2f} runs/s ({seconds:.1f} s for {per * procs * 2} runs)",
              flush=True)
    return rows


def main() -> int:
    if ARGS.worker:
        _worker(ARGS.worker[0], int(ARGS.worker[1]), int(ARGS.worker[2]))
        return 0
    sections = [s.strip() for s in ARGS.sections.split(",") if s.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        print(f"unknown sections {sorted(unknown)}; choose from {SECTIONS}", file=sys.stderr)
        return 2
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(), "jax": jax.__version__,
                    "backend": jax.default_backend(),
                    "xla_flags": os.environ.get("XLA_FLAGS", ""),
                    "load_average_start": os.getloadavg()},
        "quick": ARGS.quick, "reps": REPS,
    }
    for name in sections:
        print(f"[{name}]", flush=True)
        start = time.perf_counter()
        results[name] = globals()[f"section_{name}"]()
        print(f"  ({time.perf_counter() - start:.0f} s)", flush=True)
    results["compiles"] = {"count": compile_count(), "seconds": compile_seconds()}
    results["machine"]["load_average_end"] = os.getloadavg()
    out = Path(ARGS.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
