"""Provenance for result files: which command, at which commit, on which machine, when.

Each study keeps its results in ``experiments/<study>/results/`` with one ``MANIFEST.json``
there: ``{result file (relative to results/): {"command", "commit", "dirty", "date",
"machine"}}``. A script that writes a result calls :func:`record` with the path it wrote, so a
number in a README can always be traced to the exact command and code that made it (a result
written from a working tree with uncommitted changes says so: ``dirty``).

    python experiments/manifest.py RESULT -- COMMAND ...   # record a result made by hand

Scripts in a study folder import it with ``sys.path`` pointing at ``experiments/``.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def machine() -> str:
    """A one-line description of this machine: what a reader needs to compare timings."""
    cpu = platform.processor() or platform.machine()
    return f"{os.cpu_count()}-core CPU ({cpu}, {platform.system()} {platform.release()})"


def _shown(path: Path) -> str:
    """A path relative to the repository's root when it lies inside it (as a README shows it)."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _results_folder(path: Path) -> Path:
    """The ``results/`` folder that holds ``path`` (the manifest lives there), else its parent."""
    for parent in path.parents:
        if parent.name == "results":
            return parent
    return path.parent


def record(path: Path | str, command: list[str] | str | None = None) -> Path:
    """Add or replace ``path``'s entry in its results folder's MANIFEST.json; returns the
    manifest's path. ``command`` defaults to this process's command line."""
    path = Path(path).resolve()
    if command is None:
        command = ["python", _shown(Path(sys.argv[0])), *sys.argv[1:]]
    if not isinstance(command, str):
        command = shlex.join(command)
    folder = _results_folder(path)
    manifest = folder / "MANIFEST.json"
    entries = json.loads(manifest.read_text()) if manifest.exists() else {}
    status = _git("status", "--porcelain", "--untracked-files=no")
    entries[str(path.relative_to(folder))] = {
        "command": command,
        "commit": _git("rev-parse", "HEAD") or "unknown",
        "dirty": bool(status) if status is not None else None,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
    }
    manifest.write_text(json.dumps(dict(sorted(entries.items())), indent=2) + "\n")
    return manifest


def main(argv: list[str]) -> int:
    if "--" not in argv or argv.index("--") != 1 or len(argv) < 3:
        print("usage: python experiments/manifest.py RESULT -- COMMAND ...", file=sys.stderr)
        return 2
    result = Path(argv[0])
    if not result.exists():
        print(f"error: {result}: no such result file", file=sys.stderr)
        return 2
    print(f"recorded in {record(result, argv[2:])}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
