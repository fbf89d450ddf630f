"""The dispatcher's records: what it knows of every order line, trip, unit and station.

Plain mutable dataclasses (``eq=False``: identity, not value, so lists of them stay cheap to
search). The dispatcher owns them; policies read them (see `fctwin.controller.policies`).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from fctwin.controller.orders import Order
from fctwin.robots.messages import UnitMode

Cell = tuple[int, int]  # row, col

# Trip phases
TO_POD, LIFTING, TO_STATION, AT_STATION, TO_STORAGE, SETTING_DOWN = range(6)
PHASE_NAMES = ("to_pod", "lifting", "to_station", "at_station", "to_storage", "setting_down")

NO_GOAL = (-1, -1)


class CellsByDistance(Sequence):
    """Cells in a fixed order (int32[K, 2] rows), read as (row, col) tuples, converted on demand.

    A station's storage cells nearest first: the pod-storage policies walk them until a free one
    turns up, a few dozen cells as a rule. Converting all of them to tuples at start took seconds and
    ~300 MB on a 2,000-unit floor (144 stations x 24,000 cells); here only the walked prefix is
    converted (in growing chunks) and kept, so a walk over it runs at list speed.
    """

    __slots__ = ("cells", "_tuples")

    def __init__(self, cells: np.ndarray) -> None:
        self.cells = np.ascontiguousarray(cells, dtype=np.int32).reshape(-1, 2)
        self._tuples: list[Cell] = []

    def __len__(self) -> int:
        return len(self.cells)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [tuple(c) for c in self.cells[k].tolist()]
        return tuple(self.cells[k].tolist())

    def __iter__(self) -> Iterator[Cell]:
        if len(self._tuples) == len(self.cells):
            return iter(self._tuples)
        return itertools.chain(self._tuples, self._convert_rest())

    def _convert_rest(self) -> Iterator[Cell]:
        # Runs once the list iterator before it is exhausted: it has seen exactly len(tuples) cells.
        tuples, cells = self._tuples, self.cells
        while (k := len(tuples)) < len(cells):
            chunk = list(map(tuple, cells[k : k + max(256, k)].tolist()))
            tuples.extend(chunk)
            yield from chunk


# Modes in which a unit cannot take a move this step (the planner treats it as an obstacle).
INACTIVE_MODES = frozenset(
    (UnitMode.LIFTING, UnitMode.SETTING_DOWN, UnitMode.STOPPED, UnitMode.FAILED, UnitMode.CHARGING)
)
# Modes in which a unit cannot take a new trip.
UNUSABLE_MODES = frozenset((UnitMode.STOPPED, UnitMode.FAILED, UnitMode.CHARGING))
# plain ints: comparing against IntEnum members costs more than the rest of a per-unit loop
MODE_FAILED, MODE_STOPPED = int(UnitMode.FAILED), int(UnitMode.STOPPED)
MODE_SERVING, MODE_IDLE = int(UnitMode.SERVING), int(UnitMode.IDLE)

# Trip kinds that bring their station no work: a re-slotting or pre-positioning move (never at the
# station) and a pod going back from a drained station or with a recovered unit.
NO_STATION_WORK = frozenset(("move", "return"))
# Steps a returning unit waits for another unit to leave its chosen storage cell before choosing another.
RETURN_RETARGET_STEPS = 8


@dataclass(eq=False, slots=True)
class Line:
    """One order line (pick) or carton (stow) waiting at a station."""

    order_id: int  # carton id for stow lines
    sku: int
    units: int
    t_s: float


@dataclass(eq=False, slots=True)
class Trip:
    trip_id: int
    kind: str  # "pick" | "stow" | "move" (re-slotting) | "return" (a recovered unit takes its pod back)
    pod: int
    station: int
    lines: list[Line]
    created_s: float
    unit: int = -1
    phase: int = TO_POD
    return_cell: Cell | None = None
    return_blocked_steps: int = 0  # steps the return cell has been held by another unit
    open_serves: dict[int, Line] = field(default_factory=dict)  # command id -> line
    served: set[int] = field(default_factory=set)  # id() of lines already served
    withdrawing: bool = False  # a `Withdraw` was sent for its serves (controller/closures.py)


@dataclass(eq=False, slots=True)
class UnitRec:
    unit_id: str
    row: int = 0
    col: int = 0
    heading: int = 0
    mode: int = 0
    pod: int = -1
    battery_frac: float = 1.0
    trip: Trip | None = None
    goal: Cell | None = None
    failed: bool = False
    charging_at: Cell | None = None
    park: Cell | None = None
    cell: Cell = (0, 0)  # (row, col), set with them from telemetry (read ~1,500 times a tick on fc_large)
    # The pod of a trip the unit was on when it was lost (-1: none), and that trip's station: where
    # the pod is is settled when the unit is back (`EventHandling._settle_lost_pod`).
    lost_pod: int = -1
    lost_station: int = -1


@dataclass(eq=False)
class StationRec:
    station_id: str
    kind: str
    cell: Cell
    pending: deque[Line] = field(default_factory=deque)  # not yet on a trip
    queue: list[Trip] = field(default_factory=list)  # trips heading here, in arrival order
    open_orders: set[int] = field(default_factory=set)
    queue_cells: list[Cell] = field(default_factory=list)
    # (row, col) storage cells reachable loaded, nearest first (ties row-major), handed out as plain
    # tuples (choosing a return cell walks it, and iterating numpy rows cost ~10x more); a
    # `CellsByDistance` converts only the prefix that was walked.
    storage_by_distance: Sequence[Cell] = field(default_factory=list)
    distance: np.ndarray | None = None  # int32[H, W] BFS cells to the station for loaded units
    busy: bool = False
    associates: int = 1  # people working it (person-worked stations); 0 = closed
    accepts_withdraw: bool = False  # takes `Withdraw` (controller/closures.py)
    units_served: int = 0  # picked or stowed here so far (the Eluna digest reads it)
    lines_served: int = 0


@dataclass(eq=False)
class OrderRec:
    order: Order
    station: int = -1
    lines_left: int = 0
