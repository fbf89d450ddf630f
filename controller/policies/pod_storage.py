"""Pod storage: where a pod goes back to after its station visit (RAWSim-O: PodStorageManager)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

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


class _Reslotting:
    """Re-slotting by idle units (optional for the storage policies below): every ``reslot_every_s``
    of simulated time, while no trip waits for a unit and at least two units are idle, ask
    `fctwin.controller.slotting.reslot_step` for moves worth more than they cost, within a budget
    of ``reslot_moves_per_h`` (0: off). The dispatcher turns each into a move trip."""

    reslot_moves_per_h: float = 0.0
    reslot_every_s: float = 10.0
    reslot_horizon_h: float = 1.0
    reslot_move_cost: float = 1.0

    def _reslot_init(self, moves_per_h: float, horizon_h: float, move_cost: float = 1.0) -> None:
        if moves_per_h < 0:
            raise ValueError("reslot_moves_per_h must be >= 0")
        if horizon_h <= 0 or move_cost < 0:
            raise ValueError("reslot_horizon_h must be > 0 and reslot_move_cost >= 0")
        self.reslot_moves_per_h = float(moves_per_h)
        self.reslot_horizon_h = float(horizon_h)
        self.reslot_move_cost = float(move_cost)
        self._tokens = 1.0
        self._last_s = 0.0
        self._next_s = 0.0

    def reslot_moves(self, d):
        if self.reslot_moves_per_h <= 0 or d.t_s < self._next_s:
            return []
        self._next_s = d.t_s + self.reslot_every_s
        self._tokens = min(5.0, self._tokens + (d.t_s - self._last_s) * self.reslot_moves_per_h / 3600.0)
        self._last_s = d.t_s
        if self._tokens < 1.0 or d.trips:
            return []
        idle = sum(
            1 for u in d.units if u.trip is None and u.pod < 0 and u.charging_at is None and not u.failed
        )
        n = min(int(self._tokens), idle - 1)
        if n <= 0:
            return []
        from fctwin.controller.slotting.estimates import estimate_for, free_storage_mask
        from fctwin.controller.slotting.kernels import reslot_step, storage_potential

        est = estimate_for(d)
        est.refresh(d)
        book = d.book
        slot = d._storage_slot
        pod_slot = np.array([-1 if c is None else slot.get(c, -1) for c in book.pod_cell], dtype=np.int64)
        movable = np.ones(len(pod_slot), dtype=bool)
        for p in book.busy_pod:
            movable[p] = False
        # A move saves travel only until the pod's next retrieval: after that visit the storage
        # rule places the pod anew. So a pod is worth at most one retrieval over the horizon
        # (expected 1 - exp(-rate x horizon)), not rate x horizon; the cells' shadow prices are
        # taken over the same capped rates. (Uncapped, fast pods looked worth ~rate x horizon
        # retrievals and the moves' own travel was never earned back: fc_small, 2 h.)
        h = self.reslot_horizon_h
        rate = -np.expm1(-est.pod_rate * h) / h
        moves = reslot_step(
            pod_slot, movable, rate, free_storage_mask(d), est.dist_st, d.storage_cells,
            storage_potential(est.dist_st, rate), horizon_h=h, move_cost=self.reslot_move_cost, max_moves=n,
        )  # fmt: skip
        self._tokens -= len(moves)
        cells = d.storage_cells
        return [(p, (int(cells[c, 0]), int(cells[c, 1]))) for p, c, _ in moves]


def _here_distance(station: StationRec, d) -> np.ndarray:
    """Loaded-path cells from the station the pod leaves to every storage cell (far if unreachable)."""
    ds = station.distance[d._storage_rows, d._storage_cols].astype(np.float64)
    return np.where(ds < 0, 1e6, ds)


class RandomFree(PodStorage):
    """A free storage cell drawn at random (seeded): the baseline slotting is measured against."""

    def setup(self, d):
        self._rng = np.random.default_rng([d.config.seed, 0x510])

    def storage_cell(self, d, trip, station, avoid):
        from fctwin.controller.slotting.estimates import free_storage_mask

        free = np.flatnonzero(free_storage_mask(d, avoid))
        if free.size == 0:
            return None
        k = int(free[self._rng.integers(free.size)])
        return (int(d.storage_cells[k, 0]), int(d.storage_cells[k, 1]))


class ClassBased(_Reslotting, PodStorage):
    """ABC velocity classes (Yuan, Cezik & Graves): pods split by rate rank into A/B/C (20/30/50%),
    storage cells by distance to the pick stations into zones of the same sizes; a pod returns to
    the free cell of its own zone nearest the station it leaves, else the nearest zone over."""

    def __init__(
        self,
        *,
        reslot_moves_per_h: float = 0.0,
        reslot_horizon_h: float = 1.0,
        reslot_move_cost: float = 1.0,
        zones: str = "own",
    ):
        if zones not in ("own", "slower"):
            raise ValueError("zones must be 'own' or 'slower'")
        self.zones = zones
        self._reslot_init(reslot_moves_per_h, reslot_horizon_h, reslot_move_cost)

    def setup(self, d):
        from fctwin.controller.slotting.estimates import CLASS_SHARES

        self._zone = None
        self._shares = CLASS_SHARES

    def storage_cell(self, d, trip, station, avoid):
        from fctwin.controller.slotting.estimates import estimate_for, free_storage_mask
        from fctwin.controller.slotting.kernels import storage_choice

        est = estimate_for(d)
        est.refresh(d)
        if self._zone is None:
            # zones by station distance, sized like the pod classes (the farthest cells stay spare)
            n_pods = len(d.book.pod_cell)
            order = np.lexsort((np.arange(len(est.dist_st)), est.dist_st))
            bounds = np.round(np.cumsum(self._shares) * n_pods).astype(np.int64)
            self._zone = np.empty(len(order), dtype=np.int64)
            self._zone[order] = np.searchsorted(bounds, np.arange(len(order)), side="right").clip(0, 2)
        cls = int(est.pod_class[trip.pod])
        if self.zones == "own":
            penalty = 1e4 * np.abs(self._zone - cls)
        else:  # the nearest free cell of its own zone or a slower one: never a faster pod's cell
            penalty = 1e4 * np.maximum(cls - self._zone, 0)
        k = storage_choice(
            free_storage_mask(d, avoid), _here_distance(station, d), est.dist_st, -penalty, rate=0.0
        )
        return None if k < 0 else (int(d.storage_cells[k, 0]), int(d.storage_cells[k, 1]))


class Turnover(_Reslotting, PodStorage):
    """Turnover-based: the free cell minimising the trip back now plus the pod's expected
    retrievals x round trip to the stations over ``horizon_h``, less the cell's shadow price
    (`fctwin.controller.slotting.storage_potential`): fast pods near, slow pods out of their way.
    ``horizon_h`` 0.1 by default: over 1 h the shadow prices outweighed the trip back and sent
    pods across the floor (fc_small, seed 2: 28.5 m per unit picked against 25.6 at 0.1 h)."""

    def __init__(
        self,
        *,
        horizon_h: float = 0.1,
        w_return: float = 1.0,
        reslot_moves_per_h: float = 0.0,
        reslot_horizon_h: float = 1.0,
        reslot_move_cost: float = 1.0,
    ):
        self.horizon_h = horizon_h
        self.w_return = w_return
        self._reslot_init(reslot_moves_per_h, reslot_horizon_h, reslot_move_cost)

    def storage_cell(self, d, trip, station, avoid):
        from fctwin.controller.slotting.estimates import estimate_for, free_storage_mask
        from fctwin.controller.slotting.kernels import storage_choice

        est = estimate_for(d)
        est.refresh(d)
        k = storage_choice(
            free_storage_mask(d, avoid),
            _here_distance(station, d),
            est.dist_st,
            est.potential,
            rate=float(est.pod_rate[trip.pod]),
            horizon_h=self.horizon_h,
            w_return=self.w_return,
        )
        return None if k < 0 else (int(d.storage_cells[k, 0]), int(d.storage_cells[k, 1]))


class Combined(Turnover):
    """Turnover storage with re-slotting by idle units on: up to 30 moves per hour, an idle unit's
    cell of travel priced at half a busy one's (``reslot_move_cost`` 0.5). At full price a move
    cannot pay in travel (it saves at most the pod's next fetch, about 2 x the distance gained,
    and costs the carry plus the empty trip to the pod); it pays in time, by spending idle
    units' travel ahead of busy hours."""

    def __init__(self, *, reslot_moves_per_h: float = 30.0, reslot_move_cost: float = 0.5, **params):
        super().__init__(reslot_moves_per_h=reslot_moves_per_h, reslot_move_cost=reslot_move_cost, **params)
