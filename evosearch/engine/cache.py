"""The fitness cache: fingerprint -> score at each funnel stage.

A hit costs no training. The key is :func:`programs.fingerprint`, the structural hash of the live
dataflow, so renamed variables, reordered independent statements and dead code all hit the same
entry (the Lion paper reports 89 % hits). Optionally a second key, the functional fingerprint
(AutoML-Zero's functional equivalence cache), catches algebraic equals (``x * 2`` and ``x + x``)
at ~1 ms per child, but it also merges programs that merely agree on the fingerprint's few
fixed inputs (measured: about half of its hits), so it is off by default; see
:class:`evosearch.config.CacheSettings`.

The cache is plain data and goes into the checkpoint whole, so it survives restarts and resumes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from evosearch.engine import schema
from programs import Program, functional_fingerprint
from proxy_tasks.suites import Score


@dataclass
class CacheStats:
    lookups: int = 0
    hits: int = 0
    functional_hits: int = 0

    @property
    def hit_rate(self) -> float:
        return self.hits / self.lookups if self.lookups else 0.0


@dataclass
class FitnessCache:
    """Scores by fingerprint and stage; ``functional`` adds the second key."""

    functional: bool = False
    entries: dict[str, dict[int, Score]] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # functional -> structural fingerprint
    stats: CacheStats = field(default_factory=CacheStats)
    # Functional keys computed by a missed look-up, reused when the score arrives (not saved).
    _functional_of: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, key: str, stage: int) -> Score | None:
        """The score of ``key`` at ``stage`` if known (no statistics counted)."""
        entry = self.entries.get(key)
        return None if entry is None else entry.get(stage)

    def lookup(self, key: str, program: Program, stage: int = 0) -> Score | None:
        """A counted look-up (the hit rate reported to the user). With the functional key on, a
        structural miss tries the functional fingerprint and, on a hit, files the score under
        ``key`` too so that the next look-up is structural."""
        self.stats.lookups += 1
        score = self.get(key, stage)
        if score is None and self.functional:
            functional = self._functional_of.get(key) or self.functional_key(program)
            self._functional_of[key] = functional
            other = self.aliases.get(functional)
            if other is not None and other != key and other in self.entries:
                for s, value in self.entries[other].items():
                    self.entries.setdefault(key, {})[s] = value
                score = self.get(key, stage)
                if score is not None:
                    self.stats.functional_hits += 1
                    del self._functional_of[key]
        if score is not None:
            self.stats.hits += 1
        return score

    @staticmethod
    def functional_key(program: Program) -> str:
        with np.errstate(all="ignore"):  # a diverging program hashes its inf/nan updates
            return functional_fingerprint(program)

    def put(self, key: str, stage: int, score: Score, program: Program | None = None) -> None:
        self.entries.setdefault(key, {})[stage] = score
        if self.functional and program is not None:
            functional = self._functional_of.pop(key, None) or self.functional_key(program)
            self.aliases.setdefault(functional, key)

    # --- plain data ------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "functional": self.functional,
            "entries": {
                key: {str(stage): score.to_json() for stage, score in stages.items()}
                for key, stages in self.entries.items()
            },
            "aliases": self.aliases,
            "stats": [self.stats.lookups, self.stats.hits, self.stats.functional_hits],
        }

    @classmethod
    def from_json(cls, data: Any, path: str = "cache", stages: int | None = None) -> FitnessCache:
        """A cache saved by :meth:`to_json`, every score and key checked (``stages``: how many
        stages the suite has); an alias must point at a scored fingerprint. Raises
        :class:`~evosearch.engine.schema.StateError`."""
        data = schema.mapping(data, path, ("functional", "entries", "aliases", "stats"))
        at = partial(schema.join, path)
        entries: dict[str, dict[int, Score]] = {}
        for key, saved in schema.mapping(data["entries"], at("entries")).items():
            where = schema.join(at("entries"), key)
            schema.string(key, where, nonempty=True)
            scores = {}
            for stage, score in schema.mapping(saved, where).items():
                here = schema.join(where, stage)
                index = _stage_index(stage, here, stages)
                scores[index] = schema.build(here, lambda s=score: Score.from_json(s))
            entries[key] = scores
        aliases = schema.mapping(data["aliases"], at("aliases"))
        for functional, key in aliases.items():
            where = schema.join(at("aliases"), functional)
            schema.string(key, where, nonempty=True)
            schema.require(key in entries, where, f"points at {schema.show(key)}, which has no "
                           "score in the cache")
        stats = schema.each(data["stats"], at("stats"), schema.integer)
        schema.sequence(stats, at("stats"), length=3)
        lookups, hits, functional_hits = stats
        schema.require(functional_hits <= hits <= lookups, at("stats"),
                       f"must be [lookups, hits, functional hits] with functional hits <= hits "
                       f"<= lookups, got {stats}")
        return cls(
            functional=schema.boolean(data["functional"], at("functional")),
            entries=entries,
            aliases=dict(aliases),
            stats=CacheStats(lookups, hits, functional_hits),
        )


def _stage_index(text: str, path: str, stages: int | None) -> int:
    """A stage saved as a JSON key: a decimal integer in ``[0, stages)``."""
    if not (text.isascii() and text.isdigit() and len(text) < 10 and str(int(text)) == text) or (
            stages is not None and int(text) >= stages):
        bound = f" in [0, {stages - 1}]" if stages is not None else ""
        schema.fail(path, f"a stage must be an integer{bound}, got {schema.show(text)}")
    return int(text)
