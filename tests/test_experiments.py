"""The experiments folder keeps its promises: one folder per study with a README and results,
every result file traced by its manifest, and the task names the studies cite registered."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from proxy_tasks import task_names

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "experiments"
STUDIES = sorted(p.parent for p in EXPERIMENTS.glob("*/results"))
FIELDS = ("command", "commit", "date", "machine")


def test_every_study_states_its_question_and_keeps_its_results():
    assert {s.name for s in STUDIES} >= {"suite", "headline", "landscape", "reachability", "scale"}
    for study in STUDIES:
        readme = (study / "README.md").read_text()
        assert readme.startswith("# ") and "**Question.**" in readme and "**Answer.**" in readme


def test_every_result_file_has_a_manifest_entry_and_every_entry_a_file():
    for study in STUDIES:
        results = study / "results"
        manifest = json.loads((results / "MANIFEST.json").read_text())
        on_disk = {str(p.relative_to(results)) for p in results.rglob("*")
                   if p.is_file() and p.name != "MANIFEST.json"}
        assert on_disk == set(manifest), study.name
        for name, entry in manifest.items():
            assert all(entry.get(field) for field in FIELDS), (study.name, name)


def test_manifest_records_command_commit_date_and_machine(tmp_path):
    result = tmp_path / "study" / "results" / "sub" / "numbers.json"
    result.parent.mkdir(parents=True)
    result.write_text("{}\n")
    done = subprocess.run([sys.executable, str(EXPERIMENTS / "manifest.py"), str(result), "--",
                           "python", "make_numbers.py", "--seeds", "3"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    entry = json.loads((tmp_path / "study" / "results" / "MANIFEST.json").read_text())
    entry = entry["sub/numbers.json"]
    assert entry["command"] == "python make_numbers.py --seeds 3"
    commit = r"[0-9a-f]{40}" if (ROOT / ".git").exists() else "unknown"  # a checkout, or not
    assert re.fullmatch(commit, entry["commit"]) and entry["machine"] and entry["date"]

    missing = subprocess.run([sys.executable, str(EXPERIMENTS / "manifest.py"),
                              str(tmp_path / "nothing.json"), "--", "x"],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "no such result file" in missing.stderr


def test_the_task_names_the_landscape_cites_are_registered():
    readme = (EXPERIMENTS / "landscape" / "README.md").read_text()
    table = readme[readme.index("| in result files |"):readme.index("Each registered row")]
    rows = [row for row in table.splitlines()[2:] if row.startswith("|")]
    cited = {name for row in rows
             for name in re.findall(r"`([a-z0-9]+/[a-z0-9-]+)`", row.split("|")[2])}
    assert len(cited) >= 20
    assert cited <= set(task_names())
