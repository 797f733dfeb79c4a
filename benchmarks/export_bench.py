"""Speed and memory of exported optimizers against the hand-written ones, on ~10M parameters.

Targets: the exported Lion's jitted step takes at most 1.1x the time of
``optax.lion``'s on a 10M-parameter pytree of several leaves, and its state is 1x the
parameters (AdamW: 2x). A step is ``update`` plus ``optax.apply_updates``, jitted with the
parameters and state donated, as a training loop would run it. Optimizers are timed in
interleaved rounds (A, B, A, B, ...) and compared by their median, so that load from other
processes on the machine hits both alike.

Also reported, for information: the same Lion from the generated standalone module
(``to_source``), the library's AdamW (no bias correction) beside ``optax.adamw``, and, with
torch installed, the torch export with and without ``foreach`` beside ``torch.optim.AdamW``.

    python benchmarks/export_bench.py [--rounds 15] [--steps 5] [--size 1.0]
        [--torch-threads 1] [--json benchmarks/results/export.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

import programs
from programs.export import to_optax, to_source

LION_LR = 1e-4  # the learning rate of optax.lion and of the exported Lion (its default)
TARGET_RATIO = 1.1


def shapes(size: float) -> dict[str, tuple[int, ...]]:
    """A transformer-like pytree of ~10M parameters at ``size=1`` (an embedding, two blocks of
    two matrices and biases, a head)."""
    d, vocab, hidden = 512, int(8192 * size), int(2048 * size)
    tree = {"embed": (vocab, d), "head": (d, int(3072 * size))}
    for i in range(2):
        tree |= {f"block{i}/up": (d, hidden), f"block{i}/up_bias": (hidden,),
                 f"block{i}/down": (hidden, d), f"block{i}/down_bias": (d,)}  # fmt: skip
    return tree


def _random_tree(layout: dict[str, tuple[int, ...]], seed: int) -> dict[str, jax.Array]:
    keys = jax.random.split(jax.random.key(seed), len(layout))
    return {
        name: jax.random.normal(key, shape, jnp.float32)
        for key, (name, shape) in zip(keys, layout.items(), strict=True)
    }


def _nbytes(tree: object) -> int:
    return sum(x.nbytes for x in jax.tree.leaves(tree))


class JaxStep:
    """One optimizer's jitted training step on its own copy of the parameters."""

    def __init__(self, tx: optax.GradientTransformation, params: dict, grads: dict) -> None:
        def step(p: dict, state: object, g: dict) -> tuple[dict, object]:
            updates, state = tx.update(g, state, p)
            return optax.apply_updates(p, updates), state

        self.params = jax.tree.map(jnp.copy, params)
        self.state = tx.init(self.params)
        self.state_bytes = _nbytes(self.state)
        self.grads = grads
        self.step = jax.jit(step, donate_argnums=(0, 1))
        self.run(3)  # compile and warm up

    def run(self, steps: int) -> float:
        """Seconds per step over ``steps`` steps."""
        start = time.perf_counter()
        for _ in range(steps):
            self.params, self.state = self.step(self.params, self.state, self.grads)
        jax.block_until_ready(self.params)
        return (time.perf_counter() - start) / steps


def interleaved(runners: dict[str, Callable[[int], float]], rounds: int, steps: int) -> dict:
    """Median seconds per step of each runner, timed in alternating rounds."""
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            times[name].append(run(steps))
    return {name: statistics.median(t) for name, t in times.items()}


