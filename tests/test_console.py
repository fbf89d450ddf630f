"""The console's data side, without a browser: reading a run back, export, report, advice, and the
live hook leaving the event log alone."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from fctwin.sim.advice import AdviceInbox, add_recommendation, read_recommendations
from fctwin.sim.console.data import STATES, RunData, find_run
from fctwin.sim.console.export import EVENT_FIELDS, export_run
from fctwin.sim.run import RunOptions, run_fc

ROOT = Path(__file__).resolve().parents[1]


def _events(db: Path) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT t_s, kind, subject, a, b, c FROM events ORDER BY id").fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def run_db(tmp_path_factory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    res = run_fc(
        ROOT / "scenes" / "fc_small.toml",
        RunOptions(hours=0.25, seed=3, link="local", runs_dir=runs, record_poses=True),
    )
    return res.db_path


def test_run_data_reads_the_floor_back(run_db):
    d = RunData(run_db)
    assert find_run(run_db.parent.name, run_db.parent.parent) == run_db
    assert len(d.pose_t) > 100 and d.t_end == pytest.approx(900.0, abs=2.0)
    seen_states = set()
    for t in np.linspace(0, d.t_end, 12):
        fr = d.frame_at(float(t))
        ok = ~np.isnan(fr.unit_rc[:, 0])
        seen_states |= set(fr.unit_state.tolist())
        # every carried pod is at a unit's cell, and a loaded unit is never idle or going to a pod
        i = d.step_at(float(t))
        if i >= 0:
            pose = d.poses[i]
            for k in np.nonzero(pose[:, 3] >= 0)[0]:
                p = pose[k, 3]
                assert fr.pod_carried[p]
                assert tuple(fr.pod_rc[p]) == tuple(pose[k, :2].astype(np.float32))
                assert STATES[fr.unit_state[k]] in ("carrying", "at station")
        # stored pods never share a cell
        stored = fr.pod_rc[~fr.pod_carried]
        assert len({tuple(c) for c in stored.tolist()}) == len(stored)
        assert (fr.station_queue >= 0).all()
        assert ok.sum() == len(d.unit_ids) or t == 0
    assert {1, 2, 3} <= seen_states  # to pod, carrying, at station all occur in a quarter hour
    heat = d.heat(d.t_end, 600.0)
    assert heat.shape == d.grid.shape and heat.sum() > 0
    assert (heat[d.grid == 1] == 0).all()  # nobody waits inside a wall


def test_export_names_the_event_columns(run_db, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    files = {p.stem: p for p in export_run(run_db, tmp_path / "pq", "parquet")}
    assert {"events", "kpi_minute", "poses", "meta", "summary", "recommendations"} <= set(files)
    ev = pq.read_table(files["events"]).to_pydict()
    raw = _events(run_db)
    assert len(ev["kind"]) == len(raw)
    for k, kind in enumerate(ev["kind"]):
        names = EVENT_FIELDS[kind]
        for name, col in zip(names, ("a", "b", "c"), strict=True):
            if name is not None:
                assert ev[name][k] == ev[col][k]
        if kind == "at_station":
            assert ev["unit_id"][k] == ev["subject"][k] and ev["station_id"][k] is None
    poses = pq.read_table(files["poses"])
    d = RunData(run_db)
    assert poses.num_rows == d.poses.shape[0] * d.poses.shape[1]
    csv_files = export_run(run_db, tmp_path / "csv", "csv", poses=False)
    header = (tmp_path / "csv" / "events.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["event_id", "t_s", "kind", "subject"] and "trip_id" in header
    assert not any(p.stem == "poses" for p in csv_files)


def test_report_is_one_self_contained_file(run_db, tmp_path):
    from fctwin.sim.console.report import write_report

    con = sqlite3.connect(run_db)
    add_recommendation(
        con,
        {"rec_id": 1, "t_s": 300.0, "kind": "move_associates", "text": "move 1 associate P1 -> P2",
         "applied": False, "predicted": {"units_per_h": 12.5}, "realised": {"units_per_h": 9.0}},
    )  # fmt: skip
    con.commit()
    con.close()
    out = write_report(run_db, tmp_path / "report.html")
    text = out.read_text()
    assert "<script" not in text and 'src="http' not in text and 'href="http' not in text
    for section in (
        "KPIs",
        "By station type",
        "Time series",
        "Congestion heat map (whole run)",
        "Recommendations",
    ):
        assert f"<h2>{section}</h2>" in text
    assert "move 1 associate P1 -&gt; P2" in text and "12.5" in text
    assert text.count("<svg") >= 4 and "data:image/png;base64," in text


def test_advice_inbox_reaches_the_dispatcher_and_the_store(tmp_path):
    class FakeDispatcher:
        log: list = []

    class FakeStore:
        db = sqlite3.connect(tmp_path / "x.sqlite")

    inbox = AdviceInbox()
    inbox.submit(7, True)
    inbox.submit(8, False)
    assert inbox.pending
    assert inbox.drain(FakeDispatcher, FakeStore, 120.0) == 2 and not inbox.pending
    assert FakeDispatcher.log == [
        (120.0, "rec_accepted", "console", 7, 0, 0),
        (120.0, "rec_rejected", "console", 8, 0, 0),
    ]
    add_recommendation(FakeStore.db, {"rec_id": 7, "t_s": 60.0, "kind": "k", "text": "t", "applied": False})
    FakeStore.db.commit()
    recs = read_recommendations(tmp_path / "x.sqlite")
    assert recs[0]["decision"] == "accept" and recs[0]["decision_t_s"] == 120.0


@pytest.mark.slow
def test_live_console_leaves_the_event_log_alone(tmp_path):
    """The viewer hook and a serving console (no browser) only read: same events as headless."""
    pytest.importorskip("viser")
    from fctwin.sim.console.live import LiveSession
    from fctwin.sim.scene import load_scene

    scene_path = ROOT / "scenes" / "fc_small_peak.toml"
    base = dict(hours=0.2, seed=7, link="local", record_poses=True)
    plain = run_fc(scene_path, RunOptions(runs_dir=tmp_path / "a", **base))
    sc = load_scene(scene_path, seed=7, run_hours=0.2)
    session = LiveSession(sc, runs_dir=tmp_path / "b", run_id="live", port=0, period_s=0.01)
    opts = RunOptions(
        runs_dir=tmp_path / "b", run_id="live", viewer=session.feed, advice=session.advice, **base
    )
    try:
        viewed = run_fc(scene_path, opts)
        assert session.ready.wait(30) and session.error is None
        assert session.feed.frames > 5 and session.feed.ended
    finally:
        session.close()
    assert _events(viewed.db_path) == _events(plain.db_path)


def test_cli_export_report_and_view_name_a_missing_run(tmp_path, capsys):
    from fctwin.sim.cli import main

    for cmd in ("export", "report", "view"):
        assert main([cmd, "no-such-run", "--runs-dir", str(tmp_path)]) == 2
        assert "no run 'no-such-run'" in capsys.readouterr().err


def test_cli_export_and_report_write_files(run_db, tmp_path, capsys):
    from fctwin.sim.cli import main

    run_id = run_db.parent.name
    runs = str(run_db.parent.parent)
    assert (
        main(["export", run_id[:20], "--runs-dir", runs, "--format", "csv", "--out", str(tmp_path / "x")])
        == 0
    )
    assert (tmp_path / "x" / "events.csv").exists()
    assert main(["report", str(run_db), "--out", str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").stat().st_size > 10_000


def test_big_pod_counts_draw_stored_pods_as_floor_tiles(run_db, monkeypatch):
    pytest.importorskip("viser")
    from fctwin.sim.console import app

    monkeypatch.setattr(app, "FLAT_PODS_ABOVE", 100)  # fc_small's 300 pods count as many here
    c = app.Console(RunData(run_db), port=0)
    try:
        assert c.pods_mode == "flat" and c.pod_tiles.visible and not c.pods.visible
        fr = c.data.frame_at(0.6 * c.data.t_end)
        c.seek(fr.t_s)
        px = app.POD_TILE_PX
        img = c.pod_tiles.image
        stored = {tuple(rc) for rc in fr.pod_rc[~fr.pod_carried].astype(int).tolist()}
        # one opaque tile per stored pod's cell, none elsewhere
        tiles = {(r, col) for r, col in zip(*np.nonzero(img[::px, ::px, 3]), strict=True)}
        assert tiles == stored and fr.pod_carried.any()
        c._set_pods_mode("3D")
        assert c.pods.visible and not c.pod_tiles.visible
    finally:
        c.close()


class _Follower:
    """A viewer hook that re-reads the run store at every committed minute, as the live console does,
    and asks the derived views (states, pod set-downs, queues, heat) in between."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.data: RunData | None = None
        self.rereads = 0

    def on_tick(self, frame, dispatcher) -> None:
        pass

    def on_minute(self, row: dict) -> None:
        if self.data is None:
            self.data = RunData(self.db)
        else:
            self.data.refresh()
        self.rereads += 1
        t = self.data.t_end
        self.data.frame_at(t)
        self.data.heat(t, 300.0)

    def on_end(self) -> None:
        self.data.refresh()


