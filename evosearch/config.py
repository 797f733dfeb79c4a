"""Search settings: frozen dataclasses with documented defaults, loaded from TOML.

Settings are data (as in AutoML-Zero): every knob of a search is a field below, with its default
and a one-line reason in the field's ``doc``. A TOML file names sections and keys exactly as the
dataclasses do (``[evolution] population = 128``); ``--set evolution.population=64`` overrides one
key from the command line. An unknown section or key is an error that names it and suggests the
closest known one, because a misspelt key that is silently ignored costs a user hours of a search
that ran with the wrong settings. ``experiments/default.toml`` lists every key with its default;
a test keeps it in step with this module (:func:`default_toml` writes it).

Two sections come from tables elsewhere, so that an extension is declared once: the mutation
kinds (``[mutation.weights]``, from :data:`evosearch.engine.mutation.MUTATIONS`) and the
backends (``executor.backend``, from :data:`evosearch.backends.BACKENDS`).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import textwrap
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evosearch.backends import BACKENDS
from evosearch.engine.mutation import MUTATIONS, MutationKind


class ConfigError(ValueError):
    """A setting that cannot be used: the message names the file, the key and what is wrong."""


def _doc(default: Any, doc: str) -> Any:
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class SearchSettings:
    """What to search, from where, and for how long."""

    suite: str = _doc(
        "default",
        "evaluation suite: a built-in suite name (default, diverse, roundtwo, smoke), 'numpy' "
        "(tiny), or 'identify:<target>' (identification: distance to a target optimizer)",
    )
    task_files: tuple[str, ...] = _doc(
        (), "Python files that register the user's own tasks (docs/own-task.md); their text "
        "travels to every evaluator and the checkpoint keeps their hashes"
    )
    warm_start: str = _doc("adamw", "initial program: a library name or a path to a .prog file")
    seed: int = _doc(0, "seed of every random choice; same seed, same trajectory")
    max_evaluations: int = _doc(20000, "stop creating children after this many trainings")
    max_children: int = _doc(0, "stop after this many children (0: no limit)")
    max_minutes: float = _doc(0.0, "stop after this much wall time, resumes included (0: no limit)")
    hall_of_fame: int = _doc(20, "how many distinct best programs to keep")
    meta_validate: int = _doc(5, "re-evaluate this many best programs on the last stage at the end")


@dataclass(frozen=True)
class EvolutionSettings:
    """Regularized evolution (Real et al. 2019), steady state.

    Defaults: the paper used population 1000 and tournament 2 for 20-30K evaluations on 100 TPU
    chips; a laptop affords a few thousand evaluations an hour, so a population of 1000 would
    never turn over. The pilot (population 64, tournament 8: the parent is the best of an
    eighth of the population) dismantled AdamW within 300 evaluations and converged on a one-task
    hack. Population 128 with tournament 4 (the best of a 32nd) keeps selection gentler, so
    structure inherited from the warm start survives longer, while the population still turns
    over several times in an hour.
    """

    population: int = _doc(128, "members in all islands together; the oldest leaves")
    tournament: int = _doc(4, "members sampled per parent choice; the best of them is the parent")
    islands: int = _doc(1, "independent sub-populations (population is split evenly)")
    migration_interval: int = _doc(
        500, "every this many children each island sends its best to the next (0: never)"
    )
    mutations_max: int = _doc(3, "at most this many mutations per child")
    mutations_continue: float = _doc(
        0.5, "after each mutation, probability of one more (mean 1.75 with max 3 and 0.5)"
    )
    neutral: float = _doc(
        1.0, "probability that a child computing the same as its parent (same fingerprint, "
        "other text: dead code, a duplicated statement) is kept, at no evaluation cost, "
        "instead of being retried"
    )
    max_statements: int = _doc(20, "inserts stop at this program length")
    max_tries: int = _doc(
        50, "attempts to make a child that is valid and differs from its parent before giving up"
    )


def mutation_weights_class(table: Mapping[str, MutationKind] | None = None) -> type:
    """The settings dataclass of the mutation weights: one float field per kind of ``table``
    (default: :data:`evosearch.engine.mutation.MUTATIONS`), with the kind's default weight and
    doc, in table order."""
    table = MUTATIONS if table is None else table
    cls = dataclasses.make_dataclass(
        "MutationWeights",
        [(name, float, _doc(kind.weight, kind.doc)) for name, kind in table.items()],
        frozen=True,
        namespace={"__doc__": "Relative weights of the mutation kinds (normalised; 0 disables "
                              "a kind)."},
    )
    cls.__module__ = __name__
    return cls


MutationWeights = mutation_weights_class()
"""Relative weights of the mutation kinds, derived from the table of kinds."""


@dataclass(frozen=True)
class MutationSettings:
    """How each mutation draws its random choices."""

    functions: tuple[str, ...] = _doc(
        (), "functions that insert and function changes may use (empty: the whole library)"
    )
    constant_sigma: float = _doc(1.0, "a constant is multiplied by 2^a, a ~ N(0, constant_sigma)")
    constant_redraw: float = _doc(0.1, "probability that a constant is redrawn, not perturbed")
    interp_log_space: bool = _doc(
        True, "perturb interp weights b as 1 - (1 - b) 2^a: they stay below 1"
    )
    constant_argument: float = _doc(
        0.15, "probability that a new argument is a constant where a variable would do"
    )
    scalar_constant: float = _doc(
        0.8, "probability that a new scalar-only argument (interp weight, clip bound) is a constant"
    )
    new_variable: float = _doc(
        0.5, "probability that an inserted statement writes a fresh variable, not an existing one"
    )
    # Looked up when a default is made, so that a test's temporary kind is included.
    weights: MutationWeights = field(default_factory=lambda: MutationWeights())


@dataclass(frozen=True)
class FunnelSettings:
    """Promotion across the suite's stages, cheapest first."""

    threshold: str = _doc(
        "baseline", "'baseline': go on when fitness <= the baseline's (AdamW's), see factor; "
        "'quantile': when fitness <= that quantile of the population on the stage"
    )
    factor: float = _doc(
        1.0, "baseline threshold = baseline + (factor - 1) * |baseline| (1.0: at least as good)"
    )
    stage_factors: tuple[float, ...] = _doc(
        (1.1, 0.985), "baseline factor per promotion (the k-th: stage k to k+1), overriding "
        "factor where given: the screen only drops junk (on the default suite Lion scores 1.07 "
        "there, 0.97 at the fitness stage), the costly last stage demands a clear win"
    )
    best_margins: tuple[float, ...] = _doc(
        (), "per promotion (the k-th: stage k to k+1), also require fitness <= best + margin * "
        "|best|, best being the best population member's on stage k (missing: no such gate; "
        "a huge margin such as 1e9 skips one): once a population is far past the baseline, a "
        "fixed factor lets most children through and the costly last stage eats the budget"
    )
    quantile: float = _doc(0.25, "population quantile for the 'quantile' threshold")
    min_members: int = _doc(
        8, "the quantile threshold needs this many members scored at a stage; else baseline"
    )


