"""Search settings: frozen dataclasses with documented defaults, loaded from TOML.

Settings are data (as in AutoML-Zero): every knob of a search is a field below, with its default
and a one-line reason in the field's ``doc``. A TOML file names sections and keys exactly as the
dataclasses do (``[evolution] population = 128``); ``--set evolution.population=64`` overrides one
key from the command line. An unknown section or key is an error that names it and suggests the
closest known one, because a misspelt key that is silently ignored costs a user hours of a search
that ran with the wrong settings. ``experiments/default.toml`` lists every key with its default;
a test keeps it in step with this module.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


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


@dataclass(frozen=True)
class MutationWeights:
    """Relative weights of the mutation kinds (normalised; 0 disables a kind)."""

    insert: float = _doc(1.0, "insert a random statement at a random place")
    delete: float = _doc(1.0, "delete a statement")
    argument: float = _doc(1.0, "change one argument to another variable or a constant")
    function: float = _doc(1.0, "change a statement's function to another of the same arity")
    constant: float = _doc(1.0, "perturb (x 2^N(0, s)) or redraw a constant")
    output: float = _doc(0.25, "return another variable as update, m or v")
    duplicate: float = _doc(
        0.5, "copy a statement to a fresh name and re-point one reader to the copy"
    )
    edge: float = _doc(0.5, "pass a value a statement reads through a new random function")
    rewrite: float = _doc(
        0.5, "change a statement's function to one of any arity, keeping the arguments that fit"
    )


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
    weights: MutationWeights = field(default_factory=MutationWeights)


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
        "local", "'local': a pool of single-threaded worker processes; 'inprocess': the driver; "
        "'ray': actors on a Ray cluster (docs/cluster.md)"
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
class Config:
    """Every setting of a search."""

    search: SearchSettings = field(default_factory=SearchSettings)
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
    need(e.migration_interval >= 0, "evolution.migration_interval", "must be >= 0")
    need(e.mutations_max >= 1, "evolution.mutations_max", "must be at least 1")
    need(0 <= e.mutations_continue < 1, "evolution.mutations_continue", "must be in [0, 1)")
    need(0 <= e.neutral <= 1, "evolution.neutral", "must be in [0, 1]")
    need(e.max_statements >= 1, "evolution.max_statements", "must be at least 1")
    need(e.max_tries >= 1, "evolution.max_tries", "must be at least 1")
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
    need(x.backend in ("local", "inprocess", "ray"), "executor.backend",
         f"must be 'local', 'inprocess' or 'ray', got {x.backend!r}")
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
    """Plain data (for the checkpoint and the log); ``from_dict(to_dict(c)) == c``."""
    return _jsonable(dataclasses.asdict(config))


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
        if dataclasses.is_dataclass(hint):
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
        if isinstance(x, dict):
            for k in x:
                walk(x[k], y[k], f"{prefix}{k}.")
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
        if dataclasses.is_dataclass(hints[f.name]):
            rows += documented_fields(hints[f.name], f"{prefix}{f.name}.")
        else:
            rows.append((prefix + f.name, value, f.metadata.get("doc", "")))
    return rows