def test_live_rereads_show_the_same_run_as_a_replay(tmp_path):
    """A viewer following a run minute by minute (incremental re-reads) ends with exactly what a
    replay opened afterwards reads: poses, events, KPIs, station lines and every derived view."""
    follower = _Follower(tmp_path / "live" / "run.sqlite")
    res = run_fc(
        ROOT / "scenes" / "fc_small.toml",
        RunOptions(hours=0.2, seed=5, link="local", runs_dir=tmp_path, run_id="live", viewer=follower),
    )
    live, replay = follower.data, RunData(res.db_path)
    assert follower.rereads >= 12
    np.testing.assert_array_equal(live.poses, replay.poses)
    np.testing.assert_array_equal(live.pose_t, replay.pose_t)
    np.testing.assert_array_equal(live.ev_t, replay.ev_t)
    assert (live.ev_kind, live.ev_subject, live.ev_a) == (replay.ev_kind, replay.ev_subject, replay.ev_a)
    assert live.kpi.keys() == replay.kpi.keys()
    for c in replay.kpi:
        np.testing.assert_array_equal(live.kpi[c], replay.kpi[c])
    for name in ("line_station", "line_start", "line_end", "line_units", "line_to_person"):
        np.testing.assert_array_equal(getattr(live, name), getattr(replay, name))
    assert len(replay.line_end) > 0 and len(replay.poses) > 300
    # the derived views, built bit by bit while following, against built in one go
    for view in ("_state_changes", "_pod_drops", "_trip_spans"):
        for a, b in zip(getattr(live, view)(), getattr(replay, view)(), strict=True):
            assert len(b) > 0
            np.testing.assert_array_equal(a, b, err_msg=view)
    for t in np.linspace(0.0, replay.t_end, 9):
        a, b = live.frame_at(float(t)), replay.frame_at(float(t))
        for field in ("unit_rc", "unit_heading", "unit_state", "pod_rc", "pod_carried", "station_queue"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=f"{field} at {t}")
        np.testing.assert_array_equal(live.heat(float(t), 300.0), replay.heat(float(t), 300.0))


