"""The dispatcher's per-tick shortcuts give exactly what the plain per-unit code gives.

Issue 21: on fc_2000 most units wait in station queues, and the dispatcher's tick used to ask the
queue order one trip at a time and advance every waiting unit in turn. Two shortcuts replace that:
the default queue order worked out for every queue at once (`Decisions._order_queues`) and the goals
of units waiting third or further back set after the loop (`TripExecution._queue_waiters`). Each is
checked here against the plain path on a saturated floor, tick by tick: the queues' order, every
unit's goal and active flag, the commands and the event log must be the same.
"""

from __future__ import annotations

import hashlib
import sqlite3

import numpy as np
import pytest

from fctwin.controller.dispatcher import Dispatcher
from fctwin.controller.policies.unit_allocation import UnitAllocation, arrival_key
from fctwin.controller.records import AT_STATION, TO_STATION, Trip
from fctwin.sim.run import RunOptions, floorplan_from_scene, run_fc
from fctwin.sim.scene import load_scene
from fctwin.sim.scene.catalog import resolve_scene

HOURS = 0.15  # fc_small_peak fills its queues within minutes


def _run(tmp_path, name: str, *, plain: bool, monkeypatch) -> tuple[list[str], str, dict]:
    """Run fc_small_peak; per tick a digest of the queues, goals, active flags and commands."""
    seen: list[str] = []
    counts = {"waiters": 0, "sorted_queues": 0}
    tick, waiters = Dispatcher.tick, Dispatcher._queue_waiters

    def counted_waiters(self):
        out = {} if plain else waiters(self)
        counts["waiters"] += len(out)
        return out

    def recorded_tick(self, frame):
        batch = tick(self, frame)
        h = hashlib.sha256()
        h.update(repr([[t.trip_id for t in s.queue] for s in self.stations]).encode())
        h.update(self.goal.tobytes())
        h.update(self.active.tobytes())
        h.update(repr(batch.commands).encode())
        counts["sorted_queues"] += sum(len(s.queue) >= 2 for s in self.stations)
        seen.append(h.hexdigest())
        return batch

    monkeypatch.setattr(Dispatcher, "_queue_waiters", counted_waiters)
    monkeypatch.setattr(Dispatcher, "tick", recorded_tick)
    if plain:  # an override of the same order: the dispatcher then asks it queue by queue
        monkeypatch.setattr(UnitAllocation, "order_queue", _plain_order_queue)
    res = run_fc(
        "fc_small_peak",
        RunOptions(hours=HOURS, link="local", runs_dir=tmp_path / name, record_poses=False, world=False),
    )
    monkeypatch.undo()
    db = sqlite3.connect(res.db_path)
    h = hashlib.sha256()
    for row in db.execute("SELECT t_s, kind, subject, a, b, c FROM events ORDER BY id"):
        h.update(repr(row).encode())
    db.close()
    return seen, h.hexdigest(), counts


def _plain_order_queue(self, d, station):
    units = d.units
    station.queue.sort(key=lambda trip: arrival_key(station, units, trip))


def test_queue_order_and_waiting_goals_match_the_plain_per_unit_path(tmp_path, monkeypatch):
    fast, fast_log, fast_counts = _run(tmp_path, "fast", plain=False, monkeypatch=monkeypatch)
    plain, plain_log, plain_counts = _run(tmp_path, "plain", plain=True, monkeypatch=monkeypatch)
    # the shortcuts were taken (many times), else this test proves nothing
    assert fast_counts["waiters"] > 1000
    assert fast_counts["sorted_queues"] > 1000
    assert plain_counts["waiters"] == 0
    assert len(fast) == len(plain)
    first_diff = next((k for k, (a, b) in enumerate(zip(fast, plain, strict=True)) if a != b), None)
    assert first_diff is None, f"tick {first_diff} differs"
    assert fast_log == plain_log


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_all_queues_at_once_is_the_policy_order_also_off_the_paths_and_with_one_served(seed):
    """Random queues on a real floor: units anywhere (walls too: no path distance, Manhattan + 1000),
    equal distances (trip id decides), a trip being served somewhere in the queue (first after)."""
    scene = load_scene(resolve_scene("fc_small_peak"))
    plan, config = floorplan_from_scene(scene)
    d = Dispatcher(plan, config)
    rng = np.random.default_rng(seed)
    height, width = d.grid.shape
    for u in d.units:
        u.cell = (int(rng.integers(height)), int(rng.integers(width)))
        u.row, u.col = u.cell
    d.pos[:] = [u.cell for u in d.units]
    free = list(rng.permutation(len(d.units)))
    tid = 0
    for k, station in enumerate(d.stations):
        for _ in range(int(rng.integers(0, 9))):
            if not free:
                break
            tid += int(rng.integers(1, 3))
            trip = Trip(tid, "pick", 0, k, [], 0.0, unit=int(free.pop()), phase=TO_STATION)
            station.queue.append(trip)
        if station.queue and rng.random() < 0.5:
            station.queue[int(rng.integers(len(station.queue)))].phase = AT_STATION
    # two units on one cell: same distance, the trip id decides
    busy = [s for s in d.stations if len(s.queue) >= 2]
    a, b = busy[0].queue[:2]
    d.units[b.unit].cell = d.units[a.unit].cell
    d.pos[b.unit] = d.units[a.unit].cell
    expected = []
    for station in d.stations:
        q = list(station.queue)
        if len(q) >= 2:
            q.sort(key=lambda t, s=station: arrival_key(s, d.units, t))
        expected.append([t.trip_id for t in q])
    d._order_queues()
    assert [[t.trip_id for t in s.queue] for s in d.stations] == expected
    off_path = [
        t for s in d.stations if len(s.queue) >= 2 for t in s.queue if s.distance[d.units[t.unit].cell] < 0
    ]
    assert off_path  # the Manhattan + 1000 branch was exercised