@dataclass(frozen=True)
class RestartSettings:
    """Restarts: the whole population becomes copies of one program again."""

    plateau: int = _doc(
        3000, "restart after this many evaluations without a new best (0: never)"
    )
    source: str = _doc(
        "best", "restart from 'best' (the best so far) or 'initial' (the warm start)"
    )
    scope: str = _doc(
        "all", "'all': every island restarts; 'worst': only the island with the worst best "
        "member does, the others keep their lineages (needs evolution.islands > 1)"
    )


@dataclass(frozen=True)
class CacheSettings:
    """The fitness cache, keyed by the structural fingerprint of the live dataflow.

    The functional key (AutoML-Zero's functional equivalence cache) is off by default. Measured
    on the numpy suite over 1,500 evaluations (``evosearch benchmark --functional``) it raised
    the share of children scored without training from 1.5 % to 17.7 % for 0.8 ms more driver
    time per child, but in an 800-evaluation run only 46 of its 95 hits were programs that
    behave the same on random inputs (``programs.equivalence``): e.g. ``clip(update, lr *
    0.001)`` saturates on the fingerprint's fixed inputs, so AdamW variants with different
    betas collide. A false hit gives a program another's fitness, silently.
    """

    functional: bool = _doc(
        False, "also key by a functional fingerprint (AutoML-Zero's FEC; ~1 ms per child); it "
        "merges some programs that differ (measured in evosearch/config.py, CacheSettings)"
    )


