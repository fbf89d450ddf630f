"""Bin occupancy of a fabric pod face as 2-D footprints (shapely), and the stow-slot choice.

Frame of one bin (metres): the bin floor seen from above, ``u`` across the opening (0 at the left
wall, ``width_m`` at the right wall) and ``v`` into the bin (0 at the opening, ``depth_m`` at the
back). An item standing in the bin occupies the rectangle of its footprint (``item_w_m`` across,
``item_d_m`` deep); items are stowed against the back wall, as Vulcan does.

Fragmentation matters: a bin may have enough free width in total but no single gap wide enough.
`plan_stow` then plans a paddle sweep that pushes the items already in the bin against one wall,
which merges the gaps into one (``push``); the physics cell carries that sweep out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import shapely
from shapely.geometry import box

__all__ = ["Bin", "PodFace", "StowPlan", "plan_stow", "make_pod_face"]

CLEARANCE_M = 0.01  # free space the paddle and the item need beside each other
SCAN_STEP_M = 0.005  # resolution of the gap search across the opening


@dataclass
class Bin:
    """One bin: its size, its position on the face, its items' footprints.

    ``row`` counts from the bottom of the pod (0 = lowest, where people stand without a ladder).
    ``items`` maps an item id to its footprint polygon in the bin frame.
    """

    bin_id: int
    row: int
    col: int
    width_m: float
    depth_m: float
    height_m: float
    items: dict[int, shapely.Polygon] = field(default_factory=dict)
    item_heights_m: dict[int, float] = field(default_factory=dict)

    @property
    def floor(self) -> shapely.Polygon:
        return box(0.0, 0.0, self.width_m, self.depth_m)

    def free_region(self) -> shapely.Geometry:
        """Bin floor minus the items' footprints."""
        if not self.items:
            return self.floor
        return self.floor.difference(shapely.union_all(list(self.items.values())))

    def free_width_m(self) -> float:
        """Width left across the opening if all items were pushed against one wall."""
        return self.width_m - sum(_width(p) for p in self.items.values()) - CLEARANCE_M * len(self.items)

    def fill_frac(self) -> float:
        return 1.0 - self.free_region().area / self.floor.area

    def fragmentation(self) -> float:
        """1 - (widest single gap) / (total free width): 0 for one gap, towards 1 when scattered."""
        total = self.width_m - sum(_width(p) for p in self.items.values())
        if total <= 1e-9:
            return 0.0
        return max(0.0, 1.0 - _widest_gap_m(self) / total)

    def add(self, item_id: int, u_m: float, item_w_m: float, item_d_m: float, item_h_m: float) -> None:
        """Record an item whose left edge is at ``u_m``, against the back wall."""
        self.items[item_id] = box(u_m, self.depth_m - item_d_m, u_m + item_w_m, self.depth_m)
        self.item_heights_m[item_id] = item_h_m

    def push_left(self) -> dict[int, float]:
        """Pack the items against the left wall (in their order); returns item id -> new left edge."""
        moved: dict[int, float] = {}
        u = 0.0
        for item_id, poly in sorted(self.items.items(), key=lambda kv: kv[1].bounds[0]):
            minx, miny, maxx, maxy = poly.bounds
            self.items[item_id] = box(u, miny, u + (maxx - minx), maxy)
            moved[item_id] = u
            u += (maxx - minx) + CLEARANCE_M
        return moved


def _width(poly: shapely.Polygon) -> float:
    minx, _, maxx, _ = poly.bounds
    return maxx - minx


def _widest_gap_m(b: Bin) -> float:
    edges = sorted((p.bounds[0], p.bounds[2]) for p in b.items.values())
    gap, u = 0.0, 0.0
    for lo, hi in edges:
        gap = max(gap, lo - u)
        u = max(u, hi)
    return max(gap, b.width_m - u)


@dataclass(frozen=True)
class StowPlan:
    """Where an item goes: the bin, the left edge ``u_m`` of its slot and whether to push first."""

    bin_id: int
    u_m: float
    push: bool


@dataclass
class PodFace:
    """The bins of one pod face (rows from the bottom)."""

    bins: list[Bin]

    def bin(self, bin_id: int) -> Bin:
        return self.bins[bin_id]

    def rows(self) -> int:
        return 1 + max(b.row for b in self.bins)


def direct_slot(b: Bin, item_w_m: float, item_d_m: float) -> float | None:
    """Left edge of a gap that takes the item without moving anything, or None (best fit: leftmost)."""
    if item_d_m > b.depth_m or item_w_m + 2 * CLEARANCE_M > b.width_m:
        return None
    free = b.free_region()
    n = int((b.width_m - item_w_m - 2 * CLEARANCE_M) / SCAN_STEP_M) + 1
    for k in range(n):
        u = CLEARANCE_M + k * SCAN_STEP_M
        need = box(u - CLEARANCE_M, b.depth_m - item_d_m, u + item_w_m + CLEARANCE_M, b.depth_m)
        if free.contains(need.buffer(-1e-6)):
            return u
    return None


def plan_stow(
    face: PodFace,
    item_w_m: float,
    item_d_m: float,
    item_h_m: float,
    *,
    rows_for_people: int = 0,
    exclude: frozenset[int] = frozenset(),
) -> StowPlan | None:
    """Choose a bin and a slot for an item of footprint ``item_w_m`` x ``item_d_m`` and height ``item_h_m``.

    Bins in the lowest ``rows_for_people`` rows are used only when no higher bin has room (people work
    those rows without a ladder). Among allowed bins: a direct gap first (tightest fit wins, so wide
    gaps stay open for wide items), else a bin where pushing the items aside makes room (least pushing).
    Returns None when no bin can take the item (it goes to a person).
    """
    best: tuple[tuple, StowPlan] | None = None
    for b in face.bins:
        if b.bin_id in exclude or item_h_m > b.height_m * 0.9 or item_d_m > b.depth_m:
            continue
        people_row = b.row < rows_for_people
        slack = b.free_width_m() - item_w_m
        if slack < CLEARANCE_M:
            continue
        u = direct_slot(b, item_w_m, item_d_m)
        if u is not None:
            key = (people_row, 0, round(slack, 4), b.bin_id)
            plan = StowPlan(b.bin_id, u, push=False)
        else:
            occupied = sum(_width(p) for p in b.items.values()) + CLEARANCE_M * len(b.items)
            key = (people_row, 1, round(slack, 4), b.bin_id)
            plan = StowPlan(b.bin_id, occupied + CLEARANCE_M, push=True)
        if best is None or key < best[0]:
            best = (key, plan)
    return None if best is None else best[1]


# Bin sizes on the face, by row from the bottom: (count across, height m). 8 ft pods have more
# rows; the cell models the band of rows within the arm's reach (the lift moves the arm between bands).
DEFAULT_ROWS = ((3, 0.30), (4, 0.22), (4, 0.22), (5, 0.18))
FACE_WIDTH_M = 0.90
BIN_DEPTH_M = 0.30


def make_pod_face(
    rows=DEFAULT_ROWS, *, face_width_m: float = FACE_WIDTH_M, depth_m: float = BIN_DEPTH_M
) -> PodFace:
    """An empty face: rows of equal-width bins, several bin sizes across rows (shoebox-size cubbies)."""
    bins: list[Bin] = []
    for r, (n, h) in enumerate(rows):
        for c in range(n):
            bins.append(Bin(len(bins), r, c, face_width_m / n, depth_m, h))
    return PodFace(bins)
