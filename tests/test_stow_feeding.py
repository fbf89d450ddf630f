"""Opt-in stow feeding policies (docs/eluna_s13_stowcut13.md): cartons to the stow station with the
fewest trips on their way (`least_in_flight`), and stow trips that leave the pods a waiting pick
line needs (`most_lines_spare_picks`). The defaults are untouched (tests/test_event_log_hashes.py)."""

from __future__ import annotations

from collections import deque
from types import SimpleNamespace

import numpy as np

from fctwin.controller.inventory import InventoryBook
from fctwin.controller.orders import Carton
from fctwin.controller.policies import make_policy
from fctwin.controller.policies.pod_selection import MostLines
from fctwin.controller.policies.stow_assignment import ShortestQueue
from fctwin.controller.records import AT_STATION, LIFTING, TO_POD, TO_STATION, Line, StationRec, Trip


def _trip(trip_id: int, kind: str, station: int, phase: int) -> Trip:
    return Trip(trip_id, kind, pod=trip_id, station=station, lines=[], created_s=0.0, phase=phase)


def _carton() -> Carton:
    return Carton(carton_id=9, t_s=0.0, sku=1, units=12)


def test_least_in_flight_counts_the_stow_trips_on_their_way_that_shortest_queue_misses():
    """S1 made trips for its last cartons (one waits for a drive unit, one unit is driving to its
    pod, one is lifting it): nothing of it is pending or queued yet, so `shortest_queue` sees an
    empty station and sends it the next carton too. S2 has two cartons waiting and S3 a pod at its
    face: `least_in_flight` sends the carton to S3, the least loaded."""
    s1, s2, s3 = (StationRec(f"S{k}", "stow", (0, k)) for k in (1, 2, 3))
    s2.pending = deque([Line(1, 5, 12, 0.0), Line(2, 5, 12, 0.0)])
    s3.queue = [_trip(7, "stow", 2, AT_STATION)]
    units = [
        SimpleNamespace(trip=_trip(2, "stow", 0, TO_POD)),
        SimpleNamespace(trip=_trip(3, "stow", 0, LIFTING)),
        SimpleNamespace(trip=_trip(4, "pick", 1, TO_POD)),  # not stow work: S2 gains nothing
        SimpleNamespace(trip=_trip(5, "move", 1, TO_POD)),  # a re-slotting move named after S2
        SimpleNamespace(trip=None),
    ]
    waiting = [_trip(1, "stow", 0, TO_POD), _trip(6, "move", 1, TO_POD)]  # trips without a unit yet
    d = SimpleNamespace(stations=[s1, s2, s3], trips=waiting, units=units)
    policy = make_policy("stow_assignment", "least_in_flight")
    assert ShortestQueue().station_for(d, _carton(), [0, 1, 2]) == 0
    assert policy.station_for(d, _carton(), [0, 1, 2]) == 2
    # S3 left out (closed): S1 with three trips against S2's two cartons
    assert policy.station_for(d, _carton(), [0, 1]) == 1
    # the lifted trip joins S1's queue: counted there once, not also as on its way
    d.units[1].trip.phase = TO_STATION
    s1.queue = [d.units[1].trip]
    s2.pending.append(Line(3, 5, 12, 0.0))  # 3 against 3: the lower index
    assert policy.station_for(d, _carton(), [0, 1]) == 0


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


def test_spare_picks_stows_into_a_pod_no_waiting_pick_line_needs_when_one_has_room():
    book = _book()
    pick = StationRec("P1", "pick", (5, 0))
    stow = StationRec("S1", "stow", (0, 0))
    stow.pending = deque([Line(1, 9, 5, 0.0)])  # a carton of a SKU no pod holds: nearest pod wins
    d = SimpleNamespace(book=book, stations=[stow, pick])
    spare = make_policy("pod_selection", "most_lines_spare_picks")
    assert MostLines().stow_pod(d, 0) == 0 == spare.stow_pod(d, 0)
    pick.pending = deque([Line(5, 0, 1, 0.0), Line(6, 1, 1, 0.0)])  # pick lines wait for pods 0 and 1
    assert MostLines().stow_pod(d, 0) == 0  # the default does not look at the pick side
    assert spare.stow_pod(d, 0) == 2  # the nearest pod no waiting line needs
    # every pod with room is wanted: stow still gets one (a preference, not a ban)
    pick.pending = deque([Line(5, k, 1, 0.0) for k in range(4)])
    assert spare.stow_pod(d, 0) == 0
    # a pod counts as needed only while it holds units of the waiting line's SKU
    pick.pending = deque([Line(5, 0, 1, 0.0)])
    assert spare.stow_pod(d, 0) == 1
    book.picked(0, 0, 10)
    assert spare.stow_pod(d, 0) == 0


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
