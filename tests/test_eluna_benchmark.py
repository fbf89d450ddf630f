"""benchmarks/eluna.py survives an interrupted long run: every finished cell is on disk at once, a
rerun with the same file runs only the missing cells, a failing run does not take the others with
it, a torn last line is run again, and rows can be reused from an earlier file (fake runs: no
simulation here)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("eluna_bench", ROOT / "benchmarks" / "eluna.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

SCENES = ["eluna_balanced", "eluna_surge"]


def _row(scene, seed, mode):
    base = 160.0 + seed + (5.0 if mode == "auto" else 0.0)
    return {
        "scene": scene,
        "seed": seed,
        "mode": mode,
        "units_per_labour_h": base,
        "units_per_h": 10 * base,
        "order_cycle_p95_s": 300.0 - seed,
        "open_units_end": 40.0 + seed,
        "stockout_lines": 0,
        "labour_h": 8.0,
        "actions": 1 if mode != "off" else 0,
        "sign_share": 1.0 if mode == "auto" else None,
        "scored": 1 if mode == "auto" else 0,
        "skill": {"open_lines": {"30": 0.4}, "queue": {"30": 0.35}, "cycle": {"30": 0.5}},
        "hot_spots": {},
        "lookahead_wall_s_per_plan": None,
        "wall_s": 0.01,
    }


@pytest.fixture
def runs(monkeypatch):
    calls = []
    broken = set()

    def fake(scene, seed, mode, hours, runs_dir, overrides=None):
        calls.append((scene, seed, mode))
        if (scene, seed, mode) in broken:
            raise RuntimeError("simulated crash")
        return _row(scene, seed, mode)

    monkeypatch.setattr(bench, "one_run", fake)
    return calls, broken


def _main(out, *extra):
    argv = ["--scenes", *SCENES, "--seeds", "2", "--seed0", "11", "--workers", "1", "--out", str(out), *extra]
    return bench.main(argv)


def _cells(out):
    return sorted(bench.cell_key(json.loads(x)) for x in out.read_text().splitlines() if x.strip())


def test_a_failed_cell_keeps_the_others_and_a_rerun_runs_only_what_is_missing(tmp_path, runs, capsys):
    calls, broken = runs
    out = tmp_path / "rows.jsonl"
    broken.add(("eluna_surge", 12, "auto"))
    assert _main(out) == 1  # one failed: said so, exit 1
    assert len(calls) == 12
    assert len(_cells(out)) == 11  # every finished cell is on disk
    assert "FAILED" in capsys.readouterr().out
    broken.clear()
    calls.clear()
    assert _main(out) == 0
    assert calls == [("eluna_surge", 12, "auto")]  # only the missing cell ran
    cells = _cells(out)
    assert len(cells) == 12 and len(set(cells)) == 12  # complete, no duplicate
    calls.clear()
    assert _main(out) == 0 and calls == []  # nothing left to do
    # seeds are the outer loop and the agent's arm runs first within a seed
    jobs = bench.plan_jobs(SCENES, [11, 12], ["off", "reactive", "auto"], None, set())
    assert [j[1] for j in jobs] == [11] * 6 + [12] * 6
    assert [j[2] for j in jobs[:2]] == ["auto", "auto"]


def test_a_torn_last_line_is_dropped_and_its_cell_runs_again(tmp_path, runs):
    calls, _ = runs
    out = tmp_path / "rows.jsonl"
    assert _main(out) == 0
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][: len(lines[-1]) // 2])  # killed mid-write
    lost = bench.cell_key(json.loads(lines[-1]))
    calls.clear()
    assert _main(out) == 0
    assert [(*c, None) for c in calls] == [lost]
    assert len(bench.load_rows(out)) == 12


def test_rows_of_the_baselines_are_reused_from_an_earlier_file(tmp_path, runs):
    calls, _ = runs
    old = tmp_path / "old.jsonl"
    assert _main(old) == 0
    calls.clear()
    new = tmp_path / "new.jsonl"
    assert _main(new, "--reuse-from", str(old)) == 0
    assert {c[2] for c in calls} == {"auto"} and len(calls) == 4  # (a) and (b) were not run again
    rows = bench.load_rows(new)
    assert len(rows) == 12
    assert sum(1 for r in rows if r.get("reused_from")) == 8


def test_a_bad_scene_name_is_a_clear_error(tmp_path, capsys):
    assert bench.main(["--scenes", "no_such_scene", "--out", str(tmp_path / "x.jsonl")]) == 2
    assert "no_such_scene" in capsys.readouterr().err
