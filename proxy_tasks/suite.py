"""Suites: what the search optimises. A suite is a funnel of stages, each a weighted set of
tasks with its seeds and learning-rate policy; a program's fitness at a stage is the weighted
mean over tasks of its loss relative to a baseline program's loss (the library's AdamW without
bias correction by default), so lower is better and the baseline scores exactly 1.

The suite table (:data:`SUITES`) is data. The ``"default"`` suite was chosen by measurement
(see ``experiments/suite/README.md`` for the measurements): two wide-student teacher tasks with
label noise and a small char-level language model, on which the library's Lion ranks first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from programs import library
from programs.analysis import check
from programs.program import Program, ProgramError
from proxy_tasks.lr_policy import CoarseToFine, Grid, LrPolicy

WORST_FITNESS = 1000.0
"""The fitness of a program that failed (NaN or inf at every lr) on some task of the stage.
Any program that trains at all scores below ~10 (a task's loss is clipped to twice a trivial
predictor's, a few times the baseline's)."""


@dataclass(frozen=True)
class ProgramScore:
    """One program's result on one funnel stage. LOWER fitness is better."""

    fitness: float
    per_task: dict[str, float]
    best_lr: dict[str, float]
    failed: bool
    seconds: float


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
        if any(w <= 0 for _, w in self.tasks):
            raise ValueError(f"stage {self.name!r}: task weights must be positive")


@dataclass(frozen=True)
class SuiteSpec:
    name: str
    description: str
    stages: tuple[Stage, ...]
    baseline: str = "adamw"


_SCREEN_POLICY = Grid.around(1.0, 1.0)
"""Three learning rates a decade apart: all a 0.1 s screen can afford."""

_FULL_POLICY = CoarseToFine(coarse=Grid.around(1.5, 0.75), fine_step=0.25, fine_points=3,
                            coarse_seeds=1, extend=3)
"""Five coarse points over +-1.5 decades of the task's scale (walked further, up to 3 steps, for
a program whose best is on an edge), then a quarter-decade fine grid on every seed."""

SUITES: dict[str, SuiteSpec] = {
    "default": SuiteSpec(
        name="default",
        description=(
            "wide-student teacher tasks at 20 % and 10 % label noise (memorization regime: long "
            "memory + sign pays) and a small char-level LM over a long horizon (fast response "
            "pays); fitness = mean over tasks of loss / AdamW-nobc's loss. Stage s screens "
            "(~0.1 s per program), m is the fitness (~1.5 s), l costs ~10x m"
        ),
        stages=(
            Stage("s", (("wide10/s", 1.0), ("charlm/s", 1.0)), seeds=(0,), lrs=_SCREEN_POLICY),
            Stage("m", (("wide/m", 1.0), ("wide10/m", 1.0), ("charlm/m", 1.0)), seeds=(0, 1),
                  lrs=_FULL_POLICY),
            Stage("l", (("wide/l", 1.0), ("wide10/l", 1.0), ("charlm/l", 1.0)),
                  seeds=(0, 1, 2), lrs=_FULL_POLICY),
        ),
    ),
    "diverse": SuiteSpec(
        name="diverse",
        description=(
            "the default suite plus small conv nets on generated glyphs: a search on the "
            "default suite converged to AdamW with a weight-dependent denominator that wins "
            "the memorization tasks and fails on glyphs, illcond and narrow students; with "
            "glyphs it ranks 6th and Lion first among known optimizers (experiments/suite)"
        ),
        stages=(
            Stage("s", (("wide10/s", 1.0), ("charlm/s", 1.0), ("glyphs/xs", 1.0)), seeds=(0,),
                  lrs=_SCREEN_POLICY),
            Stage("m", (("wide/m", 1.0), ("wide10/m", 1.0), ("charlm/m", 1.0),
                        ("glyphs/s", 1.0)), seeds=(0, 1), lrs=_FULL_POLICY),
            Stage("l", (("wide/l", 1.0), ("wide10/l", 1.0), ("charlm/l", 1.0),
                        ("glyphs/m", 1.0)), seeds=(0, 1, 2), lrs=_FULL_POLICY),
        ),
    ),
    "roundtwo": SuiteSpec(
        name="roundtwo",
        description=(
            "the research note's round-two suite (teacher 20 % and 10 % label noise, 2x256 "
            "student, batch 128; char-MLP hidden 128, batch 256), kept for comparison: on this "
            "engine Lion loses its char task by ~8 % and ranks behind AdamW and RMSProp"
        ),
        stages=(
            Stage("s", (("teacher/s", 1.0), ("teacher10/s", 1.0), ("char/s", 1.0)),
                  seeds=(0, 1), lrs=CoarseToFine(coarse=Grid.around(1.5, 0.5))),
            Stage("m", (("teacher/m", 1.0), ("teacher10/m", 1.0), ("char/m", 1.0)),
                  seeds=(0, 1, 2), lrs=CoarseToFine(coarse=Grid.around(1.5, 0.5))),
        ),
    ),
    "smoke": SuiteSpec(
        name="smoke",
        description="tiny tasks for tests: milliseconds per program after ~6 s of compiles",
        stages=(
            Stage("s", (("teacher/xs", 1.0),), seeds=(0,), lrs=Grid.around(1.5, 0.5)),
            Stage("m", (("teacher/xs", 1.0), ("illcond/xs", 1.0)), seeds=(0, 1),
                  lrs=Grid.around(1.5, 0.5)),
        ),
    ),
}