@dataclass(frozen=True)
class ExecutorSettings:
    """Where evaluations run and how many are in flight."""

    backend: str = _doc(
        "local", "; ".join(f"'{name}': {backend.doc}" for name, backend in BACKENDS.items())
    )
    workers: int = _doc(0, "local worker processes or Ray actors (0: one per core of the machine, "
                        "or of the Ray cluster)")
    address: str = _doc(
        "", "ray only: 'auto' joins the cluster started here with `ray start`, HOST:PORT joins "
        "that head node, '' starts Ray on this machine for this search"
    )
    batch_size: int = _doc(4, "programs per batch sent to a worker")
    in_flight: int = _doc(
        4, "batches submitted and not yet consumed; it shapes the trajectory, so it is a "
        "setting, not derived from the worker count"
    )


@dataclass(frozen=True)
class CheckpointSettings:
    """When the whole state is written to checkpoint.json (atomically; always on exit)."""

    every_evaluations: int = _doc(200, "write a checkpoint after this many evaluations")
    every_seconds: float = _doc(300.0, "... or after this many seconds, whichever comes first")


@dataclass(frozen=True)
class ProgressSettings:
    """The live line on stderr."""

    interval_seconds: float = _doc(1.0, "refresh the progress line at most this often")
    recognize: bool = _doc(True, "name the best program (Lion? AdamW?) when it changes")


@dataclass(frozen=True)
class SuiteTable:
    """A ``[suite]`` table: a training suite of the user's own, written in the config (stages of
    tasks with weights, seeds and an lr policy; :mod:`proxy_tasks.suites.trained` has the
    form). Held as canonical JSON so that the config stays hashable data; empty when the
    search uses ``search.suite``."""

    json: str = ""

    @property
    def table(self) -> dict[str, Any] | None:
        return json.loads(self.json) if self.json else None


@dataclass(frozen=True)
class Config:
    """Every setting of a search."""

    search: SearchSettings = field(default_factory=SearchSettings)
    suite: SuiteTable = field(default_factory=SuiteTable)
    evolution: EvolutionSettings = field(default_factory=EvolutionSettings)
    mutation: MutationSettings = field(default_factory=MutationSettings)
    funnel: FunnelSettings = field(default_factory=FunnelSettings)
    restart: RestartSettings = field(default_factory=RestartSettings)
    cache: CacheSettings = field(default_factory=CacheSettings)
    executor: ExecutorSettings = field(default_factory=ExecutorSettings)
    checkpoint: CheckpointSettings = field(default_factory=CheckpointSettings)
    progress: ProgressSettings = field(default_factory=ProgressSettings)

    def __post_init__(self) -> None:
        _validate(self)


RESUMABLE: frozenset[str] = frozenset(
    {
        "search.max_evaluations",
        "search.max_children",
        "search.max_minutes",
        "search.meta_validate",
        "executor.backend",
        "executor.workers",
        "executor.address",
        "checkpoint.every_evaluations",
        "checkpoint.every_seconds",
        "progress.interval_seconds",
        "progress.recognize",
    }
)
"""Keys that a resumed run may change: budgets and machinery, nothing that shapes the search."""


# --- validation ---------------------------------------------------------------------------------


def _numbers(tree: object, prefix: str = "") -> list[tuple[str, float]]:
    """Every float in a nested dict/list of settings, with its dotted key."""
    if isinstance(tree, dict):
        return [kv for k, v in tree.items() for kv in _numbers(v, f"{prefix}{k}.")]
    if isinstance(tree, list | tuple):
        return [kv for v in tree for kv in _numbers(v, prefix)]
    return [(prefix.rstrip("."), tree)] if isinstance(tree, float) else []


