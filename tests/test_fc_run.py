"""End-to-end FC runs: determinism, recorded trajectories, conservation, the CLI."""

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from trajectory_checker import check_run  # noqa: E402  (tests/ is on sys.path via conftest rootdir)

from fctwin.sim.run import RunOptions, run_fc
from fctwin.sim.scene import load_scene

ROOT = Path(__file__).resolve().parents[1]


def _run(path, tmp_path, *, seed=None, planner=None, name="r", hours=None):
    opts = RunOptions(
        seed=seed,
        planner=planner,
        runs_dir=tmp_path,
        run_id=name,
        link="local",
        record_poses=True,
        hours=hours,
    )
    return run_fc(path, opts)


def _event_log(db):
    con = sqlite3.connect(db)
    rows = con.execute("SELECT t_s, kind, subject, a, b, c FROM events ORDER BY id").fetchall()
    con.close()
    return rows


@pytest.fixture
def scene_path(small_scene_dict, write_scene):
    return write_scene(small_scene_dict)


@pytest.mark.parametrize("planner", ["pibt", "reservation"])
def test_run_is_deterministic_and_valid(scene_path, tmp_path, planner):
    a = _run(scene_path, tmp_path, planner=planner, name=f"a-{planner}")
    b = _run(scene_path, tmp_path, planner=planner, name=f"b-{planner}")
    assert _event_log(a.db_path) == _event_log(b.db_path)
    drop = {"wall_s", "realtime_factor", "planner_ms_per_step"}
    assert {k: v for k, v in a.kpis.items() if k not in drop} == {
        k: v for k, v in b.kpis.items() if k not in drop
    }
    assert a.kpis["units_picked"] > 0 and a.kpis["orders_completed"] > 0
    assert a.kpis["collisions"] == 0
    assert a.kpis["units_conserved"] is True
    scene = load_scene(scene_path)
    report = check_run(a.db_path, scene)
    assert report["lifts"] > 0


def test_other_seed_differs(scene_path, tmp_path):
    a = _run(scene_path, tmp_path, name="s1", seed=1, planner="pibt")
    b = _run(scene_path, tmp_path, name="s2", seed=2, planner="pibt")
    assert _event_log(a.db_path) != _event_log(b.db_path)


def test_kpi_minutes_committed_as_the_run_goes(scene_path, tmp_path):
    res = _run(scene_path, tmp_path, name="m", planner="pibt", hours=5 / 60 + 0.001)
    con = sqlite3.connect(res.db_path)
    rows = con.execute("SELECT minute, conserved, collisions FROM kpi_minute ORDER BY minute").fetchall()
    meta = dict(con.execute("SELECT key, value FROM meta"))
    con.close()
    # five whole minutes and the partial sixth (0.06 min): the run's end is written too (issue 14)
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1)) and len(rows) == 6
    assert all(r[1] == 1 and r[2] == 0 for r in rows)
    assert meta["seed"] == "7" and "scene_text" in meta and meta["version"]


