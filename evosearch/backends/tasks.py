"""Batches as retryable tasks, and whole batches back out exactly once.

A backend whose evaluators can die (a killed process, a lost node) must still give the search
one result per submitted batch, no more and no fewer: the engine consumes batches by id, in
order, and a lost or doubled result would corrupt its counters. This module holds the part of
that bookkeeping that does not depend on how evaluators are reached, so that the rules (how many
deaths a batch may cause, when it is split, when a program is failed) read the same everywhere:

- :class:`Task`: a batch, or one job of a batch split after repeated evaluator deaths;
- :func:`after_failure`: what becomes of a task whose evaluator died while it ran;
- :class:`Assembler`: scores of tasks -> whole batches, each id delivered once; late or
  duplicate scores (an original that returns after its resubmitted copy) are dropped, counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from evosearch.backends.base import Batch, Job
from proxy_tasks.suites import Score, failed_score


@dataclass(eq=False)  # identity: a retried task is the same task, a split one is not
class Task:
    """A batch, or one job of it (``offset`` is the job's index in the batch)."""

    token: int
    batch_id: int
    offset: int
    jobs: tuple[Job, ...]
    attempts: int = 0

    def payload(self) -> list[tuple[str, int]]:
        """What an evaluator receives: program texts and stages, nothing else."""
        return [(j.text, j.stage) for j in self.jobs]


def after_failure(
    task: Task, max_attempts: int, new_token: Callable[[], int], reason: str
) -> tuple[list[Task], list[tuple[Task, list[Score]]]]:
    """A task's evaluator died while running it: charge an attempt and decide its fate.

    Returns (tasks to run again, in order; tasks settled with failed scores). Below
    ``max_attempts`` the task is retried whole; a batch that reaches it is split into single
    programs (each with fresh attempts), so that one poisonous program cannot take the others
    down with it; a single program that reaches it is failed with a score naming ``reason``.
    """
    task.attempts += 1
    if task.attempts < max_attempts:
        return [task], []
    if len(task.jobs) > 1:
        return [
            Task(new_token(), task.batch_id, task.offset + i, (job,))
            for i, job in enumerate(task.jobs)
        ], []
    error = f"{reason} {task.attempts} times evaluating this program"
    return [], [(task, [failed_score(error)])]


class Assembler:
    """Collects task scores into whole batches; each submitted batch id comes out once."""

    def __init__(self) -> None:
        self._partial: dict[int, list[Score | None]] = {}
        self._done: list[tuple[int, list[Score]]] = []
        self.submitted = 0
        self.delivered = 0
        self.duplicates = 0  # scores dropped because the job already had one

    def open(self, batch: Batch) -> None:
        if batch.id in self._partial:
            raise ValueError(f"batch {batch.id} is already being evaluated")
        self._partial[batch.id] = [None] * len(batch.jobs)
        self.submitted += 1

    def finish(self, task: Task, scores: list[Score]) -> bool:
        """Record a task's scores; False (and counted) if they are late or duplicate."""
        if len(scores) != len(task.jobs):
            raise ValueError(
                f"batch {task.batch_id}: {len(scores)} scores for {len(task.jobs)} programs"
            )
        partial = self._partial.get(task.batch_id)
        span = range(task.offset, task.offset + len(task.jobs))
        if partial is None or any(partial[i] is not None for i in span):
            self.duplicates += 1
            return False
        partial[task.offset : task.offset + len(scores)] = scores
        if all(s is not None for s in partial):
            del self._partial[task.batch_id]
            self._done.append((task.batch_id, partial))  # type: ignore[arg-type]
        return True

    @property
    def ready(self) -> bool:
        return bool(self._done)

    @property
    def open_batches(self) -> int:
        return len(self._partial)

    def take(self) -> list[tuple[int, list[Score]]]:
        done, self._done = self._done, []
        self.delivered += len(done)
        return done

    def clear(self) -> None:
        self._partial.clear()
        self._done.clear()
