"""Unit (task) allocation: which idle drive unit takes which waiting trip, and in which order units
queue at a station (RAWSim-O: task allocation / BotManager)."""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING

import numpy as np

from fctwin.controller.policies.base import Policy
from fctwin.controller.records import AT_STATION, StationRec, Trip

if TYPE_CHECKING:
    from fctwin.controller.dispatcher import Dispatcher


class UnitAllocation(Policy):
    """Pairs waiting trips with idle units; orders a station's queue.

    `allocate` gets ``trips`` (trips without a unit, oldest first) and ``idle`` (indices into
    ``d.units`` of units free to start one: no trip, no pod, not charging, above their low-battery
    level; ascending) and returns (trip, unit index) pairs to start now, each trip and unit at most
    once, in the order they are logged. It must not mutate anything (the lists are its own copies).

    `order_queue` is called each tick for every station with two or more trips queued and may
    reorder ``station.queue`` in place (only that): which unit the station serves next. A trip in
    phase AT_STATION (being served) must stay first. The default serves the unit nearest to
    arrival first.
    """

    family = "unit_allocation"

    @abstractmethod
    def allocate(self, d: Dispatcher, trips: list[Trip], idle: list[int]) -> list[tuple[Trip, int]]: ...

    def order_queue(self, d: Dispatcher, station: StationRec) -> None:
        """Serve units in the order they can reach the station, not the order they lifted pods.

        A unit still far away must not hold the station while nearer ones wait behind it; the
        trip being served stays first.
        """
        units = d.units
        station.queue.sort(key=lambda trip: arrival_key(station, units, trip))


def arrival_key(station: StationRec, units: list, trip: Trip) -> tuple[int, int]:
    """The default queue order's key of a queued trip: the trip being served first, then by its
    unit's loaded-path distance to the station (Manhattan + 1000 off the paths), then trip id.

    It reads only the trip's phase, id and its unit's cell, so a key stays valid while those do
    (`Dispatcher._order_queues` keeps keys across ticks on that ground)."""
    if trip.phase == AT_STATION:
        return (-1, 0)
    r, c = units[trip.unit].cell
    dd = station.distance.item(r, c)
    if dd < 0:
        r0, c0 = station.cell
        dd = abs(r - r0) + abs(c - c0) + 1000
    return (dd, trip.trip_id)


class NearestUnit(UnitAllocation):
    """For each trip, oldest first: the idle unit standing (or parked) under its pod, else the
    nearest idle unit (Manhattan; ties: lowest index). The default."""

    def allocate(self, d, trips, idle):
        units = d.units
        parked_at = {units[i].park: i for i in idle if units[i].park is not None}
        here = {units[i].cell: i for i in idle}
        pairs = []
        for trip in trips:
            if not idle:
                break
            cell = d.book.pod_cell[trip.pod]
            pick = here.get(cell)
            if pick is None:
                pick = parked_at.get(cell)
            if pick is None or pick not in idle:
                # Nearest idle unit (Manhattan), lowest index on ties; idle stays in ascending order.
                at = d.pos[idle]
                dd = np.abs(at[:, 0] - cell[0]) + np.abs(at[:, 1] - cell[1])
                pick = idle[int(np.argmin(dd))]
            idle.remove(pick)
            pairs.append((trip, pick))
        return pairs


class MostCharged(UnitAllocation):
    """For each trip, oldest first: the idle unit with the most charge (ties: nearer, then lower
    index). Spreads wear and keeps units off the chargers longer, at the price of longer empty runs."""

    def allocate(self, d, trips, idle):
        units = d.units
        pairs = []
        for trip in trips:
            if not idle:
                break
            r, c = d.book.pod_cell[trip.pod]
            pick = min(
                idle,
                key=lambda i: (-units[i].battery_frac, abs(units[i].row - r) + abs(units[i].col - c), i),
            )
            idle.remove(pick)
            pairs.append((trip, pick))
        return pairs