def test_a_reread_copies_only_the_new_rows():
    """The arrays a viewer reads grow by appending: a view taken before keeps its values, and a
    thousand one-row re-reads reallocate the buffer a handful of times, not a thousand."""
    from fctwin.sim.console.data import _Grow

    g = _Grow((3, 4), np.int16)
    buffers = set()
    first = None
    for k in range(1000):
        g.extend(np.full((1, 3, 4), k, np.int16))
        buffers.add(id(g._buf))
        if k == 10:
            first = g.view
    assert g.view.shape == (1000, 3, 4) and (g.view[:, 0, 0] == np.arange(1000)).all()
    assert first.shape == (11, 3, 4) and (first[:, 0, 0] == np.arange(11)).all()
    assert len(buffers) < 20


def test_live_console_comes_up_before_the_first_tick_and_off_the_run_cpu(tmp_path):
    """The console comes up while the run starts (a fast run pins itself to one CPU only then); from
    the first tick on, the console's threads run on the other CPUs."""
    pytest.importorskip("viser")
    import os

    from fctwin.sim.console.live import LiveSession
    from fctwin.sim.scene import load_scene

    if not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs two CPUs and Linux affinity")
    path = ROOT / "scenes" / "fc_small.toml"
    session = LiveSession(load_scene(path, run_hours=0.05), runs_dir=tmp_path, run_id="live", port=0)
    seen: dict = {}
    feed_tick = session.feed.on_tick

    def on_tick(frame, dispatcher) -> None:
        if "ready" not in seen:
            seen["ready"] = session.ready.wait(60)  # the run waits: the console's threads all exist
        feed_tick(frame, dispatcher)
        if "run" not in seen:
            seen["run"] = os.sched_getaffinity(0)
            seen["console"] = [
                os.sched_getaffinity(t.native_id) for t in session._threads if t.is_alive() and t.native_id
            ]

    session.feed.on_tick = on_tick
    try:
        run_fc(
            path, RunOptions(hours=0.05, runs_dir=tmp_path, run_id="live", viewer=session.feed, cpu="auto")
        )
        assert session.error is None and session.console is not None
    finally:
        session.close()
    assert seen["ready"]
    assert len(seen["run"]) == 1  # the fast run pinned itself
    assert seen["console"] and all(not (c & seen["run"]) for c in seen["console"])