def test_cli_run_over_zeromq_json(scene_path, tmp_path):
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "fctwin.sim.cli",
            "run",
            str(scene_path),
            "--hours",
            "0.05",
            "--json",
            "--runs-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=240,
    )
    assert res.returncode == 0, res.stderr
    kpis = json.loads(res.stdout)
    assert kpis["collisions"] == 0 and kpis["units_conserved"] is True
    assert Path(kpis["db"]).exists()
    listed = subprocess.run(
        [sys.executable, "-m", "fctwin.sim.cli", "runs", "--runs-dir", str(tmp_path), "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert listed.returncode == 0 and kpis["run_id"] in listed.stdout


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["run", "--hours", "-1"], "--hours"),
        (["run", "--seed", "x"], "--seed"),
        (["run", "no/such/scene.toml"], "no such scene file"),
        (["run", "--planner", "teleport"], "unknown planner"),
        (["runs", "nope", "--runs-dir", "/nonexistent"], "no run"),
        (["run", "--cpu", "fast"], "--cpu"),
        (["run", "--cpu", "4096"], "--cpu"),
    ],
)
def test_cli_bad_arguments(argv, needle):
    res = subprocess.run(
        [sys.executable, "-m", "fctwin.sim.cli", *argv], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert res.returncode == 2
    assert needle in res.stderr and "Traceback" not in res.stderr


def test_gui_without_display_is_a_clear_error(scene_path, monkeypatch):
    env = {k: v for k, v in __import__("os").environ.items() if k != "DISPLAY"}
    res = subprocess.run(
        [sys.executable, "-m", "fctwin.sim.cli", "run", str(scene_path), "--gui", "--hours", "0.01"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert res.returncode == 2 and "display" in res.stderr.lower() and "Traceback" not in res.stderr


@pytest.mark.gui
def test_gui_run_under_xvfb(scene_path, tmp_path):
    import shutil

    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run not installed (Debian package xvfb): GUI path not exercised")
    res = subprocess.run(
        [
            "xvfb-run",
            "-a",
            sys.executable,
            "-m",
            "fctwin.sim.cli",
            "run",
            str(scene_path),
            "--gui",
            "--hours",
            "0.004",
            "--speedup",
            "40",
            "--json",
            "--runs-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=240,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    kpis = json.loads(res.stdout[res.stdout.index("{") :])
    assert kpis["collisions"] == 0


def _first_charge_s(db):
    rows = [r for r in _event_log(db) if r[1] == "to_charge"]
    return rows[0][0] if rows else None


def test_opportunity_charging_staggers_charging(small_scene_dict, write_scene, tmp_path):
    # Tiny batteries so a few simulated minutes drain them: with opportunity charging an idle unit
    # tops up at a free pad well before any unit reaches its low-battery threshold.
    raw = small_scene_dict
    raw["fleet"][0]["battery_wh"] = 30.0
    raw["orders"]["rate_per_h"] = 60.0  # light demand: most units idle, parked
    raw["dispatch"]["opportunity_charge_frac"] = 0.0
    late = _run(write_scene(raw, "late.toml"), tmp_path, name="late", hours=0.15)
    raw["dispatch"]["opportunity_charge_frac"] = 0.7
    early = _run(write_scene(raw, "early.toml"), tmp_path, name="early", hours=0.15)
    t_late, t_early = _first_charge_s(late.db_path), _first_charge_s(early.db_path)
    assert t_early is not None  # idle units top up early...
    assert t_late is None or t_early < t_late  # ...where without it they wait for low battery
    for res in (late, early):
        assert res.kpis["units_conserved"] is True and res.kpis["collisions"] == 0


def test_no_trip_stalls_when_a_loaded_unit_sits_on_another_units_return_cell(
    small_scene_dict, write_scene, tmp_path
):
    # Seed 7 with 8 units reproduced a deadlock: PIBT pushed a loaded unit back into the storage
    # pocket it had lifted from, which another unit had meanwhile chosen to return its pod to; each
    # waited for the other's cell for the rest of the shift. Every trip must finish in bounded time.
    raw = small_scene_dict
    raw["fleet"][0]["count"] = 8
    res = _run(write_scene(raw), tmp_path, name="pockets", hours=0.6)
    events = _event_log(res.db_path)
    end_s = max(e[0] for e in events)
    assigned = {e[3]: e[0] for e in events if e[1] == "trip_assigned"}
    done = {e[3] for e in events if e[1] == "trip_done"}
    stuck = {tid: t for tid, t in assigned.items() if tid not in done and end_s - t > 900.0}
    assert not stuck, f"trips assigned but not done after 15 simulated minutes: {stuck}"


@pytest.mark.parametrize("policy", ["home", "nearest_free"])
def test_pod_storage_policy_picks_the_home_cell_or_the_nearest_free_one(
    small_scene_dict, write_scene, policy
):
    from dataclasses import replace

    from fctwin.controller.dispatcher import Dispatcher, Trip
    from fctwin.sim.run import floorplan_from_scene

    plan, config = floorplan_from_scene(load_scene(write_scene(small_scene_dict)))
    d = Dispatcher(plan, replace(config, pod_storage=policy))
    station = next(s for s in d.stations if s.kind == "pick")
    # the pod whose home is farthest from the station, lifted (its cell is free now)
    far = max(range(len(d.pod_home)), key=lambda p: int(station.distance[d.pod_home[p]]))
    home = d.pod_home[far]
    d.pods_mask[home] = False
    trip = Trip(trip_id=1, kind="pick", pod=far, station=0, lines=[], created_s=0.0)
    cell = d._return_cell(trip, station)
    if policy == "home":
        assert cell == home
    else:
        assert cell != home and int(station.distance[cell]) < int(station.distance[home])
    assert cell in d.return_targets and not d.pods_mask[cell]


def test_an_unknown_pod_storage_policy_is_refused(small_scene_dict, write_scene):
    from dataclasses import replace

    from fctwin.controller.dispatcher import Dispatcher
    from fctwin.sim.run import floorplan_from_scene

    plan, config = floorplan_from_scene(load_scene(write_scene(small_scene_dict)))
    known = "class_based, combined, home, nearest_free, random, turnover"
    with pytest.raises(ValueError, match=f"unknown pod_storage policy 'fastest'; known: {known}"):
        Dispatcher(plan, replace(config, pod_storage="fastest"))


def _affinity_of_all_threads(pid):
    import os

    return {tid: os.sched_getaffinity(int(tid)) for tid in os.listdir(f"/proc/{pid}/task")}


def _policies_of_all_threads(pid):
    import os

    return {os.sched_getscheduler(int(tid)) for tid in os.listdir(f"/proc/{pid}/task")}


def _child_pids(pid: int) -> list[int]:
    """Processes started by ``pid`` (any of its threads), from /proc."""
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(x) for x in (task / "children").read_text().split()]
    return out


@pytest.mark.skipif(
    not hasattr(__import__("os"), "sched_setaffinity") or len(__import__("os").sched_getaffinity(0)) < 2,
    reason="needs Linux CPU affinity and at least 2 CPUs",
)
@pytest.mark.parametrize("cpu", ["auto", "off", 1])
def test_fast_zmq_run_keeps_both_processes_on_one_cpu(scene_path, tmp_path, cpu):
    """The lockstep pair shares one CPU during a fast run (all threads, both processes, under
    SCHED_BATCH) unless off; this process gets its CPUs and its policy back afterwards, and the KPIs
    do not depend on it."""
    import os

    before = os.sched_getaffinity(0)
    policy_before = _policies_of_all_threads(os.getpid())
    seen = []
    policies = []

    def progress(row):
        (child,) = _child_pids(os.getpid())  # the fleet-host program
        seen.append((_affinity_of_all_threads(os.getpid()), _affinity_of_all_threads(child)))
        policies.append(_policies_of_all_threads(os.getpid()) | _policies_of_all_threads(child))

    opts = RunOptions(runs_dir=tmp_path, run_id=f"pin-{cpu}", hours=0.05, cpu=cpu, record_poses=False)
    res = run_fc(scene_path, opts, progress=progress)
    assert seen, "no minute reported"
    for own, host in seen:
        sets = {frozenset(a) for a in [*own.values(), *host.values()]}
        if cpu == "off":
            assert sets == {frozenset(before)}
        else:
            assert len(sets) == 1 and len(next(iter(sets))) == 1, sets
            if cpu == 1:
                assert sets == {frozenset({1})}
    assert os.sched_getaffinity(0) == before
    assert all(a == before for a in _affinity_of_all_threads(os.getpid()).values())
    if cpu == "off":
        assert os.SCHED_BATCH not in set().union(*policies)
    else:
        assert set().union(*policies) == {os.SCHED_BATCH}
    assert _policies_of_all_threads(os.getpid()) == policy_before
    assert res.kpis["collisions"] == 0 and res.kpis["units_conserved"] is True


def test_bad_cpu_choice_is_refused_before_the_run_starts(scene_path, tmp_path):
    runs = tmp_path / "runs"
    with pytest.raises(ValueError, match="CPU 4096"):
        run_fc(scene_path, RunOptions(runs_dir=runs, hours=0.01, cpu=4096))
    assert not runs.exists()  # no run database was started


def test_auto_pin_prefers_an_idle_cpu_and_stays_put_within_noise():
    """A run that starts beside a pinned one (a sweep) takes another CPU instead of doubling up."""
    from fctwin.sim.affinity import pick_cpu

    assert pick_cpu({0: 0.98, 1: 0.05}, here=0) == 1  # our CPU is taken by another run
    assert pick_cpu({0: 0.30, 1: 0.10}, here=0) == 0  # close enough: keep our caches
    assert pick_cpu({0: 0.9, 1: 0.2, 2: 0.0}, here=1) == 1
    assert pick_cpu({0: 0.9, 1: 0.6, 2: 0.0}, here=1) == 2
    assert pick_cpu({}, here=3) == 3


@pytest.mark.skipif(
    not hasattr(__import__("os"), "sched_setaffinity") or len(__import__("os").sched_getaffinity(0)) < 2,
    reason="needs Linux CPU affinity and at least 2 CPUs",
)
def test_cpu_loads_sees_a_busy_cpu():
    import os
    import time

    from fctwin.sim.affinity import cpu_loads

    busy = sorted(os.sched_getaffinity(0))[0]
    spinner = subprocess.Popen(
        [sys.executable, "-c", f"import os; os.sched_setaffinity(0, {{{busy}}})\nwhile True: pass"]
    )
    try:
        time.sleep(0.3)  # let it start spinning
        load = cpu_loads(set(os.sched_getaffinity(0)), sample_s=0.2)
    finally:
        spinner.kill()
        spinner.wait()
    assert load[busy] > 0.8, load


def test_cli_builds_only_the_subcommand_asked_for_and_lists_all_on_help():
    # `fctwin run` must not import the other subcommands' modules (the inbound model pulls in
    # scipy.stats, ~1 s before every run); top-level help and a typo still see every subcommand.
    code = (
        "import sys\n"
        "from fctwin.sim.cli import SUBCOMMANDS, build_parser\n"
        "build_parser(only='run')\n"
        "assert 'fctwin.sim.cli.inbound' not in sys.modules and 'fctwin.sim.cli.serve' not in sys.modules\n"
        "text = build_parser().format_help()\n"
        "assert all(name in text for name in SUBCOMMANDS), text\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    typo = subprocess.run(
        [sys.executable, "-m", "fctwin.sim.cli", "rnu"], capture_output=True, text=True, timeout=120
    )
    assert typo.returncode == 2 and "invalid choice: 'rnu'" in typo.stderr and "inbound" in typo.stderr


@pytest.mark.slow
def test_the_2000_unit_floor_starts_and_runs_its_first_minutes_safely(tmp_path):
    """fc_2000, the scale benchmark's scene: it loads as described, and its first simulated minutes
    (trips to 2,000 units at once) keep units conserved, no two units in one cell, and pick stock."""
    scene = load_scene(ROOT / "scenes" / "fc_2000.toml")
    assert len(scene.units) == 2000 and scene.pods.count == 20000
    assert sum(s.kind == "pick" for s in scene.stations) == 96
    assert sum(s.kind == "stow" for s in scene.stations) == 48
    res = run_fc(
        scene,
        RunOptions(hours=3 / 60, runs_dir=tmp_path, link="local", record_poses=False, world=False),
    )
    k = res.kpis
    assert k["units_conserved"] and k["collisions"] == 0
    assert k["units_picked"] > 0 and k["trips_completed"] > 0
    assert k["drive_unit_utilisation"] > 0.2  # a third of the fleet has trips within three minutes
