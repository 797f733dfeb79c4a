"""Suites: what a search optimises. One protocol, one score type, one registry.

Every suite satisfies :class:`Suite` and returns :class:`Score` (:mod:`proxy_tasks.suites.base`).
A suite is named by a *reference*, which is plain data so that it travels to worker processes
and Ray actors:

* a built-in training suite's name (the TOML files in ``proxy_tasks/suites/builtin/``:
  ``default``, ``diverse``, ``roundtwo``, ``smoke``);
* a table of the same form (a search config's ``[suite]``; see
  :mod:`proxy_tasks.suites.trained`);
* one of :data:`SUITE_KINDS`: ``numpy`` or ``KIND:ARGUMENT`` such as ``identify:optax:lion``;
* any of these with the user's task files it needs, ``{"suite": ..., "task_files": [...]}``
  (:func:`proxy_tasks.task_files.bundle`): their text travels with the reference, so every
  evaluator, on any machine, registers the same tasks before it builds the suite.

Importing this package does not import jax: a driver process resolves and checks references
(:func:`check_reference`) without compiling anything; :func:`get_suite` builds the suite where
it evaluates.
"""

from __future__ import annotations

import difflib
import json
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from programs import Program
from proxy_tasks.suites.base import (
    WORST_FITNESS,
    Score,
    Suite,
    SuiteError,
    check_request,
    failed_score,
)
from proxy_tasks.suites.trained import Stage, SuiteSpec, TrainingSuite

SuiteRef = str | Mapping[str, Any]
"""A suite's name, ``KIND:ARGUMENT``, or a training suite's table (see the module docstring)."""

BUILTIN_DIR = Path(__file__).parent / "builtin"


def _numpy(argument: str) -> Suite:
    from proxy_tasks.suites.numpy import NumpySuite

    return NumpySuite()


def _identification(argument: str) -> Suite:
    from proxy_tasks.identification import IdentificationSuite

    return IdentificationSuite(argument)


def _identification_target(argument: str) -> None:
    from proxy_tasks.identification.spec import TargetError, check_target_text  # no jax

    try:
        check_target_text(argument)
    except TargetError as e:
        raise SuiteError(str(e)) from None


@dataclass(frozen=True)
class SuiteKind:
    """A suite that is not a table of tasks: how it is written, made and explained."""

    usage: str
    make: Callable[[str], Suite]
    about: str
    takes_argument: bool
    check: Callable[[str], None] | None = None
    """Checks the argument without building the suite (cheap, no jax); raises SuiteError."""


SUITE_KINDS: dict[str, SuiteKind] = {
    "numpy": SuiteKind(
        "numpy", _numpy,
        "two tiny numpy problems, milliseconds per program: the engine's own tests", False),
    "identify": SuiteKind(
        "identify:<target>", _identification,
        "distance of a program's updates to a target optimizer's (optax:NAME(...), "
        "torch:NAME(...), a program, a .npz trace) on probe streams: identification", True,
        _identification_target),
}
"""The one table of suite kinds besides training suites: adding a kind is one entry here."""


@cache
def builtin_specs() -> dict[str, SuiteSpec]:
    """The built-in training suites, read from their TOML files."""
    specs = {}
    for path in sorted(BUILTIN_DIR.glob("*.toml")):
        spec = SuiteSpec.from_data(tomllib.loads(path.read_text(encoding="utf-8")), str(path))
        if spec.name != path.stem:
            raise SuiteError(f"{path}: name {spec.name!r} differs from the file's name")
        specs[spec.name] = spec
    return specs


def suite_names() -> list[str]:
    """Every name a reference may take: built-in suites, then the kinds' usages."""
    return sorted(builtin_specs()) + [k.usage for k in SUITE_KINDS.values()]


def suite_spec(name: str) -> SuiteSpec:
    """A built-in training suite's definition (for commands that use one stage's tasks)."""
    spec = builtin_specs().get(name)
    if spec is None:
        raise SuiteError(f"unknown training suite {name!r}{_hint(name, builtin_specs())}; "
                         f"known: {', '.join(sorted(builtin_specs()))}")
    return spec


