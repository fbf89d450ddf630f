"""The PyBullet world of an FC run: floor, walls, pods, stations, docks, pads and drive units.

The world is a view of the grid, not a physics model of it: drive units move kinematically cell to cell
(teleported, with interpolated in-between poses for display), a lifted pod rides on its unit, a set-down
pod rests on a storage cell. Every body here has mass 0, so stepping the client (for station arms loaded
by ``robots/`` into the same client, see `World.client_id`) never moves them and costs almost nothing.

Frames (world, metres, z up): cell (row, col) has row 0 as the north row;
``x = (col + 0.5) * cell_size_m`` grows east, ``y = -(row + 0.5) * cell_size_m`` (north is +y, rows grow
southwards). Heading h (0 east, 1 south, 2 west, 3 north) has yaw ``-h * pi / 2``. A unit pose is
``(x_m, y_m, yaw_rad)``; a body's origin is the centre of its footprint at floor level.

The world is decoupled from the scene schema through `WorldSpec`; the scene layer builds one from a
validated scene.
"""

from __future__ import annotations

import math
import os
import struct
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pybullet as p

from fctwin.sim import world_assets as assets
from fctwin.sim.world_assets import AISLE, CHARGE, DOCK, PARK, PICK, STORAGE, STOW, WALL

__all__ = [
    "AISLE",
    "CHARGE",
    "COLLISION_GROUP_POD",
    "COLLISION_GROUP_SCENERY",
    "COLLISION_GROUP_UNIT",
    "DOCK",
    "PARK",
    "PICK",
    "STORAGE",
    "STOW",
    "WALL",
    "DisplayUnavailable",
    "World",
    "WorldSpec",
    "interpolate_poses",
    "poses_from_cells",
    "require_display",
    "xy_from_cell",
    "yaw_from_heading",
]

Cell = tuple[int, int]  # (row, col)

# Collision filter groups for other code sharing the client (arms, items). Bits 1-32 are Bullet's own
# groups (bit 2 = static), so ours start at 64. Pods and units ignore scenery and each other; anything in
# Bullet's default group (an arm, an item) still collides with all of them.
COLLISION_GROUP_SCENERY = 64
COLLISION_GROUP_POD = 128
COLLISION_GROUP_UNIT = 256
_MASK_ALL = 0xFFFF
_MASK_MOVERS = _MASK_ALL & ~(COLLISION_GROUP_SCENERY | COLLISION_GROUP_POD | COLLISION_GROUP_UNIT)

_NO_DISPLAY_HINT = "run without --gui, or under xvfb-run"
_IDENTITY_QUAT = (0.0, 0.0, 0.0, 1.0)

# PyBullet allows one GUI connection per process; a second p.connect(p.GUI) fails obscurely.
_gui_client_id: int | None = None


class DisplayUnavailable(RuntimeError):  # noqa: N818 (name fixed by the issue; reads as a state)
    """The PyBullet GUI cannot open: no X display is reachable from this process."""


@dataclass(frozen=True, kw_only=True, eq=False)
class WorldSpec:
    """What the world needs from a scene.

    Attributes:
        cell_size_m: side of a square grid cell.
        cell_codes: uint8[H, W], one of AISLE, WALL, STORAGE, PICK, STOW, DOCK, CHARGE, PARK per cell.
        pod_cells: int32[P, 2] initial (row, col) of each pod; pod id = row index. Each on a distinct
            STORAGE cell.
        pod_size_m: pod (length x, width y, height z); the kiva_shelf dimensions by default.
        unit_footprint_m: drive unit (length along heading, width); scaled down to fit a cell if needed.
        n_units: number of drive units N.
        unit_cells: int32[N, 2] initial (row, col) of each unit.
        unit_headings: int8[N] initial heading of each unit (0 east, 1 south, 2 west, 3 north).

    Raises:
        ValueError: an array has the wrong shape, or a cell is off the grid, or a pod is not on a
            distinct STORAGE cell, or a unit starts on a WALL.
    """

    cell_size_m: float
    cell_codes: np.ndarray
    pod_cells: np.ndarray
    pod_size_m: tuple[float, float, float] = (0.91, 0.88, 2.30)
    unit_footprint_m: tuple[float, float] = (1.0, 0.8)
    n_units: int
    unit_cells: np.ndarray
    unit_headings: np.ndarray

    def __post_init__(self) -> None:
        codes = np.ascontiguousarray(self.cell_codes, dtype=np.uint8)
        pods = np.ascontiguousarray(self.pod_cells, dtype=np.int32).reshape(-1, 2)
        units = np.ascontiguousarray(self.unit_cells, dtype=np.int32).reshape(-1, 2)
        headings = np.ascontiguousarray(self.unit_headings, dtype=np.int8).reshape(-1)
        if not self.cell_size_m > 0:
            raise ValueError(f"cell_size_m must be > 0, got {self.cell_size_m}")
        if codes.ndim != 2 or codes.size == 0:
            raise ValueError(f"cell_codes must be a non-empty uint8[H, W], got shape {codes.shape}")
        if len(units) != self.n_units or len(headings) != self.n_units:
            raise ValueError(
                f"n_units={self.n_units} but unit_cells has {len(units)} rows, unit_headings {len(headings)}"
            )
        if np.any((headings < 0) | (headings > 3)):
            raise ValueError("unit_headings must be in 0..3 (0 east, 1 south, 2 west, 3 north)")
        for name, cells in (("pod_cells", pods), ("unit_cells", units)):
            off = (cells < 0).any(axis=1) | (cells[:, 0] >= codes.shape[0]) | (cells[:, 1] >= codes.shape[1])
            if off.any():
                raise ValueError(f"{name}[{int(np.argmax(off))}] = {cells[off][0].tolist()} is off the grid")
        if len(pods):
            not_storage = codes[pods[:, 0], pods[:, 1]] != STORAGE
            if not_storage.any():
                raise ValueError(f"pod {int(np.argmax(not_storage))} does not start on a STORAGE cell")
            if len(np.unique(pods[:, 0] * codes.shape[1] + pods[:, 1])) != len(pods):
                raise ValueError("two pods start on the same storage cell")
        if len(units) and np.any(codes[units[:, 0], units[:, 1]] == WALL):
            raise ValueError("a unit starts on a WALL cell")
        object.__setattr__(self, "cell_codes", codes)
        object.__setattr__(self, "pod_cells", pods)
        object.__setattr__(self, "unit_cells", units)
        object.__setattr__(self, "unit_headings", headings)


