"""The dispatcher's per-tick shortcuts give exactly what the plain per-unit code gives.

Issue 21: on fc_2000 most units wait in station queues, and the dispatcher's tick advanced every
waiting unit in turn. Units waiting third or further back now get their goals after the loop
(`TripExecution._advance`); checked here against the plain path on a saturated floor, tick by tick:
the queues' order, every unit's goal and active flag, the commands and the event log must be the
same.
"""

from __future__ import annotations

import hashlib
import sqlite3

import numpy as np

from fctwin.controller.dispatcher import Dispatcher
from fctwin.controller.policies.unit_allocation import UnitAllocation, arrival_key
from fctwin.sim.run import RunOptions, run_fc

HOURS = 0.15  # fc_small_peak fills its queues within minutes


def _run(tmp_path, mode: str, monkeypatch) -> tuple[list[str], str, dict]:
    """Run fc_small_peak; per tick a digest of the queues, goals, active flags and commands.

    ``mode``: "fast" (as shipped) or "plain" (every unit advanced in turn: no waiting units set
    after the loop, and the queue order by a policy that overrides the default with its own copy)."""
    seen: list[str] = []
    counts = {"waiters": 0, "sorted_queues": 0}
    tick, order_queues = Dispatcher.tick, Dispatcher._order_queues

    def counted_order_queues(self):
        out = order_queues(self)
        if mode == "plain":
            out = {}
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

    monkeypatch.setattr(Dispatcher, "_order_queues", counted_order_queues)
    monkeypatch.setattr(Dispatcher, "tick", recorded_tick)
    if mode == "plain":
        monkeypatch.setattr(UnitAllocation, "order_queue", _plain_order_queue)
    res = run_fc(
        "fc_small_peak",
        RunOptions(hours=HOURS, link="local", runs_dir=tmp_path / mode, record_poses=False, world=False),
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
    fast, fast_log, fast_counts = _run(tmp_path, "fast", monkeypatch)
    plain, plain_log, plain_counts = _run(tmp_path, "plain", monkeypatch)
    # the shortcut was taken (many times), else this test proves nothing
    assert fast_counts["waiters"] > 1000
    assert fast_counts["sorted_queues"] > 1000
    assert plain_counts["waiters"] == 0
    assert len(fast) == len(plain)
    first = next((k for k, (a, b) in enumerate(zip(fast, plain, strict=True)) if a != b), None)
    assert first is None, f"tick {first} differs"
    assert fast_log == plain_log


def test_the_minute_digest_counts_pods_on_way_and_battery_bins_as_the_per_station_passes(
    tmp_path, monkeypatch
):
    """The digest counts the pods on their way to each station in one pass over the units and bins
    the batteries at once; checked against the plain per-station and per-unit counts every minute."""
    from fctwin.controller.eluna import digest as digest_mod

    build = digest_mod.DigestBuilder.build
    checked = []

    def checked_build(self, t_s, minute, **kw):
        d = self.d
        on_way = [
            sum(1 for u in d.units if u.trip is not None and u.trip.station == k)
            + sum(1 for t in d.trips if t.station == k)
            for k in range(len(d.stations))
        ]
        battery = [0] * (len(digest_mod.BATTERY_BINS) - 1)
        for u in d.units:
            battery[int(np.searchsorted(digest_mod.BATTERY_BINS, u.battery_frac, side="right")) - 1] += 1
        dg = build(self, t_s, minute, **kw)
        assert [s["pods_on_way"] for s in dg["stations"]] == on_way
        assert dg["battery_hist"] == battery
        checked.append(sum(on_way))
        return dg

    monkeypatch.setattr(digest_mod.DigestBuilder, "build", checked_build)
    run_fc(
        "fc_small_peak",
        RunOptions(hours=0.1, link="local", runs_dir=tmp_path, record_poses=False, world=False),
    )
    assert len(checked) >= 5 and max(checked) > 0
