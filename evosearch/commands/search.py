"""``evosearch search``: run a program search, or resume one.

With no arguments: from AdamW on the default suite, locally, into ``runs/<timestamp>``.
``--config FILE`` reads a TOML file (``experiments/smoke.toml`` is a complete search in under a
minute), ``--set section.key=value`` overrides one setting, ``--resume`` continues the search in
``--out`` exactly where it stopped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="TOML settings (see experiments/)")
    parser.add_argument("--out", metavar="DIR",
                        help="run directory (default: runs/<timestamp>; required with "
                             "--resume). A new search needs a folder without another search's "
                             "files: one with checkpoint.json is continued with --resume, one "
                             "with other run files but no checkpoint is refused (choose another "
                             "--out or move those files away): another run's files are never "
                             "overwritten or appended to")
    parser.add_argument("--resume", action="store_true",
                        help="continue the search saved in --out; the whole checkpoint is "
                             "checked first, and a checkpoint that fails a check (or is "
                             "read-only) is refused with nothing in the folder changed")
    parser.add_argument("--seed", type=int, help="random seed (same as --set search.seed=N)")
    from evosearch.backends import BACKENDS  # the table only: no numpy, jax or ray

    parser.add_argument("--backend", choices=tuple(BACKENDS),
                        help="where evaluations run (same as --set executor.backend=NAME): "
                             + "; ".join(f"{name}: {b.doc}" for name, b in BACKENDS.items()))
    parser.add_argument("--address", metavar="auto|HOST:PORT",
                        help="with --backend ray: join a running Ray cluster ('auto': the one "
                             "started here with `ray start`); default: start Ray for this search")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="override a setting, e.g. --set evolution.population=64 (repeatable)")
    parser.add_argument("--restart", choices=("best", "initial"),
                        help="restart the population at once (with --resume: from the best so "
                             "far or from the warm start); later: touch DIR/RESTART")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    parser.add_argument("--list-settings", action="store_true",
                        help="print every setting with its default and exit")


def run(args: argparse.Namespace) -> int:
    from evosearch import config as config_module
    from evosearch.run.progress import ProgressLine
    from evosearch.run.runner import Runner

    if args.list_settings:
        for key, default, doc in config_module.documented_fields():
            print(f"{key} = {default!r}\n    {doc}")
        return 0
    overrides = list(args.overrides)
    if args.seed is not None:
        overrides.append(f"search.seed={args.seed}")
    if args.address is not None and args.backend not in (None, "ray"):
        from evosearch.commands import CommandError

        raise CommandError(f"--address is for --backend ray, not {args.backend}")
    if args.backend is not None or args.address is not None:
        overrides.append(f"executor.backend={args.backend or 'ray'}")
    if args.address is not None:
        overrides.append(f"executor.address={json.dumps(args.address)}")
    try:
        requested = None
        if args.resume:
            if not args.out:
                raise config_module.ConfigError("--resume needs --out DIR (the run to continue)")
            out = Path(args.out)
            config = None
            if args.config or overrides:
                # Settings requested now, on top of the checkpoint's (checked by the runner).
                def requested(saved: config_module.Config) -> config_module.Config:
                    base = config_module.load(args.config) if args.config else saved
                    return config_module.apply_overrides(base, overrides)
        else:
            config = config_module.load(args.config, overrides)
            out = Path(args.out) if args.out else Path("runs") / time.strftime("%Y%m%d-%H%M%S")
        progress = ProgressLine(
            config.progress.interval_seconds if config else 1.0, enabled=not args.quiet
        )
        runner = Runner(config, out, resume=args.resume, progress=progress, restart=args.restart,
                        requested=requested)
        progress.interval = runner.config.progress.interval_seconds
        if not args.resume:  # a resume names its folder once its checkpoint is accepted
            print(f"evosearch: writing to {out}", file=sys.stderr)
        outcome = runner.run()
    except OSError as e:  # the run folder failed under the search (disk full, permissions)
        from evosearch.commands import CommandError

        where = f"{e.filename}: " if e.filename else ""
        raise CommandError(f"{where}{e.strerror or e}") from None
    _summary(outcome)
    return 0 if outcome.status == "finished" else 130


def _summary(outcome) -> None:
    from evosearch.run.describe import recognize, simplify

    engine = outcome.engine
    best = engine.best()
    c = engine.counters
    hit = c.hits / c.children if c.children else 0.0
    print(f"\n{outcome.status}: {c.evaluations} evaluations, {c.children} children, "
          f"cache hits {100 * hit:.0f}%, restarts {c.restarts}; files in {outcome.out}")
    if outcome.status == "interrupted":
        print(f"resume with: evosearch search --resume --out {outcome.out}")
    if best is None:
        return
    program = engine.program(best.id)
    label = recognize(program)
    print(f"best: record #{best.id}, stage {engine.stage_names[best.stage]}, "
          f"fitness {best.fitness:.6g}{'  (' + label + ')' if label else ''}")
    print(simplify(program))
    rows = engine.meta_validation()
    if rows:
        print(f"meta-validation on stage {engine.stage_names[-1]} (lower is better):")
        for rid, score in rows:
            name = recognize(engine.program(rid))
            print(f"  #{rid}: {score.fitness:.6g}{'  ' + name if name else ''}")
