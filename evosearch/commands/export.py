"""``evosearch export FILE --to optax|torch|source``: a program as a standalone optimizer module.

Writes an importable Python module that needs only jax and optax (``--to optax``) or torch
(``--to torch``); ``--to source --target optax|torch`` is the same thing spelled out. FILE is a
program file or the name of a library program (``lion``, ``adamw``, ...). The module goes to
``-o PATH``, or to standard output.

Before it reports success the command imports the module it wrote and runs it beside the
reference semantics (:func:`programs.step`) on a small problem: an export that fails or differs
is caught here, not at the end of someone's training run, and nothing is written. Bad input (a
missing file, an unknown library name, an invalid program) is reported with the file and line
and exit status 2; a module that does not match the reference gives exit status 1.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

CHECK_STEPS = 20
CHECK_TOLERANCE = 1e-4  # relative to the weights; float32 differences are ~1e-7


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE",
                        help="a program file, or a library program's name (e.g. lion)")
    parser.add_argument("--to", required=True, choices=("optax", "torch", "source"),
                        help="optax or torch: a standalone module for that framework; source: "
                             "the same, for the framework named by --target")
    parser.add_argument("--target", choices=("optax", "torch"),
                        help="the framework of --to source (default: optax)")
    parser.add_argument("-o", "--output", metavar="PATH",
                        help="write the module here (default: standard output)")
    parser.add_argument("--no-check", action="store_true",
                        help="skip running the module against the reference semantics")


def run(args: argparse.Namespace) -> int:
    from evosearch.commands import CommandError
    from evosearch.commands.inspect import load
    from programs.export import to_source

    if args.to != "source" and args.target not in (None, args.to):
        raise CommandError(f"--to {args.to} contradicts --target {args.target} "
                           f"(use --to source --target {args.target})")
    target = (args.target or "optax") if args.to == "source" else args.to
    program, origin = load(args.file)
    text = to_source(program, target=target)
    status, message = (0, "not checked") if args.no_check else check(program, text, target)
    if status:
        raise CommandError(f"{message}; nothing written (--no-check writes it anyway)", status)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as e:
            raise CommandError(f"cannot write {args.output}: {e.strerror or e}") from None
    else:
        sys.stdout.write(text)
    where = args.output or "standard output"
    print(f"wrote the {target} module for {origin} to {where}; {message}", file=sys.stderr)
    return 0


def check(program, text: str, target: str) -> tuple[int, str]:
    """Import the generated ``text`` and compare it with the reference on a small problem:
    ``(exit status, what happened)``."""
    from programs.export import verify

    if target == "torch" and importlib.util.find_spec("torch") is None:
        return 0, "not checked: torch is not installed (pip install -e '.[torch]')"
    params, grads = verify.sample_problem(CHECK_STEPS)
    try:
        module = verify.load_generated(text)
        # At the module's own default learning rate: what a user gets who passes none.
        if target == "optax":
            lr = float(module.optimizer.__defaults__[0])
            got = verify.optax_trajectory(module.optimizer(), params, grads)
        else:
            lr = float(module.Optimizer.default_lr)
            got = verify.torch_trajectory(module.Optimizer, params, grads, lr=lr)
    except Exception as e:  # whatever breaks, say so instead of writing a broken module
        return 1, f"the module fails to run: {type(e).__name__}: {e}"
    expected = verify.reference_trajectory(program, params, grads, lr=lr)
    error = verify.max_error(got, expected)
    summary = (f"{CHECK_STEPS} steps beside programs.step at the default learning rate {lr:g}, "
               f"largest relative difference {error:.2g}")
    if not error <= CHECK_TOLERANCE:
        return 1, f"the module does not match: {summary} (tolerance {CHECK_TOLERANCE:g})"
    return 0, f"checked: {summary}"