def _generated_module(program: programs.Program, target: str) -> object:
    directory = Path(tempfile.mkdtemp())
    path = directory / f"exported_{target}.py"
    path.write_text(to_source(program, target=target), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bench_jax(size: float, rounds: int, steps: int) -> dict:
    layout = shapes(size)
    params, grads = _random_tree(layout, 0), _random_tree(layout, 1)
    lion, adamw = programs.library.load("lion"), programs.library.load("adamw")
    generated = _generated_module(lion, "optax")
    txs = {
        "optax.lion": optax.lion(LION_LR, b1=0.9, b2=0.99, weight_decay=0.1),
        "exported lion": to_optax(lion, LION_LR),
        "generated lion": generated.optimizer(LION_LR),
        "optax.adamw": optax.adamw(1e-3, b1=0.9, b2=0.999, weight_decay=0.01),
        "exported adamw": to_optax(adamw, 1e-3),
    }
    steppers = {name: JaxStep(tx, params, grads) for name, tx in txs.items()}
    seconds = interleaved({n: s.run for n, s in steppers.items()}, rounds, steps)
    param_bytes = _nbytes(params)
    rows = {
        name: {
            "ms_per_step": 1e3 * seconds[name],
            "state_bytes": steppers[name].state_bytes,
            "state_over_params": steppers[name].state_bytes / param_bytes,
        }
        for name in txs
    }
    for name, baseline in [("exported lion", "optax.lion"), ("generated lion", "optax.lion"),
                           ("exported adamw", "optax.adamw")]:  # fmt: skip
        rows[name]["time_ratio"] = seconds[name] / seconds[baseline]
    return {
        "parameters": sum(int(np.prod(s)) for s in layout.values()),
        "leaves": len(layout),
        "param_bytes": param_bytes,
        "rows": rows,
    }


def bench_torch(size: float, rounds: int, steps: int, threads: int) -> dict | None:
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    from programs.export import to_torch

    torch.set_num_threads(threads)

    layout = shapes(size)
    classes = {
        "exported lion (foreach)": (to_torch(programs.library.load("lion")), {"foreach": True}),
        "exported lion (per tensor)": (to_torch(programs.library.load("lion")), {"foreach": False}),
        "exported adamw (foreach)": (to_torch(programs.library.load("adamw")), {"foreach": True}),
        "torch.optim.AdamW (foreach)": (torch.optim.AdamW, {"foreach": True, "lr": 1e-3}),
    }
    optimizers, param_lists = {}, {}
    for name, (cls, options) in classes.items():
        torch.manual_seed(0)
        params = [torch.nn.Parameter(torch.randn(s)) for s in layout.values()]
        for p in params:
            p.grad = torch.randn_like(p)
        optimizers[name] = cls(params, **options)  # exported: their default lr (1e-4, 1e-3)
        param_lists[name] = params
        optimizers[name].step()

    def runner(name: str) -> Callable[[int], float]:
        def run(count: int) -> float:
            start = time.perf_counter()
            for _ in range(count):
                optimizers[name].step()
            return (time.perf_counter() - start) / count

        return run

    seconds = interleaved({name: runner(name) for name in classes}, rounds, steps)
    param_bytes = sum(p.nbytes for p in param_lists["exported lion (foreach)"])
    rows = {}
    for name, optimizer in optimizers.items():
        state_bytes = sum(
            t.nbytes for s in optimizer.state.values() for t in s.values()
            if isinstance(t, torch.Tensor) and t.dim() > 0
        )  # fmt: skip
        rows[name] = {
            "ms_per_step": 1e3 * seconds[name],
            "state_bytes": state_bytes,
            "state_over_params": state_bytes / param_bytes,
        }
    return {"threads": torch.get_num_threads(), "rows": rows}


def _table(title: str, rows: dict) -> str:
    lines = [title, f"  {'optimizer':<30} {'ms/step':>9} {'vs base':>8} {'state/params':>13}"]
    for name, row in rows.items():
        ratio = f"{row['time_ratio']:.3f}x" if "time_ratio" in row else ""
        lines.append(f"  {name:<30} {row['ms_per_step']:>9.2f} {ratio:>8} "
                     f"{row['state_over_params']:>12.3f}x")  # fmt: skip
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved timing rounds")
    parser.add_argument("--steps", type=int, default=5, help="steps per round")
    parser.add_argument("--size", type=float, default=1.0, help="scale of the pytree (1: ~10M)")
    parser.add_argument("--no-torch", action="store_true", help="skip the torch section")
    parser.add_argument("--torch-threads", type=int, default=1,
                        help="torch intra-op threads (default 1: on a shared 2-core machine "
                             "two threads contend and run ~10x slower)")
    parser.add_argument("--json", default="benchmarks/results/export.json")
    args = parser.parse_args()

    jax_result = bench_jax(args.size, args.rounds, args.steps)
    torch_result = (
        None if args.no_torch
        else bench_torch(args.size, args.rounds, args.steps, args.torch_threads)
    )  # fmt: skip
    rows = jax_result["rows"]
    checks = {
        "lion time ratio <= 1.1": rows["exported lion"]["time_ratio"] <= TARGET_RATIO,
        "lion state == 1x params": rows["exported lion"]["state_over_params"] == 1.0,
        "adamw state == 2x params": rows["exported adamw"]["state_over_params"] == 2.0,
    }
    print(f"{jax_result['parameters']:,} parameters in {jax_result['leaves']} leaves, float32; "
          f"jax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} cores; "
          f"median of {args.rounds} interleaved rounds of {args.steps} steps")  # fmt: skip
    print(_table("jax (jitted update + apply_updates, params and state donated)", rows))
    if torch_result:
        print(_table(f"torch ({torch_result['threads']} threads, step())", torch_result["rows"]))
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    result = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "jax": jax.__version__,
        "optax": optax.__version__,
        "rounds": args.rounds,
        "steps_per_round": args.steps,
        "jax_results": jax_result,
        "torch_results": torch_result,
        "checks": checks,
    }
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
