"""The evolutionary core, with no I/O and no clock: mutation, population, funnel, fitness cache,
lineage, and :class:`~evosearch.engine.evolution.Evolution`, which ties them into one search
state that makes batches of jobs and takes their scores back."""
