"""The same tiny sweep on a local Ray (2 CPUs, small object store, loopback only, no token).

Ray is imported before the backend starts it, as in a notebook: the backend must still keep every
socket on 127.0.0.1 (FIELD_NOTES: Ray reads RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER at import).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time

import pytest

ray = pytest.importorskip("ray")

from fctwin.sim.experiments import Grid, RayBackend, execute, parse_factor, plan_sweep  # noqa: E402

HOURS = 0.05


def _listeners_of(pids: set[int]) -> list[str]:
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, timeout=30).stdout
    found = []
    for line in out.splitlines():
        if any(int(p) in pids for p in re.findall(r"pid=(\d+)", line)):
            found.append(line.split()[3])
    return found


def _ray_pids(temp_dir: str) -> set[int]:
    """This process and its descendants (Ray's daemons and workers), plus anything naming our session."""
    import os

    out = subprocess.run(["ps", "-eo", "pid=,ppid=,args="], capture_output=True, text=True, timeout=30).stdout
    children: dict[int, list[int]] = {}
    named = set()
    for line in out.splitlines():
        pid, ppid, *args = line.split(None, 2)
        if args and args[0].startswith("ps -eo"):
            continue  # this very listing
        children.setdefault(int(ppid), []).append(int(pid))
        if args and temp_dir in args[0]:
            named.add(int(pid))
    tree, todo = set(), [os.getpid()]
    while todo:
        p = todo.pop()
        tree.add(p)
        todo.extend(children.get(p, []))
    return (tree - {os.getpid()}) | named


LOOPBACK = ("127.0.0.1:", "[::ffff:127.0.0.1]:", "[::1]:")


def test_a_sweep_on_local_ray_matches_plain_runs_and_stays_on_loopback(tmp_path):
    import fctwin

    # Children this process had before Ray (a process pool's resource tracker from another test).
    before = _ray_pids("no session yet")
    grid = Grid.from_assignments([parse_factor("fleet[0].count=10,14")], seeds=(0, 1))
    store = plan_sweep("fc_small", grid, hours=HOURS, name="ray", sweeps_dir=tmp_path)
    backend = RayBackend("auto", num_cpus=2, object_store_mb=128)
    temp_dir = backend._temp_dir
    try:
        assert backend.slots == 2 and ray.is_initialized()
        report = execute(store, backend)
        if shutil.which("ss") and shutil.which("ps"):
            import os

            pids = (_ray_pids(temp_dir) - before) | {os.getpid()}
            listening = _listeners_of(pids)
            assert listening, "found no Ray listeners to check"
            assert all(addr.startswith(LOOPBACK) for addr in listening), listening
    finally:
        backend.close()
    assert not ray.is_initialized()
    assert report.done == 4 and store.counts()["done"] == 4
    runs = {(r.variant, r.seed): r for r in store.runs()}
    # Same scene, seed and overrides as a plain in-process run: same KPIs but the timings.
    plain = fctwin.run(
        "fc_small", hours=HOURS, seed=1, overrides={"fleet[0].count": 14}, link="local", runs_dir=tmp_path
    ).kpis
    timing = {"wall_s", "realtime_factor", "planner_ms_per_step"}
    assert {k: v for k, v in runs[(1, 1)].kpis.items() if k not in timing} == {
        k: v for k, v in plain.items() if k not in timing
    }
    # ray.shutdown() leaves no process of this session behind; its session files are gone.
    deadline = time.monotonic() + 30
    while _ray_pids(temp_dir) - before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _ray_pids(temp_dir) - before
    assert not (tmp_path / "ray").joinpath("runs").exists()
    store.close()
