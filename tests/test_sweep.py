"""Sweeps: the grid, the intervals, the store, retries and resume, and agreement with plain runs.

End-to-end sweeps are tiny (fc_small, 2 fleet sizes x 2 seeds x 0.05 h): the machinery is under
test, not the FC. Ray has its own file (test_sweep_ray.py).
"""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from fctwin.sim.experiments import (
    Grid,
    PoolBackend,
    SweepStore,
    estimate,
    execute,
    paired,
    paired_rows,
    parse_factor,
    parse_seeds,
    plan_sweep,
    summary_rows,
)
from fctwin.sim.experiments.grid import split_values
from fctwin.sim.scene.overrides import OverrideError

HOURS = 0.05
COUNTS = "fleet[0].count=10,14"
# Everything but the timings is a function of scene, seed and overrides.
WALL_KEYS = {"wall_s", "realtime_factor", "planner_ms_per_step"}


def _cli(*args, env=None, timeout=300, **kw):
    return subprocess.run(
        [sys.executable, "-m", "fctwin.sim.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        **kw,
    )


# ------------------------------------------------------------------------------------------ grid


def test_values_split_at_top_level_commas_only():
    assert split_values('1,[2, 3],"a,b", x') == ["1", "[2, 3]", '"a,b"', "x"]
    assert parse_factor("fleet[0].count=10,20,30") == ("fleet[0].count", [10, 20, 30])
    assert parse_factor("dispatch.planner=pibt,reservation") == ("dispatch.planner", ["pibt", "reservation"])
    with pytest.raises(OverrideError, match="empty value"):
        parse_factor("fleet[0].count=10,,20")
    with pytest.raises(OverrideError):
        parse_factor("fleet[0.count=10")


def test_seeds_and_grid_expand_in_order_with_fixed_overrides():
    assert parse_seeds("3") == (0, 1, 2)
    assert parse_seeds("4-6") == (4, 5, 6)
    assert parse_seeds("9,2") == (9, 2)
    for bad in ("0", "5-2", "1,1", "x"):
        with pytest.raises(ValueError):
            parse_seeds(bad)
    grid = Grid.from_assignments(
        [("fleet[0].count", [10, 20]), ("orders.rate_per_h", [700]), ("dispatch.planner", ["pibt", "lacam"])],
        seeds=(0, 1),
    )
    variants = grid.variants()
    assert [v.levels for v in variants] == [
        {"fleet[0].count": 10, "dispatch.planner": "pibt"},
        {"fleet[0].count": 10, "dispatch.planner": "lacam"},
        {"fleet[0].count": 20, "dispatch.planner": "pibt"},
        {"fleet[0].count": 20, "dispatch.planner": "lacam"},
    ]
    assert all(v.overrides["orders.rate_per_h"] == 700 for v in variants)
    assert Grid.from_json(grid.to_json()) == grid
    with pytest.raises(OverrideError, match="repeated"):
        Grid.from_assignments([("fleet[0].count", [10, 10])], seeds=(0,))
    with pytest.raises(OverrideError, match="twice"):
        Grid.from_assignments([("a", [1, 2]), ("a", [3])], seeds=(0,))


# ----------------------------------------------------------------------------------------- stats


def test_interval_is_the_student_t_interval_and_pairing_removes_the_seed_effect():
    from scipy import stats

    x = [503.0, 787.0, 823.0, 612.0, 700.0]
    e = estimate(x)
    lo, hi = stats.t.interval(0.95, len(x) - 1, loc=np.mean(x), scale=stats.sem(x))
    assert math.isclose(e.low, lo) and math.isclose(e.high, hi)
    assert estimate([5.0]).n == 1 and math.isnan(estimate([5.0]).ci)
    # Two variants that differ by 10 on every seed, the seeds spread by hundreds: the paired
    # difference is exactly 10 with no width, though the variants' own intervals overlap widely.
    a = {s: v for s, v in enumerate(x)}
    b = {s: v + 10.0 for s, v in enumerate(x)}
    d = paired(a, b)
    assert d.mean == pytest.approx(10.0) and d.ci == pytest.approx(0.0)
    assert estimate(list(a.values())).ci > 100


# ---------------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def pool_sweep(tmp_path_factory):
    """The tiny sweep, run once on a 2-process pool, with run 1/seed 1 failing once (it is retried)."""
    root = tmp_path_factory.mktemp("sweeps")
    grid = Grid.from_assignments([parse_factor(COUNTS)], seeds=(0, 1))
    store = plan_sweep("fc_small", grid, hours=HOURS, name="tiny", sweeps_dir=root)
    os.environ["FCTWIN_SWEEP_CRASH"] = "1:1:exit"  # the worker process running it dies, once
    os.environ["FCTWIN_SWEEP_CRASH_DIR"] = str(root)
    try:
        report = execute(store, PoolBackend(2), retries=2)
    finally:
        del os.environ["FCTWIN_SWEEP_CRASH"], os.environ["FCTWIN_SWEEP_CRASH_DIR"]
    yield store, report, root
    store.close()


def test_a_sweep_fills_its_store_and_survives_a_dying_worker(pool_sweep):
    store, report, _ = pool_sweep
    assert store.counts() == {"pending": 0, "done": 4, "failed": 0}
    assert report.done == 4 and report.failed == 0 and report.attempts_failed >= 1
    runs = {(r.variant, r.seed): r for r in store.runs()}
    assert runs[(1, 1)].attempts >= 2  # the dying worker cost it an attempt, not the sweep
    for r in runs.values():
        assert r.kpis["simulated_h"] == HOURS and r.kpis["units_conserved"] and r.kpis["collisions"] == 0
    assert runs[(0, 0)].kpis["drive_units"] == 10 and runs[(1, 0)].kpis["drive_units"] == 14
    # Documented schema: plain SQL gets the long-form KPIs with the factor levels.
    db = sqlite3.connect(store.path)
    rows = db.execute(
        "SELECT l.value, k.seed, k.value FROM kpis k JOIN levels l USING (variant)"
        " WHERE k.name='units_picked_per_h' AND l.path='fleet[0].count' ORDER BY 1, 2"
    ).fetchall()
    assert [(json.loads(a), s) for a, s, _ in rows] == [(10, 0), (10, 1), (14, 0), (14, 1)]
    db.close()


def test_tables_give_intervals_and_paired_differences(pool_sweep):
    store, _, _ = pool_sweep
    rows = summary_rows(store, "units_picked_per_h")
    assert [r["fleet[0].count"] for r in rows] == [10, 14] and all(r["n"] == 2 for r in rows)
    values = {(r.variant, r.seed): r.kpis["units_picked_per_h"] for r in store.runs()}
    assert rows[0]["mean"] == pytest.approx((values[(0, 0)] + values[(0, 1)]) / 2)
    (pr,) = paired_rows(store, "units_picked_per_h")
    assert (pr["level"], pr["base"], pr["n"]) == (14, 10, 2)
    diffs = [values[(1, s)] - values[(0, s)] for s in (0, 1)]
    assert pr["mean"] == pytest.approx(sum(diffs) / 2)


def test_a_sweep_run_gives_the_kpis_of_a_plain_fctwin_run(pool_sweep, tmp_path):
    """Same scene + seed + overrides: the sweep's run (pool worker, in-process fleet) and `fctwin run`
    (its own fleet host over ZeroMQ) agree on every KPI but the timings."""
    store, _, _ = pool_sweep
    swept = next(r for r in store.runs() if (r.variant, r.seed) == (1, 1)).kpis
    res = _cli(
        "run", "fc_small", "--seed", "1", "--hours", str(HOURS), "--set", "fleet[0].count=14",
        "--runs-dir", str(tmp_path), "--record-poses", "off", "--json",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    plain = json.loads(res.stdout)
    for key in WALL_KEYS | {"run_id", "db"}:
        plain.pop(key, None)
    assert {k: v for k, v in swept.items() if k not in WALL_KEYS} == plain


def test_failed_runs_are_recorded_and_resume_finishes_them(tmp_path):
    """A run that keeps failing is marked failed after its retries and the rest of the sweep goes
    on; `--resume` gives it a fresh budget (here it then succeeds) and reports."""
    env = {"FCTWIN_SWEEP_CRASH": "0:1:raise:2", "FCTWIN_SWEEP_CRASH_DIR": str(tmp_path)}
    args = ["--sweeps-dir", str(tmp_path), "--no-progress", "--plot", "none"]
    res = _cli(
        "sweep", "fc_small", "--set", "fleet[0].count=10", "--seeds", "2", "--hours", str(HOURS),
        "--name", "flaky", "--retries", "1", "--workers", "1", *args, env=env,
    )  # fmt: skip
    assert res.returncode == 1, res.stderr  # some run failed
    assert "1 failed runs" in res.stdout and "injected failure" in res.stdout
    with SweepStore(tmp_path / "flaky") as store:
        assert store.counts() == {"pending": 0, "done": 1, "failed": 1}
        (failed,) = store.runs("failed")
        assert (failed.variant, failed.seed, failed.attempts) == (0, 1, 2)
    res = _cli("sweep", "--resume", "flaky", "--json", *args, env=env)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["counts"] == {"pending": 0, "done": 2, "failed": 0}
    assert out["kpis"]["units_picked_per_h"]["summary"][0]["n"] == 2


def test_a_killed_sweep_is_finished_by_resume(tmp_path):
    """SIGKILL the driver (and its workers) once a run is stored; --resume runs only what is missing."""
    cmd = [
        sys.executable, "-m", "fctwin.sim.cli", "sweep", "fc_small", "--set", COUNTS, "--seeds", "2",
        "--hours", str(HOURS), "--name", "killed", "--workers", "1", "--sweeps-dir", str(tmp_path),
        "--no-progress", "--plot", "none",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    db = tmp_path / "killed" / "sweep.sqlite"
    deadline = time.monotonic() + 240
    done_before = 0
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if db.exists():
                with sqlite3.connect(db) as con:
                    try:
                        done_before = con.execute("SELECT COUNT(*) FROM runs WHERE status='done'").fetchone()[
                            0
                        ]
                    except sqlite3.OperationalError:
                        done_before = 0
                if done_before >= 1:
                    break
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert done_before >= 1
    with SweepStore(tmp_path / "killed") as store:
        first = {(r.variant, r.seed): r.kpis for r in store.runs("done")}
    res = _cli("sweep", "--resume", str(tmp_path / "killed"), "--json", "--no-progress", "--plot", "none")
    assert res.returncode == 0, res.stderr
    with SweepStore(tmp_path / "killed") as store:
        assert store.counts()["done"] == 4
        runs = {(r.variant, r.seed): r for r in store.runs()}
    for key, kpis in first.items():  # runs stored before the kill were not run again
        assert runs[key].kpis == kpis and runs[key].attempts == 1


def test_bad_sweeps_exit_2_with_a_message(tmp_path):
    base = ["sweep", "fc_small", "--sweeps-dir", str(tmp_path), "--no-progress", "--seeds", "1"]
    res = _cli(*base, "--set", "fleet[0].count=10,0", "--hours", "0.01")
    assert res.returncode == 2 and "fleet[0].count" in res.stderr and "Traceback" not in res.stderr
    assert not any(tmp_path.iterdir())  # nothing planned, nothing run
    res = _cli(*base, "--set", "fleet[0].count=10,20", "--set", "fleet[0].count=30")
    assert res.returncode == 2 and "twice" in res.stderr
    res = _cli("sweep", "--resume", "nope", "--sweeps-dir", str(tmp_path))
    assert res.returncode == 2 and "no sweep" in res.stderr
    res = _cli("sweep", "--resume", "nope", "--set", "fleet[0].count=10,20", "--sweeps-dir", str(tmp_path))
    assert res.returncode == 2 and "--resume" in res.stderr


def test_resume_refuses_a_scene_file_that_changed(tmp_path, small_scene_dict, write_scene):
    from fctwin.sim.experiments import SweepError

    path = write_scene(small_scene_dict)
    grid = Grid.from_assignments([parse_factor("fleet[0].count=4,6")], seeds=(0,))
    store = plan_sweep(path, grid, hours=0.01, name="s", sweeps_dir=tmp_path / "sweeps")
    path.write_text(path.read_text().replace("seed = 7", "seed = 8"))
    with pytest.raises(SweepError, match="changed"):
        execute(store, PoolBackend(1))
    store.close()
