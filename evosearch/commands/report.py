"""``evosearch report runs/NAME``: plots of a search and its best programs.

Reads the run's checkpoint and log (never changes them), writes PNG plots into the run
directory (or ``--plots DIR``), and prints: the counters, the mutation outcome table (count,
better than parent, new best, per kind), the top programs simplified and recognized, the
meta-validation, and the lineage of the best (text; the graph goes to ``lineage.graphml``).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN", help="a run directory (runs/NAME)")
    parser.add_argument("--top", type=int, default=5, help="how many best programs to show")
    parser.add_argument("--plots", metavar="DIR", help="where to write PNGs (default: RUN)")
    parser.add_argument("--no-plots", action="store_true", help="print only")
    parser.add_argument("--no-lineage", action="store_true", help="skip the lineage text")


def run(args: argparse.Namespace) -> int:
    from evosearch import config as config_module
    from evosearch.commands import CommandError
    from evosearch.engine.evolution import Evolution
    from evosearch.engine.schema import StateError
    from evosearch.run import checkpoint
    from evosearch.run.checkpoint import CheckpointError
    from evosearch.run.progress import read_log

    run_dir = Path(args.run_dir)
    path = run_dir / "checkpoint.json"
    if not run_dir.is_dir():
        raise CommandError(f"{run_dir}: {'not a folder' if run_dir.exists() else 'no such folder'}")
    if not path.exists():
        raise CheckpointError(f"{path}: no checkpoint here (not a run folder, or the search "
                              "stopped before its first checkpoint)")
    data = checkpoint.load(path)
    checkpoint.require(data, path, "config", "search")
    config = config_module.from_dict(data["config"], f"{path} config")
    try:
        engine = Evolution.from_json(config, data["search"], "search")
    except StateError as e:
        raise CheckpointError(f"{path}: {e}") from None
    log = run_dir / "log.jsonl"
    try:
        records, events = read_log(log, len(engine.stage_names)) if log.exists() else ([], [])
    except OSError as e:
        raise CommandError(f"{log}: cannot read it ({e.strerror})") from None
    print(report_text(engine, events, args.top, lineage=not args.no_lineage))
    if not args.no_plots:
        from evosearch.run.plots import plot_all

        try:
            paths = plot_all(records, events, engine.stage_names, Path(args.plots or run_dir))
        except OSError as e:
            where = f"{e.filename}: " if e.filename else ""
            raise CommandError(f"cannot write the plots: {where}{e.strerror or e}") from None
        for p in paths:
            print(f"wrote {p}")
    return 0


def report_text(engine, events, top: int, lineage: bool = True) -> str:
    from evosearch.run.describe import recognize, simplify

    c = engine.counters
    lines = []
    hit = c.hits / c.children if c.children else 0.0
    dead = c.redundancy_sum / c.children if c.children else 0.0
    minutes = engine.elapsed / 60
    lines.append(
        f"search: {c.evaluations} evaluations ({'/'.join(map(str, c.by_stage))} by stage "
        f"{'/'.join(engine.stage_names)}), {c.children} children in {minutes:.1f} min, "
        f"phase {engine.phase}"
    )
    made = c.children + c.unchanged
    free = 100 * (c.hits + c.unchanged) / made if made else 0.0
    lines.append(
        f"cache: {100 * hit:.1f}% of children scored without training ({c.in_flight_hits} of "
        f"them by a job already in flight, {engine.cache.stats.functional_hits} by the "
        f"functional key); {free:.1f}% counting generated copies of the parent, as the Lion "
        f"paper's 89% does; {len(engine.cache)} programs scored"
    )
    rejected = c.invalid + c.unchanged
    lines.append(
        f"children: {100 * dead:.1f}% dead statements on average; {rejected} attempts rejected "
        f"({c.invalid} invalid, {c.unchanged} same as parent), {c.gave_up} parents gave none; "
        f"{c.failed} evaluations failed (NaN/inf); {c.restarts} restarts, "
        f"{c.migrations} migrations"
    )
    lines.append("")
    lines.append("mutation outcomes (a child counts once for each kind of edit it had):")
    lines.append(f"  {'kind':<10}{'children':>10}{'better':>10}{'new best':>10}")
    for kind, (count, better, new_best) in engine.outcomes.items():
        lines.append(f"  {kind:<10}{count:>10}{better:>10}{new_best:>10}")
    lines.append("")
    lines.append(f"top {min(top, len(engine.hall_of_fame))} programs:")
    for rank, rid in enumerate(engine.hall_of_fame[:top], 1):
        r = engine.lineage[rid]
        program = engine.program(rid)
        label = recognize(program)
        stage = engine.stage_names[r.stage]
        lines.append(f"{rank}. #{rid}: fitness {r.fitness:.6g} at stage {stage}"
                     f"{'  (' + label + ')' if label else ''}")
        lines += ["   " + line for line in str(simplify(program)).rstrip().splitlines()]
    rows = engine.meta_validation()
    if rows:
        lines.append("")
        lines.append(f"meta-validation on stage {engine.stage_names[-1]}:")
        for rid, score in rows:
            lines.append(f"  #{rid}: {score.fitness:.6g}")
    best = engine.best()
    if lineage and best is not None:
        lines.append("")
        lines.append(f"lineage of the best (#{best.id}):")
        lines.append(engine.lineage.story(best.id, engine.stage_names).rstrip())
    return "\n".join(lines)
