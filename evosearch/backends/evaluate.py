"""Scoring batches of program texts with a suite: what every backend runs where it evaluates.

Runs wherever evaluation happens (a worker process, a Ray actor, or the driver in process):
:func:`evaluate_texts` is the one function every backend calls, so all of them parse, group by
stage and survive a failing program the same way. Suites come from the one registry,
:func:`proxy_tasks.suites.get_suite`.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence

from evosearch.backends.base import SuiteInfo
from programs import ProgramError, parse
from proxy_tasks.suites import Score, Suite, failed_score


def describe(suite: Suite, baselines: bool) -> SuiteInfo:
    """The suite's stages and, if asked, the baseline's score on every stage but the last (see
    :class:`evosearch.backends.base.SuiteInfo`)."""
    stages = tuple(suite.stage_names)
    scores: tuple[Score, ...] = ()
    if baselines:
        scores = tuple(suite.baseline(k) for k in range(len(stages) - 1))
    return SuiteInfo(str(suite.name), stages, scores)


def evaluate_texts(suite: Suite, jobs: Sequence[tuple[str, int]]) -> list[Score]:
    """Score ``(program text, stage)`` pairs, one :class:`Score` each, in order.

    Programs of one stage go to the suite in one call. If that call raises (a bug in the suite,
    or a program it cannot handle), each program of the group is scored alone so that the
    culprit gets a failed score with the error, and the others their real scores: a search that
    runs for hours must not stop for one program.
    """
    results: list[Score | None] = [None] * len(jobs)
    groups: dict[int, list[int]] = {}
    programs: dict[int, object] = {}
    for i, (text, stage) in enumerate(jobs):
        try:
            programs[i] = parse(text)
        except ProgramError as e:
            results[i] = failed_score(f"unparsable program text: {e}")
            continue
        groups.setdefault(int(stage), []).append(i)
    for stage, indices in groups.items():
        try:
            scores = suite.evaluate([programs[i] for i in indices], stage)
            for i, s in zip(indices, scores, strict=True):
                results[i] = s
        except Exception:  # noqa: BLE001 - isolate the culprit, keep the rest
            for i in indices:
                try:
                    results[i] = suite.evaluate([programs[i]], stage)[0]
                except Exception as e:  # noqa: BLE001
                    detail = traceback.format_exception_only(e)[-1].strip()
                    results[i] = failed_score(f"evaluation raised {detail}")
    return [r for r in results if r is not None]
