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


class RoundRobin(StowAssignment):
    """Carton id modulo the number of stow stations."""

    def station_for(self, d, carton, stow):
        return stow[carton.carton_id % len(stow)]
