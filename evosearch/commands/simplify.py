"""``evosearch simplify FILE``: shorten a program, analytically then by empirical ablation.

Each removal is judged on real training runs (``proxy_tasks``) with paired seeds; the fitness of
a program is the weighted mean over tasks of its best-lr loss relative to the original program's
loss on that task, so the original scores 1 and lower is better.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from evosearch.commands import add_task_file_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="a program file, or the name of a library program")
    parser.add_argument(
        "--suite", default="default", help="suite whose stage supplies tasks, weights and lr policy"
    )
    parser.add_argument("--stage", default="s", help="stage of the suite (name or index)")
    parser.add_argument(
        "--tasks", help="comma-separated task names instead of the stage's tasks (equal weights)"
    )
    parser.add_argument(
        "--seeds", type=int, default=5, help="paired seeds per evaluation (default 5)"
    )
    parser.add_argument("--alpha", type=float, default=0.05,
                        help="a removal is refused if the paired test calls it worse at this level")
    parser.add_argument("--max-relative-loss", type=float, default=0.01,
                        help="a removal is refused if its mean fitness is this much worse")
    parser.add_argument("--no-analytic", action="store_true",
                        help="skip programs.simplify (dead code is still removed)")
    parser.add_argument("-o", "--output", help="write the shortest program here")
    parser.add_argument("--json", help="write every step (program, fitness, p-value) as JSON")
    add_task_file_argument(parser)


def _stage(suite_name: str, stage: str):
    from evosearch.cli import error_message
    from evosearch.commands import CommandError
    from proxy_tasks.suites import SuiteError, load_spec

    try:
        return load_spec(suite_name).stage(stage)
    except (SuiteError, KeyError) as e:
        raise CommandError(error_message(e)) from None


def make_scorer(tasks: list[tuple[str, float]], seeds: tuple[int, ...], lrs):
    """A :data:`proxy_tasks.ablation.Scorer` over real training runs: per seed, the weighted mean
    over tasks of the best-lr loss relative to the first scored program's mean loss."""
    import numpy as np

    from proxy_tasks import evaluate

    reference: dict[str, float] = {}
    total = sum(w for _, w in tasks)

    def score(progs):
        out = np.zeros((len(progs), len(seeds)))
        for task, weight in tasks:
            scores = evaluate(task, list(progs), lrs=lrs, seeds=seeds)
            per_seed = scores.best_seed_losses
            if task not in reference:
                reference[task] = float(scores.best_loss[0])
            out += (weight / total) * per_seed / reference[task]
        return out

    return score


def run(args: argparse.Namespace) -> int:
    from evosearch.commands import CommandError, load_task_files
    from evosearch.commands.inspect import load
    from programs import format
    from proxy_tasks.ablation import empirical_simplify

    load_task_files(args.task_files)
    program, label = load(args.file)
    stage = _stage(args.suite, args.stage)
    if args.tasks:
        from proxy_tasks import task_names

        names = [t.strip() for t in args.tasks.split(",") if t.strip()]
        unknown = [t for t in names if t not in task_names()]
        if unknown:
            raise CommandError(f"unknown task(s) {', '.join(unknown)}; known: "
                               f"{', '.join(task_names())}")
        tasks = [(t, 1.0) for t in names]
    else:
        tasks = list(stage.tasks)
    if args.seeds < 2:
        raise CommandError("--seeds must be at least 2 for a paired test")
    seeds = tuple(range(args.seeds))
    print(f"simplifying {label} ({len(program)} statements) on "
          f"{', '.join(t for t, _ in tasks)} with {len(seeds)} paired seeds", file=sys.stderr)
    result = empirical_simplify(
        program,
        make_scorer(tasks, seeds, stage.lrs),
        alpha=args.alpha,
        max_relative_loss=args.max_relative_loss,
        analytic=not args.no_analytic,
        progress=lambda line: print(line, file=sys.stderr),
    )
    first = result.steps[0]
    print(f"# start ({'analytic' if not args.no_analytic else 'dead code removed'}): "
          f"{len(first.program)} statements, fitness {first.fitness:.4f}")
    for step in result.steps[1:]:
        print(f"# removed `{step.removed}` (result -> {step.replacement}): "
              f"{len(step.program)} statements, fitness {step.fitness:.4f}, "
              f"p(worse than start) {step.p_worse:.3f}")
    text = format(result.program)
    print(text, end="")
    if args.output:
        Path(args.output).write_text(text)
    if args.json:
        Path(args.json).write_text(json.dumps({
            "original": format(program),
            "tasks": tasks,
            "seeds": list(seeds),
            "steps": [
                {"removed": s.removed, "replacement": s.replacement, "program": format(s.program),
                 "statements": len(s.program), "fitness": s.fitness, "p_worse": s.p_worse}
                for s in result.steps
            ],
        }, indent=2) + "\n")
    return 0