@pytest.mark.parametrize("size", [(1600, 900), (1100, 700), (700, 900)])
def test_top_down_camera_fits_the_floor_beside_the_gui_panel(run_db, size):
    """Straight down, the floor's four corners project inside the canvas and left of the GUI panel
    (which floats over the canvas's right side) for wide, small and narrow browser windows."""
    pytest.importorskip("viser")
    from types import SimpleNamespace

    from fctwin.sim.console.app import GUI_PANEL_PX, Console

    c = Console(RunData(run_db), port=0)
    try:
        width, height = size
        fov = np.radians(50.0)
        pos, look = c._top_view(SimpleNamespace(image_width=width, image_height=height, fov=fov))
        assert pos[2] > 0 and np.allclose(pos[:2], look[:2], atol=0.01)
        h, w = c.data.grid.shape
        per_m = height / (2 * pos[2] * np.tan(fov / 2))  # pixels per metre on the floor
        free = width - GUI_PANEL_PX if width > 2 * GUI_PANEL_PX else width
        for r, col in ((0, 0), (0, w), (h, 0), (h, w)):
            x_px = width / 2 + (col * c.cell_m - pos[0]) * per_m
            y_px = height / 2 + (pos[1] - (-r * c.cell_m)) * per_m
            assert 0 <= x_px <= free and 0 <= y_px <= height, (r, col, x_px, y_px)
        # and it is not a speck: the floor takes most of the free width or of the height
        assert max(w * c.cell_m * per_m / free, h * c.cell_m * per_m / height) > 0.6
    finally:
        c.close()


def test_cli_run_view_fast_and_paced(tmp_path, capfd):
    """`fctwin run --view`: the console's address comes before the run's KPIs; a fast run says how to
    watch one as it goes (pace it), and a paced run (--realtime --speedup) is served as it goes."""
    pytest.importorskip("viser")
    from fctwin.sim.cli import main

    base = ["run", "fc_small", "--hours", "0.02", "--view", "--view-exit", "--port", "0"]
    base += ["--runs-dir", str(tmp_path)]
    assert main(base) == 0
    err = capfd.readouterr().err
    assert "fctwin console: http://127.0.0.1:" in err and "--realtime --speedup" in err
    assert main([*base, "--realtime", "--speedup", "120"]) == 0
    err = capfd.readouterr().err
    assert "fctwin console: http://127.0.0.1:" in err and "--realtime --speedup" not in err
    modes = set()
    for db in tmp_path.glob("*/run.sqlite"):
        con = sqlite3.connect(db)
        modes.add(con.execute("SELECT value FROM meta WHERE key = 'mode'").fetchone()[0])
        assert con.execute("SELECT count(*) FROM poses").fetchone()[0] > 50
        con.close()
    assert modes == {"fast", "realtime"}
