"""The ``evosearch`` command line.

Each subcommand lives in its own module under :mod:`evosearch.commands`, which exposes
``add_arguments(parser)`` and ``run(args) -> int``. Modules are imported when their command runs
or when the parser is built; they must keep heavy imports (jax, ray) inside ``run`` so that
``evosearch --help`` is instant.

Errors: a command raises; :func:`main` prints an error of the project's types (bad settings, a
bad program or checkpoint, a suite or evaluators that cannot work, bad command input) as one
line, ``evosearch <command>: error: <message>``, and exits with status 2. Anything else is a
bug and keeps its traceback.
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
        description="Optimizers as symbolic programs: identify one from its behaviour, or "
                    "search for new ones.",
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


def user_errors() -> tuple[type[BaseException], ...]:
    """The project's error types: their messages are written for the user, their tracebacks
    help nobody. Imported only when an error is to be printed (they pull in numpy)."""
    from evosearch.backends.base import ExecutorError
    from evosearch.commands import CommandError
    from evosearch.config import ConfigError
    from evosearch.run.checkpoint import CheckpointError
    from programs import ProgramError
    from proxy_tasks.suites import SuiteError

    return (CommandError, ConfigError, CheckpointError, ExecutorError, ProgramError, SuiteError)


def error_message(error: BaseException) -> str:
    """The user's line for ``error`` (``KeyError`` quotes its message; the quotes go)."""
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0])
    return str(error)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print(f"evosearch {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if not isinstance(e, user_errors()):
            raise
        print(f"evosearch {args.command}: error: {error_message(e)}", file=sys.stderr)
        return int(getattr(e, "status", 2))


if __name__ == "__main__":
    sys.exit(main())
