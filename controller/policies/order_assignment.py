"""Order assignment: which pick station an order goes to (RAWSim-O: order batching / OrderManager)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from fctwin.controller.policies.base import Policy
from fctwin.controller.records import OrderRec

if TYPE_CHECKING:
    from fctwin.controller.dispatcher import Dispatcher


class OrderAssignment(Policy):
    """Chooses the pick station for the order at the head of the backlog.

    Called once per order per tick while the backlog is not empty, oldest order first. Returns an
    index into ``d.stations`` (one of ``picks``), or None to hold this order and every order
    behind it until the next tick. The dispatcher also holds it when the chosen station already
    has ``config.max_lines_per_station`` open lines. Must not mutate anything: ``open_lines`` is
    the dispatcher's running count (lines waiting at, queued for or on a trip to each station,
    indexed like ``d.stations``), kept current as this tick's orders are assigned.
    """

    family = "order_assignment"

    @abstractmethod
    def station_for(
        self, d: Dispatcher, order: OrderRec, picks: Sequence[int], open_lines: Sequence[int]
    ) -> int | None: ...


class LeastLoaded(OrderAssignment):
    """The pick station with the fewest open lines (ties: lowest index). The default."""

    def station_for(self, d, order, picks, open_lines):
        return min(picks, key=lambda k: (open_lines[k], k))


class RoundRobin(OrderAssignment):
    """Order id modulo the number of pick stations: a fixed, load-blind spread."""

    def station_for(self, d, order, picks, open_lines):
        return picks[order.order.order_id % len(picks)]


# channel name -> chooser with `station_for`'s signature; see `External`
CHOOSERS: dict[str, Callable[..., int | None]] = {}


def register_chooser(channel: str, chooser: Callable[..., int | None]) -> None:
    """Make ``chooser(d, order, picks, open_lines) -> station index | None`` answer for ``channel``."""
    CHOOSERS[channel] = chooser


def unregister_chooser(channel: str) -> None:
    CHOOSERS.pop(channel, None)


class External(OrderAssignment):
    """The choice comes from outside the dispatcher: the chooser registered under ``channel``
    (`register_chooser`), e.g. a Gymnasium environment whose action picks the station
    (`fctwin.sim.envs.OrderAssignmentEnv`). Asked only when some pick station can take more lines:
    with every station at ``max_lines_per_station`` the order waits, as with any policy.
    """

    def __init__(self, *, channel: str):
        self.channel = str(channel)
        self._choose: Callable[..., int | None] | None = None

    def setup(self, d):
        try:
            self._choose = CHOOSERS[self.channel]
        except KeyError:
            msg = f"no chooser registered for order_assignment channel {self.channel!r}"
            raise LookupError(msg) from None

    def station_for(self, d, order, picks, open_lines):
        cap = d.config.max_lines_per_station
        if all(open_lines[k] >= cap for k in picks):
            return None
        return self._choose(d, order, picks, open_lines)
