"""A search run and its files: the runner (the loop between the engine and an executor),
checkpoints, the progress line and log, plots, names for people, and throughput measurements."""
