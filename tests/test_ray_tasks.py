"""Retry rules and exactly-once assembly of batches (no Ray needed: pure bookkeeping)."""

from __future__ import annotations

from itertools import count

import pytest

from evosearch.backends.base import Batch, Job
from evosearch.backends.tasks import Assembler, Task, after_failure
from proxy_tasks.suites import WORST_FITNESS, Score


def _jobs(n: int) -> tuple[Job, ...]:
    return tuple(Job(f"fp{i}", 0, f"text {i}") for i in range(n))


def test_a_task_is_retried_then_split_then_failed_with_the_reason():
    tokens = count(100)
    task = Task(1, batch_id=7, offset=0, jobs=_jobs(3))
    again, failed = after_failure(task, 2, lambda: next(tokens), "an actor died")
    assert again == [task] and not failed and task.attempts == 1

    singles, failed = after_failure(task, 2, lambda: next(tokens), "an actor died")
    assert not failed
    assert [(t.offset, t.jobs, t.attempts) for t in singles] == [
        (i, (job,), 0) for i, job in enumerate(task.jobs)]
    assert [t.token for t in singles] == [100, 101, 102]

    lone = singles[1]
    after_failure(lone, 2, lambda: next(tokens), "an actor died")
    again, failed = after_failure(lone, 2, lambda: next(tokens), "an actor died")
    assert not again
    ((settled, (score,)),) = failed
    assert settled is lone and score.failed and score.fitness == WORST_FITNESS
    assert score.error == "an actor died 2 times evaluating this program"


def test_the_assembler_delivers_each_batch_once_whole_and_in_job_order():
    asm = Assembler()
    batch = Batch(3, _jobs(3))
    asm.open(batch)
    with pytest.raises(ValueError, match="already being evaluated"):
        asm.open(batch)
    parts = [Task(10 + i, 3, i, (job,)) for i, job in enumerate(batch.jobs)]
    assert asm.finish(parts[2], [Score(2.0)])
    assert asm.finish(parts[0], [Score(0.0)])
    assert not asm.ready
    assert not asm.finish(parts[0], [Score(5.0)])  # a late duplicate: dropped, counted
    assert asm.finish(parts[1], [Score(1.0)])
    ((batch_id, scores),) = asm.take()
    assert batch_id == 3 and [s.fitness for s in scores] == [0.0, 1.0, 2.0]
    assert not asm.finish(Task(99, 3, 0, batch.jobs), [Score(0.0)] * 3)  # after delivery
    assert (asm.submitted, asm.delivered, asm.duplicates) == (1, 1, 2)
    with pytest.raises(ValueError, match="2 scores for 1 programs"):
        asm.open(Batch(4, _jobs(1)))
        asm.finish(Task(1, 4, 0, _jobs(1)), [Score(0.0), Score(1.0)])
