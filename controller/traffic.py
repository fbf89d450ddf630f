"""Traffic rules the floor manager sets at run time: closed cells and one-way aisles.

Both act through the planner, never through branches in the dispatcher:

- **Closed cells** join `Dispatcher.blocked_cells`, which the motion step writes into the planner's
  passable maps every tick (`fctwin.controller.motion`): from the next step no unit is planned into
  them (the planner's guarantee, tested with `fctwin.controller.planning.validate`). A unit already
  inside leaves: its distance tables are rebuilt without the cell, so standing there is
  "unreachable" and every open neighbour ranks better; an idle unit with no goal is given one by
  `ClosureParking` (the parking policy behind a seam). The planner never moves a unit into a
  closed cell, not even one already inside, so a closure is refused while a unit inside has no
  open neighbour it may enter (it would be trapped; a scheduled closure waits for it to move on).
  Only aisle and parking cells can be closed, never a station's queue cells, and never so that a
  station, charger or storage cell is cut off from the rest of the floor (`closure_problem`).
- **One-way aisles** are guidance: moving against the direction on the named cells costs
  ``penalty`` more in the planner's distance tables (`PIBTPlanner.set_move_cost_overlay`), so routes
  follow the direction; the planner may still step against it when pushed aside or when no other
  way exists (guidance shapes routes; safety and liveness stay the planner's).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fctwin.controller.floorplan import AISLE, PARK, grid_bfs_distance
from fctwin.controller.policies.parking import Parking
from fctwin.controller.records import UNUSABLE_MODES

Cell = tuple[int, int]

HEADINGS = {"E": 0, "S": 1, "W": 2, "N": 3}
AGAINST = {"E": 2, "W": 0, "S": 3, "N": 1}  # the heading a move against the direction has
ONE_WAY_PENALTY = 20  # extra cost of a move against a one-way aisle (guidance costs are uint8)

_CODE_NAMES = ("aisle", "wall", "storage", "pick station", "stow station", "dock", "charger", "parking")


@dataclass(frozen=True)
class OneWay:
    """Cells ``cells`` of one row (direction E or W) or one column (S or N) made one-way."""

    direction: str
    cells: tuple[Cell, ...]


def segment(row: int | None, col: int | None, span: tuple[int, int], direction: str) -> OneWay:
    """The cells of row ``row`` from column ``span[0]`` to ``span[1]`` (E/W), or of column ``col``
    from row ``span[0]`` to ``span[1]`` (S/N), inclusive."""
    if direction not in HEADINGS:
        raise ValueError(f"direction must be one of E, S, W, N, not {direction!r}")
    a, b = sorted(span)
    if row is not None and col is None:
        if direction not in ("E", "W"):
            raise ValueError(f"a row runs E or W, not {direction}")
        return OneWay(direction, tuple((row, c) for c in range(a, b + 1)))
    if col is not None and row is None:
        if direction not in ("S", "N"):
            raise ValueError(f"a column runs S or N, not {direction}")
        return OneWay(direction, tuple((r, col) for r in range(a, b + 1)))
    raise ValueError("give either row (with cols) or col (with rows)")


def _code(d, cell: Cell) -> int | None:
    H, W = d.grid.shape
    r, c = cell
    if not (0 <= r < H and 0 <= c < W):
        return None
    return int(d.grid[r, c])


def one_way_problem(d, rule: OneWay) -> str | None:
    """Why ``rule`` cannot be set (a cell off the floor or a wall or dock), or None."""
    if not hasattr(d.planner, "set_move_cost_overlay"):
        return f"planner {getattr(d.planner, 'name', type(d.planner).__name__)} takes no guidance"
    for cell in rule.cells:
        code = _code(d, cell)
        if code is None:
            return f"cell {cell} is off the floor"
        if not d.walk_unloaded[cell]:
            return f"cell {cell} is a {_CODE_NAMES[code]}, not a cell drive units use"
    return None


def closure_problem(d, cells: list[Cell] | tuple[Cell, ...]) -> str | None:
    """Why ``cells`` cannot be closed now (None: they can).

    Only aisle and parking cells; not a station's queue cell; not a cell where a failed unit stands
    (it cannot leave); and the floor stays connected: every station, charger and storage cell
    reachable unloaded, and every station reachable loaded from the storage cells' aisles.
    """
    if not cells:
        return "no cells to close"
    queue = {c for s in d.stations for c in s.queue_cells}
    for cell in cells:
        code = _code(d, cell)
        if code is None:
            return f"cell {cell} is off the floor"
        if code not in (AISLE, PARK):
            return f"cell {cell} is a {_CODE_NAMES[code]}: only aisle and parking cells can be closed"
        if cell in queue:
            return f"cell {cell} is a station's queue cell"
        k = d._cell_owner.get(cell)
        if k is not None and d.units[k].failed:
            return f"cell {cell} holds failed unit {d.units[k].unit_id}"
    closed = set(cells) | set(d.blocked_cells)
    # A unit inside must be able to step out at once: the planner never moves it into another
    # closed cell, so one standing deeper in the closed stretch than one cell would be trapped.
    # An open neighbour held by a unit that cannot move now (failed, stopped, charging) is no exit
    # either: the unit inside would wait behind it, for ever if it has failed.
    for cell in cells:
        k = d._cell_owner.get(cell)
        if k is not None and not _has_exit(d, cell, d.units[k].pod >= 0, closed):
            return (
                f"unit {d.units[k].unit_id} at {cell} could not get out (no open neighbour it may"
                " enter that a standing unit does not block): close fewer cells or wait until it has"
                " moved on"
            )
    mask = np.zeros(d.grid.shape, bool)
    for cell in closed:
        mask[cell] = True
    walk = d.walk_unloaded & ~mask
    needed = [tuple(map(int, rc)) for rc in np.argwhere(walk & (d.grid != AISLE) & (d.grid != PARK))]
    if needed:
        dist = grid_bfs_distance(walk, [needed[0]])
        cut = [c for c in needed if dist[c] < 0]
        if cut:
            return f"closing {sorted(set(cells))} cuts {cut[0]} off the floor"
    loaded = (d.static_loaded | d.storage_mask) & ~mask
    st = [s.cell for s in d.stations]
    if st:
        dist = grid_bfs_distance(loaded, [st[0]])
        for s in d.stations:
            if dist[s.cell] < 0:
                return f"closing {sorted(set(cells))} cuts station {s.station_id} off for loaded units"
    return None


def _stuck(u) -> bool:
    """A unit that will not move out of its cell by itself now: failed, stopped or charging."""
    return bool(u.failed) or u.mode in UNUSABLE_MODES or u.charging_at is not None


def _has_exit(d, cell: Cell, loaded: bool, closed: set) -> bool:
    H, W = d.grid.shape
    for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0)):
        nb = (cell[0] + dr, cell[1] + dc)
        if not (0 <= nb[0] < H and 0 <= nb[1] < W) or nb in closed:
            continue
        j = d._cell_owner.get(nb)
        if j is not None and _stuck(d.units[j]):
            continue
        if loaded:
            ok = d.static_loaded[nb] or (d.storage_mask[nb] and not d.pods_mask[nb])
        else:
            ok = d.walk_unloaded[nb]
        if ok:
            return True
    return False


def one_way_overlay(shape: tuple[int, int], rules, penalty: int = ONE_WAY_PENALTY) -> np.ndarray | None:
    """``uint8[H, W, 4]`` extra move costs of the one-way ``rules`` (None when there are none)."""
    if not rules:
        return None
    extra = np.zeros((*shape, 4), np.uint8)
    for rule in rules:
        against = AGAINST[rule.direction]
        for cell in rule.cells:
            extra[cell[0], cell[1], against] = penalty
    return extra


class ClosureParking(Parking):
    """The scene's parking policy, except that an idle unit standing in a closed cell (and with no
    spot outside it) is sent to the nearest open aisle or parking cell no one holds."""

    family = "parking"
    name = "closure_parking"

    def __init__(self, inner: Parking):
        self.inner = inner

    def setup(self, d) -> None:
        pass

    def park(self, d, i, u, taken, busy):
        spot = self.inner.park(d, i, u, taken, busy)
        closed = d.traffic_closed
        if not closed or u.cell not in closed or (spot is not None and spot not in closed):
            return spot
        r0, c0 = int(d.pos[i, 0]), int(d.pos[i, 1])
        free = (np.isin(d.grid, (AISLE, PARK))) & d.walk_unloaded
        for cell in closed | set(d.blocked_cells):
            free[cell] = False
        for cell in (*taken, *d._cell_owner):
            free[cell] = False
        for s in d.stations:
            for cell in s.queue_cells:
                free[cell] = False
        cand = np.argwhere(free)
        if cand.size == 0:
            return spot
        k = int(np.argmin(np.abs(cand[:, 0] - r0) + np.abs(cand[:, 1] - c0)))
        cell = (int(cand[k, 0]), int(cand[k, 1]))
        taken[cell] = i
        return cell
