"""``.ci/run``: CI installs from scratch every time."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_makes_a_fresh_environment_even_where_one_was_left(tmp_path):
    lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
             if line.startswith("python3 -m venv")]
    assert len(lines) == 1 and lines[0].endswith(" .ci-venv")
    left = tmp_path / ".ci-venv" / "lib" / "left-over-package"
    left.mkdir(parents=True)
    # The script's own command (without pip, to be quick): an old environment must not survive.
    subprocess.run(["bash", "-c", lines[0] + " --without-pip"], cwd=tmp_path, check=True,
                   timeout=120)
    assert (tmp_path / ".ci-venv" / "bin" / "python").exists()
    assert not left.exists()
