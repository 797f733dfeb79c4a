"""The executor interface: how the search hands programs to evaluators.

The search submits *batches* (program texts with the stage to score them on) and takes whole
batches back as they complete, in any order; it consumes them in submission order itself (see
:mod:`evosearch.run.runner`), which keeps a run deterministic however the evaluators interleave.
Program text is the wire format: workers parse it, so nothing a worker sends back is more than
numbers and strings.

A backend must (1) evaluate each batch exactly once as far as the search can tell: a batch lost
with a dead worker is resubmitted, not dropped; (2) keep several batches in flight so evaluators
never wait for the driver; (3) never import jax into the driver process unless it evaluates
there. The local pool (:mod:`evosearch.backends.local`) and a Ray backend (actors holding
compiled suites, ``ray.wait`` for completions, a dead actor's batch resubmitted) both fit.
"""

from __future__ import annotations

import traceback
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from programs import ProgramError
from proxy_tasks.suites import Score, SuiteError


@dataclass(frozen=True)
class Job:
    """Score one program on one stage. ``fingerprint`` is the cache key, carried back."""

    fingerprint: str
    stage: int
    text: str


@dataclass(frozen=True)
class Batch:
    id: int
    jobs: tuple[Job, ...]


@dataclass(frozen=True)
class SuiteInfo:
    """What the driver needs to know about the suite, learnt from an evaluator so that the
    driver itself never compiles anything."""

    name: str
    stage_names: tuple[str, ...]
    # The baseline program's score on each stage but the last: the funnel's thresholds. The
    # last stage promotes nowhere, and scoring the baseline there would put the suite's dearest
    # compilation and training before the search's first child (minutes on the default suite).
    baselines: tuple[Score, ...] = ()


class ExecutorError(RuntimeError):
    """The evaluators cannot work at all (unknown suite, a worker that cannot start). The
    message is one line for the user; ``detail`` holds an evaluator's traceback where the cause
    is a bug rather than bad input (for the run's log, not the terminal)."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


KNOWN_ERRORS: tuple[type[BaseException], ...] = (SuiteError, ProgramError, KeyError, ValueError)
"""What an evaluator raises for bad input while it loads a suite: an unknown suite or task, a
bad identification target, a malformed table. Their messages say what is wrong."""


def failure_report(error: BaseException) -> tuple[str, str]:
    """What an evaluator sends back when it cannot work: (one line for the user, the traceback
    for the log). A known error (:data:`KNOWN_ERRORS`) is its message and no traceback; anything
    else is a bug, named by its type, with its traceback."""
    if isinstance(error, KNOWN_ERRORS):
        if isinstance(error, KeyError) and error.args:
            return str(error.args[0]), ""  # str() of a KeyError adds quotes
        return str(error), ""
    detail = "".join(traceback.format_exception(error))
    return f"{type(error).__name__}: {error}", detail


@dataclass
class ExecutorEvent:
    """Something the user should know about (a worker died and was replaced, ...)."""

    kind: str
    message: str
    data: dict = field(default_factory=dict)


class Executor(ABC):
    """Evaluates batches. Use as a context manager, or call :meth:`close`."""

    events: list[ExecutorEvent]

    @property
    @abstractmethod
    def workers(self) -> int:
        """How many batches it evaluates at once."""

    @abstractmethod
    def describe(self, baselines: bool) -> SuiteInfo:
        """The suite's stages and, if asked, the baseline's score on each (this compiles)."""

    @abstractmethod
    def submit(self, batch: Batch) -> None:
        """Start evaluating a batch; returns at once (or after evaluating, in process)."""

    @abstractmethod
    def completed(self, timeout: float | None) -> list[tuple[int, list[Score]]]:
        """Batches finished since the last call, as (batch id, one score per job); waits up to
        ``timeout`` seconds for at least one (None: until one finishes)."""

    @abstractmethod
    def close(self) -> None:
        """Stop the evaluators; batches in flight are abandoned (the checkpoint has them)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
