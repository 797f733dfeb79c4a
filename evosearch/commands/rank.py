"""``evosearch rank``: rank programs on proxy tasks with lr tuning and paired seeds.

How a user checks what a proxy suite rewards before spending hours of search on it. The logic
lives in :mod:`proxy_tasks.rank`; this module parses arguments and prints.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from evosearch.commands import add_task_file_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tasks", help="comma-separated task names (see --list-tasks); "
                        "default: the tasks of --suite's --stage")
    parser.add_argument("--suite", default="default",
                        help="suite (a built-in name, or a .toml file with a [suite] table) "
                             "whose stage supplies tasks, weights and lr policy when "
                             "--tasks is not given; default %(default)s")
    parser.add_argument("--stage", default="m",
                        help="stage of the suite (name or index); default %(default)s")
    parser.add_argument("--programs", default="lion,adamw,signum,rmsprop,momentum",
                        help="comma-separated library names or .prog files; default %(default)s")
    parser.add_argument("--baseline", default="adamw",
                        help="the program others are tested against; default %(default)s")
    parser.add_argument("--seeds", type=int, default=5,
                        help="evaluation seeds, paired across programs; default %(default)s")
    parser.add_argument("--tune-seeds", type=int, default=2,
                        help="separate seeds for choosing each lr (0: tune on the evaluation "
                             "seeds); default %(default)s")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="first evaluation seed: another value repeats the ranking on "
                             "fresh seeds; default %(default)s")
    parser.add_argument("--lrs", default="grid",
                        help="'grid' (quarter decades, 0.1x to 10x the task's lr scale), "
                             "'coarse-to-fine', 'stage' (the suite stage's policy) or "
                             "comma-separated multipliers")
    parser.add_argument("--json", metavar="PATH", help="also write the result as JSON")
    parser.add_argument("--list-tasks", action="store_true", help="list the tasks and exit")
    add_task_file_argument(parser)


def _policy(text: str):
    from proxy_tasks.lr_policy import DEFAULT_POLICY, CoarseToFine

    if text == "grid":
        return DEFAULT_POLICY
    if text == "coarse-to-fine":
        return CoarseToFine()
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        from evosearch.commands import CommandError

        raise CommandError(
            f"--lrs: expected 'grid', 'coarse-to-fine' or numbers, got {text!r}") from None


def _suite_stage(suite: str, stage: str):
    from proxy_tasks.suites import load_spec

    return load_spec(suite).stage(stage)


def run(args: argparse.Namespace) -> int:
    from evosearch.cli import error_message
    from evosearch.commands import CommandError, load_task_files
    from programs import ProgramError
    from proxy_tasks import device_summary, get_task, task_names
    from proxy_tasks.rank import load_programs, rank

    load_task_files(args.task_files)
    if args.list_tasks:
        for name in task_names():
            print(f"{name:14s} {get_task(name).description}")
        return 0
    try:
        weights = None
        stage_policy = None
        if args.tasks:
            tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
        else:
            stage = _suite_stage(args.suite, args.stage)
            tasks = [t for t, _ in stage.tasks]
            weights = [w for _, w in stage.tasks]
            stage_policy = stage.lrs
        for t in tasks:
            get_task(t)
        programs = load_programs(args.programs.split(","))
        print(device_summary(in_process=True), file=sys.stderr, flush=True)
        if args.lrs == "stage":
            if stage_policy is None:
                raise ValueError("--lrs stage needs a suite stage, not --tasks")
            policy = stage_policy
        else:
            policy = _policy(args.lrs)
        result = rank(programs, tasks, seeds=args.seeds, tune_seeds=args.tune_seeds,
                      lrs=policy, baseline=args.baseline, weights=weights,
                      first_seed=args.first_seed,
                      progress=lambda line: print(line, file=sys.stderr, flush=True))
    except (KeyError, ValueError, FileNotFoundError, ProgramError) as e:
        # Unknown tasks, suites, stages and programs: one line (evosearch.cli prints it).
        raise CommandError(error_message(e)) from None
    print(result.table())
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result.to_json(), indent=2) + "\n")
    return 0
