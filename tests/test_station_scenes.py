"""Stations in scenes: per-station parameters, validation, the fleet host's units, KPIs by station type."""

import sqlite3
import tomllib
from pathlib import Path

import pytest

from fctwin.robots.data import load_station_models
from fctwin.sim.fleet_host import FleetHost
from fctwin.sim.run import RunOptions, run_fc
from fctwin.sim.scene import SceneError, load_scene, scene_from_dict

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "scenes" / "stations_tiny.toml"


def _tiny() -> dict:
    return tomllib.loads(TINY.read_text())


def test_shipped_station_scenes_load_with_every_type():
    for name in ("fc_stations.toml", "stations_tiny.toml"):
        scene = load_scene(ROOT / "scenes" / name)
        types = {s.unit for s in scene.stations}
        assert {"vulcan", "bluejay", "sequoia", "human"} <= types, name


@pytest.mark.parametrize(
    "index, key, value, message",
    [
        (3, "arms", 2, "stations[3].arms: only for unit bluejay stations, not 'human'"),
        (0, "arms", 5, "stations[0].arms: Input should be less than or equal to 4"),
        (3, "success_rate", 0.9, "stations[3].success_rate: only for unit vulcan / bluejay / sequoia"),
        (0, "success_rate", 1.5, "stations[0].success_rate: Input should be less than or equal to 1"),
        (1, "fidelity", "exact", "stations[1].fidelity: Input should be 'fast' or 'physics'"),
        (2, "rows_for_people", 1, "stations[2].rows_for_people: only for unit vulcan stations"),
    ],
)
def test_station_parameters_are_validated_with_file_and_field_path(index, key, value, message):
    raw = _tiny()
    raw["stations"][index][key] = value
    with pytest.raises(SceneError) as info:
        scene_from_dict(raw, source="tiny.toml")
    assert f"tiny.toml: {message}" in str(info.value)


def test_fleet_host_builds_each_station_type_with_its_parameters():
    raw = _tiny()
    raw["stations"][0]["success_rate"] = 0.5
    raw["stations"][0]["fidelity"] = "physics"
    host = FleetHost(scene_from_dict(raw, source="tiny.toml"), world=False)
    by_type = {s.unit_type: s for s in host.stations}
    assert set(by_type) == {"vulcan", "bluejay", "sequoia", "human"}
    vulcan, bluejay = by_type["vulcan"], by_type["bluejay"]
    assert bluejay.arms == 2  # the scene's `arms`, not the default 3
    assert vulcan.fidelity == "physics" and bluejay.fidelity == "fast"  # per-station override
    assert {e[0] for e in vulcan._fast._samplers.values()} == {0.5}  # success_rate override
    # success_rate = None keeps the calibrated rate.
    calibrated = load_station_models()["models"]["bluejay"]["pick"]["medium"]["success_rate"]
    assert bluejay._fast.table["medium"]["success_rate"] == calibrated
    assert vulcan.sku_sizes_m is not None and len(vulcan.sku_sizes_m) == 60  # the scene's catalogue
    host.close()


def _run(tmp_path, name, *, link="local", fidelity="fast", hours=None):
    opts = RunOptions(
        runs_dir=tmp_path, run_id=name, link=link, station_fidelity=fidelity, hours=hours, record_poses=False
    )
    return run_fc(TINY, opts)


def _events(db):
    con = sqlite3.connect(db)
    rows = con.execute("SELECT t_s, kind, subject, a, b, c FROM events ORDER BY id").fetchall()
    con.close()
    return rows


def test_kpis_break_down_by_station_type(tmp_path):
    k = _run(tmp_path, "fast").kpis
    by = k["by_station_type"]
    assert set(by) == {"vulcan", "bluejay", "sequoia", "human"}
    assert by["bluejay"]["kinds"] == ["pick"] and by["sequoia"]["kinds"] == ["stow"]
    assert by["vulcan"]["units"] > 0 and by["bluejay"]["units"] > 0
    assert sum(r["units_to_person"] for r in by.values()) == k["units_to_person"]
    assert by["human"]["units_to_person"] == 0
    for r in by.values():
        if r["units"]:
            assert r["success_rate"] == pytest.approx(1 - r["units_to_person"] / r["units"], abs=1e-4)
            assert r["units_per_h"] == pytest.approx(r["units"] / k["simulated_h"], rel=1e-3)


def test_per_minute_kpis_break_down_by_station_type_and_add_up(tmp_path):
    from fctwin.sim.api import RunResult as ApiResult

    done = _run(tmp_path, "fast")
    r = ApiResult(done.run_id, done.db_path, done.kpis, done.wall_s)
    rows = r.station_kpi_minutes(as_frame=False)
    minutes = r.kpi_minutes(as_frame=False)["minute"]
    groups = {(t, k) for t, k in zip(rows["station_type"], rows["kind"], strict=True)}
    assert groups == {("vulcan", "pick"), ("bluejay", "pick"), ("sequoia", "stow"), ("human", "stow")}
    assert len(rows["minute"]) == len(groups) * len(minutes)  # every group, every minute
    by = r.kpis["by_station_type"]
    for unit_type, total in by.items():
        mine = [k for k, t in enumerate(rows["station_type"]) if t == unit_type]
        assert sum(rows["units"][k] for k in mine) == total["units"]
        assert sum(rows["units_to_person"][k] for k in mine) == total["units_to_person"]
    for k in range(len(rows["minute"])):
        assert 0.0 <= rows["busy_share"][k] <= 1.0 and rows["queue_mean"][k] >= 0.0
        if rows["units"][k]:
            ok = 1 - rows["units_to_person"][k] / rows["units"][k]
            assert rows["success_rate"][k] == pytest.approx(ok, abs=1e-4)
    assert any(b > 0 for b in rows["busy_share"])  # the stations did work in some minute
    # the export carries the table with the documented columns
    from fctwin.sim.console import export_run
    from fctwin.sim.runstore import KPI_STATION_COLUMNS

    out = export_run(r.db_path, tmp_path / "export", "csv", poses=False)
    csv = next(p for p in out if p.name == "kpi_station_minute.csv")
    assert csv.read_text().splitlines()[0].split(",") == list(KPI_STATION_COLUMNS)


def test_physics_stations_reach_the_fleet_host_process(tmp_path):
    """`--physics stations` over ZeroMQ runs the cells in physics in the child: same log as in-process."""
    hours = 0.02
    zmq = _run(tmp_path, "zmq-phys", link="zmq", fidelity="physics", hours=hours)
    local = _run(tmp_path, "local-phys", link="local", fidelity="physics", hours=hours)
    fast = _run(tmp_path, "local-fast", link="local", fidelity="fast", hours=hours)
    assert _events(zmq.db_path) == _events(local.db_path)
    assert zmq.kpis["by_station_type"] == local.kpis["by_station_type"]
    assert _events(zmq.db_path) != _events(fast.db_path)  # fast and physics stations differ
