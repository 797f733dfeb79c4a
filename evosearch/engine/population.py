"""The population of regularized evolution: islands of members, oldest first.

A member is the id of a :class:`evosearch.engine.lineage.Record`; several members may be copies
of one record (the warm start fills the population with copies). A child joins its parent's
island and the oldest member of that island leaves (Real et al. 2019: age, not fitness, decides
who dies, which keeps the population moving). With several islands, migration copies each
island's best into the next island, in a ring.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from functools import partial

import numpy as np

from evosearch.engine import schema
from evosearch.engine.funnel import Key


class Population:
    def __init__(self, size: int, islands: int) -> None:
        if islands < 1 or size < islands:
            raise ValueError(f"population {size} cannot be split into {islands} islands")
        # Sizes differ by at most one when size is not a multiple of islands.
        self.capacity = [size // islands + (1 if i < size % islands else 0) for i in range(islands)]
        self.islands: list[deque[int]] = [deque() for _ in range(islands)]

    def __len__(self) -> int:
        return sum(len(island) for island in self.islands)

    def __iter__(self) -> Iterator[int]:
        for island in self.islands:
            yield from island

    @property
    def empty(self) -> bool:
        return len(self) == 0

    def fill(self, rid: int, islands: Iterable[int] | None = None) -> None:
        """Every island (or only ``islands``) becomes copies of one record (warm start and
        restart)."""
        chosen = range(len(self.islands)) if islands is None else islands
        for i in chosen:
            self.islands[i].clear()
            self.islands[i].extend([rid] * self.capacity[i])

    def worst(self, key: Callable[[int], Key]) -> int:
        """The island whose best member is the worst of the islands' bests (ties: the lowest
        index): the one a restart of one island replaces."""
        bests = [key(self.best(i, key)) for i in range(len(self.islands))]
        return max(range(len(bests)), key=lambda i: (bests[i], -i))

    def add(self, island: int, rid: int) -> int | None:
        """Add a member to an island; return the oldest member removed, if the island was full."""
        members = self.islands[island]
        members.append(rid)
        if len(members) > self.capacity[island]:
            return members.popleft()
        return None

    def tournament(
        self, rng: np.random.Generator, island: int, size: int, key: Callable[[int], Key]
    ) -> int:
        """The best of ``size`` members of ``island`` drawn at random without replacement (all of
        them if the island is smaller)."""
        members = self.islands[island]
        n = len(members)
        if n == 0:
            raise ValueError(f"island {island} is empty")
        picks = rng.choice(n, size=min(size, n), replace=False)
        return min((members[int(i)] for i in picks), key=key)

    def best(self, island: int, key: Callable[[int], Key]) -> int:
        return min(self.islands[island], key=key)

    def migrate(self, key: Callable[[int], Key]) -> list[tuple[int, int, int]]:
        """Each island's best joins the next island (ring), replacing its oldest member.
        Returns (from island, to island, record id) for each move."""
        if len(self.islands) < 2:
            return []
        bests = [self.best(i, key) for i in range(len(self.islands))]
        moves = []
        for i, rid in enumerate(bests):
            target = (i + 1) % len(self.islands)
            self.add(target, rid)
            moves.append((i, target, rid))
        return moves

    def to_json(self) -> dict:
        return {"capacity": self.capacity, "islands": [list(i) for i in self.islands]}

    @classmethod
    def from_json(cls, data: object, path: str = "population", size: int | None = None,
                  islands: int | None = None) -> Population:
        """A population saved by :meth:`to_json`. With ``size`` and ``islands`` (the config's),
        the saved capacities must be the ones those settings give, and no island may hold
        more members than its capacity. Raises :class:`~evosearch.engine.schema.StateError`;
        whether the members exist is for the caller, which holds the lineage."""
        data = schema.mapping(data, path, ("capacity", "islands"))
        at = partial(schema.join, path)
        capacity = schema.each(data["capacity"], at("capacity"),
                               partial(schema.integer, low=1))
        schema.sequence(capacity, at("capacity"), min_length=1)
        members = schema.each(data["islands"], at("islands"), schema.sequence)
        schema.sequence(members, at("islands"), length=len(capacity))
        if size is not None and islands is not None:
            expected = cls(size, islands).capacity
            schema.require(capacity == expected, at("capacity"),
                           f"{capacity} is not the split of a population of {size} into "
                           f"{islands} island(s) ({expected}), as the config says")
        population = cls(sum(capacity), len(capacity))
        population.capacity = capacity
        for i, island in enumerate(members):
            where = schema.join(at("islands"), i)
            population.islands[i] = deque(schema.each(island, where, schema.integer))
        if not population.empty:  # filled at once, and every island stays full from then on
            for i, island in enumerate(population.islands):
                schema.require(len(island) == capacity[i], schema.join(at("islands"), i),
                               f"holds {len(island)} members, but its capacity is "
                               f"{capacity[i]} (islands are always full)")
        return population
