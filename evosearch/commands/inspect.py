"""``evosearch inspect FILE``: what a program computes, at a glance.

Prints the program, its live statements, the state slots it uses, the known optimizer it is
(with fitted hyperparameters), its sympy form and its simplest equivalent; ``--latex`` adds the
equations as LaTeX. FILE is a program file or the name of a library program (``lion``,
``adamw``, ...). A malformed file is reported with its name and line, and exit status 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE",
                        help="a program file, or a library program's name (e.g. lion)")
    parser.add_argument("--latex", action="store_true",
                        help="also print the update and state equations as LaTeX")


def run(args: argparse.Namespace) -> int:
    program, origin = load(args.file)
    print(report(program, origin, latex=args.latex), end="")
    return 0


def load(file: str):
    """The program named by FILE (a path first, then a library name), and where it came from.
    A file that is not there or cannot be read is a :class:`~evosearch.commands.CommandError`,
    a malformed one a :class:`programs.ProgramError` naming the line."""
    import programs
    from evosearch.commands import CommandError

    path = Path(file)
    if path.exists():
        if path.is_dir():
            raise CommandError(f"{file}: is a directory, not a program file")
        try:
            return programs.read(path), str(path)
        except OSError as e:
            raise CommandError(f"{file}: cannot read: {e.strerror or e}") from None
    if file in programs.library.names():
        return programs.library.load(file), f"library program {file!r}"
    known = ", ".join(programs.library.names())
    raise CommandError(
        f"{file}: no such file, and no library program of that name (known: {known})")


def report(program, origin: str, *, latex: bool = False) -> str:
    """The text ``inspect`` prints for a valid program."""
    import programs
    from programs.ops import STATE
    from programs.symbolic import live_outputs

    info = programs.liveness(program)
    lines = [f"# {origin}", programs.format(program).rstrip("\n"), ""]
    n = len(program)
    lines.append(f"live statements: {len(info.statements)} of {n}")
    lines += [f"  {program.statements[i]}" for i in sorted(info.statements)]
    used = [slot for slot in STATE if slot in info.state]
    unused = [slot for slot in STATE if slot not in info.state]
    state = ", ".join(used) if used else "none (stateless)"
    if used and unused:
        state += f" ({', '.join(unused)} unused)"
    lines.append(f"state slots: {state}")
    match = programs.recognize(program)
    lines.append(f"recognized: {match if match is not None else 'no known optimizer'}")
    step = programs.to_sympy(program)
    lines.append("sympy form of one step (x' is the next value of state slot x):")
    for role in live_outputs(program):
        left = "update" if role == "update" else f"{role}'"
        lines.append(f"  {left} = {getattr(step, role)}")
    simplest = programs.simplify(program)
    lines.append(f"simplified: {len(simplest)} statements (from {n})")
    lines += ["  " + line for line in programs.format(simplest).rstrip("\n").splitlines()]
    lines.append(f"fingerprint: {programs.fingerprint(program)}")
    if latex:
        lines += ["latex:", programs.to_latex(program)]
    return "\n".join(lines) + "\n"
