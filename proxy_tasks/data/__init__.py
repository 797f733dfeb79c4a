"""Data for the proxy tasks: generated from fixed seeds, or shipped with Python itself.

Nothing is downloaded. Each generator is a pure function of its arguments (cached), so that a
task's data is identical in every process.
"""
