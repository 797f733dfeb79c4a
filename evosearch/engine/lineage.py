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
from typing import Any

import networkx as nx

from evosearch.engine.funnel import Key, selection_key


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
    def from_json(cls, d: dict[str, Any]) -> Record:
        return cls(
            id=int(d["id"]),
            parent=None if d["parent"] is None else int(d["parent"]),
            text=str(d["text"]),
            fingerprint=str(d["fingerprint"]),
            scores=tuple(float(x) for x in d["scores"]),
            failed=bool(d["failed"]),
            kinds=tuple(d["kinds"]),
            edits=tuple(d["edits"]),
            born=int(d["born"]),
            island=int(d["island"]),
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
    def from_json(cls, data: list[dict[str, Any]]) -> Lineage:
        lineage = cls()
        for d in data:
            lineage.add(Record.from_json(d))
        return lineage
