"""Stow (replenishment) assignment: which stow station an inbound carton goes to.

RAWSim-O: replenishment batching (ReplenishmentBatchingManager). A carton submitted with an explicit
station id (the inbound model chose the dock's station) bypasses the policy.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING

from fctwin.controller.orders import Carton
from fctwin.controller.policies.base import Policy
from fctwin.controller.records import LIFTING

if TYPE_CHECKING:
    from fctwin.controller.dispatcher import Dispatcher


class StowAssignment(Policy):
    """Chooses the stow station for a carton as it arrives.

    Returns an index into ``d.stations``, one of ``stow`` (the stow stations' indices, ascending;
    never empty). Must not mutate anything: the dispatcher queues the carton there.
    """

    family = "stow_assignment"

    @abstractmethod
    def station_for(self, d: Dispatcher, carton: Carton, stow: Sequence[int]) -> int: ...


class ShortestQueue(StowAssignment):
    """The stow station with the fewest cartons waiting or pods queued (ties: lowest index). The default."""

    def station_for(self, d, carton, stow):
        stations = d.stations
        return min(stow, key=lambda i: (len(stations[i].pending) + len(stations[i].queue), i))


class LeastInFlight(StowAssignment):
    """The stow station with the fewest cartons waiting, pods queued and stow trips on their way to
    a pod (ties: lowest index). Opt-in (`least_in_flight`).

    `ShortestQueue` does not see a trip until its pod is lifted, so a station that has just made a
    trip for its carton looks empty again and, as the lowest index, takes the next carton too: on
    eluna_balanced (static plan, seeds 11-20) S1 stowed 604 units a run, S4 233, and S4 had no pod
    queued or coming in 68% of its minutes against S1's 26%. Counting the trips on their way spreads
    the cartons, and so the pods waiting for stowers, over the open stations.
    """

    def station_for(self, d, carton, stow):
        stations = d.stations
        work = {i: len(stations[i].pending) + len(stations[i].queue) for i in stow}
        for trip in d.trips:  # trips still waiting for a drive unit
            if trip.kind == "stow" and trip.station in work:
                work[trip.station] += 1
        for u in d.units:  # trips whose unit is on its way to the pod or lifting it (not queued yet)
            trip = u.trip
            if trip is not None and trip.kind == "stow" and trip.phase <= LIFTING and trip.station in work:
                work[trip.station] += 1
        return min(stow, key=lambda i: (work[i], i))


class RoundRobin(StowAssignment):
    """Carton id modulo the number of stow stations."""

    def station_for(self, d, carton, stow):
        return stow[carton.carton_id % len(stow)]