def _validate(c: Config) -> None:
    def need(ok: bool, key: str, what: str) -> None:
        if not ok:
            raise ConfigError(f"{key}: {what}")

    need(not c.suite.json or c.search.suite == SearchSettings.suite, "search.suite",
         "give either search.suite or a [suite] table, not both")
    for key, value in _numbers(dataclasses.asdict(c)):
        need(math.isfinite(value), key,
             f"must be finite, got {value} (checkpoints and logs are strict JSON)")
    e, s, f = c.evolution, c.search, c.funnel
    need(e.population >= 1, "evolution.population", "must be at least 1")
    need(e.islands >= 1, "evolution.islands", "must be at least 1")
    need(
        e.population >= e.islands,
        "evolution.population",
        f"must be at least evolution.islands ({e.islands})",
    )
    need(e.tournament >= 1, "evolution.tournament", "must be at least 1")
    island = e.population // e.islands  # the smallest island's size
    need(e.tournament <= island, "evolution.tournament",
         f"must be at most the size of an island, evolution.population / evolution.islands = "
         f"{island}, got {e.tournament}")
    need(e.migration_interval >= 0, "evolution.migration_interval", "must be >= 0")
    need(e.mutations_max >= 1, "evolution.mutations_max", "must be at least 1")
    need(0 <= e.mutations_continue < 1, "evolution.mutations_continue", "must be in [0, 1)")
    need(0 <= e.neutral <= 1, "evolution.neutral", "must be in [0, 1]")
    need(e.max_statements >= 1, "evolution.max_statements", "must be at least 1")
    need(e.max_tries >= 1, "evolution.max_tries", "must be at least 1")
    need(s.seed >= 0, "search.seed", f"must be >= 0, got {s.seed}")
    need(s.max_evaluations >= 0, "search.max_evaluations", "must be >= 0")
    need(s.max_children >= 0, "search.max_children", "must be >= 0")
    need(s.max_minutes >= 0, "search.max_minutes", "must be >= 0")
    need(s.hall_of_fame >= 1, "search.hall_of_fame", "must be at least 1")
    need(s.meta_validate >= 0, "search.meta_validate", "must be >= 0")
    need(f.threshold in ("baseline", "quantile"), "funnel.threshold",
         f"must be 'baseline' or 'quantile', got {f.threshold!r}")
    need(f.factor > 0, "funnel.factor", "must be > 0")
    need(all(x > 0 for x in f.stage_factors), "funnel.stage_factors", "must all be > 0")
    need(all(x >= 0 for x in f.best_margins), "funnel.best_margins",
         "must all be >= 0 (1e9 means no gate)")
    need(0 < f.quantile <= 1, "funnel.quantile", "must be in (0, 1]")
    need(c.restart.plateau >= 0, "restart.plateau", "must be >= 0")
    need(c.restart.source in ("best", "initial"), "restart.source",
         f"must be 'best' or 'initial', got {c.restart.source!r}")
    need(c.restart.scope in ("all", "worst"), "restart.scope",
         f"must be 'all' or 'worst', got {c.restart.scope!r}")
    need(c.restart.scope == "all" or c.evolution.islands > 1, "restart.scope",
         "'worst' restarts one island of several: set evolution.islands > 1")
    x = c.executor
    need(x.backend in BACKENDS, "executor.backend",
         f"must be one of {', '.join(map(repr, BACKENDS))}, got {x.backend!r}"
         f"{_suggest(x.backend, BACKENDS)}")
    need(x.workers >= 0, "executor.workers", "must be >= 0")
    need(x.batch_size >= 1, "executor.batch_size", "must be at least 1")
    need(x.in_flight >= 1, "executor.in_flight", "must be at least 1")
    m = c.mutation
    weights = dataclasses.asdict(m.weights)
    need(all(w >= 0 for w in weights.values()), "mutation.weights", "weights must be >= 0")
    need(sum(weights.values()) > 0, "mutation.weights", "at least one weight must be > 0")
    for key in ("constant_redraw", "constant_argument", "scalar_constant", "new_variable"):
        need(0 <= getattr(m, key) <= 1, f"mutation.{key}", "must be in [0, 1]")
    need(m.constant_sigma > 0, "mutation.constant_sigma", "must be > 0")
    if m.functions:
        from programs import OPS

        unknown = [name for name in m.functions if name not in OPS]
        need(not unknown, "mutation.functions", f"unknown functions {unknown}")
    need(c.checkpoint.every_evaluations >= 1, "checkpoint.every_evaluations", "must be >= 1")
    need(c.checkpoint.every_seconds > 0, "checkpoint.every_seconds", "must be > 0")


