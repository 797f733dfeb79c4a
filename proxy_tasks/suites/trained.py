"""Training suites: the fitness of discovery. A funnel of stages, each a weighted set of tasks
with its seeds and learning-rate policy; a program's fitness at a stage is the weighted mean over
tasks of its loss relative to a baseline program's loss (the library's AdamW without bias
correction by default), so lower is better and the baseline scores exactly 1.

A suite is data (:class:`SuiteSpec`), written in TOML: the built-in suites are the files in
``proxy_tasks/suites/builtin/`` and a search's config may hold its own ``[suite]`` table of the
same form::

    name = "mine"
    description = "what it rewards and why"
    baseline = "adamw"                 # a library name or a .prog file

    [[stages]]
    name = "s"
    tasks = ["wide10/s", "charlm/s"]   # registered task names (proxy_tasks.task_names())
    weights = [1.0, 1.0]               # optional; equal by default
    seeds = [0]
    lrs = "screen"                     # a named policy, [multipliers] or a table

The ``"default"`` suite was chosen by measurement (``experiments/suite/README.md``): two
wide-student teacher tasks with label noise and a small char-level language model, on which the
library's Lion ranks first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from programs import Program, ProgramError, library
from proxy_tasks.lr_policy import LrPolicy, policy_from_data, policy_to_data
from proxy_tasks.suites.base import WORST_FITNESS, Score, SuiteError, check_request


@dataclass(frozen=True)
class Stage:
    """One funnel stage: tasks with weights, seeds, and how learning rates are tuned."""

    name: str
    tasks: tuple[tuple[str, float], ...]
    seeds: tuple[int, ...]
    lrs: LrPolicy

    def __post_init__(self) -> None:
        if not self.tasks:
            raise ValueError(f"stage {self.name!r} has no tasks")
        if any(not w > 0 for _, w in self.tasks):
            raise ValueError(f"stage {self.name!r}: task weights must be positive")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"stage {self.name!r}: seeds must be distinct and at least one")

    @property
    def task_names(self) -> tuple[str, ...]:
        return tuple(t for t, _ in self.tasks)


@dataclass(frozen=True)
class SuiteSpec:
    """A training suite as data; see the module docstring for its written form."""

    name: str
    description: str
    stages: tuple[Stage, ...]
    baseline: str = "adamw"

    def __post_init__(self) -> None:
        if not self.stages:
            raise ValueError(f"suite {self.name!r} has no stages")
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise ValueError(f"suite {self.name!r}: stage names must differ, got {names}")

    def stage(self, key: str | int) -> Stage:
        """A stage by name or index (``"m"``, ``1``, ``"1"``)."""
        names = [s.name for s in self.stages]
        if isinstance(key, str) and key in names:
            return self.stages[names.index(key)]
        numeric = isinstance(key, int) or (isinstance(key, str) and key.isdigit())
        if numeric and 0 <= int(key) < len(names):
            return self.stages[int(key)]
        raise KeyError(f"suite {self.name!r} has no stage {key!r}; stages: {', '.join(names)}")

    @classmethod
    def from_data(cls, data: Mapping[str, Any], source: str) -> SuiteSpec:
        """From the TOML form; every mistake is a :class:`SuiteError` naming ``source`` and
        the key."""
        if not isinstance(data, Mapping):
            raise SuiteError(f"{source}: a suite is a table, got {type(data).__name__}")
        _no_unknown(data, {"name", "description", "baseline", "stages"}, source)
        name = _typed(data, "name", str, source)
        description = _typed(data, "description", str, source, default="")
        baseline = _typed(data, "baseline", str, source, default="adamw")
        stages_data = data.get("stages")
        if not isinstance(stages_data, list) or not stages_data:
            raise SuiteError(f"{source}: stages must be a non-empty list of tables "
                             "([[stages]] in TOML)")
        stages = tuple(_stage_from_data(s, f"{source}: stages[{i}]")
                       for i, s in enumerate(stages_data))
        try:
            return cls(name, description, stages, baseline)
        except ValueError as e:
            raise SuiteError(f"{source}: {e}") from None

    def to_data(self) -> dict[str, Any]:
        """The TOML form (plain JSON-able data): ``from_data(to_data()) == self``."""
        return {
            "name": self.name,
            "description": self.description,
            "baseline": self.baseline,
            "stages": [
                {"name": s.name, "tasks": [t for t, _ in s.tasks],
                 "weights": [w for _, w in s.tasks], "seeds": list(s.seeds),
                 "lrs": policy_to_data(s.lrs)}
                for s in self.stages
            ],
        }


def _no_unknown(data: Mapping[str, Any], known: set[str], source: str) -> None:
    import difflib

    for key in data:
        if key not in known:
            close = difflib.get_close_matches(str(key), sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise SuiteError(f"{source}: unknown key {key!r}{hint}; "
                             f"known: {', '.join(sorted(known))}")


def _typed(data: Mapping[str, Any], key: str, kind: type, source: str, default: Any = None) -> Any:
    if key not in data:
        if default is None:
            raise SuiteError(f"{source}: missing {key!r}")
        return default
    value = data[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise SuiteError(f"{source}: {key} must be a {kind.__name__}, got {value!r}")
    return value


def _stage_from_data(data: Any, source: str) -> Stage:
    if not isinstance(data, Mapping):
        raise SuiteError(f"{source}: a stage is a table, got {type(data).__name__}")
    _no_unknown(data, {"name", "tasks", "weights", "seeds", "lrs"}, source)
    name = _typed(data, "name", str, source)
    tasks = data.get("tasks")
    if not isinstance(tasks, list) or not tasks or not all(isinstance(t, str) for t in tasks):
        raise SuiteError(f"{source}: tasks must be a non-empty list of task names")
    weights = data.get("weights", [1.0] * len(tasks))
    if (not isinstance(weights, list) or len(weights) != len(tasks)
            or not all(isinstance(w, int | float) and not isinstance(w, bool) and w > 0
                       for w in weights)):
        raise SuiteError(f"{source}: weights must be {len(tasks)} positive numbers, one per task")
    seeds = data.get("seeds", [0])
    if (not isinstance(seeds, list) or not seeds
            or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2**31
                       for s in seeds)):
        raise SuiteError(f"{source}: seeds must be a non-empty list of integers in [0, 2**31)")
    try:
        lrs = policy_from_data(data.get("lrs", "grid"), f"{source}: lrs")
        return Stage(name, tuple((t, float(w)) for t, w in zip(tasks, weights, strict=True)),
                     tuple(seeds), lrs)
    except ValueError as e:
        raise SuiteError(str(e) if str(e).startswith(source) else f"{source}: {e}") from None


@dataclass
class TrainingSuite:
    """Scores batches of programs on one stage of a funnel (see the module docstring)."""

    spec: SuiteSpec
    _baselines: dict[int, tuple[dict[str, float], Score]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def stage_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.spec.stages)

    def check_tasks(self) -> None:
        """Every task of every stage exists (a ``KeyError`` with suggestions if not), and the
        baseline program loads: a suite fails when it is built, not an hour into a search."""
        from proxy_tasks.registry import get_task

        for stage in self.spec.stages:
            for task in stage.task_names:
                get_task(task)
        try:
            library.resolve(self.spec.baseline)
        except (LookupError, ProgramError) as e:
            raise SuiteError(f"suite {self.name!r}: baseline: {e}") from None

    def _losses(self, programs: Sequence[Program], stage: Stage) -> tuple[dict, dict, dict]:
        from proxy_tasks.evaluation import evaluate

        best, lrs, failed, seconds = {}, {}, {}, np.zeros(len(programs))
        for task, _ in stage.tasks:
            scores = evaluate(task, programs, stage.lrs, stage.seeds)
            best[task], lrs[task], failed[task] = scores.best_loss, scores.best_lr, scores.failed
            seconds += scores.seconds
        return best, lrs, {"failed": failed, "seconds": seconds}

    def baseline(self, stage: int) -> Score:
        """The baseline program's score at ``stage`` (fitness 1 by definition), cached."""
        stage = check_request([], stage, self.stage_names, self.name)
        st = self.spec.stages[stage]
        if stage not in self._baselines:
            program = library.resolve(self.spec.baseline)
            best, lrs, info = self._losses([program], st)
            per_task = {t: float(best[t][0]) for t in st.task_names}
            if any(bool(info["failed"][t][0]) for t in st.task_names):
                raise RuntimeError(f"suite {self.name!r}: the baseline {self.spec.baseline!r} "
                                   f"failed at stage {st.name!r}; fix the suite")
            score = Score(1.0, seconds=float(info["seconds"][0]), per_task=per_task,
                          best_lr={t: float(lrs[t][0]) for t in st.task_names})
            self._baselines[stage] = (per_task, score)
        return self._baselines[stage][1]

    def evaluate(self, programs: Sequence[Program], stage: int) -> list[Score]:
        """Score ``programs`` at ``stage``. Raises ``ValueError`` for an invalid program or an
        unknown stage; a program that diverges gets a finite, failed score."""
        programs = list(programs)
        stage = check_request(programs, stage, self.stage_names, self.name)
        st = self.spec.stages[stage]
        if not programs:
            return []
        self.baseline(stage)
        base = self._baselines[stage][0]
        best, lrs, info = self._losses(programs, st)
        total_weight = sum(w for _, w in st.tasks)
        out = []
        for i in range(len(programs)):
            failed = any(bool(info["failed"][t][i]) for t in st.task_names)
            fitness = sum(w * float(best[t][i]) / base[t] for t, w in st.tasks) / total_weight
            out.append(Score(
                fitness=WORST_FITNESS if failed else float(fitness),
                failed=failed,
                seconds=float(info["seconds"][i]),
                per_task={t: float(best[t][i]) for t in st.task_names},
                best_lr={t: float(lrs[t][i]) for t in st.task_names},
            ))
        return out