# --- frames -------------------------------------------------------------------------------------------


def xy_from_cell(row: int | np.ndarray, col: int | np.ndarray, cell_size_m: float) -> tuple:
    """World (x_m, y_m) of a cell centre; works elementwise on arrays of rows and cols."""
    return (col + 0.5) * cell_size_m, -(row + 0.5) * cell_size_m


def yaw_from_heading(h: int | np.ndarray) -> float | np.ndarray:
    """Yaw (rad, about +z) of a heading: 0 east -> 0, 1 south -> -pi/2, 2 west -> -pi, 3 north -> -3pi/2."""
    return -np.asarray(h, dtype=np.float64) * (math.pi / 2) if isinstance(h, np.ndarray) else -h * math.pi / 2


def poses_from_cells(cells: np.ndarray, headings: np.ndarray, cell_size_m: float) -> np.ndarray:
    """Unit poses float64[N, 3] (x_m, y_m, yaw_rad) from int[N, 2] (row, col) cells and int[N] headings."""
    cells = np.asarray(cells).reshape(-1, 2)
    pose_world = np.empty((len(cells), 3), dtype=np.float64)
    pose_world[:, 0], pose_world[:, 1] = xy_from_cell(cells[:, 0], cells[:, 1], cell_size_m)
    pose_world[:, 2] = yaw_from_heading(np.asarray(headings).reshape(-1))
    return pose_world


def interpolate_poses(pose_a_world: np.ndarray, pose_b_world: np.ndarray, frac: float) -> np.ndarray:
    """Poses float64[N, 3] a fraction `frac` (0..1) of the way from a to b.

    Position is linear; yaw turns the short way (a half turn goes through +pi from a, consistently).
    The result's yaw is wrapped to [-pi, pi).
    """
    a = np.asarray(pose_a_world, dtype=np.float64).reshape(-1, 3)
    b = np.asarray(pose_b_world, dtype=np.float64).reshape(-1, 3)
    out = a + (b - a) * frac
    dyaw = (b[:, 2] - a[:, 2] + math.pi) % (2 * math.pi) - math.pi
    out[:, 2] = (a[:, 2] + dyaw * frac + math.pi) % (2 * math.pi) - math.pi
    return out


def _quats_from_yaws(yaw_rad: np.ndarray) -> np.ndarray:
    """Quaternions float64[N, 4] (x, y, z, w) of rotations about +z."""
    q = np.zeros((len(yaw_rad), 4))
    q[:, 2] = np.sin(yaw_rad / 2)
    q[:, 3] = np.cos(yaw_rad / 2)
    return q


# --- display check ------------------------------------------------------------------------------------

# Run in a child: p.connect(p.GUI) without a usable display calls exit() inside the C++ code, which would
# kill the calling interpreter with no exception to catch.
_DISPLAY_PROBE = (
    "import pybullet as p\n"
    "c = p.connect(p.GUI, options='--width=64 --height=64')\n"
    "raise SystemExit(0 if c >= 0 else 3)\n"
)


def require_display(*, timeout_s: float = 30.0) -> None:
    """Check that the PyBullet GUI can open here, without risking this process.

    Raises:
        DisplayUnavailable: ``DISPLAY`` is unset, or a child process could not open a GUI on it.
    """
    display = os.environ.get("DISPLAY", "")
    if not display:
        raise DisplayUnavailable(f"no X display (DISPLAY is unset): {_NO_DISPLAY_HINT}")
    try:
        probe = subprocess.run(
            [sys.executable, "-c", _DISPLAY_PROBE], capture_output=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        raise DisplayUnavailable(
            f"no X display (opening DISPLAY={display!r} timed out after {timeout_s:.0f} s): "
            f"{_NO_DISPLAY_HINT}"
        ) from None
    if probe.returncode != 0:
        raise DisplayUnavailable(f"no X display (cannot open DISPLAY={display!r}): {_NO_DISPLAY_HINT}")


# --- the world ----------------------------------------------------------------------------------------


@dataclass
class _Bodies:
    """PyBullet body ids by role (int32 arrays index by pod / unit id)."""

    pods: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int32))
    units: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int32))
    scenery: list[int] = field(default_factory=list)