# --- dict <-> dataclass ---------------------------------------------------------------------------


def to_dict(config: Config) -> dict[str, Any]:
    """Plain data (for the checkpoint and the log); ``from_dict(to_dict(c)) == c``. A
    ``[suite]`` table appears as the table itself, absent when there is none."""
    data = _jsonable(dataclasses.asdict(config))
    table = config.suite.table
    if table is None:
        del data["suite"]
    else:
        data["suite"] = table
    return data


def suite_reference(config: Config) -> Any:
    """What the search evaluates: the ``[suite]`` table if the config has one, else
    ``search.suite`` (without task files: the runner adds those, see
    :func:`proxy_tasks.task_files.bundle`)."""
    table = config.suite.table
    return config.search.suite if table is None else table


def _suite_table(data: Any, source: str) -> SuiteTable:
    """A ``[suite]`` table, checked (:func:`proxy_tasks.suites.check_reference`; no jax) and
    held in canonical form."""
    from proxy_tasks.suites import SuiteError, check_reference

    if not isinstance(data, dict):
        raise ConfigError(f"{source}: [suite] must be a table, got {type(data).__name__}")
    try:
        table = check_reference(data, f"{source} [suite]")
    except SuiteError as e:
        raise ConfigError(str(e)) from None
    return SuiteTable(json.dumps(table, sort_keys=True))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value


def from_dict(data: dict[str, Any], source: str = "config") -> Config:
    """Build a Config from nested dicts; unknown keys and wrong types raise :class:`ConfigError`."""
    try:
        return _build(Config, data, source, "")
    except ConfigError as e:
        raise e from None


def _build(cls: type, data: Any, source: str, prefix: str) -> Any:
    where = prefix.rstrip(".") or "top level"
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: {where} must be a table, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, raw in data.items():
        if key not in fields:
            raise ConfigError(f"{source}: unknown key {prefix + key!r}{_suggest(key, fields)}")
        hint = hints[key]
        if hint is SuiteTable:
            values[key] = _suite_table(raw, source)
        elif dataclasses.is_dataclass(hint):
            values[key] = _build(hint, raw, source, f"{prefix}{key}.")
        else:
            values[key] = _coerce(raw, hint, source, prefix + key)
    try:
        return cls(**values)
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}") from None