def load_spec(text: str) -> SuiteSpec:
    """A training suite named on a command line: a built-in suite's name, or a TOML file
    holding a ``[suite]`` table (a search config) or the suite's keys at its top level."""
    if not text.endswith(".toml"):
        return suite_spec(text)
    path = Path(text)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SuiteError(f"{path}: no such suite file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SuiteError(f"{path}: cannot read ({e})") from None
    except tomllib.TOMLDecodeError as e:
        raise SuiteError(f"{path}: invalid TOML: {e}") from None
    if "suite" in data:
        return SuiteSpec.from_data(data["suite"], f"{path} [suite]")
    return SuiteSpec.from_data(data, str(path))


def _hint(name: str, options: Any) -> str:
    close = difflib.get_close_matches(name, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_reference(ref: SuiteRef, source: str = "suite") -> SuiteRef:
    """Check a reference without building the suite (no jax, no data): a known name or kind,
    or a well-formed table. Returns it in canonical form (a table is normalised). Raises
    :class:`SuiteError` naming ``source``."""
    if isinstance(ref, Mapping) and "task_files" in ref:
        return _check_bundle(ref, source)
    if isinstance(ref, Mapping):
        return SuiteSpec.from_data(ref, source).to_data()
    if not isinstance(ref, str) or not ref:
        raise SuiteError(f"{source}: a suite is a name or a table, got {ref!r}")
    kind_name, sep, argument = ref.partition(":")
    if sep:
        kind = SUITE_KINDS.get(kind_name)
        if kind is None or not kind.takes_argument:
            takes = [k for k, v in SUITE_KINDS.items() if v.takes_argument]
            raise SuiteError(f"{source}: unknown suite kind {kind_name!r}{_hint(kind_name, takes)}"
                             f"; kinds with an argument: {', '.join(takes)}")
        if not argument:
            raise SuiteError(f"{source}: {kind_name}: needs an argument ({kind.usage})")
        if kind.check is not None:
            try:
                kind.check(argument)
            except SuiteError as e:
                raise SuiteError(f"{source}: {e}") from None
        return ref
    if ref in builtin_specs() or (ref in SUITE_KINDS and not SUITE_KINDS[ref].takes_argument):
        return ref
    options = [*builtin_specs(), *SUITE_KINDS]
    raise SuiteError(f"{source}: unknown suite {ref!r}{_hint(ref, options)}; known: "
                     f"{', '.join(suite_names())}")


def check_program(ref: SuiteRef, program: Program) -> None:
    """Raise :class:`programs.ProgramError` if suite ``ref`` can never evaluate ``program``
    (imports no jax): a training suite runs programs in an interpreter of bounded size
    (:data:`proxy_tasks.encoding.CAPACITIES`; the error names the limits); the kinds of
    :data:`SUITE_KINDS` run the reference step on numpy, which has no bound. A search checks
    its warm start with this before it starts, since every child of a program too large
    would fail too."""
    ref = check_reference(ref)
    if isinstance(ref, str) and ref.partition(":")[0] in SUITE_KINDS:
        return
    from proxy_tasks.encoding import encode

    encode(program).capacity()


def _check_bundle(ref: Mapping[str, Any], source: str) -> dict[str, Any]:
    """A suite with the task files it needs (:func:`proxy_tasks.task_files.bundle`)."""
    from proxy_tasks.task_files import TaskFile, TaskFileError

    if set(ref) != {"suite", "task_files"} or not isinstance(ref["task_files"], list):
        raise SuiteError(f"{source}: a suite with task files is {{suite, task_files}}")
    try:
        files = [TaskFile.from_data(f).to_data() for f in ref["task_files"]]
    except TaskFileError as e:
        raise SuiteError(f"{source}: {e}") from None
    inner = ref["suite"]
    if isinstance(inner, Mapping) and "task_files" in inner:
        raise SuiteError(f"{source}: task files are given once, at the outside")
    return {"suite": check_reference(inner, source), "task_files": files}


def reference_name(ref: SuiteRef) -> str:
    """A short name for people and logs: the name, or a table's ``name``."""
    if isinstance(ref, Mapping) and "task_files" in ref:
        return reference_name(ref["suite"])
    return str(ref.get("name", "<table>")) if isinstance(ref, Mapping) else ref


_INSTANCES: dict[str, Suite] = {}


def get_suite(ref: SuiteRef = "default") -> Suite:
    """The suite ``ref`` names, built once per process (suites cache their baselines and
    compiled tasks). Raises :class:`SuiteError` for an unknown or malformed reference and
    ``KeyError`` for an unknown task."""
    ref = check_reference(ref)
    key = ref if isinstance(ref, str) else json.dumps(ref, sort_keys=True)
    suite = _INSTANCES.get(key)
    if suite is None:
        suite = _build(ref)
        _INSTANCES[key] = suite
    return suite


def _build(ref: SuiteRef) -> Suite:
    if isinstance(ref, Mapping) and "task_files" in ref:
        from proxy_tasks.task_files import TaskFile, TaskFileError, load_all

        try:
            load_all(TaskFile.from_data(f) for f in ref["task_files"])
        except TaskFileError as e:
            raise SuiteError(str(e)) from None
        return get_suite(ref["suite"])
    if isinstance(ref, Mapping):
        suite = TrainingSuite(SuiteSpec.from_data(ref, "suite"))
        suite.check_tasks()
        return suite
    kind_name, sep, argument = ref.partition(":")
    if kind_name in SUITE_KINDS:
        return SUITE_KINDS[kind_name].make(argument)
    suite = TrainingSuite(builtin_specs()[ref])
    suite.check_tasks()
    return suite


__all__ = [
    "BUILTIN_DIR",
    "SUITE_KINDS",
    "WORST_FITNESS",
    "Score",
    "Stage",
    "Suite",
    "SuiteError",
    "SuiteKind",
    "SuiteRef",
    "SuiteSpec",
    "TrainingSuite",
    "builtin_specs",
    "check_program",
    "check_reference",
    "check_request",
    "failed_score",
    "get_suite",
    "load_spec",
    "reference_name",
    "suite_names",
    "suite_spec",
]
