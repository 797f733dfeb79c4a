"""The search's own overhead against evaluation time: the driver must stay under 5 % of wall time.

Per child, the driver mutates (with retries), checks, fingerprints, looks up the cache, routes
the child through the funnel, updates the population and lineage and writes the log; the
evaluators train. This runs a real search on a suite with the local worker pool and prints the
driver's busy time against the wall time, the per-child cost of each driver step, and the cache
with and without the functional key.

    python benchmarks/search_overhead.py [--suite smoke] [--evaluations 200]
        [--json benchmarks/results/search_overhead.json]
"""

from __future__ import annotations

import argparse
import sys

from evosearch.commands import benchmark


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    benchmark.add_arguments(parser)
    parser.set_defaults(json="benchmarks/results/search_overhead.json", evaluations=200,
                        functional=True)
    return benchmark.run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