class World:
    """A PyBullet client holding the FC floor, its pods and its drive units.

    Args:
        spec: the layout and initial placement.
        gui: open the PyBullet GUI (checks for a display first) instead of DIRECT.
        client: build into an existing physics client instead of connecting (not closed by `close`).

    Raises:
        DisplayUnavailable: ``gui=True`` and no display can be opened.
        ValueError: both `gui` and `client` are given.
        RuntimeError: ``gui=True`` while another GUI world is open in this process.
    """

    def __init__(self, spec: WorldSpec, *, gui: bool = False, client: int | None = None) -> None:
        global _gui_client_id
        if gui and client is not None:
            raise ValueError("pass either gui=True or an existing client, not both")
        self.spec = spec
        self.gui = gui
        self._owns_client = client is None
        if client is not None:
            self._client = client
        elif gui:
            if _gui_client_id is not None:
                raise RuntimeError(
                    "a PyBullet GUI world is already open in this process (PyBullet allows one)"
                )
            require_display()
            self._client = p.connect(p.GUI)
            _gui_client_id = self._client
        else:
            self._client = p.connect(p.DIRECT)
        if self._client < 0:
            raise RuntimeError("PyBullet refused the connection")

        n_pods, n_units = len(spec.pod_cells), spec.n_units
        # Cached state: what the bodies show now (a unit's pose may lead its body, see note_unit_cell).
        # NaN poses force the first set_unit_poses to move all.
        self._unit_pose_world = np.full((n_units, 3), np.nan)
        # Units whose pose was recorded by `note_unit_cell` but whose body has not moved there yet.
        self._body_stale = np.zeros(n_units, dtype=bool)
        self._unit_payload = np.full(n_units, -1, dtype=np.int32)  # pod carried by each unit, or -1
        self._pod_carrier = np.full(n_pods, -1, dtype=np.int32)  # unit carrying each pod, or -1
        self._pod_cell = spec.pod_cells.copy()  # resting cell of each pod, (-1, -1) while carried
        self._resting_pod = np.full(spec.cell_codes.shape, -1, dtype=np.int32)  # pod resting on each cell
        self._resting_pod[spec.pod_cells[:, 0], spec.pod_cells[:, 1]] = np.arange(n_pods, dtype=np.int32)
        self._bodies = _Bodies()
        self.station_bodies: dict[str, list[int]] = {}  # static station-unit models (add_station_model)

        try:
            self._build()
        except BaseException:
            self.close()  # do not leak a connection (or the process's one GUI slot) on a failed build
            raise

    def _build(self) -> None:
        if self.gui:
            # Building thousands of bodies with rendering on is slow; the side panels hide the floor.
            self._pb(p.configureDebugVisualizer, p.COV_ENABLE_RENDERING, 0)
            self._pb(p.configureDebugVisualizer, p.COV_ENABLE_GUI, 0)
        self._build_floor_and_walls()
        self._build_markers()
        self._build_station_furniture()
        self._build_pods()
        self._build_units()
        self._pb(p.syncBodyInfo)  # batch creation leaves getNumBodies() stale until synced
        self.set_units_from_cells(self.spec.unit_cells, self.spec.unit_headings)
        if self.gui:
            self._pb(p.configureDebugVisualizer, p.COV_ENABLE_RENDERING, 1)
            centre_x, centre_y = self._floor_centre_xy()
            self._pb(
                p.resetDebugVisualizerCamera,
                cameraDistance=0.75 * max(self._floor_size_xy()),
                cameraYaw=0,
                cameraPitch=-55,
                cameraTargetPosition=(centre_x, centre_y, 0),
            )

    # --- client plumbing ---------------------------------------------------------------------------

    def _pb(self, fn, *args, **kwargs):
        return fn(*args, physicsClientId=self._client, **kwargs)

    @property
    def client_id(self) -> int:
        """The PyBullet physics client id, for code that loads more bodies (station arms) into this world."""
        return self._client

    @property
    def pod_body_ids(self) -> np.ndarray:
        """int32[P]: PyBullet body id of each pod (a copy)."""
        return self._bodies.pods.copy()

    @property
    def unit_body_ids(self) -> np.ndarray:
        """int32[N]: PyBullet body id of each drive unit (a copy)."""
        return self._bodies.units.copy()

    @property
    def scenery_body_ids(self) -> list[int]:
        """Body ids of the floor, walls, floor markers and station furniture."""
        return list(self._bodies.scenery)

    def close(self) -> None:
        """Disconnect the client if this world opened it. Idempotent."""
        global _gui_client_id
        if self._client is None:
            return
        if self._owns_client and p.isConnected(physicsClientId=self._client):
            p.disconnect(physicsClientId=self._client)
        if _gui_client_id == self._client:
            _gui_client_id = None
        self._client = None

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # --- building ----------------------------------------------------------------------------------

    def _floor_size_xy(self) -> tuple[float, float]:
        rows, cols = self.spec.cell_codes.shape
        return cols * self.spec.cell_size_m, rows * self.spec.cell_size_m

    def _floor_centre_xy(self) -> tuple[float, float]:
        size_x, size_y = self._floor_size_xy()
        return size_x / 2, -size_y / 2

    def _box_visual(self, half_m, rgba, centre_m=(0.0, 0.0, 0.0)) -> int:
        return self._pb(
            p.createVisualShape, p.GEOM_BOX, halfExtents=half_m, rgbaColor=rgba, visualFramePosition=centre_m
        )

    def _mesh_visual(self, mesh: assets.Mesh, rgba) -> int:
        vertices, normals, indices = mesh
        return self._pb(
            p.createVisualShape,
            p.GEOM_MESH,
            vertices=vertices,
            normals=normals,
            indices=indices,
            rgbaColor=rgba,
        )

    def _box_collision(self, half_m, centre_m=(0.0, 0.0, 0.0)) -> int:
        return self._pb(
            p.createCollisionShape, p.GEOM_BOX, halfExtents=half_m, collisionFramePosition=centre_m
        )

    def _static_batch(self, positions_m: list, *, visual: int, collision: int = -1) -> list[int]:
        """Create one mass-0 body per position, in one batch call; returns body ids."""
        if not positions_m:
            return []
        ids = self._pb(
            p.createMultiBody,
            baseMass=0,
            baseCollisionShapeIndex=collision,
            baseVisualShapeIndex=visual,
            batchPositions=positions_m,
            useMaximalCoordinates=True,  # single-link static bodies: cheaper in maximal coordinates
        )
        ids = list(ids) if isinstance(ids, tuple | list) else [ids]
        self._bodies.scenery.extend(ids)
        return ids

    def _row_runs(self, code: int) -> dict[int, list[tuple[int, int]]]:
        """Horizontal runs of cells with `code`, grouped by run length: {length: [(row, first_col), ...]}.

        One box per run instead of per cell keeps thousands of storage and wall cells to a few hundred
        bodies, and runs of equal length share one shape so they batch-create together.
        """
        runs: dict[int, list[tuple[int, int]]] = {}
        mask = self.spec.cell_codes == code
        padded = np.zeros((mask.shape[0], mask.shape[1] + 2), dtype=np.int8)
        padded[:, 1:-1] = mask
        edges = np.diff(padded, axis=1)
        for row, start in zip(*np.nonzero(edges == 1), strict=True):
            stop = int(np.argmax(edges[row, start:] == -1)) + start
            runs.setdefault(stop - start, []).append((int(row), int(start)))
        return runs

    def _build_floor_and_walls(self) -> None:
        size_x, size_y = self._floor_size_xy()
        centre_x, centre_y = self._floor_centre_xy()
        # A plane collides for anything dropped by arms; the visual is a slab the size of the grid.
        floor_collision = self._pb(p.createCollisionShape, p.GEOM_PLANE)
        half_thick = assets.FLOOR_THICKNESS_M / 2
        floor_visual = self._box_visual(
            (size_x / 2 + 0.5, size_y / 2 + 0.5, half_thick), assets.RGBA_FLOOR, (0, 0, -half_thick)
        )
        floor = self._pb(
            p.createMultiBody,
            baseMass=0,
            baseCollisionShapeIndex=floor_collision,
            baseVisualShapeIndex=floor_visual,
            basePosition=(centre_x, centre_y, 0),
        )
        self._bodies.scenery.append(floor)

        cs = self.spec.cell_size_m
        half_h = assets.WALL_HEIGHT_M / 2
        for length, starts in self._row_runs(WALL).items():
            half = (length * cs / 2, cs / 2, half_h)
            ids = self._static_batch(
                [((c + length / 2) * cs, -(r + 0.5) * cs, half_h) for r, c in starts],
                visual=self._box_visual(half, assets.RGBA_WALL),
                collision=self._box_collision(half),
            )
            for body in ids:
                self._pb(p.setCollisionFilterGroupMask, body, -1, COLLISION_GROUP_SCENERY, _MASK_ALL)

    def _build_markers(self) -> None:
        """Thin coloured floor slabs (visual only) on storage homes, stations, docks, pads and parking."""
        cs = self.spec.cell_size_m
        half_z = assets.MARKER_THICKNESS_M / 2
        for code, rgba in assets.MARKER_RGBA.items():
            # Storage homes merge into runs; other markers stay per cell with a margin so each reads alone.
            inset_m = 0.04 * cs if code == STORAGE else 0.08 * cs
            runs = self._row_runs(code).items() if code == STORAGE else self._cell_runs(code)
            for length, starts in runs:
                half = (length * cs / 2 - inset_m, cs / 2 - inset_m, half_z)
                self._static_batch(
                    [((c + length / 2) * cs, -(r + 0.5) * cs, half_z) for r, c in starts],
                    visual=self._box_visual(half, rgba),
                )

    def _cell_runs(self, code: int) -> list[tuple[int, list[tuple[int, int]]]]:
        """Every cell with `code` as a run of length 1, shaped like `_row_runs(code).items()`."""
        cells = [tuple(rc) for rc in np.argwhere(self.spec.cell_codes == code).tolist()]
        return [(1, cells)] if cells else []

    def _outward(self, row: int, col: int) -> tuple[int, int]:
        """(d_row, d_col) from a cell towards the outside: off-grid first, then a wall, then nearest edge.

        Station operators and dock doors stand on that side, away from the traffic.
        """
        rows, cols = self.spec.cell_codes.shape
        sides = ((0, -1), (0, 1), (-1, 0), (1, 0))
        for dr, dc in sides:
            if not (0 <= row + dr < rows and 0 <= col + dc < cols):
                return dr, dc
        for dr, dc in sides:
            if self.spec.cell_codes[row + dr, col + dc] == WALL:
                return dr, dc
        distances = (col, cols - 1 - col, row, rows - 1 - row)
        return sides[int(np.argmin(distances))]

    def _build_station_furniture(self) -> None:
        """Operator table and operator at pick/stow stations; a door frame at docks; a charger at pads.

        Placed on the outward side of the cell, half inside the neighbouring (wall or off-grid) area.
        """
        cs = self.spec.cell_size_m
        codes = self.spec.cell_codes
        table_half = (0.25 * cs, 0.45 * cs, 0.45)
        operator_half = (0.12 * cs, 0.12 * cs, 0.85)
        post_half = (0.05 * cs, 0.05 * cs, 1.4)
        lintel_half_along = (0.05 * cs, 0.5 * cs, 0.08)
        charger_half = (0.08 * cs, 0.25 * cs, 0.25)

        def placements(cell_code: int, offset_cells: float, across_cells: float = 0.0):
            """Positions (x, y) by side, offset outwards by `offset_cells` and sideways by `across_cells`."""
            out: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
            for row, col in np.argwhere(codes == cell_code).tolist():
                dr, dc = self._outward(row, col)
                along_row = row + dr * offset_cells + dc * across_cells
                along_col = col + dc * offset_cells + dr * across_cells
                x, y = xy_from_cell(along_row, along_col, cs)
                out[dr == 0].append((x, y))  # True: outward along x (east/west side)
            return out

        def add(parts_half, z_half, rgba, cell_code, offset_cells, across_cells=0.0, collide=True):
            for along_x, xys in placements(cell_code, offset_cells, across_cells).items():
                hx, hy, hz = parts_half
                half = (hx, hy, hz) if along_x else (hy, hx, hz)
                ids = self._static_batch(
                    [(x, y, z_half) for x, y in xys],
                    visual=self._box_visual(half, rgba),
                    collision=self._box_collision(half) if collide else -1,
                )
                for body in ids if collide else ():
                    self._pb(p.setCollisionFilterGroupMask, body, -1, COLLISION_GROUP_SCENERY, _MASK_ALL)

        for code in (PICK, STOW):
            add(table_half, table_half[2], assets.RGBA_OPERATOR_TABLE, code, 0.75)
            add(operator_half, operator_half[2], assets.RGBA_OPERATOR, code, 1.25)
        for side in (-0.45, 0.45):
            add(post_half, post_half[2], assets.RGBA_DOOR, DOCK, 0.5, side)
        add(lintel_half_along, 2 * post_half[2], assets.RGBA_DOOR, DOCK, 0.5)
        add(charger_half, charger_half[2], assets.RGBA_CHARGE, CHARGE, 0.45, collide=False)

    def add_station_model(
        self, station_id: str, cell: Cell, unit_type: str, *, arms: int = 3, bodies: bool = True
    ) -> tuple[list[int], tuple[float, float, float]]:
        """Show a station unit (vulcan, bluejay, sequoia) beside its cell, outside the floor.

        Returns (body ids, origin): ``origin`` is the world point of the unit's cell frame (see
        `world_assets.station_model_parts`), placed 1.6 cells out past the operator so the model's
        footprint stays off the floor. ``bodies=False`` only places the frame (a physics cell is
        loaded there instead). A ``human`` station has its furniture already: no bodies.
        """
        row, col = cell
        cs = self.spec.cell_size_m
        x, y = xy_from_cell(row, col, cs)
        dr, dc = self._outward(row, col)
        x0, x1, y0, y1 = assets.STATION_SPANS_M.get(unit_type, (0.0, 0.0, 0.0, 0.0))
        ox = x + 1.6 * cs * dc - (x0 if dc > 0 else x1 if dc < 0 else 0.0)
        oy = y - 1.6 * cs * dr - (y0 if dr < 0 else y1 if dr > 0 else 0.0)  # rows grow southwards (-y)
        origin = (float(ox), float(oy), 0.0)
        ids: list[int] = []
        for half, centre, rgba in assets.station_model_parts(unit_type, arms=arms) if bodies else ():
            ids += self._static_batch(
                [tuple(np.add(origin, centre))], visual=self._box_visual(half, rgba), collision=-1
            )
        self.station_bodies[station_id] = ids
        return ids, origin

    def _build_pods(self) -> None:
        """All pods in one batch: a dark frame (base) and yellow bins (one fixed link, its own colour)."""
        spec = self.spec
        if not len(spec.pod_cells):
            return
        size_m = self._pod_size_in_cell()
        frame = assets.pod_frame_parts(size_m)
        bins = assets.pod_bins_parts(size_m)
        frame_visual = self._mesh_visual(assets.box_mesh(frame), assets.RGBA_POD_FRAME)
        bins_visual = self._mesh_visual(assets.box_mesh(bins), assets.RGBA_POD_BINS)
        # One collision box over the bin body only: a unit can drive between the legs.
        bin_height_m = size_m[2] - assets.POD_CLEARANCE_M
        collision = self._box_collision(
            (size_m[0] / 2, size_m[1] / 2, bin_height_m / 2),
            (0, 0, assets.POD_CLEARANCE_M + bin_height_m / 2),
        )
        x, y = xy_from_cell(spec.pod_cells[:, 0], spec.pod_cells[:, 1], spec.cell_size_m)
        positions = np.column_stack([x, y, np.zeros(len(x))]).tolist()
        ids = self._pb(
            p.createMultiBody,
            baseMass=0,
            baseCollisionShapeIndex=collision,
            baseVisualShapeIndex=frame_visual,
            batchPositions=positions,
            linkMasses=[0],
            linkCollisionShapeIndices=[-1],
            linkVisualShapeIndices=[bins_visual],
            linkPositions=[(0, 0, 0)],
            linkOrientations=[_IDENTITY_QUAT],
            linkInertialFramePositions=[(0, 0, 0)],
            linkInertialFrameOrientations=[_IDENTITY_QUAT],
            linkParentIndices=[0],
            linkJointTypes=[p.JOINT_FIXED],
            linkJointAxis=[(0, 0, 1)],
        )
        self._bodies.pods = np.array(ids, dtype=np.int32).reshape(-1)
        for body in self._bodies.pods.tolist():
            self._pb(p.setCollisionFilterGroupMask, body, -1, COLLISION_GROUP_POD, _MASK_MOVERS)

    def _pod_size_in_cell(self) -> tuple[float, float, float]:
        """Pod size, scaled down in x and y if the footprint would not fit a cell with a small margin."""
        length_m, width_m, height_m = self.spec.pod_size_m
        scale = min(1.0, 0.96 * self.spec.cell_size_m / max(length_m, width_m))
        return length_m * scale, width_m * scale, height_m

    def _unit_size_in_cell(self) -> tuple[float, float]:
        """Unit footprint (length, width), scaled down if it would not fit a cell with a small margin."""
        length_m, width_m = self.spec.unit_footprint_m
        scale = min(1.0, 0.9 * self.spec.cell_size_m / max(length_m, width_m))
        return length_m * scale, width_m * scale

    def _build_units(self) -> None:
        """All drive units in one batch: low orange single-link bodies with cut front corners.

        Single-link bodies in maximal coordinates teleport about 6x faster than a base plus a link, and
        teleporting units is the per-tick hot path, so the heading shows in the outline, not a second colour.
        """
        spec = self.spec
        if spec.n_units == 0:
            return
        length_m, width_m = self._unit_size_in_cell()
        # A little ground clearance keeps units out of the floor's broadphase pairs.
        clearance_m = 0.02
        half_h = (assets.UNIT_HEIGHT_M - clearance_m) / 2
        visual = self._mesh_visual(
            assets.prism_mesh(assets.unit_outline(length_m, width_m), clearance_m, assets.UNIT_HEIGHT_M),
            assets.RGBA_UNIT,
        )
        start_world = np.zeros((spec.n_units, 3))
        start_world[:, :2] = poses_from_cells(spec.unit_cells, spec.unit_headings, spec.cell_size_m)[:, :2]
        ids = self._pb(
            p.createMultiBody,
            baseMass=0,
            baseCollisionShapeIndex=self._box_collision(
                (length_m / 2, width_m / 2, half_h), (0, 0, clearance_m + half_h)
            ),
            baseVisualShapeIndex=visual,
            # At their start cells, not all at the origin: overlapping bodies fill the broadphase pair cache,
            # which makes every later per-body call (filters, teleports) slow.
            batchPositions=start_world.tolist(),
            useMaximalCoordinates=True,
        )
        self._bodies.units = np.array(ids, dtype=np.int32).reshape(-1)
        for body in self._bodies.units.tolist():
            self._pb(p.setCollisionFilterGroupMask, body, -1, COLLISION_GROUP_UNIT, _MASK_MOVERS)

    # --- moving units and pods ---------------------------------------------------------------------

    def set_unit_poses(self, pose_world: np.ndarray) -> int:
        """Teleport every unit to float[N, 3] (x_m, y_m, yaw_rad); carried pods ride along.

        Only units whose pose changed since the last call are moved (and their pods), so a mostly idle
        fleet costs little. A carried pod keeps yaw 0: the lift turntable counter-rotates, as on Kiva
        units, so a pod never sweeps into its neighbours.

        Returns:
            The number of units moved.

        Raises:
            ValueError: `pose_world` is not N x 3 or not finite.
        """
        pose_world = np.asarray(pose_world, dtype=np.float64)
        if pose_world.shape != self._unit_pose_world.shape:
            raise ValueError(
                f"pose_world must be float[{self.spec.n_units}, 3], got shape {pose_world.shape}"
            )
        if not np.isfinite(pose_world).all():
            raise ValueError("pose_world holds NaN or inf (a unit without telemetry?)")
        changed = np.flatnonzero(np.any(pose_world != self._unit_pose_world, axis=1) | self._body_stale)
        if not len(changed):
            return 0
        self._body_stale[changed] = False
        moved = pose_world[changed]
        quats = _quats_from_yaws(moved[:, 2]).tolist()
        bodies = self._bodies.units[changed].tolist()
        payloads = self._unit_payload[changed].tolist()
        pod_bodies = self._bodies.pods
        client = self._client
        reset = p.resetBasePositionAndOrientation  # bound once: this loop is the per-tick hot path
        for body, (x, y, _), quat, pod in zip(bodies, moved.tolist(), quats, payloads, strict=True):
            reset(body, (x, y, 0.0), quat, physicsClientId=client)
            if pod >= 0:
                reset(int(pod_bodies[pod]), (x, y, assets.POD_LIFT_M), _IDENTITY_QUAT, physicsClientId=client)
        self._unit_pose_world[changed] = moved
        return len(changed)

    def set_unit_cell(self, unit: int, cell: Cell, heading: int) -> None:
        """Teleport one unit (and its pod) to a cell centre; cheaper than `set_unit_poses` for one unit.

        Headless fast runs sync poses lazily and bring a unit up to date just before it lifts or sets
        down a pod, which happens thousands of times a shift.
        """
        unit = self._check_index("unit", unit, self.spec.n_units)
        x, y = xy_from_cell(int(cell[0]), int(cell[1]), self.spec.cell_size_m)
        x, y, yaw = float(x), float(y), float(yaw_from_heading(int(heading)))
        if (self._unit_pose_world[unit] == (x, y, yaw)).all() and not self._body_stale[unit]:
            return
        client = self._client
        quat = (0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2))  # as _quats_from_yaws
        p.resetBasePositionAndOrientation(
            int(self._bodies.units[unit]), (x, y, 0.0), quat, physicsClientId=client
        )
        pod = int(self._unit_payload[unit])
        if pod >= 0:
            p.resetBasePositionAndOrientation(
                int(self._bodies.pods[pod]), (x, y, assets.POD_LIFT_M), _IDENTITY_QUAT, physicsClientId=client
            )
        self._unit_pose_world[unit] = (x, y, yaw)
        self._body_stale[unit] = False

    def note_unit_cell(self, unit: int, cell: Cell, heading: int) -> None:
        """Record that a unit stands at a cell centre now, without moving its body yet.

        For headless fast runs, whose bodies are synced once a simulated minute: the lift and set-down
        checks, and a pod lifted from here, use the recorded pose at once; the unit's body (and a pod
        it carries) moves there at the next `set_unit_poses` / `set_units_from_cells`, and until then
        `unit_pose` (read from PyBullet) shows where it was. Teleporting the body at every lift and
        set-down (`set_unit_cell`) cost 13 us per call alone and ~90 us in an fc_small run (cold
        caches beside the dispatcher), over a thousand times a simulated hour, for poses nobody sees.
        """
        unit = self._check_index("unit", unit, self.spec.n_units)
        x, y = xy_from_cell(int(cell[0]), int(cell[1]), self.spec.cell_size_m)
        self._unit_pose_world[unit] = (float(x), float(y), float(yaw_from_heading(int(heading))))
        self._body_stale[unit] = True

    def set_units_from_cells(self, cells: np.ndarray, headings: np.ndarray) -> int:
        """Teleport units to int32[N, 2] (row, col) cell centres facing int8[N] headings."""
        return self.set_unit_poses(poses_from_cells(cells, headings, self.spec.cell_size_m))

    def place_units(self, units, cells, headings) -> int:
        """Teleport some units (indices int[K]) to cells int[K, 2] facing headings int[K]; the others stay.

        For units whose pose comes from elsewhere (an external unit's telemetry).
        """
        units = np.asarray(units, dtype=np.int64).reshape(-1)
        for k in units.tolist():
            self._check_index("unit", k, self.spec.n_units)
        pose_world = self._unit_pose_world.copy()
        pose_world[units] = poses_from_cells(
            np.asarray(cells, dtype=np.int32).reshape(-1, 2),
            np.asarray(headings, dtype=np.int8).reshape(-1),
            self.spec.cell_size_m,
        )
        return self.set_unit_poses(pose_world)

    def interpolate(
        self,
        prev_cells: np.ndarray,
        prev_headings: np.ndarray,
        next_cells: np.ndarray,
        next_headings: np.ndarray,
        frac: float,
    ) -> np.ndarray:
        """Display poses float64[N, 3] a fraction `frac` (0..1) of the way between two cell states.

        Pure: does not move any body. Yaw turns the short way.
        """
        cs = self.spec.cell_size_m
        return interpolate_poses(
            poses_from_cells(prev_cells, prev_headings, cs),
            poses_from_cells(next_cells, next_headings, cs),
            frac,
        )

    def _as_poses(self, state) -> np.ndarray:
        if isinstance(state, tuple):  # (cells int32[N, 2], headings int8[N])
            return poses_from_cells(state[0], state[1], self.spec.cell_size_m)
        return np.asarray(state, dtype=np.float64)

    def render_step(self, prev, next, duration_wall_s: float, *, fps: float = 30) -> None:  # noqa: A002
        """Show the units going from `prev` to `next`, each a (cells, headings) tuple or float[N, 3] poses.

        GUI: animates interpolated poses over `duration_wall_s` wall seconds at `fps`, paced on deadlines so
        frames do not drift (realtime with a speed-up: the caller passes ``step_s / speedup``). DIRECT: sets
        the final poses at once.
        """
        pose_next = self._as_poses(next)
        if not self.gui or duration_wall_s <= 0:
            self.set_unit_poses(pose_next)
            return
        pose_prev = self._as_poses(prev)
        n_frames = max(1, round(duration_wall_s * fps))
        start_s = time.perf_counter()
        for k in range(1, n_frames + 1):
            self.set_unit_poses(interpolate_poses(pose_prev, pose_next, k / n_frames))
            delay_s = start_s + k * duration_wall_s / n_frames - time.perf_counter()
            if delay_s > 0:
                time.sleep(delay_s)

    def _check_index(self, kind: str, index: int, count: int) -> int:
        if not 0 <= index < count:
            raise ValueError(f"{kind} {index} does not exist (0..{count - 1})")
        return int(index)

    def _check_at(self, unit: int, row: int, col: int, what: str) -> None:
        """A unit must stand on (within half a cell of) the cell where it lifts or sets down a pod."""
        x, y = xy_from_cell(row, col, self.spec.cell_size_m)
        ux, uy, _ = self._unit_pose_world[unit]
        if not math.hypot(ux - x, uy - y) <= 0.5 * self.spec.cell_size_m:
            raise ValueError(f"unit {unit} at ({ux:.2f}, {uy:.2f}) m is not on {what} at cell ({row}, {col})")

    def lift_pod(self, unit: int, pod: int) -> None:
        """Unit `unit` lifts pod `pod` from its storage cell; the pod then rides on the unit.

        Raises:
            ValueError: the unit already carries a pod, the pod is carried, or the unit is not under it.
        """
        unit = self._check_index("unit", unit, self.spec.n_units)
        pod = self._check_index("pod", pod, len(self._pod_carrier))
        if self._unit_payload[unit] >= 0:
            raise ValueError(f"unit {unit} already carries pod {self._unit_payload[unit]}")
        if self._pod_carrier[pod] >= 0:
            raise ValueError(f"pod {pod} is already carried by unit {self._pod_carrier[pod]}")
        row, col = self._pod_cell[pod].tolist()
        self._check_at(unit, row, col, f"pod {pod}")
        self._resting_pod[row, col] = -1
        self._pod_cell[pod] = (-1, -1)
        self._pod_carrier[pod] = unit
        self._unit_payload[unit] = pod
        x, y, _ = self._unit_pose_world[unit].tolist()
        self._pb(
            p.resetBasePositionAndOrientation,
            int(self._bodies.pods[pod]),
            (x, y, assets.POD_LIFT_M),
            _IDENTITY_QUAT,
        )

    def set_down_pod(self, unit: int, cell: Cell) -> int:
        """Unit `unit` sets its pod down on storage cell `cell` (row, col), where it stays.

        Returns:
            The pod id.

        Raises:
            ValueError: the unit carries no pod, the cell is not a free STORAGE cell, or the unit is not
                on it.
        """
        unit = self._check_index("unit", unit, self.spec.n_units)
        pod = int(self._unit_payload[unit])
        if pod < 0:
            raise ValueError(f"unit {unit} carries no pod")
        row, col = int(cell[0]), int(cell[1])
        rows, cols = self.spec.cell_codes.shape
        if not (0 <= row < rows and 0 <= col < cols) or self.spec.cell_codes[row, col] != STORAGE:
            raise ValueError(f"cell ({row}, {col}) is not a storage cell")
        if self._resting_pod[row, col] >= 0:
            raise ValueError(f"storage cell ({row}, {col}) already holds pod {self._resting_pod[row, col]}")
        self._check_at(unit, row, col, "the storage cell")
        self._unit_payload[unit] = -1
        self._pod_carrier[pod] = -1
        self._pod_cell[pod] = (row, col)
        self._resting_pod[row, col] = pod
        x, y = xy_from_cell(row, col, self.spec.cell_size_m)
        self._pb(p.resetBasePositionAndOrientation, int(self._bodies.pods[pod]), (x, y, 0.0), _IDENTITY_QUAT)
        return pod

    # --- queries -----------------------------------------------------------------------------------

    def pod_position(self, pod: int) -> tuple[float, float, float]:
        """World (x_m, y_m, z_m) of a pod's footprint centre, read from PyBullet (z = 0 resting)."""
        pod = self._check_index("pod", pod, len(self._pod_carrier))
        return tuple(self._pb(p.getBasePositionAndOrientation, int(self._bodies.pods[pod]))[0])

    def unit_pose(self, unit: int) -> tuple[float, float, float]:
        """World (x_m, y_m, yaw_rad) of a unit, read from PyBullet."""
        unit = self._check_index("unit", unit, self.spec.n_units)
        position, quat = self._pb(p.getBasePositionAndOrientation, int(self._bodies.units[unit]))
        return position[0], position[1], p.getEulerFromQuaternion(quat)[2]

    def unit_poses_world(self) -> np.ndarray:
        """float64[N, 3]: the (x_m, y_m, yaw_rad) of every unit as last set (a copy; no PyBullet call)."""
        return self._unit_pose_world.copy()

    def pod_carrier(self, pod: int) -> int:
        """The unit carrying `pod`, or -1 if it rests on a storage cell."""
        return int(self._pod_carrier[self._check_index("pod", pod, len(self._pod_carrier))])

    @property
    def pod_cells(self) -> np.ndarray:
        """int32[P, 2]: resting (row, col) of each pod, (-1, -1) while carried (a copy)."""
        return self._pod_cell.copy()

    # --- appearance --------------------------------------------------------------------------------

    def set_unit_color(self, unit: int, rgba: tuple[float, float, float, float]) -> None:
        """Recolour a unit's body, e.g. `world_assets.RGBA_UNIT_FAILED` or `RGBA_UNIT_EXTERNAL`."""
        unit = self._check_index("unit", unit, self.spec.n_units)
        self._pb(p.changeVisualShape, int(self._bodies.units[unit]), -1, rgbaColor=tuple(rgba))

    def add_label(self, text: str, position_world: tuple[float, float, float], *, rgb=(0, 0, 0)) -> int:
        """A text label in the GUI (debug text); returns its id, or -1 in DIRECT mode (nothing to show)."""
        if not self.gui:
            return -1
        return self._pb(p.addUserDebugText, text, position_world, textColorRGB=rgb, textSize=1.2)

    def _camera(
        self, width: int, height: int, focus_cell: Cell | None, radius_cells: float
    ) -> tuple[list[float], list[float]]:
        """View and projection matrices of a camera south of a region, looking north and down over it.

        The region is the whole floor, or the square of `radius_cells` around `focus_cell`. Distance and
        aim are fitted so the corners of the region's bounding box (up to pod height) all land inside the
        image, with the region centred vertically.
        """
        cs = self.spec.cell_size_m
        if focus_cell is None:
            margin_m = 1.5
            size_x, size_y = self._floor_size_xy()
            x0, x1, y0, y1 = -margin_m, size_x + margin_m, -size_y - margin_m, margin_m
        else:
            cx, cy = xy_from_cell(focus_cell[0], focus_cell[1], cs)
            r_m = radius_cells * cs
            x0, x1, y0, y1 = cx - r_m, cx + r_m, cy - r_m, cy + r_m
        centre_x = (x0 + x1) / 2
        fov_v_deg, elevation = 40.0, math.radians(62 if focus_cell is None else 80)
        aspect = width / height
        corners = np.array(
            [(x, y, z, 1.0) for x in (x0, x1) for y in (y0, y1) for z in (0.0, self.spec.pod_size_m[2])]
        )
        projection: list[float] = []

        def corners_ndc(target_y: float, distance_m: float) -> tuple[list[float], np.ndarray]:
            nonlocal projection
            eye = (centre_x, target_y - distance_m * math.cos(elevation), distance_m * math.sin(elevation))
            view = p.computeViewMatrix(
                eye, (centre_x, target_y, 0.0), (0, 0, 1), physicsClientId=self._client
            )
            projection = p.computeProjectionMatrixFOV(
                fov_v_deg, aspect, 0.05 * distance_m, 4 * distance_m, physicsClientId=self._client
            )
            # PyBullet matrices are column-major 4x4 lists.
            clip = corners @ np.array(view).reshape(4, 4) @ np.array(projection).reshape(4, 4)
            return view, clip[:, :2] / clip[:, 3:4]

        target_y = (y0 + y1) / 2
        for _ in range(3):  # fit the distance, then re-aim at the middle of what is seen; converges fast
            near_m, far_m = 1.0, 20.0 * max(x1 - x0, y1 - y0) + 10.0
            for _ in range(40):
                distance_m = (near_m + far_m) / 2
                _, ndc = corners_ndc(target_y, distance_m)
                if np.abs(ndc).max() <= 0.97:
                    far_m = distance_m
                else:
                    near_m = distance_m
            _, ndc = corners_ndc(target_y, far_m)
            mid_ndc_y = (ndc[:, 1].max() + ndc[:, 1].min()) / 2
            target_y += mid_ndc_y / max(1e-9, ndc[:, 1].max() - ndc[:, 1].min()) * (y1 - y0)
        view, _ = corners_ndc(target_y, far_m)
        return view, projection

    def snapshot_rgb(
        self, *, width: int = 960, height: int = 540, focus_cell: Cell | None = None, radius_cells: float = 5
    ) -> np.ndarray:
        """uint8[height, width, 3] TinyRenderer image (works in DIRECT mode).

        Shows the whole floor from the south, or a close-up of the cells within `radius_cells` of
        `focus_cell` (row, col).
        """
        view, projection = self._camera(width, height, focus_cell, radius_cells)
        _, _, rgba, _, _ = self._pb(
            p.getCameraImage,
            width,
            height,
            view,
            projection,
            renderer=p.ER_TINY_RENDERER,
            shadow=0,
            lightDirection=(-0.4, -0.6, 1.0),
        )
        return np.asarray(rgba, dtype=np.uint8).reshape(height, width, 4)[:, :, :3]

    def snapshot_png(
        self,
        path: str | Path,
        *,
        width: int = 960,
        height: int = 540,
        focus_cell: Cell | None = None,
        radius_cells: float = 5,
    ) -> Path:
        """Write a PNG of the floor or a close-up (see `snapshot_rgb`); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        rgb = self.snapshot_rgb(width=width, height=height, focus_cell=focus_cell, radius_cells=radius_cells)
        path.write_bytes(_png_bytes(rgb))
        return path


def _png_bytes(rgb: np.ndarray) -> bytes:
    """Encode uint8[H, W, 3] as an 8-bit RGB PNG (no imaging library needed)."""
    height, width, _ = rgb.shape
    raw = b"".join(b"\x00" + row.tobytes() for row in np.ascontiguousarray(rgb, dtype=np.uint8))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def _main(argv: list[str] | None = None) -> int:
    """Write a snapshot of a synthetic layout and print build and teleport timings (docs and benchmarks)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m sim.world", description=_main.__doc__)
    parser.add_argument("--rows", type=int, default=40)
    parser.add_argument("--cols", type=int, default=60)
    parser.add_argument("--pods", type=int, default=300)
    parser.add_argument("--units", type=int, default=30)
    parser.add_argument("--cell-size-m", type=float, default=1.0)
    parser.add_argument("--png", help="write an overview snapshot here")
    parser.add_argument("--close-up-png", help="write a close-up of the first carried pod here")
    args = parser.parse_args(argv)

    codes, pod_cells, unit_cells, unit_headings = assets.synthetic_layout(
        rows=args.rows, cols=args.cols, n_pods=args.pods, n_units=args.units
    )
    spec = WorldSpec(
        cell_size_m=args.cell_size_m,
        cell_codes=codes,
        pod_cells=pod_cells,
        n_units=args.units,
        unit_cells=unit_cells,
        unit_headings=unit_headings,
    )
    start_s = time.perf_counter()
    with World(spec) as world:
        build_s = time.perf_counter() - start_s
        n_bodies = p.getNumBodies(physicsClientId=world.client_id)
        # A few units lift pods so the teleport timing includes carried pods.
        n_carriers = min(args.units, args.pods, 5)
        cells = unit_cells.copy()
        cells[:n_carriers] = pod_cells[:n_carriers]
        world.set_units_from_cells(cells, unit_headings)
        for unit in range(n_carriers):
            world.lift_pod(unit, unit)
        rng = np.random.default_rng(1)
        pose_world = world._unit_pose_world.copy()
        n_ticks = 50
        start_s = time.perf_counter()
        for _ in range(n_ticks):
            pose_world[:, :2] += rng.uniform(-0.05, 0.05, size=(args.units, 2))
            world.set_unit_poses(pose_world)
        teleport_s = (time.perf_counter() - start_s) / n_ticks
        start_s = time.perf_counter()
        world.set_unit_poses(pose_world)
        idle_s = time.perf_counter() - start_s
        print(
            f"{args.pods} pods, {args.units} units, {args.rows}x{args.cols} cells: {n_bodies} bodies, "
            f"build {build_s:.2f} s, teleport all units {teleport_s * 1e3:.2f} ms, "
            f"unchanged {idle_s * 1e3:.3f} ms"
        )
        if args.png:
            start_s = time.perf_counter()
            world.snapshot_png(args.png)
            print(f"wrote {args.png} in {time.perf_counter() - start_s:.2f} s")
        if args.close_up_png and n_carriers >= 1 and args.units >= n_carriers + 2:
            # Unit 0 carries pod 0 into the nearest aisle; a failed and an external unit (not carrying)
            # stand beside it.
            home = pod_cells[0]
            aisle = np.argwhere(codes == AISLE)
            aisle = aisle[np.argsort(np.abs(aisle - home).sum(axis=1), kind="stable")][:3]
            failed, external = n_carriers, n_carriers + 1
            cells[[0, failed, external]] = aisle
            headings = unit_headings.copy()
            headings[[0, failed, external]] = (0, 1, 3)
            world.set_units_from_cells(cells, headings)
            world.set_unit_color(failed, assets.RGBA_UNIT_FAILED)
            world.set_unit_color(external, assets.RGBA_UNIT_EXTERNAL)
            world.snapshot_png(args.close_up_png, focus_cell=tuple(aisle[0]), radius_cells=4)
            print(f"wrote {args.close_up_png}")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
