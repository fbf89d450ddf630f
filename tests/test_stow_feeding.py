"""The opt-in `most_lines_lean_stow` pod selection (docs/eluna_s13_stowcut13.md): a stow station has at
most ``stow_trips`` trips in flight, so pods wait in storage (where picks can take them) rather than
in a stow queue. The default, `most_lines`, is untouched (tests/test_event_log_hashes.py)."""

from __future__ import annotations

import sqlite3
from collections import deque
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from fctwin.controller.inventory import InventoryBook
from fctwin.controller.policies import PolicyError, make_policy
from fctwin.controller.policies.pod_selection import MostLines
from fctwin.controller.records import AT_STATION, TO_POD, TO_STATION, Line, StationRec, Trip
from fctwin.sim.run import RunOptions, run_fc

ROOT = Path(__file__).resolve().parents[1]


def _trip(trip_id: int, kind: str, station: int, phase: int) -> Trip:
    return Trip(trip_id, kind, pod=trip_id, station=station, lines=[], created_s=0.0, phase=phase)


def _book(n_pods: int = 4) -> InventoryBook:
    """Pods 0..3 in a row; pod k holds 10 units of SKU k (SKU 9 on none); room for everything."""
    return InventoryBook(
        pod_cells=np.array([(0, k) for k in range(n_pods)], np.int64),
        slot_sku=np.array([[k] for k in range(n_pods)], np.int64),
        slot_units=np.full((n_pods, 1), 10, np.int64),
        capacity_units=100,
        empty_mass_kg=10.0,
        max_gross_mass_kg=100.0,
        sku_mass_kg=np.full(10, 1.0),
    )


def test_lean_stow_plans_no_stow_trip_while_the_station_has_its_trips_in_flight():
    book = _book()
    stow = StationRec("S1", "stow", (0, 0))
    stow.pending = deque([Line(1, 9, 5, 0.0), Line(2, 9, 5, 0.0)])
    d = SimpleNamespace(book=book, stations=[stow], trips=[], units=[SimpleNamespace(trip=None)])
    lean = make_policy("pod_selection", "most_lines_lean_stow")  # default: 2 trips
    assert lean.stow_pod(d, 0) == MostLines().stow_pod(d, 0) == 0
    stow.queue = [_trip(1, "stow", 0, AT_STATION)]  # the stower's pod at the face
    d.trips = [_trip(3, "move", 0, TO_POD)]  # a re-slotting move named after the station: not stow work
    assert lean.stow_pod(d, 0) == 0
    d.units[0].trip = _trip(2, "stow", 0, TO_POD)  # the next pod's unit is on its way
    assert lean.stow_pod(d, 0) is None and MostLines().stow_pod(d, 0) == 0
    d.units[0].trip.phase = TO_STATION  # lifted: it is in the queue now, counted there once
    stow.queue.append(d.units[0].trip)
    assert lean.stow_pod(d, 0) is None
    stow.queue = stow.queue[1:]  # the face is done: one in flight
    assert lean.stow_pod(d, 0) == 0
    d.trips.append(_trip(4, "stow", 0, TO_POD))  # a trip waiting for a drive unit counts
    assert lean.stow_pod(d, 0) is None
    assert make_policy("pod_selection", "most_lines_lean_stow", {"stow_trips": 3}).stow_pod(d, 0) == 0


def test_lean_stow_refuses_a_cap_below_one():
    with pytest.raises(PolicyError, match="stow_trips must be at least 1"):
        make_policy("pod_selection", "most_lines_lean_stow", {"stow_trips": 0})


def _most_stow_trips_in_flight(tmp_path: Path, name: str, overrides: dict) -> int:
    """Run an hour of eluna_balanced with two stow stations (S3, S4) closed; the most trips one stow
    station had at once between their creation and the pod leaving the face, from the event log."""
    opts = RunOptions(
        hours=1.0,
        seed=11,
        link="local",
        runs_dir=tmp_path,
        run_id=name,
        record_poses=False,
        overrides={"labour.staffing": {"S3": 0, "S4": 0}, **overrides},
    )
    db = sqlite3.connect(run_fc(ROOT / "scenes" / "eluna_balanced.toml", opts).db_path)
    rows = db.execute(
        "SELECT kind, subject, a FROM events WHERE kind IN ('trip_created', 'leave_station') ORDER BY id"
    ).fetchall()
    db.close()
    station_of: dict[int, str] = {}
    now: dict[str, int] = {}
    most = 0
    for kind, subject, trip_id in rows:
        if kind == "trip_created" and subject.startswith("S"):
            station_of[trip_id] = subject
            now[subject] = now.get(subject, 0) + 1
            most = max(most, now[subject])
        elif kind == "leave_station" and trip_id in station_of:
            now[station_of[trip_id]] -= 1
    return most


@pytest.mark.slow
def test_in_a_run_lean_stow_keeps_each_stow_station_to_its_trips_while_the_default_queues_more(tmp_path):
    assert _most_stow_trips_in_flight(tmp_path, "default", {}) > 2
    lean = {"dispatch.pod_selection": "most_lines_lean_stow"}
    assert _most_stow_trips_in_flight(tmp_path, "lean", lean) == 2
