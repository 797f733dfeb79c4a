"""Meta-validation: a discovered program, exported to optax, against optax's AdamW and Lion on
tasks larger than any the search saw.

    python experiments/headline/meta_validate.py PROGRAM [--tasks wide/xl,wide10/xl,charlm/xl]
                                                 [--seeds 5] [--json PATH]

PROGRAM is a program file or a library name. Every optimizer is an ordinary optax
``GradientTransformation`` (the program through ``programs.export.to_optax``) trained by the same
jitted loop on the task's model and data (``proxy_tasks`` tasks, which give initial weights,
data order and the warmup + cosine schedule per seed). Each optimizer's peak learning rate is
tuned on separate seeds (a quarter-decade grid), then it is trained on ``--seeds`` fresh seeds,
paired across optimizers; the table shows mean validation loss, std, the chosen lr and a paired
t-test against optax.adamw.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # experiments/: the manifest helper
import manifest  # noqa: E402

TUNE_SEEDS = (1000, 1001)


def _optimizers(program) -> dict[str, Callable[[Callable], object]]:
    """name -> (schedule -> optax transformation). Hyperparameters other than the lr are the
    library's (AdamW weight decay 0.01, Lion b1 0.9, b2 0.99, weight decay 0.1)."""
    import optax

    from programs.export import to_optax

    return {
        "exported": lambda schedule: to_optax(program, schedule),
        "optax.adamw": lambda schedule: optax.adamw(schedule, b1=0.9, b2=0.999, eps=1e-8,
                                                     weight_decay=0.01),
        "optax.lion": lambda schedule: optax.lion(schedule, b1=0.9, b2=0.99, weight_decay=0.1),
    }


def _centre(name: str, task, program) -> float:
    """Where each optimizer's lr grid is centred, as a step size (what optax takes, and what the
    exported program takes: its own lr factor is its default learning rate): the program's
    default times the task's lr scale (the search's grid centre); the library's scales for
    optax."""
    if name == "exported":
        from programs.export.prepare import prepare

        return prepare(program).default_learning_rate * task.lr_scale
    if name == "optax.adamw":
        return 1e-3 * task.lr_scale
    return 1e-4 * task.lr_scale * 10.0  # Lion's best sits ~10x above AdamW's multiplier


def make_trainer(task):
    """A jitted function (peak lr, seed) -> validation loss for a given optax optimizer."""
    import jax
    import jax.numpy as jnp
    import optax

    data = {k: jnp.asarray(v) for k, v in task.data.items()}
    schedule = jnp.asarray(task.budget.lr_schedule())

    def trainer(make_opt):
        def run(peak, params, idx):
            opt = make_opt(lambda count: peak * schedule[jnp.minimum(count, len(schedule) - 1)])
            state = opt.init(params)

            def step(carry, batch):
                params, state = carry
                loss, grads = jax.value_and_grad(task.train_loss)(params, data, batch)
                updates, state = opt.update(grads, state, params)
                return (optax.apply_updates(params, updates), state), loss

            (params, _), _ = jax.lax.scan(step, (params, state), idx)
            loss = task.val_loss(params, data)
            return jnp.where(jnp.isfinite(loss), jnp.minimum(loss, task.worst_loss),
                             task.worst_loss)

        compiled = jax.jit(run)

        def evaluate(peak: float, seed: int) -> float:
            params = task.unflatten(jnp.asarray(task.init_params(seed)))
            idx = jnp.asarray(task.batch_indices(seed))
            return float(compiled(jnp.float32(peak), params, idx))

        return evaluate

    return trainer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("program")
    parser.add_argument("--tasks", default="wide/xl,wide10/xl,charlm/xl")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--grid", type=float, default=1.5, help="decades each side of centre")
    parser.add_argument("--step", type=float, default=0.25, help="decades between grid points")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from proxy_tasks import configure_single_thread

    configure_single_thread()
    from scipy import stats

    from evosearch.commands.inspect import load
    from proxy_tasks import get_task

    program, label = load(args.program)
    print(f"meta-validating {label} on {args.tasks} ({args.seeds} seeds)", flush=True)
    optimizers = _optimizers(program)
    grid = 10.0 ** np.arange(-args.grid, args.grid + 1e-9, args.step)
    seeds = list(range(args.seeds))
    result: dict = {"program": programs_text(program), "tasks": {}, "seeds": seeds}
    for task_name in [t.strip() for t in args.tasks.split(",") if t.strip()]:
        task = get_task(task_name)
        trainer = make_trainer(task)
        rows = {}
        start = time.perf_counter()
        for name, make in optimizers.items():
            evaluate = trainer(make)
            centre = _centre(name, task, program)
            tuned = [np.mean([evaluate(centre * f, s) for s in TUNE_SEEDS]) for f in grid]
            best = centre * grid[int(np.argmin(tuned))]
            losses = np.array([evaluate(best, s) for s in seeds])
            rows[name] = {"mean": float(losses.mean()), "std": float(losses.std(ddof=1)),
                          "lr": float(best), "losses": losses.tolist(),
                          "edge": bool(best in (centre * grid[0], centre * grid[-1]))}
        base = np.array(rows["optax.adamw"]["losses"])
        print(f"\n{task.name}: {task.description} ({time.perf_counter() - start:.0f} s)")
        print(f"  {'optimizer':<14} {'mean':>8} {'std':>7} {'peak lr':>10} {'vs adamw':>9} "
              f"{'p':>8}")
        for name, row in sorted(rows.items(), key=lambda kv: kv[1]["mean"]):
            losses = np.array(row["losses"])
            p = "" if name == "optax.adamw" else f"{stats.ttest_rel(losses, base).pvalue:.2g}"
            row["p_vs_adamw"] = None if name == "optax.adamw" else float(p)
            edge = "  (grid edge)" if row["edge"] else ""
            print(f"  {name:<14} {row['mean']:8.4f} {row['std']:7.4f} {row['lr']:10.3g} "
                  f"{row['mean'] - base.mean():+9.4f} {p:>8}{edge}")
        result["tasks"][task.name] = rows
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        manifest.record(args.json)
    return 0


def programs_text(program) -> str:
    import programs

    return programs.format(program)


if __name__ == "__main__":
    sys.exit(main())
