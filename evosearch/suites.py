"""Finding a suite by name and scoring batches of program texts with it.

Runs wherever evaluation happens (a worker process, a Ray actor, or the driver in process):
:func:`evaluate_texts` is the one function every backend calls, so all of them parse, group by
stage and survive a failing program the same way.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from typing import Any

from evosearch.backends.base import SuiteInfo
from evosearch.score import Score
from programs import ProgramError, parse

LOCAL_SUITES = ("numpy", "imitate:<target>")
"""Suites that live in evosearch itself (no jax): the engine's tests and benchmarks use them.
``imitate:<target>`` (a library name or a .prog path) benchmarks the search itself: see
:mod:`evosearch.imitation_suite`."""


def _is_local(suite: Any) -> bool:
    name = str(getattr(suite, "name", ""))
    return name == "numpy" or name.startswith("imitate:")


def load_suite(name: str) -> Any:
    """The suite called ``name``: one of :data:`LOCAL_SUITES` or a ``proxy_tasks`` suite."""
    if name == "numpy":
        from evosearch.numpy_suite import NumpySuite

        return NumpySuite()
    from evosearch.imitation_suite import PREFIX

    if name.startswith(PREFIX):
        from evosearch.imitation_suite import ImitationSuite

        return ImitationSuite(name[len(PREFIX):])
    from proxy_tasks import get_suite

    return get_suite(name)


def worst_fitness(suite: Any) -> float:
    if _is_local(suite):
        from evosearch.numpy_suite import WORST_FITNESS

        return WORST_FITNESS
    import proxy_tasks

    return float(proxy_tasks.WORST_FITNESS)


def describe(suite: Any, baselines: bool) -> SuiteInfo:
    """The suite's stages and, if asked, the baseline's score on every stage but the last (see
    :class:`evosearch.backends.base.SuiteInfo`)."""
    stages = tuple(suite.stage_names)
    scores: tuple[Score, ...] = ()
    if baselines:
        scores = tuple(baseline(suite, k) for k in range(len(stages) - 1))
    return SuiteInfo(str(suite.name), stages, scores, worst_fitness(suite))


def baseline(suite: Any, stage: int) -> Score:
    return Score.from_suite(suite.baseline(stage))


def evaluate_texts(
    suite: Any, jobs: Sequence[tuple[str, int]], worst: float
) -> list[Score]:
    """Score ``(program text, stage)`` pairs, one :class:`Score` each, in order.

    Programs of one stage go to the suite in one call. If that call raises (a bug in the suite,
    or a program it cannot handle), each program of the group is scored alone so that the
    culprit gets a failed score with the error, and the others their real scores: a search that
    runs for hours must not stop for one program.
    """
    results: list[Score | None] = [None] * len(jobs)
    groups: dict[int, list[int]] = {}
    programs: dict[int, Any] = {}
    for i, (text, stage) in enumerate(jobs):
        try:
            programs[i] = parse(text)
        except ProgramError as e:
            results[i] = Score(worst, failed=True, error=f"unparsable program text: {e}")
            continue
        groups.setdefault(int(stage), []).append(i)
    for stage, indices in groups.items():
        try:
            scores = suite.evaluate([programs[i] for i in indices], stage)
            for i, s in zip(indices, scores, strict=True):
                results[i] = Score.from_suite(s)
        except Exception:  # noqa: BLE001 - isolate the culprit, keep the rest
            for i in indices:
                try:
                    results[i] = Score.from_suite(suite.evaluate([programs[i]], stage)[0])
                except Exception as e:  # noqa: BLE001
                    detail = traceback.format_exception_only(e)[-1].strip()
                    results[i] = Score(worst, failed=True, error=f"evaluation raised {detail}")
    return [r for r in results if r is not None]