def _suggest(key: str, options: Any) -> str:
    close = difflib.get_close_matches(key, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _coerce(value: Any, hint: Any, source: str, key: str) -> Any:
    def bad(want: str) -> ConfigError:
        return ConfigError(f"{source}: {key} must be {want}, got {value!r}")

    origin = typing.get_origin(hint)
    if hint is bool:
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("an integer")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad("a number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise bad("a string")
        return value
    if origin is tuple:
        item = typing.get_args(hint)[0]
        if item is float:
            if not isinstance(value, list | tuple) or not all(
                    isinstance(v, int | float) and not isinstance(v, bool) for v in value):
                raise bad("a list of numbers")
            return tuple(float(v) for v in value)
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise bad("a list of strings")
        return tuple(value)
    if isinstance(hint, types.UnionType):  # pragma: no cover - no such fields yet
        raise bad(str(hint))
    raise bad(str(hint))  # pragma: no cover


# --- TOML and overrides ---------------------------------------------------------------------------


def load(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """The defaults, updated by a TOML file (if given), then by ``key=value`` overrides."""
    data: dict[str, Any] = {}
    source = "config"
    if path is not None:
        data = read_toml(path)
        source = str(path)
    config = from_dict(data, source)
    return apply_overrides(config, overrides)


def read_toml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read ({e})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"evolution.population=64"`` -> (["evolution", "population"], 64). The value is read as
    a TOML value (numbers, true/false, "strings", [lists]); a bare word is taken as a string."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. evolution.population=64")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.split("."), value


def apply_overrides(config: Config, overrides: list[str] | tuple[str, ...]) -> Config:
    data = to_dict(config)
    for text in overrides:
        path, value = parse_override(text)
        node = data
        for i, part in enumerate(path[:-1]):
            sub = node.get(part)
            if not isinstance(sub, dict):
                known = [k for k, v in node.items() if isinstance(v, dict)]
                dotted = ".".join(path[: i + 1])
                raise ConfigError(f"--set: unknown section {dotted!r}{_suggest(part, known)}")
            node = sub
        if path[-1] not in node or isinstance(node[path[-1]], dict):
            known = [k for k, v in node.items() if not isinstance(v, dict)]
            raise ConfigError(f"--set: unknown key {'.'.join(path)!r}{_suggest(path[-1], known)}")
        node[path[-1]] = value
    return from_dict(data, "--set")


def differences(a: Config, b: Config) -> list[str]:
    """Dotted keys whose values differ between two configs."""
    out: list[str] = []

    def walk(x: Any, y: Any, prefix: str) -> None:
        if isinstance(x, dict) and isinstance(y, dict):
            for k in dict.fromkeys([*x, *y]):
                walk(x.get(k), y.get(k), f"{prefix}{k}.")
        elif x != y:
            out.append(prefix.rstrip("."))

    walk(to_dict(a), to_dict(b), "")
    return out


def documented_fields(cls: type = Config, prefix: str = "") -> list[tuple[str, Any, str]]:
    """(dotted key, default, doc) for every setting, in declaration order."""
    rows: list[tuple[str, Any, str]] = []
    hints = typing.get_type_hints(cls)
    instance = cls()
    for f in dataclasses.fields(cls):
        value = getattr(instance, f.name)
        if hints[f.name] is SuiteTable:  # a table of the user's own, no defaults to list
            continue
        if dataclasses.is_dataclass(hints[f.name]):
            rows += documented_fields(hints[f.name], f"{prefix}{f.name}.")
        else:
            rows.append((prefix + f.name, value, f.metadata.get("doc", "")))
    return rows


# --- the documented default file ------------------------------------------------------------------

DEFAULT_TOML_HEADER = """\
# The default search: every setting with its default value and what it does.
# `evosearch search` with no arguments runs exactly this; copy the file to change it.
# Reference: evosearch/config.py (a test keeps this file and those defaults equal).
# Override any key from the command line: --set evolution.population=64
# A suite of your own tasks goes in a [suite] table instead of search.suite (docs/own-task.md).
"""
_TOML_WIDTH = 98
_TOML_COMMENT_COLUMN = 28


def default_toml() -> str:
    """``experiments/default.toml``: every setting with its default and its doc, in declaration
    order (``python -c "from evosearch.config import default_toml; print(default_toml(),
    end='')" > experiments/default.toml`` rewrites it; a test keeps the two equal)."""
    out = [DEFAULT_TOML_HEADER]
    _toml_section(Config, "", out)
    return "".join(out)


def _toml_section(cls: type, prefix: str, out: list[str]) -> None:
    hints = typing.get_type_hints(cls)
    instance = cls()
    nested = []
    for f in dataclasses.fields(cls):
        if hints[f.name] is SuiteTable:  # documented in the header: it has no defaults
            continue
        if dataclasses.is_dataclass(hints[f.name]):
            nested.append((f.name, hints[f.name]))
            continue
        line = f"{f.name} = {_toml_value(getattr(instance, f.name))}"
        doc = f.metadata.get("doc", "")
        inline = f"{line:<{_TOML_COMMENT_COLUMN}}# {doc}"
        if len(line) < _TOML_COMMENT_COLUMN and len(inline) <= _TOML_WIDTH:
            out.append(inline + "\n")
        else:
            out += [c + "\n" for c in _comment(doc)] + [line + "\n"]
    for name, sub in nested:
        header = f"{prefix}{name}"
        out.append(f"\n[{header}]\n")
        out += [c + "\n" for c in _comment(_first_paragraph(sub.__doc__ or ""))]
        _toml_section(sub, f"{header}.", out)


def _first_paragraph(doc: str) -> str:
    return " ".join(doc.strip().split("\n\n")[0].split())


def _comment(text: str) -> list[str]:
    return textwrap.wrap(text, _TOML_WIDTH - 2, initial_indent="# ", subsequent_indent="# ",
                         break_on_hyphens=False) if text else []


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)
