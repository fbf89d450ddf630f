"""Scene validation: every error names the file, the field path and the problem."""

import copy
import subprocess
import sys
from pathlib import Path

import pytest

from fctwin.sim.scene import SceneError, load_scene, scene_from_dict
from fctwin.sim.scene.layout import CellCode

ROOT = Path(__file__).resolve().parents[1]
SCENES = ROOT / "scenes"


def problems(raw):
    with pytest.raises(SceneError) as info:
        scene_from_dict(raw, source="s.toml", base_dir=ROOT / "tests" / "data")
    return info.value


def test_shipped_scenes_load():
    small = load_scene(SCENES / "fc_small.toml")
    assert len(small.units) == 30 and small.pods.count == 300
    assert sum(s.kind == "pick" for s in small.stations) == 4
    assert sum(s.kind == "stow" for s in small.stations) == 4
    assert len(small.dock_cells) == 1
    assert small.spec.dispatch.replenishment == "base_stock" and small.spec.inbound.cartons_per_h == 0
    peak = load_scene(SCENES / "fc_small_peak.toml")  # the saturated twin: same floor, 2 stow stations
    assert peak.spec.orders.rate_per_h > small.spec.orders.rate_per_h
    assert sum(s.kind == "stow" for s in peak.stations) == 2 and peak.spec.dispatch.replenishment == "none"
    large = load_scene(SCENES / "fc_large.toml")
    assert len(large.units) >= 500 and large.pods.count >= 5000


def test_scene_is_frozen(small_scene_dict):
    scene = scene_from_dict(small_scene_dict)
    with pytest.raises(ValueError):
        scene.grid[0, 0] = 0
    with pytest.raises(AttributeError):
        scene.seed = 3


def test_unknown_key(small_scene_dict):
    small_scene_dict["fleet"][0]["wheels"] = 4
    err = problems(small_scene_dict)
    assert ("fleet[0].wheels", "unknown key") in err.problems
    assert "s.toml: fleet[0].wheels: unknown key" in str(err)


def test_wrong_type(small_scene_dict):
    small_scene_dict["pods"]["count"] = "many"
    err = problems(small_scene_dict)
    assert err.problems[0][0] == "pods.count"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("orders", "rate_per_h"), True),
        (("pods", "count"), False),
        (("dispatch", "closed_queue_hold_min"), True),
    ],
)
def test_true_or_false_is_not_a_number(small_scene_dict, path, value):
    # pydantic's lax mode read `rate_per_h = true` as 1: a run at one order an hour, no error
    small_scene_dict.setdefault(path[0], {})[path[1]] = value
    err = problems(small_scene_dict)
    assert (".".join(path), f"must be a number, not {str(value).lower()}") in err.problems


@pytest.mark.parametrize("path", [("fleet", 0, "count"), ("pods", "count"), ("skus", "count")])
def test_zero_or_negative_counts(small_scene_dict, path):
    for bad in (0, -3):
        raw = copy.deepcopy(small_scene_dict)
        node = raw
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = bad
        err = problems(raw)
        dotted = ".".join(str(p) for p in path).replace(".0.", "[0].")
        assert err.problems[0][0] == dotted
        assert "greater than 0" in err.problems[0][1]


def test_more_robots_than_free_cells(small_scene_dict):
    small_scene_dict["fleet"][0]["count"] = 5000
    err = problems(small_scene_dict)
    assert err.problems[0][0] == "fleet" and "free cells" in err.problems[0][1]


def test_station_on_blocked_cell(small_scene_dict):
    small_scene_dict["stations"][0]["count"] = 1
    small_scene_dict["stations"][0]["cells"] = [[0, 0]]
    err = problems(small_scene_dict)
    assert err.problems[0][0] == "stations[0].cells[0]" and "blocked" in err.problems[0][1]


def test_dock_on_blocked_cell(small_scene_dict):
    small_scene_dict["docks"] = {"cells": [[3, 4]]}  # a storage cell
    err = problems(small_scene_dict)
    assert err.problems[0][0] == "docks.cells[0]"


def test_station_unreachable_from_storage():
    rows = [
        "@@@@@@@@",
        "@..PP..@",
        "@......@",
        "@@@@@@@@",
        "@K.@...@",
        "@@@@@@@@",
    ]
    raw = _map_scene(rows)
    err = problems(raw)
    assert any("unreachable from storage" in m for _, m in err.problems)


def test_pods_heavier_than_payload(small_scene_dict):
    small_scene_dict["pods"]["max_gross_mass_kg"] = 2000.0
    err = problems(small_scene_dict)
    assert err.problems[0][0] == "pods.max_gross_mass_kg" and "payload" in err.problems[0][1]


def test_unknown_schema_version(small_scene_dict):
    small_scene_dict["schema_version"] = 99
    err = problems(small_scene_dict)
    assert err.problems == [("schema_version", "unknown schema_version 99 (supported: 1)")]


def test_map_import_symbols():
    raw = _map_scene(None, file="tiny.map")
    scene = scene_from_dict(raw, source="s.toml", base_dir=ROOT / "tests" / "data")
    assert scene.count(CellCode.STORAGE) == 24
    assert [s.kind for s in scene.stations].count("pick") == 2
    assert scene.dock_cells == ((8, 8),) and scene.charge_cells == ((8, 5),)


def test_map_unknown_symbol_names_line():
    raw = _map_scene(["@@@@", "@.X@", "@@@@"])
    err = problems(raw)
    assert "unknown map symbol 'X'" in str(err) and ":2:3" in str(err)


def test_cli_validate_exit_codes(tmp_path, small_scene_dict, write_scene):
    ok = subprocess.run(
        [sys.executable, "-m", "fctwin.sim.cli", "validate", str(SCENES / "fc_small.toml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert ok.returncode == 0 and "valid" in ok.stdout
    small_scene_dict["fleet"][0]["count"] = 0
    bad = write_scene(small_scene_dict)
    res = subprocess.run(
        [sys.executable, "-m", "fctwin.sim.cli", "validate", str(bad)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert res.returncode == 2
    assert "fleet[0].count" in res.stderr and "Traceback" not in res.stderr


def _map_scene(rows, file=None):
    layout = {"cell_size_m": 1.0, "map": {"rows": rows} if rows is not None else {"file": file}}
    return {
        "schema_version": 1,
        "name": "t",
        "seed": 1,
        "layout": layout,
        "fleet": [{"count": 2}],
        "pods": {"count": 2, "skus_per_pod": 2},
        "stations": [{"kind": "pick", "count": 2 if file else 1}]
        + ([{"kind": "stow", "count": 1}] if file else []),
        "skus": {"count": 10},
        "orders": {"rate_per_h": 10.0},
    }