def suite_names() -> list[str]:
    return sorted(SUITES)


def get_suite(name: str = "default") -> Suite:
    """The suite called ``name`` (one instance per process: it caches baselines)."""
    suite = _INSTANCES.get(name)
    if suite is None:
        spec = SUITES.get(name)
        if spec is None:
            raise KeyError(f"unknown suite {name!r}; known: {', '.join(suite_names())}")
        suite = _INSTANCES[name] = Suite(spec)
    return suite


_INSTANCES: dict[str, Suite] = {}


@dataclass
class Suite:
    """Scores batches of programs on one stage of a funnel (see the module docstring)."""

    spec: SuiteSpec
    _baselines: dict[int, tuple[dict[str, float], ProgramScore]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def stage_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.spec.stages)

    def _stage(self, stage: int) -> Stage:
        if not isinstance(stage, int | np.integer) or not 0 <= stage < len(self.spec.stages):
            raise ValueError(f"suite {self.name!r} has stages 0..{len(self.spec.stages) - 1} "
                             f"({', '.join(self.stage_names)}), got {stage!r}")
        return self.spec.stages[int(stage)]

    def _losses(self, programs: Sequence[Program], stage: Stage) -> tuple[dict, dict, dict]:
        from proxy_tasks.evaluation import evaluate

        best, lrs, failed, seconds = {}, {}, {}, np.zeros(len(programs))
        for task, _ in stage.tasks:
            scores = evaluate(task, programs, stage.lrs, stage.seeds)
            best[task], lrs[task], failed[task] = scores.best_loss, scores.best_lr, scores.failed
            seconds += scores.seconds
        return best, lrs, {"failed": failed, "seconds": seconds}

    def baseline(self, stage: int) -> ProgramScore:
        """The baseline program's score at ``stage`` (fitness 1 by definition), cached."""
        st = self._stage(stage)
        if stage not in self._baselines:
            program = library.load(self.spec.baseline)
            best, lrs, info = self._losses([program], st)
            per_task = {t: float(best[t][0]) for t, _ in st.tasks}
            failed = any(bool(info["failed"][t][0]) for t, _ in st.tasks)
            if failed:
                raise RuntimeError(f"suite {self.name!r}: the baseline {self.spec.baseline!r} "
                                   f"failed at stage {st.name!r}; fix the suite")
            score = ProgramScore(1.0, per_task, {t: float(lrs[t][0]) for t, _ in st.tasks},
                                 False, float(info["seconds"][0]))
            self._baselines[stage] = (per_task, score)
        return self._baselines[stage][1]

    def evaluate(self, programs: Sequence[Program], stage: int) -> list[ProgramScore]:
        """Score ``programs`` at ``stage``. Raises ``ValueError`` for an invalid program or an
        unknown stage; a program that diverges gets a finite, failed score."""
        st = self._stage(stage)
        programs = list(programs)
        for i, p in enumerate(programs):
            if not isinstance(p, Program):
                raise TypeError(f"programs[{i}] is a {type(p).__name__}, not a Program")
            problems = check(p)
            if problems:
                raise ProgramError(f"programs[{i}] is invalid: "
                                   + "; ".join(map(str, problems)))
        if not programs:
            return []
        self.baseline(stage)
        base = self._baselines[stage][0]
        best, lrs, info = self._losses(programs, st)
        total_weight = sum(w for _, w in st.tasks)
        out = []
        for i in range(len(programs)):
            failed = any(bool(info["failed"][t][i]) for t, _ in st.tasks)
            fitness = sum(w * float(best[t][i]) / base[t] for t, w in st.tasks) / total_weight
            out.append(ProgramScore(
                fitness=WORST_FITNESS if failed else float(fitness),
                per_task={t: float(best[t][i]) for t, _ in st.tasks},
                best_lr={t: float(lrs[t][i]) for t, _ in st.tasks},
                failed=failed,
                seconds=float(info["seconds"][i]),
            ))
        return out
