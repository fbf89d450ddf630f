"""Station lines (start, end, units, hand-offs) recorded for every station, and the console's
station-type views built from them: Vulcan hand-offs, Blue Jay arms busy, Sequoia totes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from fctwin.sim.console.data import RunData
from fctwin.sim.run import RunOptions, run_fc

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def stations_db(tmp_path_factory) -> Path:
    res = run_fc(
        ROOT / "scenes" / "fc_stations.toml",
        RunOptions(hours=0.5, seed=11, link="local", runs_dir=tmp_path_factory.mktemp("runs")),
    )
    return res.db_path


def test_station_lines_match_the_task_events_and_the_summary(stations_db):
    con = sqlite3.connect(stations_db)
    lines = con.execute(
        "SELECT station, count(*), sum(units) FROM station_lines GROUP BY station ORDER BY station"
    ).fetchall()
    events = con.execute(
        "SELECT subject, count(*), CAST(sum(c) AS INTEGER) FROM events"
        " WHERE kind IN ('line_picked', 'carton_stowed') GROUP BY subject ORDER BY subject"
    ).fetchall()
    assert lines == events and len(lines) >= 5
    rows = con.execute("SELECT station, start_s, end_s, to_person FROM station_lines ORDER BY id").fetchall()
    summary = json.loads(dict(con.execute("SELECT key, value FROM summary"))["by_station_type"])
    floor = json.loads(dict(con.execute("SELECT key, value FROM meta"))["floor"])
    con.close()
    unit_of = {s["id"]: s["unit"] for s in floor["stations"]}
    handed: dict[str, int] = {}
    last_end: dict[str, float] = {}
    for station, start, end, to_person in rows:
        assert 0.0 <= start <= end
        # a station works one line at a time
        assert start >= last_end.get(station, 0.0) - 1e-6, (station, start, last_end[station])
        last_end[station] = end
        handed[unit_of[station]] = handed.get(unit_of[station], 0) + to_person
    for unit, row in summary.items():
        assert handed.get(unit, 0) == row["units_to_person"]
    assert handed["vulcan"] > 0  # the scene's Vulcan stow hands some items to people
    assert [s.get("arms") for s in floor["stations"] if s["unit"] == "bluejay"] == [3]


def test_station_view_answers_at_any_time(stations_db):
    d = RunData(stations_db)
    assert d.has_station_lines
    t = 0.8 * d.t_end
    view = {r["id"]: r for r in d.station_view(t, 600.0)}
    end = d.station_view(d.t_end, 600.0)
    assert sum(r["lines"] for r in end) == len(d.line_end)
    bj = view["PB3"]
    assert bj["arms"] == 3 and 0 <= bj["arms_busy"] <= 3
    # arm 1 works every line, arm 2 only lines of 2+ units, ...
    assert bj["arm_util"][0] >= bj["arm_util"][1] >= bj["arm_util"][2]
    assert bj["arm_util"][0] == pytest.approx(bj["util"])
    assert 0.0 < bj["util"] <= 1.0
    # earlier times see fewer lines; hand-offs never exceed units
    early = {r["id"]: r for r in d.station_view(0.3 * d.t_end, 600.0)}
    for sid, r in view.items():
        assert early[sid]["lines"] <= r["lines"] and r["to_person"] <= r["units"]
    series = d.station_series(t)
    assert set(series) == {"human", "vulcan", "bluejay", "sequoia"}
    units_by_type = {u: float(s[1].sum()) for u, s in series.items()}
    assert units_by_type["bluejay"] == sum(r["units"] for r in view.values() if r["unit"] == "bluejay")


def test_console_shows_the_station_type_views(stations_db):
    pytest.importorskip("viser")
    from fctwin.sim.console.app import Console

    c = Console(RunData(stations_db), port=0)
    try:
        c.seek(0.8 * c.data.t_end)
        c.update_panels(force=True)
        c.seek(0.8 * c.data.t_end + 1.0)  # a frame after the panels: labels carry the status
        detail = c.md_station_detail.content
        labels = [lb.text for lb in c.station_labels]
    finally:
        c.close()
    assert "Vulcan hand-offs" in detail and "Blue Jay arms busy" in detail and "Sequoia" in detail
    assert any("arms " in t and ("●" in t or "○" in t) for t in labels)
    assert any("to people" in t for t in labels) and any("totes" in t for t in labels)
    m, *cols = c.plot_types.data
    assert len(m) >= 25 and all(np.asarray(col).sum() > 0 for col in cols[:3])


def test_live_station_views_take_busy_now_from_telemetry(tmp_path):
    pytest.importorskip("viser")
    from fctwin.sim.console.live import LiveSession
    from fctwin.sim.scene import load_scene

    path = ROOT / "scenes" / "fc_stations.toml"
    session = LiveSession(load_scene(path, seed=11, run_hours=0.2), runs_dir=tmp_path, run_id="live", port=0)
    seen: list = []

    def progress(row: dict) -> None:
        if row["minute"] == 8 and session.ready.wait(60) and session.console is not None:
            c = session.console
            with c._lock:  # as the console's own thread does
                c.data.refresh()
                c.update_panels(force=True)
                serving = session.feed.latest.station_serving.copy()
                seen.append((serving, c.md_station_detail.content, [lb.text for lb in c.station_labels]))

    opts = RunOptions(
        hours=0.2, seed=11, link="local", runs_dir=tmp_path, run_id="live", viewer=session.feed,
        advice=session.advice,
    )  # fmt: skip
    try:
        run_fc(path, opts, progress=progress)
    finally:
        session.close()
    assert seen, "the console did not start"
    serving, detail, labels = seen[0]
    assert serving.dtype == bool and len(serving) == 7 and serving.any()
    pb3 = labels[[k for k, t in enumerate(labels) if t.startswith("PB3")][0]]
    assert pb3.endswith("arms serving") or pb3.endswith("arms idle")
    assert ("| PB3 | serving |" in detail) or ("| PB3 | idle |" in detail)
