"""Evaluation on a Ray cluster: one actor per CPU (or per GPU), each holding its loaded suite.

Why actors and not tasks: a suite compiles its training loops on first use (seconds for a jax
suite); an actor keeps them for its whole life, as a local worker process does. Each actor is
single-threaded for XLA and BLAS (:data:`evosearch.backends.local.SINGLE_THREAD_ENV`, set by
Ray in the actor's environment before Python starts, so before jax is imported), because on
small problems one single-threaded evaluator per core beats one multi-threaded one. Actors
score batches with :func:`evosearch.backends.evaluate.evaluate_texts`, the same function as
every other backend, and send back plain lists (``Score.to_json``): program text goes out,
numbers and strings come back.

Dispatch: a batch waits in a queue until an actor that has loaded its suite holds fewer than
``prefetch`` (2) tasks: one running, one queued in Ray behind it, so that no actor idles while
the driver reacts. Completions are taken with ``ray.wait`` as they arrive.

Faults: an actor that dies (killed, crashed, out of memory, its node removed) loses nothing.
The task it was running is charged an attempt (:func:`evosearch.backends.tasks.after_failure`:
retried, then split into single programs, then a single program failed with the reason, as in
the local pool); the tasks queued behind it go back to the front of the queue uncharged; a
replacement actor is started and the event reported. The replacement may have to wait for a
free CPU (a node gone for good); the search goes on with the actors left, and stops with an
:class:`ExecutorError` (the runner checkpoints first) only if no actor at all is alive for
``start_timeout`` seconds. An :class:`evosearch.backends.tasks.Assembler` guarantees one result
per submitted batch. A driver that dies takes its actors with it (Ray ends them with their
owner); ``evosearch search --resume`` continues from the checkpoint.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import ray
from ray import exceptions as ray_errors

from evosearch.backends.base import (
    Batch,
    Executor,
    ExecutorError,
    ExecutorEvent,
    SuiteInfo,
    failure_report,
)
from evosearch.backends.local import SINGLE_THREAD_ENV, available_cpus, check_workers
from evosearch.backends.ray_cluster import connect
from evosearch.backends.tasks import Assembler, Task, after_failure
from proxy_tasks.suites import Score, SuiteRef, reference_name
from proxy_tasks.threads import single_thread_env


class Evaluator:
    """The actor: loads the suite once, then scores batches of program texts.

    A suite that cannot load (an unknown task, a bad identification target) does not fail the
    actor's creation, whose error Ray wraps in its own traceback: :meth:`ready` reports it as
    data, one line (and the traceback where it is a bug), as a local worker does."""

    def __init__(self, suite_ref: SuiteRef) -> None:
        from proxy_tasks.threads import configure_single_thread  # imports no jax

        configure_single_thread()  # as a local worker does (XLA_FLAGS is also in the env)
        from proxy_tasks.suites import get_suite

        self.failure: tuple[str, str] | None = None
        try:
            self.suite = get_suite(suite_ref)
        except Exception as e:  # noqa: BLE001 - reported by ready()
            self.failure = failure_report(e)

    def ready(self) -> dict[str, Any]:
        """Where this actor runs (called once, to learn that the suite is loaded), or why it
        cannot load it (``error``, ``detail``)."""
        if self.failure is not None:
            return {"error": self.failure[0], "detail": self.failure[1]}
        return {
            "pid": os.getpid(),
            "node": ray.get_runtime_context().get_node_id(),
            "host": socket.gethostname(),
        }

    def describe(self) -> dict[str, Any]:
        from evosearch.backends.evaluate import describe

        info = describe(self.suite, False)
        return {
            "name": info.name,
            "stage_names": list(info.stage_names),
        }

    def baseline(self, stage: int) -> list[Any]:
        return self.suite.baseline(stage).to_json()

    def evaluate(self, jobs: list[tuple[str, int]]) -> list[list[Any]]:
        from evosearch.backends.evaluate import evaluate_texts

        return [s.to_json() for s in evaluate_texts(self.suite, jobs)]


_RemoteEvaluator = ray.remote(max_restarts=0, max_task_retries=0)(Evaluator)
"""No restarts by Ray: the executor replaces dead actors itself, so that it knows which tasks
were lost and resubmits each exactly once."""

_LOST = (
    ray_errors.RayActorError,  # ActorDiedError, ActorUnavailableError
    ray_errors.OutOfMemoryError,
    ray_errors.ObjectLostError,
    ray_errors.NodeDiedError,
    ray_errors.WorkerCrashedError,
)
"""Errors that mean the actor (or its node) is gone, as opposed to a method that raised."""


@dataclass(eq=False)  # identity: two actors are never "equal"
class _Actor:
    index: int
    handle: Any
    ready_ref: Any  # ObjectRef of ready(), pending until the suite is loaded
    started: float
    tasks: deque[Task] = field(default_factory=deque)  # outstanding, in execution order
    ready: bool = False
    where: dict[str, Any] = field(default_factory=dict)


class RayExecutor(Executor):
    """Batches evaluated by Ray actors; see the module docstring.

    ``address``: '' starts a private Ray here (``workers`` CPUs), 'auto' or HOST:PORT joins a
    cluster (:mod:`evosearch.backends.ray_cluster`); if this process already runs Ray, its
    cluster is used as it is. ``workers``: actors (0: one per CPU of the cluster, or one per
    GPU if it has GPUs).
    """

    def __init__(
        self,
        suite: SuiteRef,
        workers: int = 0,
        address: str = "",
        *,
        max_attempts: int = 2,
        prefetch: int = 2,
        start_timeout: float = 300.0,
        gpus: bool | None = None,
    ) -> None:
        self.suite_ref = suite
        self.suite_name = reference_name(suite)
        self.max_attempts = max_attempts
        self.prefetch = prefetch
        self.start_timeout = start_timeout
        self.events: list[ExecutorEvent] = []
        self.replacements = 0
        self.resubmitted = 0
        self._assembler = Assembler()
        self._pending: deque[Task] = deque()
        self._actors: list[_Actor] = []
        self._by_ref: dict[Any, tuple[_Actor, Task | None]] = {}  # task or ready() refs
        self._next_token = 0
        self._starved_since: float | None = None
        self._failed_starts = 0  # actors in a row that died before loading their suite
        self._waiting_reported = False
        if address.strip() in ("", "local") and not ray.is_initialized():
            check_workers(workers, available_cpus(), "this machine")  # before Ray starts
        self._owns_ray = connect(address, workers)
        try:
            resources = ray.cluster_resources()
            use_gpus = resources.get("GPU", 0) >= 1 if gpus is None else gpus
            env = {**SINGLE_THREAD_ENV, "XLA_FLAGS": single_thread_env({})["XLA_FLAGS"]}
            if use_gpus:
                env.pop("JAX_PLATFORMS")  # let jax find the accelerator
            self._options = {
                "num_cpus": 1,
                "num_gpus": 1 if use_gpus else 0,
                "runtime_env": {"env_vars": env},
            }
            per = "GPU" if use_gpus else "CPU"
            have = int(resources.get(per, 0))
            # Actors beyond the cluster's CPUs would wait for ever; none at all (a GPU asked
            # of a cluster without one) is said by the wait's own error, with the cluster state.
            self.n = check_workers(workers, have, "the Ray cluster", per) if have else workers or 1
            self._actors = [self._start(i) for i in range(self.n)]
        except BaseException:
            self.close()
            raise
        nodes = sum(1 for n in ray.nodes() if n.get("Alive"))
        self.events.append(ExecutorEvent(
            "ray_started",
            f"ray: {self.n} evaluation actor(s), one per {per}, on a cluster of {nodes} node(s) "
            f"with {resources.get('CPU', 0):g} CPU(s); keep executor.in_flight >= {2 * self.n} "
            "so that none idles",
            {"actors": self.n, "nodes": nodes, "cpus": resources.get("CPU", 0),
             "gpus": resources.get("GPU", 0)},
        ))

    # --- actors ----------------------------------------------------------------------------------

    @property
    def workers(self) -> int:
        return self.n

    def actor_handles(self) -> list[Any]:
        """Handles of the actors that have loaded their suite (tests kill them)."""
        return [a.handle for a in self._actors if a.ready]

    def holding(self) -> list[tuple[Any, int]]:
        """(handle, number of tasks it holds) for every ready actor."""
        return [(a.handle, len(a.tasks)) for a in self._actors if a.ready]

    def placement(self) -> list[dict[str, Any]]:
        """Where each ready actor runs: pid, node id, host."""
        return [dict(a.where) for a in self._actors if a.ready]

    def stats(self) -> dict[str, int]:
        """Exactly-once bookkeeping, for tests and the benchmark."""
        return {
            "submitted": self._assembler.submitted,
            "delivered": self._assembler.delivered,
            "duplicates_dropped": self._assembler.duplicates,
            "replacements": self.replacements,
            "resubmitted": self.resubmitted,
        }

    def _start(self, index: int) -> _Actor:
        handle = _RemoteEvaluator.options(**self._options).remote(self.suite_ref)
        actor = _Actor(index, handle, handle.ready.remote(), time.monotonic())
        self._by_ref[actor.ready_ref] = (actor, None)
        return actor

    def _token(self) -> int:
        self._next_token += 1
        return self._next_token

    # --- requests --------------------------------------------------------------------------------

    def describe(self, baselines: bool) -> SuiteInfo:
        """Stages from the first actor ready; the baselines, if asked (every stage but the last:
        the funnel's thresholds), one stage per actor in parallel, which also compiles those
        stages early. Starting is bounded by ``start_timeout``; scoring a baseline is not (it
        is a real training, minutes on a large stage). A baseline whose actor is lost is asked
        of another."""
        deadline = time.monotonic() + self.start_timeout
        while True:
            actor = self._first_ready(deadline)
            try:
                d = ray.get(actor.handle.describe.remote(),
                            timeout=max(1.0, deadline - time.monotonic()))
                break
            except ray_errors.GetTimeoutError:
                raise ExecutorError(
                    f"suite {self.suite_name!r}: no description within "
                    f"{self.start_timeout:.0f} s"
                ) from None
            except _LOST as e:
                self._lost(actor, _first_line(e))
            except ray_errors.RayTaskError as e:
                message, detail = _cause(e)
                raise ExecutorError(
                    f"suite {self.suite_name!r} cannot describe itself: {message}", detail
                ) from None
        stages = tuple(d["stage_names"])
        scores = self._baselines(len(stages) - 1, deadline) if baselines else ()
        return SuiteInfo(d["name"], stages, scores)

    def _baselines(self, count: int, deadline: float) -> tuple[Score, ...]:
        scores: dict[int, Score] = {}
        asked: dict[Any, tuple[int, _Actor]] = {}

        def ask(stage: int) -> None:
            ready = [a for a in self._actors if a.ready] or [self._first_ready(deadline)]
            busy = Counter(id(a) for _, a in asked.values())
            actor = min(ready, key=lambda a: busy[id(a)])
            asked[actor.handle.baseline.remote(stage)] = (stage, actor)

        self._await_ready(min(count, self.n), deadline)
        for stage in range(count):
            ask(stage)
        while asked:
            done, _ = ray.wait(list(asked), num_returns=1)
            for ref in done:
                stage, actor = asked.pop(ref)
                try:
                    scores[stage] = Score.from_json(ray.get(ref))
                except _LOST as e:
                    self._lost(actor, _first_line(e))
                    deadline = time.monotonic() + self.start_timeout
                    ask(stage)
                except ray_errors.RayTaskError as e:
                    message, detail = _cause(e)
                    raise ExecutorError(
                        f"suite {self.suite_name!r} cannot score its baseline on stage {stage}: "
                        f"{message}", detail
                    ) from None
        return tuple(scores[k] for k in range(count))

    def _await_ready(self, count: int, deadline: float) -> None:
        """Wait until ``count`` actors are ready, or at least one is when ``deadline`` passes."""
        while sum(a.ready for a in self._actors) < count:
            refs = [a.ready_ref for a in self._actors if not a.ready]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._first_ready(deadline)  # at least one, or a clear error
                return
            for ref in ray.wait(refs, num_returns=1, timeout=remaining)[0]:
                self._handle(ref)

    def _first_ready(self, deadline: float) -> _Actor:
        while True:
            for actor in self._actors:
                if actor.ready:
                    return actor
            refs = [a.ready_ref for a in self._actors]
            remaining = deadline - time.monotonic()
            done = ray.wait(refs, num_returns=1, timeout=max(0.0, remaining))[0] if refs else []
            if not done and time.monotonic() >= deadline:
                raise ExecutorError(self._starved_message(self.start_timeout))
            for ref in done:
                self._handle(ref)

    def submit(self, batch: Batch) -> None:
        self._assembler.open(batch)
        self._pending.append(Task(self._token(), batch.id, 0, batch.jobs))
        self._dispatch()

    def _dispatch(self) -> None:
        ready = [a for a in self._actors if a.ready]
        while self._pending and ready:
            actor = min(ready, key=lambda a: len(a.tasks))
            if len(actor.tasks) >= self.prefetch:
                return
            task = self._pending.popleft()
            actor.tasks.append(task)
            self._by_ref[actor.handle.evaluate.remote(task.payload())] = (actor, task)

    def completed(self, timeout: float | None) -> list[tuple[int, list[Score]]]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._assembler.ready:
            refs = list(self._by_ref)
            if not refs:
                if not self._pending:
                    break  # nothing submitted: nothing to wait for
                raise ExecutorError(self._starved_message(0))
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            # Wake at least every few seconds to notice a cluster with no actor left.
            wait = 5.0 if remaining is None else min(remaining, 5.0)
            done, _ = ray.wait(refs, num_returns=1, timeout=wait)
            if done:  # and everything else that is done by now
                done, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
            for ref in done:
                self._handle(ref)
            self._dispatch()
            self._check_starved()
            if deadline is not None and time.monotonic() >= deadline:
                break
        return self._assembler.take()

    # --- results and faults ----------------------------------------------------------------------

    def _handle(self, ref: Any) -> None:
        entry = self._by_ref.pop(ref, None)
        if entry is None:
            return  # the ref of a task already resubmitted elsewhere
        actor, task = entry
        if actor not in self._actors:
            return
        try:
            value = ray.get(ref)
        except _LOST as e:
            if task is None and getattr(e, "actor_init_failed", False):
                self.close()
                raise ExecutorError(
                    f"an evaluation actor cannot load suite {self.suite_name!r}:\n{e}\n"
                    "(on a cluster: is evosearch installed in the Python that runs "
                    "`ray start` on every machine?)"
                ) from None
            self._lost(actor, _first_line(e))
            return
        except ray_errors.RayTaskError as e:
            # The method raised (evaluate_texts itself catches program errors, so this is a
            # MemoryError or the like); the actor lives on and the task is charged an attempt.
            assert task is not None
            actor.tasks.remove(task)
            self._retry([task], f"evaluation raised {_first_line(e)};")
            return
        if task is None:
            if "error" in value:
                self.close()
                raise ExecutorError(
                    f"an evaluation actor cannot load suite {self.suite_name!r}: "
                    f"{value['error']}", detail=value["detail"])
            actor.ready = True
            actor.where = dict(value)
            self._starved_since = None
            self._failed_starts = 0
            return
        actor.tasks.remove(task)
        self._assembler.finish(task, [Score.from_json(s) for s in value])

    def _retry(self, charged: list[Task], reason: str, uncharged: list[Task] = ()) -> int:
        requeue: list[Task] = []
        for task in charged:
            again, failed = after_failure(task, self.max_attempts, self._token,
                                          reason)
            requeue += again
            for t, scores in failed:
                self._assembler.finish(t, scores)
        requeue += uncharged
        self._pending.extendleft(reversed(requeue))
        self.resubmitted += len(requeue)
        return len(requeue)

    def _lost(self, actor: _Actor, why: str) -> None:
        """An actor is gone: its running task is charged an attempt, the tasks queued behind it
        go back uncharged, a replacement starts."""
        for ref in [r for r, (a, _) in self._by_ref.items() if a is actor]:
            del self._by_ref[ref]
        with contextlib.suppress(Exception):
            ray.kill(actor.handle, no_restart=True)
        if not actor.ready:
            self._failed_starts += 1
            if self._failed_starts >= max(3, 2 * self.n):
                self.close()
                raise ExecutorError(
                    f"evaluation actors die before they start ({self._failed_starts} in a row; "
                    f"the last: {why}). A driver and cluster that disagree on token "
                    "authentication (RAY_AUTH_MODE) do this, as does a node whose Python "
                    "cannot run evosearch; see docs/cluster.md"
                )
        tasks = list(actor.tasks)
        resubmitted = self._retry(tasks[:1], "an evaluation actor died", tasks[1:])
        replacement = self._start(actor.index)
        self._actors[self._actors.index(actor)] = replacement
        self.replacements += 1
        where = actor.where.get("host", "?") if actor.where else "not yet started"
        self.events.append(ExecutorEvent(
            "actor_replaced",
            f"ray: evaluation actor {actor.index} ({where}, pid {actor.where.get('pid', '?')}) "
            f"was lost ({why}); {resubmitted} task(s) resubmitted, replacement started",
            {"actor": actor.index, "node": actor.where.get("node"), "reason": why,
             "resubmitted": resubmitted},
        ))
        self._dispatch()

    def _check_starved(self) -> None:
        """No actor ready: say so once, and give up after ``start_timeout`` seconds."""
        if any(a.ready for a in self._actors):
            self._starved_since = None
            self._waiting_reported = False
            return
        now = time.monotonic()
        if self._starved_since is None:
            self._starved_since = now
        waited = now - self._starved_since
        if waited > 10.0 and not self._waiting_reported:
            self._waiting_reported = True
            self.events.append(ExecutorEvent(
                "ray_waiting", f"ray: no evaluation actor is running; {self._cluster_state()}",
            ))
        if waited >= self.start_timeout:
            raise ExecutorError(self._starved_message(waited))

    def _cluster_state(self) -> str:
        try:
            total = ray.cluster_resources().get("CPU", 0)
            free = ray.available_resources().get("CPU", 0)
        except Exception:  # noqa: BLE001
            return "the cluster cannot be queried"
        return f"the cluster has {total:g} CPU(s), {free:g} free"

    def _starved_message(self, waited: float) -> str:
        return (
            f"no evaluation actor became ready within {waited:.0f} s; {self._cluster_state()} "
            f"(each actor needs 1 CPU{' and 1 GPU' if self._options['num_gpus'] else ''}; add "
            "a node with `ray start --address=HEAD:PORT`, then resume with --resume)"
        )

    def close(self) -> None:
        actors, self._actors = self._actors, []
        for actor in actors:
            with contextlib.suppress(Exception):
                ray.kill(actor.handle, no_restart=True)
        self._by_ref.clear()
        self._pending.clear()
        self._assembler.clear()
        if self._owns_ray:
            self._owns_ray = False
            with contextlib.suppress(Exception):
                ray.shutdown()


def _first_line(error: BaseException) -> str:
    lines = [ln.strip() for ln in str(error).splitlines() if ln.strip()]
    # Ray's messages put the useful part ("its node has died", "killed by ray.kill") last.
    for line in reversed(lines):
        if line.startswith(("The actor", "The actor's", "Worker", "Task", "Memory")):
            return line
    return lines[-1] if lines else type(error).__name__


def _cause(error: ray_errors.RayTaskError) -> tuple[str, str]:
    """What an actor's method raised, as :func:`evosearch.backends.base.failure_report` has it
    (Ray's own message carries the actor's traceback: kept for a bug only)."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, BaseException):
        message, detail = failure_report(cause)
        return message, detail and str(error)
    return _first_line(error), str(error)
