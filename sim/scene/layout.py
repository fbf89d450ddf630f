"""Floor layouts: cell codes, the RAWSim-O-style storage-block generator and ASCII map import.

A layout is a ``uint8[H, W]`` array of `CellCode`s. Cells are ``(row, col)`` with row 0 the
northern edge. The generator builds what RAWSim-O calls a tier: rectangular storage blocks separated
by one-cell aisles, a hallway around them, pick stations on the west wall, stow (replenishment)
stations on the east wall, inbound docks on the south wall and charging pads on the north wall (those
the north wall cannot hold go on the south wall, between the docks).
Pick and stow stations are flow-through cells in the hallway lane next to the wall (the operator
stands in the wall cell): a unit enters from upstream, is served, and leaves downstream or into
the hallway, so the next unit waits in line without blocking the exit. Docks and charging pads are
wall cells entered from the hallway.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

import numpy as np

from fctwin.controller.floorplan import grid_bfs_distance

Cell = tuple[int, int]  # row, col


class CellCode(IntEnum):
    AISLE = 0
    WALL = 1
    STORAGE = 2  # a pod's home location; unloaded units may pass under it
    PICK = 3
    STOW = 4
    DOCK = 5
    CHARGE = 6
    PARK = 7


# ASCII map symbols (MovingAI-style file with our symbols; see docs/scenes.md).
MAP_SYMBOLS: dict[str, CellCode] = {
    ".": CellCode.AISLE,
    "E": CellCode.AISLE,  # LoRR emitter: a free cell
    "S": CellCode.AISLE,  # LoRR service point: a free cell
    "@": CellCode.WALL,
    "O": CellCode.WALL,
    "T": CellCode.WALL,
    "W": CellCode.WALL,
    "P": CellCode.STORAGE,
    "K": CellCode.PICK,
    "U": CellCode.STOW,
    "D": CellCode.DOCK,
    "C": CellCode.CHARGE,
    "H": CellCode.PARK,
}
MAX_MAP_CELLS = 4_000_000  # a 2,000 x 2,000 floor (the scene schema's MAX_GRID_CELLS)

SYMBOL_FROM_CODE = {
    CellCode.AISLE: ".",
    CellCode.WALL: "@",
    CellCode.STORAGE: "P",
    CellCode.PICK: "K",
    CellCode.STOW: "U",
    CellCode.DOCK: "D",
    CellCode.CHARGE: "C",
    CellCode.PARK: "H",
}

# Cells a unit may stand on: everything but walls. Storage cells only when unloaded (or when the
# unit is returning its pod there), enforced by the dispatcher's passable maps.
WALKABLE_CODES = (
    CellCode.AISLE,
    CellCode.STORAGE,
    CellCode.PICK,
    CellCode.STOW,
    CellCode.CHARGE,
    CellCode.PARK,
)


class LayoutError(ValueError):
    """A layout that cannot be built or parsed; ``path`` names the offending field or line."""

    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path = path
        self.message = message


@dataclass(frozen=True, kw_only=True)
class BlockParams:
    """Parameters of the storage-block generator (all counts in cells)."""

    blocks_x: int
    blocks_y: int
    block_cols: int
    block_rows: int
    aisle_cells: int = 1
    hallway_cells: int = 2
    pick_stations: int = 4
    stow_stations: int = 2
    docks: int = 1
    charging: int = 4


def _spread(n: int, lo: int, hi: int) -> list[int]:
    """n positions spread evenly over [lo, hi] (inclusive), distinct, in order."""
    if n <= 0:
        return []
    span = hi - lo + 1
    if n > span:
        raise ValueError(f"cannot place {n} items on {span} cells")
    return [lo + int((i + 0.5) * span / n) for i in range(n)]


def generate_blocks(params: BlockParams) -> np.ndarray:
    """Build a storage-block layout; returns ``uint8[H, W]`` cell codes."""
    a, h = params.aisle_cells, params.hallway_cells
    storage_w = params.blocks_x * params.block_cols + (params.blocks_x + 1) * a
    storage_h = params.blocks_y * params.block_rows + (params.blocks_y + 1) * a
    width = 1 + h + storage_w + h + 1
    height = 1 + 1 + storage_h + 1 + 1  # wall, hallway row, storage, hallway row, wall
    grid = np.full((height, width), CellCode.AISLE, dtype=np.uint8)
    grid[0, :] = CellCode.WALL
    grid[-1, :] = CellCode.WALL
    grid[:, 0] = CellCode.WALL
    grid[:, -1] = CellCode.WALL
    row0, col0 = 2, 1 + h
    for by in range(params.blocks_y):
        r = row0 + a + by * (params.block_rows + a)
        for bx in range(params.blocks_x):
            c = col0 + a + bx * (params.block_cols + a)
            grid[r : r + params.block_rows, c : c + params.block_cols] = CellCode.STORAGE
    inner_rows = (1, height - 2)
    inner_cols = (1, width - 2)
    try:
        # Keep stations off the first and last hallway rows so each has an upstream lane to queue in.
        station_rows = (inner_rows[0] + 2, inner_rows[1] - 1)
        for r in _spread(params.pick_stations, *station_rows):
            grid[r, 1] = CellCode.PICK
        for r in _spread(params.stow_stations, *station_rows):
            grid[r, width - 2] = CellCode.STOW
        for c in _spread(params.docks, *inner_cols):
            grid[height - 1, c] = CellCode.DOCK
        # A large fleet needs more pads than one wall holds (fc_2000: ~170 charging at once to keep
        # 2,000 units going, 121 cells a wall): the rest go on the south wall, between the docks.
        north = min(params.charging, inner_cols[1] - inner_cols[0] + 1)
        for c in _spread(north, *inner_cols):
            grid[0, c] = CellCode.CHARGE
        if params.charging > north:
            free = [
                c for c in range(inner_cols[0], inner_cols[1] + 1) if grid[height - 1, c] != CellCode.DOCK
            ]
            for k in _spread(params.charging - north, 0, len(free) - 1):
                grid[height - 1, free[k]] = CellCode.CHARGE
    except ValueError as exc:
        raise LayoutError("layout.generator", f"layout too small: {exc}") from None
    return grid


def parse_ascii_map(text: str, *, source: str = "<map>", header_lines: int | None = None) -> np.ndarray:
    """Parse a MovingAI-style map (``type``/``height``/``width``/``map`` header, then rows).

    The header is optional: a bare block of equal-length rows is accepted too. Raises `LayoutError`
    naming the line for unknown symbols or ragged rows.
    """
    lines = text.splitlines()
    height = width = None
    body_start = 0
    if lines and lines[0].strip().lower().startswith("type"):
        for i, line in enumerate(lines):
            key, _, value = line.strip().partition(" ")
            key = key.lower()
            if key in ("height", "width"):
                try:
                    number = int(value)
                except ValueError:
                    raise LayoutError(
                        f"{source}:{i + 1}", f"{key} {value.strip()!r} is not a whole number"
                    ) from None
                if key == "height":
                    height = number
                else:
                    width = number
            elif key == "map":
                body_start = i + 1
                break
        else:
            raise LayoutError(source, "header has no 'map' line")
    rows = [ln.rstrip("\r\n") for ln in lines[body_start:] if ln.strip() != ""]
    if not rows:
        raise LayoutError(source, "map has no rows")
    if height is not None and len(rows) != height:
        raise LayoutError(source, f"header says height {height} but the map has {len(rows)} rows")
    width = width if width is not None else len(rows[0])
    for r, row in enumerate(rows):  # every row's length before the grid is allocated
        line_no = (body_start if header_lines is None else header_lines) + r + 1
        if len(row) != width:
            raise LayoutError(f"{source}:{line_no}", f"row has {len(row)} cells, expected {width}")
    if len(rows) * width > MAX_MAP_CELLS:
        raise LayoutError(source, f"map has {len(rows) * width:,} cells; at most {MAX_MAP_CELLS:,}")
    grid = np.empty((len(rows), width), dtype=np.uint8)
    for r, row in enumerate(rows):
        line_no = (body_start if header_lines is None else header_lines) + r + 1
        for c, ch in enumerate(row):
            code = MAP_SYMBOLS.get(ch)
            if code is None:
                known = "".join(MAP_SYMBOLS)
                raise LayoutError(
                    f"{source}:{line_no}:{c + 1}", f"unknown map symbol {ch!r} (known: {known})"
                )
            grid[r, c] = code
    return grid


def load_ascii_map(path: Path) -> np.ndarray:
    from fctwin.sim.textfile import TextFileError, read_text_file

    try:
        text = read_text_file(path)
    except FileNotFoundError:
        raise LayoutError(str(path), "map file not found") from None
    except TextFileError as exc:
        raise LayoutError(str(path), f"map file {exc}") from None
    return parse_ascii_map(text, source=str(path))


def to_ascii(grid: np.ndarray) -> str:
    """Render a layout back to map rows (for docs and debugging)."""
    return "\n".join("".join(SYMBOL_FROM_CODE[CellCode(v)] for v in row) for row in grid)


def cells_with(grid: np.ndarray, code: CellCode) -> np.ndarray:
    """``int32[K, 2]`` cells holding ``code``, in row-major order."""
    return np.argwhere(grid == code).astype(np.int32)


def bfs_distance(passable: np.ndarray, sources: list[Cell]) -> np.ndarray:
    """4-connected BFS distance (in cells) from any source over ``passable``; -1 where unreachable."""
    return grid_bfs_distance(passable, sources)
