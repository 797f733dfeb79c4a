"""Lineage: who descends from whom, through which edits.

Every program that joins the population is recorded with its parent and the edits that made it.
The ancestry of the best program, back to the warm start, is what a user reads to see how the
search got there: as text (:meth:`Lineage.story`) and as a networkx graph
(:meth:`Lineage.graph`, written as GraphML). Records that can no longer be an ancestor of
anything kept (the population, the hall of fame, children still being scored) are pruned, so
the lineage stays the size of the population plus one trunk, however long the search runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import networkx as nx

from evosearch.engine import schema
from evosearch.engine.funnel import Key, selection_key

RECORD_FIELDS = ("id", "parent", "text", "fingerprint", "scores", "failed", "kinds", "edits",
                 "born", "island")


@dataclass(frozen=True)
class Record:
    """A program that joined the population."""

    id: int
    parent: int | None
    text: str
    fingerprint: str
    scores: tuple[float, ...]  # fitness on stages 0 .. reached
    failed: bool
    kinds: tuple[str, ...] = ()  # mutation kinds of the edits from the parent
    edits: tuple[str, ...] = ()  # descriptions of those edits
    born: int = 0  # the child counter when it joined
    island: int = 0

    @property
    def stage(self) -> int:
        return len(self.scores) - 1

    @property
    def fitness(self) -> float:
        return self.scores[-1]

    @property
    def key(self) -> Key:
        return selection_key(self.stage, self.fitness)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "parent": self.parent,
            "text": self.text,
            "fingerprint": self.fingerprint,
            "scores": list(self.scores),
            "failed": self.failed,
            "kinds": list(self.kinds),
            "edits": list(self.edits),
            "born": self.born,
            "island": self.island,
        }

    @classmethod
    def from_json(cls, d: Any, path: str = "record", stages: int | None = None) -> Record:
        """A record saved by :meth:`to_json`, every field checked (``stages``: how many stages
        the suite has, the most scores a record can hold); raises
        :class:`~evosearch.engine.schema.StateError`. The program text is checked by the
        caller, which parses it anyway."""
        d = schema.mapping(d, path, RECORD_FIELDS)
        at = partial(schema.join, path)
        scores = schema.each(d["scores"], at("scores"), schema.number)
        schema.sequence(scores, at("scores"), min_length=1, max_length=stages)
        return cls(
            id=schema.integer(d["id"], at("id")),
            parent=schema.optional(d["parent"], at("parent"), schema.integer),
            text=schema.string(d["text"], at("text"), nonempty=True),
            fingerprint=schema.string(d["fingerprint"], at("fingerprint"), nonempty=True),
            scores=tuple(scores),
            failed=schema.boolean(d["failed"], at("failed")),
            kinds=schema.strings(d["kinds"], at("kinds")),
            edits=schema.strings(d["edits"], at("edits")),
            born=schema.integer(d["born"], at("born")),
            island=schema.integer(d["island"], at("island")),
        )


@dataclass
class Lineage:
    records: dict[int, Record] = field(default_factory=dict)

    def add(self, record: Record) -> None:
        self.records[record.id] = record

    def __getitem__(self, rid: int) -> Record:
        return self.records[rid]

    def __contains__(self, rid: int) -> bool:
        return rid in self.records

    def __len__(self) -> int:
        return len(self.records)

    def ancestry(self, rid: int) -> list[Record]:
        """``rid`` and its ancestors, the warm start first."""
        chain = []
        current: int | None = rid
        while current is not None and current in self.records:
            record = self.records[current]
            chain.append(record)
            current = record.parent
        return chain[::-1]

    def prune(self, keep: Iterable[int]) -> int:
        """Drop every record that is not in ``keep`` or an ancestor of one; return how many."""
        alive: set[int] = set()
        for rid in keep:
            current: int | None = rid
            while current is not None and current not in alive and current in self.records:
                alive.add(current)
                current = self.records[current].parent
        dropped = [rid for rid in self.records if rid not in alive]
        for rid in dropped:
            del self.records[rid]
        return len(dropped)

    def graph(self, rid: int) -> nx.DiGraph:
        """The ancestry of ``rid`` as a chain: nodes are record ids with the program text,
        stage and fitness; an edge parent -> child carries the edits as text."""
        g = nx.DiGraph()
        chain = self.ancestry(rid)
        for r in chain:
            g.add_node(
                r.id,
                text=r.text,
                fingerprint=r.fingerprint,
                stage=r.stage,
                fitness=r.fitness,
                failed=r.failed,
                born=r.born,
            )
        for a, b in zip(chain, chain[1:], strict=False):
            g.add_edge(a.id, b.id, kinds=" ".join(b.kinds), edits="; ".join(b.edits))
        return g

    def story(self, rid: int, stage_names: tuple[str, ...] | None = None) -> str:
        """The ancestry of ``rid`` as text: the warm start's program, then each step's edits with
        the score it reached, then the final program."""
        chain = self.ancestry(rid)
        if not chain:
            return f"no record of program #{rid}\n"

        def where(r: Record) -> str:
            name = stage_names[r.stage] if stage_names and r.stage < len(stage_names) else r.stage
            failed = ", failed" if r.failed else ""
            return f"stage {name}, fitness {r.fitness:.6g}{failed}"

        root = chain[0]
        lines = [f"#{root.id} (warm start; {where(root)})", root.text.rstrip(), ""]
        for r in chain[1:]:
            lines.append(f"#{r.id} from #{r.parent} ({where(r)}):")
            lines += [f"    {e}" for e in r.edits]
        if len(chain) > 1:
            lines += ["", f"#{chain[-1].id}:", chain[-1].text.rstrip()]
        return "\n".join(lines) + "\n"

    def to_json(self) -> list[dict[str, Any]]:
        return [r.to_json() for r in self.records.values()]

    @classmethod
    def from_json(cls, data: Any, path: str = "lineage", stages: int | None = None) -> Lineage:
        """A lineage saved by :meth:`to_json`: records checked one by one, ids unique, and
        every parent recorded with a smaller id than its child (ids are handed out in order,
        and a parent is kept while it has descendants), so that no walk up the ancestry can
        loop or dangle. Raises :class:`~evosearch.engine.schema.StateError`."""
        lineage = cls()
        for i, d in enumerate(schema.sequence(data, path)):
            record = Record.from_json(d, schema.join(path, i), stages)
            schema.require(record.id not in lineage, schema.join(path, i),
                           f"record #{record.id} appears twice")
            lineage.add(record)
        for i, record in enumerate(lineage.records.values()):
            if record.parent is None:
                continue
            where = schema.join(schema.join(path, i), "parent")
            schema.require(record.parent in lineage, where,
                           f"record #{record.id} names parent #{record.parent}, which is not "
                           "in the lineage")
            schema.require(record.parent < record.id, where,
                           f"record #{record.id} names parent #{record.parent}: a parent is "
                           "always older (smaller id) than its child")
        return lineage
