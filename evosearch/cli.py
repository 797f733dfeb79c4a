"""The ``evosearch`` command line.

Each subcommand lives in its own module under :mod:`evosearch.commands`, which exposes
``add_arguments(parser)`` and ``run(args) -> int``. Modules are imported when their command runs
or when the parser is built; they must keep heavy imports (jax, ray) inside ``run`` so that
``evosearch --help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS: dict[str, str] = {
    "search": "run a program search (default: from AdamW on the default suite, locally)",
    "identify": "recover an optimizer's program from its behaviour (optax, torch, a trace)",
    "rank": "rank programs on proxy tasks with lr tuning and paired seeds",
    "simplify": "shorten a program: analytic, then empirical ablation on tasks",
    "inspect": "show a program's live statements, state, recognition and formula",
    "export": "turn a program into an optax / torch optimizer or a standalone source file",
    "report": "plot a search run and print its best programs",
    "benchmark": "measure evaluation and search throughput on this machine",
}


def _module(name: str):
    return importlib.import_module(f"evosearch.commands.{name}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evosearch",
        description="Discover optimization algorithms by symbolic program search.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        try:
            module = _module(name)
        except ModuleNotFoundError as e:
            if e.name != f"evosearch.commands.{name}":
                raise
            continue  # a command not built yet
        p = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
