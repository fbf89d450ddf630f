"""Pod storage: where a pod goes back to after its station visit (RAWSim-O: PodStorageManager)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING

from fctwin.controller.policies.base import Policy
from fctwin.controller.records import Cell, StationRec, Trip

if TYPE_CHECKING:
    from fctwin.controller.dispatcher import Dispatcher


def free_storage_test(d: Dispatcher, avoid: Cell | None = None) -> Callable[[Cell], bool]:
    """A test for "this storage cell can take a pod now".

    Free means: no pod there, not promised to another returning pod, nobody standing on it this
    tick, not an idle unit's parking spot, not blocked; ``avoid`` counts as occupied.
    """
    occupied = d._cell_owner  # who stands where this tick (built at the start of the dispatcher's advance)
    if avoid is not None:
        occupied = {**occupied, avoid: -1}
    parked = {u.park for u in d.units if u.park is not None}
    pods_mask, return_targets, blocked = d.pods_mask, d.return_targets, d.blocked_cells

    def free(cell: Cell) -> bool:
        return not (
            pods_mask[cell] or cell in return_targets or cell in occupied or cell in parked or cell in blocked
        )

    return free


class PodStorage(Policy):
    """Chooses the storage cell a pod returns to.

    Called when a trip leaves its station, and again (with ``avoid``, the cell it chose before) if
    another unit holds that cell for a while. Returns a storage cell (``d.storage_mask``) that is
    free by `free_storage_test`, or None to ask again next tick. Must not mutate anything: the
    dispatcher reserves the cell in ``d.return_targets``.
    """

    family = "pod_storage"

    @abstractmethod
    def storage_cell(
        self, d: Dispatcher, trip: Trip, station: StationRec, avoid: Cell | None
    ) -> Cell | None: ...


class NearestFree(PodStorage):
    """The free storage cell nearest to the station the pod leaves (loaded-path cells; ties
    row-major): fast pods settle near the stations (RAWSim-O's "Nearest"). The default."""

    def storage_cell(self, d, trip, station, avoid):
        free = free_storage_test(d, avoid)
        for cell in station.storage_by_distance:
            if free(cell):
                return cell
        return None


class Home(PodStorage):
    """The pod's own storage cell when free (fixed slotting), else the nearest free one."""

    def storage_cell(self, d, trip, station, avoid):
        free = free_storage_test(d, avoid)
        home = d.pod_home[trip.pod]
        if free(home):
            return home
        for cell in station.storage_by_distance:
            if free(cell):
                return cell
        return None
