"""Regularized evolution with a funnel, a fitness cache, warm start and restarts.

:class:`Evolution` is the search's whole state and its rules, with no I/O and no clock: it makes
batches of jobs (:meth:`Evolution.next_batch`) and takes their scores back
(:meth:`Evolution.consume`), strictly in the order the batches were made. Everything random draws
from one ``numpy.random.Generator``, so the same seed and the same order of calls give the same
trajectory; :mod:`evosearch.run.runner` guarantees the order and
:mod:`evosearch.run.checkpoint` saves the state between any two calls, so a resumed search
continues exactly.

The life of a child: a tournament picks a parent in an island (islands take turns); the mutator
makes a valid child that differs from it; the cache or a job in flight supplies its stage-0
score, or a new job is queued; each score that passes the funnel's threshold sends it one stage
further (again through the cache); when its funnel ends it joins its island and the oldest
member leaves. The warm start is evaluated first and fills the population with copies as soon
as it has its stage-0 score (its later stages are scored while the children are); a restart
fills the population with copies of the best program or of the warm start.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from evosearch.backends.base import Batch, Job
from evosearch.config import Config
from evosearch.engine.cache import FitnessCache
from evosearch.engine.funnel import Funnel, Key
from evosearch.engine.lineage import Lineage, Record
from evosearch.engine.mutation import KINDS, Mutator
from evosearch.engine.population import Population
from programs import Program, fingerprint, parse, redundancy
from programs import format as format_program
from proxy_tasks.suites import Score

MAX_BARREN_CHILDREN = 20_000
"""Stop the search when this many children in a row needed no evaluation: every program the
population can reach is already scored (a converged population), and the budget, which counts
evaluations, would never run out."""


@dataclass
class Candidate:
    """A child on its way through the funnel."""

    id: int
    parent: int | None
    island: int
    program: Program
    fingerprint: str
    kinds: tuple[str, ...] = ()
    edits: tuple[str, ...] = ()
    parent_key: Key | None = None
    scores: list[Score] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "parent": self.parent,
            "island": self.island,
            "text": format_program(self.program),
            "fingerprint": self.fingerprint,
            "kinds": list(self.kinds),
            "edits": list(self.edits),
            "parent_key": None if self.parent_key is None else list(self.parent_key),
            "scores": [s.to_json() for s in self.scores],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Candidate:
        pk = d["parent_key"]
        return cls(
            id=int(d["id"]),
            parent=None if d["parent"] is None else int(d["parent"]),
            island=int(d["island"]),
            program=parse(d["text"], filename=f"<candidate #{d['id']}>"),
            fingerprint=str(d["fingerprint"]),
            kinds=tuple(d["kinds"]),
            edits=tuple(d["edits"]),
            parent_key=None if pk is None else (int(pk[0]), float(pk[1])),
            scores=[Score.from_json(s) for s in d["scores"]],
        )


@dataclass
class Counters:
    """Cumulative counts, all persisted. Rates are derived by the reader."""

    children: int = 0  # valid, new children made
    gave_up: int = 0  # parents for which no valid new child was found in max_tries
    tries: int = 0  # mutation attempts
    invalid: int = 0  # attempts rejected by abstract execution
    unchanged: int = 0  # attempts rejected for the parent's fingerprint
    neutral: int = 0  # children kept with their parent's fingerprint (evolution.neutral)
    hits: int = 0  # children whose stage-0 score needed no new evaluation
    in_flight_hits: int = 0  # ... of which were waiting on the same job already queued
    evaluations: int = 0  # jobs made (trainings), all stages
    by_stage: list[int] = field(default_factory=list)  # jobs made per stage
    failed: int = 0  # scores with failed=True (NaN / inf at every lr)
    joined: int = 0  # children that finished the funnel and joined the population
    reached: list[int] = field(default_factory=list)  # joined children by highest stage reached
    restarts: int = 0
    migrations: int = 0
    batches: int = 0  # batches consumed
    redundancy_sum: float = 0.0  # sum over children of their share of dead statements
    barren: int = 0  # children in a row that needed no evaluation

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Counters:
        c = cls()
        for k, v in d.items():
            if k not in c.__dict__:
                raise ValueError(f"unknown counter {k!r}")
            setattr(c, k, v)
        return c


class Evolution:
    """The search state and its rules (see the module docstring)."""

    def __init__(
        self,
        config: Config,
        stage_names: tuple[str, ...],
        baselines: list[float | None],
        warm_start: Program,
    ) -> None:
        self.config = config
        self.stage_names = tuple(stage_names)
        self.funnel = Funnel(config.funnel, len(stage_names), baselines)
        self.mutator = Mutator(config.mutation, config.evolution)
        self.rng = np.random.default_rng(config.search.seed)
        self.cache = FitnessCache(functional=config.cache.functional)
        self.population = Population(config.evolution.population, config.evolution.islands)
        self.lineage = Lineage()
        self.counters = Counters(
            by_stage=[0] * len(stage_names), reached=[0] * len(stage_names)
        )
        self.outcomes: dict[str, list[int]] = {k: [0, 0, 0] for k in KINDS}
        self.candidates: dict[int, Candidate] = {}
        self.waiting: dict[tuple[str, int], list[int]] = {}  # job key -> candidate ids
        self.queue: deque[Job] = deque()  # jobs made, not yet in a batch
        self.in_flight: deque[Batch] = deque()  # batches made, not yet consumed
        self.next_id = 0
        self.next_batch_id = 0
        self.initial_id: int | None = None
        self.best_id: int | None = None
        self.hall_of_fame: list[int] = []
        self.improved_at = 0  # evaluations when the best last improved (or at the last restart)
        self.elapsed = 0.0  # wall seconds, resumes included (set by the runner)
        self.phase = "search"  # search -> meta (meta-validation) -> done
        self.meta: list[int] = []  # record ids being (or that were) meta-validated
        self.events: list[dict[str, Any]] = []  # restarts, migrations: for the log
        self.injected: dict[str, int] = {}  # parent fingerprint -> evaluations at injection
        self._programs: dict[int, Program] = {}
        self._route(Candidate(self._new_id(), None, 0, warm_start, fingerprint(warm_start)))

    # --- the two calls ---------------------------------------------------------------------------

    def next_batch(self) -> Batch | None:
        """Up to ``batch_size`` jobs: promotions first, then new children; None when nothing
        needs evaluating now (e.g. the warm start is still out, or the budget is spent)."""
        size = self.config.executor.batch_size
        spawns = 0
        while len(self.queue) < size and self._may_spawn() and spawns < 100 * size:
            self._spawn()
            spawns += 1
        if self.phase == "search" and not self.budget_left() and not self._busy():
            self._begin_meta_validation()
        if not self.queue:
            if self.phase == "meta" and not self._busy():
                self.phase = "done"
            return None
        jobs = tuple(self.queue.popleft() for _ in range(min(size, len(self.queue))))
        batch = Batch(self.next_batch_id, jobs)
        self.next_batch_id += 1
        self.in_flight.append(batch)
        return batch

    def consume(self, batch_id: int, scores: list[Score]) -> None:
        """The scores of the oldest batch in flight, one per job."""
        if not self.in_flight or self.in_flight[0].id != batch_id:
            expected = self.in_flight[0].id if self.in_flight else None
            raise ValueError(f"batch {batch_id} consumed out of order (expected {expected})")
        batch = self.in_flight[0]
        if len(scores) != len(batch.jobs):
            raise ValueError(f"batch {batch_id}: {len(scores)} scores for {len(batch.jobs)} jobs")
        self.in_flight.popleft()
        self.counters.batches += 1
        for job, score in zip(batch.jobs, scores, strict=True):
            self.counters.failed += score.failed
            program = None
            if self.cache.functional:
                waiting = self.waiting.get((job.fingerprint, job.stage))
                program = (
                    self.candidates[waiting[0]].program if waiting else parse(job.text)
                )
            self.cache.put(job.fingerprint, job.stage, score, program)
        for job in batch.jobs:
            for cid in self.waiting.pop((job.fingerprint, job.stage), []):
                self._route(self.candidates.pop(cid))

    @property
    def done(self) -> bool:
        return self.phase == "done"

    # --- children --------------------------------------------------------------------------------

    def _new_id(self) -> int:
        rid = self.next_id
        self.next_id += 1
        return rid

    def _busy(self) -> bool:
        return bool(self.candidates or self.queue or self.in_flight)

    def budget_left(self) -> bool:
        s = self.config.search
        c = self.counters
        if c.evaluations >= s.max_evaluations:
            return False
        if s.max_children and c.children >= s.max_children:
            return False
        if s.max_minutes and self.elapsed >= 60.0 * s.max_minutes:
            return False
        return c.barren < MAX_BARREN_CHILDREN

    def _may_spawn(self) -> bool:
        return self.phase == "search" and not self.population.empty and self.budget_left()

    def resume_budget(self) -> None:
        """After a resume with a larger budget: search again, meta-validate again at the end."""
        if self.phase != "search" and self.budget_left():
            self.phase = "search"
            self.counters.barren = 0

    def program(self, rid: int) -> Program:
        program = self._programs.get(rid)
        if program is None:
            program = parse(self.lineage[rid].text, filename=f"<record #{rid}>")
            self._programs[rid] = program
        return program

    def key(self, rid: int) -> Key:
        return self.lineage[rid].key

    def _spawn(self) -> None:
        c = self.counters
        island = c.children % len(self.population.islands)
        parent_id = self.population.tournament(
            self.rng, island, self.config.evolution.tournament, self.key
        )
        parent = self.lineage[parent_id]
        child = self.mutator.child(self.program(parent_id), self.rng, parent.fingerprint)
        if child is None:
            c.gave_up += 1
            c.tries += self.config.evolution.max_tries
            return
        c.children += 1
        c.tries += child.tries
        c.invalid += child.invalid
        c.unchanged += child.unchanged
        c.neutral += child.neutral
        c.redundancy_sum += redundancy(child.program)
        candidate = Candidate(
            self._new_id(), parent_id, island, child.program, child.fingerprint,
            child.kinds, child.edits, parent.key,
        )
        # The counted look-up (it may also file a functional-fingerprint hit under this key).
        cached = self.cache.lookup(child.fingerprint, child.program, 0) is not None
        in_flight = not cached and (child.fingerprint, 0) in self.waiting
        if cached or in_flight:
            c.hits += 1
            c.in_flight_hits += in_flight
        evaluations = c.evaluations
        self._route(candidate)
        c.barren = c.barren + 1 if c.evaluations == evaluations else 0

    def inject(self, program: Program, parent: int, edit: str) -> bool:
        """A program made outside the mutations joins as a child of record ``parent``: scored
        by the suite through the funnel like any child. Identification uses this for a found
        program with its constants fitted to the target, which a constant mutation
        (``x 2**N(0, 1)``) would rarely hit. The parent is remembered (:attr:`injected`), so
        that a resumed search knows what was injected. Returns False (and does nothing) for a
        program the parent already computes."""
        source = self.lineage[parent]
        child = fingerprint(program)
        self.injected[source.fingerprint] = self.counters.evaluations
        if child == source.fingerprint:
            return False
        self.counters.children += 1
        self._route(Candidate(self._new_id(), parent, source.island, program, child,
                              edits=(edit,), parent_key=source.key))
        return True

    def _route(self, c: Candidate) -> None:
        """Advance a candidate through the funnel as far as known scores allow."""
        while True:
            stage = len(c.scores)
            score = self.cache.get(c.fingerprint, stage)
            if score is None:
                key = (c.fingerprint, stage)
                self.candidates[c.id] = c
                if key in self.waiting:
                    self.waiting[key].append(c.id)
                else:
                    self.waiting[key] = [c.id]
                    self._make_job(c.fingerprint, stage, format_program(c.program))
                return
            c.scores.append(score)
            if not self.funnel.promotes(stage, score, self._population_fitness):
                self._join(c)
                return
            if c.parent is None and self.initial_id is None:
                # The warm start fills the population as soon as it has a score, and goes on
                # through the funnel from there: on the default suite its last stage alone
                # takes minutes, which the workers would otherwise spend idle.
                self.lineage.add(self._record(c))
                self._programs[c.id] = c.program
                self.initial_id = c.id
                self.population.fill(c.id)

    def _make_job(self, key: str, stage: int, text: str) -> None:
        self.queue.append(Job(key, stage, text))
        self.counters.evaluations += 1
        self.counters.by_stage[stage] += 1

    def _population_fitness(self, stage: int) -> list[float]:
        scores = (self.lineage[rid].scores for rid in self.population)
        return [s[stage] for s in scores if len(s) > stage]

    # --- joining the population ------------------------------------------------------------------

    def _record(self, c: Candidate) -> Record:
        return Record(
            id=c.id,
            parent=c.parent,
            text=format_program(c.program),
            fingerprint=c.fingerprint,
            scores=tuple(s.fitness for s in c.scores),
            failed=any(s.failed for s in c.scores),
            kinds=c.kinds,
            edits=c.edits,
            born=self.counters.children,
            island=c.island,
        )

    def _join(self, c: Candidate) -> None:
        record = self._record(c)
        self.lineage.add(record)  # for the warm start: its final scores replace the first
        self._programs[record.id] = c.program
        counters = self.counters
        counters.reached[record.stage] += 1
        if c.parent is None:  # the warm start
            if self.initial_id is None:  # it stopped at stage 0: fill now
                self.initial_id = record.id
                self.population.fill(record.id)
        else:
            counters.joined += 1
            self.population.add(c.island, record.id)
        new_best = self.best_id is None or record.key < self.key(self.best_id)
        if c.parent_key is not None:
            better = record.key < c.parent_key
            for kind in set(c.kinds):
                row = self.outcomes[kind]
                row[0] += 1
                row[1] += better
                row[2] += new_best
        if new_best:
            self.best_id = record.id
            self.improved_at = counters.evaluations
        self._enter_hall_of_fame(record)
        interval = self.config.evolution.migration_interval
        if interval and c.parent is not None and counters.joined % interval == 0:
            moves = self.population.migrate(self.key)
            if moves:
                counters.migrations += 1
                self.events.append({"event": "migration", "moves": moves})
        plateau = self.config.restart.plateau
        if plateau and counters.evaluations - self.improved_at >= plateau:
            self.restart(self.config.restart.source, reason="plateau",
                         scope=self.config.restart.scope)

    def _enter_hall_of_fame(self, record: Record) -> None:
        size = self.config.search.hall_of_fame
        for i, rid in enumerate(self.hall_of_fame):
            if self.lineage[rid].fingerprint == record.fingerprint:
                if record.key < self.key(rid):
                    self.hall_of_fame[i] = record.id
                    self.hall_of_fame.sort(key=self.key)
                return
        self.hall_of_fame.append(record.id)
        self.hall_of_fame.sort(key=self.key)
        del self.hall_of_fame[size:]

    def restart(self, source: str, reason: str = "command", scope: str = "all") -> None:
        """Every island (``scope="all"``), or only the island with the worst best member
        (``"worst"``), becomes copies of the best program (``source="best"``) or of the warm
        start (``"initial"``). The cache, the lineage and children in flight are kept.

        Restarting one island from the warm start lets it look for another basin while the
        other islands keep their lineages; on a suite whose optimum is Lion that reached Lion no
        more often than the default (experiments/reachability)."""
        if source not in ("best", "initial"):
            raise ValueError(f"restart source must be 'best' or 'initial', got {source!r}")
        if scope not in ("all", "worst"):
            raise ValueError(f"restart scope must be 'all' or 'worst', got {scope!r}")
        rid = self.best_id if source == "best" else self.initial_id
        if rid is None:  # the warm start has not been scored yet: nothing to restart from
            return
        islands = None if scope == "all" else [self.population.worst(self.key)]
        self.population.fill(rid, islands)
        self.counters.restarts += 1
        self.improved_at = self.counters.evaluations
        event = {"event": "restart", "source": source, "reason": reason, "record": rid,
                 "evaluations": self.counters.evaluations}
        if islands is not None:
            event["islands"] = islands
        self.events.append(event)

    # --- meta-validation -------------------------------------------------------------------------

    def _begin_meta_validation(self) -> None:
        """Score the best programs on the last stage, whether or not the funnel sent them
        there: the largest task is the closest thing to held-out validation the suite has."""
        self.phase = "meta"
        last = self.funnel.last
        self.meta = self.hall_of_fame[: self.config.search.meta_validate]
        for rid in self.meta:
            r = self.lineage[rid]
            key = (r.fingerprint, last)
            if self.cache.get(*key) is None and key not in self.waiting:
                self.waiting[key] = []
                self._make_job(r.fingerprint, last, r.text)

    def meta_validation(self) -> list[tuple[int, Score]]:
        """(record id, last-stage score) of the meta-validated programs, best first."""
        last = self.funnel.last
        rows = []
        for rid in self.meta:
            score = self.cache.get(self.lineage[rid].fingerprint, last)
            if score is not None:
                rows.append((rid, score))
        return sorted(rows, key=lambda row: row[1].fitness)

    # --- views -----------------------------------------------------------------------------------

    def best(self) -> Record | None:
        return None if self.best_id is None else self.lineage[self.best_id]

    def population_stats(self) -> dict[str, Any]:
        """Fitness of the population: best and median on stage 0, members per highest stage."""
        records = [self.lineage[rid] for rid in self.population]
        if not records:
            return {"size": 0}
        stage0 = sorted(r.scores[0] for r in records)
        stages = [0] * len(self.stage_names)
        for r in records:
            stages[r.stage] += 1
        return {
            "size": len(records),
            "best_stage0": stage0[0],
            "median_stage0": float(np.median(stage0)),
            "members_by_stage": stages,
            "distinct": len({r.fingerprint for r in records}),
        }

    def keep_ids(self) -> set[int]:
        """Records that must survive pruning: the population, the hall of fame, the best, the
        warm start, meta-validated programs, and parents of children still being scored."""
        keep = set(self.population) | set(self.hall_of_fame) | set(self.meta)
        keep |= {c.parent for c in self.candidates.values() if c.parent is not None}
        keep |= {rid for rid in (self.best_id, self.initial_id) if rid is not None}
        return keep

    def prune(self) -> int:
        dropped = self.lineage.prune(self.keep_ids())
        for rid in [rid for rid in self._programs if rid not in self.lineage]:
            del self._programs[rid]
        return dropped

    # --- state as plain data ---------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "stage_names": list(self.stage_names),
            "baselines": list(self.funnel.baselines),
            "rng": self.rng.bit_generator.state,
            "cache": self.cache.to_json(),
            "population": self.population.to_json(),
            "lineage": self.lineage.to_json(),
            "counters": self.counters.to_json(),
            "outcomes": self.outcomes,
            "candidates": [c.to_json() for c in self.candidates.values()],
            "waiting": [[k[0], k[1], ids] for k, ids in self.waiting.items()],
            "queue": [[j.fingerprint, j.stage, j.text] for j in self.queue],
            "in_flight": [
                {"id": b.id, "jobs": [[j.fingerprint, j.stage, j.text] for j in b.jobs]}
                for b in self.in_flight
            ],
            "next_id": self.next_id,
            "next_batch_id": self.next_batch_id,
            "initial_id": self.initial_id,
            "best_id": self.best_id,
            "hall_of_fame": self.hall_of_fame,
            "improved_at": self.improved_at,
            "elapsed": self.elapsed,
            "phase": self.phase,
            "meta": self.meta,
            "injected": self.injected,
        }

    @classmethod
    def from_json(cls, config: Config, data: dict[str, Any]) -> Evolution:
        """Rebuild a search saved by :meth:`to_json` (raises KeyError/ValueError/TypeError on
        malformed data; :mod:`evosearch.run.checkpoint` turns those into a clear error)."""
        self = cls.__new__(cls)
        self.config = config
        self.stage_names = tuple(data["stage_names"])
        self.funnel = Funnel(config.funnel, len(self.stage_names), list(data["baselines"]))
        self.mutator = Mutator(config.mutation, config.evolution)
        self.rng = np.random.default_rng()
        self.rng.bit_generator.state = data["rng"]
        self.cache = FitnessCache.from_json(data["cache"])
        self.population = Population.from_json(data["population"])
        self.lineage = Lineage.from_json(data["lineage"])
        self.counters = Counters.from_json(data["counters"])
        self.outcomes = {k: [0, 0, 0] for k in KINDS}  # kinds added since the checkpoint: 0
        self.outcomes.update({k: list(map(int, v)) for k, v in data["outcomes"].items()})
        cands = (Candidate.from_json(c) for c in data["candidates"])
        self.candidates = {c.id: c for c in cands}
        self.waiting = {(fp, int(stage)): list(ids) for fp, stage, ids in data["waiting"]}
        self.queue = deque(Job(fp, int(stage), text) for fp, stage, text in data["queue"])
        self.in_flight = deque(
            Batch(int(b["id"]), tuple(Job(fp, int(st), tx) for fp, st, tx in b["jobs"]))
            for b in data["in_flight"]
        )
        self.next_id = int(data["next_id"])
        self.next_batch_id = int(data["next_batch_id"])
        self.initial_id = data["initial_id"]
        self.best_id = data["best_id"]
        self.hall_of_fame = [int(r) for r in data["hall_of_fame"]]
        self.improved_at = int(data["improved_at"])
        self.elapsed = float(data["elapsed"])
        self.phase = str(data["phase"])
        self.meta = [int(r) for r in data["meta"]]
        self.injected = {str(k): int(v) for k, v in data.get("injected", {}).items()}
        self.events = []
        self._programs = {}
        missing = [rid for rid in self.keep_ids() if rid not in self.lineage]
        if missing:
            raise ValueError(f"lineage lacks records {sorted(missing)[:5]} that the state uses")
        return self
