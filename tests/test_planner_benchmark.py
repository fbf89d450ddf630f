"""benchmarks/mapf.py writes result files that an independent replay confirms (paths and task counts)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAPF = ROOT.parent / "shared" / "benchmarks" / "mapf"
pytestmark = pytest.mark.skipif(not MAPF.exists(), reason="shared MAPF benchmark data not present")


def load_harness():
    spec = importlib.util.spec_from_file_location("mapf_harness", ROOT / "benchmarks" / "mapf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("problem", "extra"),
    [
        ("lorr/2023_example_warehouse_small/EI23-warehouse_small_100.json", []),
        ("rhcr/kiva.map", ["--agents", "60", "--action-model", "rotation"]),  # grid: test_planner_grid.py
    ],
)
def test_harness_output_replays_and_recounts(tmp_path, problem, extra):
    out = tmp_path / "out.json"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "mapf.py"), str(MAPF / problem), "--steps", "150"]
    done = subprocess.run([*cmd, *extra, "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["actionModel"] == "MAPF_T" and result["errors"] == []
    assert len(result["plannerTimes"]) == 150 and len(result["actualPaths"]) == result["teamSize"]
    assert result["numTaskFinished"] > 0
    steps, confirmed = load_harness().replay(out)
    assert (steps, confirmed) == (150, result["numTaskFinished"])


def test_replay_rejects_a_tampered_path(tmp_path):
    out = tmp_path / "out.json"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "mapf.py"), str(MAPF / "rhcr" / "kiva.map")]
    subprocess.run([*cmd, "--agents", "80", "--steps", "60", "--out", str(out)], check=True, timeout=120,
                   capture_output=True)  # fmt: skip
    result = json.loads(out.read_text())
    result["taskLog"][0][3] += 1  # claim the first task finished one step later than it did
    out.write_text(json.dumps(result))
    with pytest.raises(ValueError):
        load_harness().replay(out)
