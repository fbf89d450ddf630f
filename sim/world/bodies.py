"""Building the world's bodies: floor, walls, floor markers, station furniture and models, pods, units.

Every body is static (mass 0) and created in batches (`createMultiBody(batchPositions=...)`, ~10x faster
than a loop, FIELD_NOTES.md). The order of creation fixes the body ids, so it must not change.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pybullet as p

from fctwin.sim.world import assets
from fctwin.sim.world.assets import CHARGE, DOCK, PICK, STORAGE, STOW, WALL
from fctwin.sim.world.frames import IDENTITY_QUAT, Cell, poses_from_cells, xy_from_cell
from fctwin.sim.world.spec import WorldSpec, floor_centre_xy, floor_size_xy

# Collision filter groups for other code sharing the client (arms, items). Bits 1-32 are Bullet's own
# groups (bit 2 = static), so ours start at 64. Pods and units ignore scenery and each other; anything in
# Bullet's default group (an arm, an item) still collides with all of them.
COLLISION_GROUP_SCENERY = 64
COLLISION_GROUP_POD = 128
COLLISION_GROUP_UNIT = 256
_MASK_ALL = 0xFFFF
_MASK_MOVERS = _MASK_ALL & ~(COLLISION_GROUP_SCENERY | COLLISION_GROUP_POD | COLLISION_GROUP_UNIT)
MARKERS_PER_MESH = 1024  # floor marker slabs per mesh body (24 vertices each: well inside PyBullet's limits)


@dataclass
class Bodies:
    """PyBullet body ids by role (int32 arrays index by pod / unit id)."""

    pods: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int32))
    units: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int32))
    scenery: list[int] = field(default_factory=list)


class BodyBuilder:
    """Creates the bodies of `spec` in PyBullet client `client`, recording their ids in `bodies`."""

    def __init__(self, spec: WorldSpec, client: int) -> None:
        self.spec = spec
        self._client = client
        self.bodies = Bodies()
        self._pod_shape_ids: tuple[int, int, int] | None = None

    def _pb(self, fn, *args, **kwargs):
        return fn(*args, physicsClientId=self._client, **kwargs)

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
        self.bodies.scenery.extend(ids)
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

    def build_floor_and_walls(self) -> None:
        size_x, size_y = floor_size_xy(self.spec)
        centre_x, centre_y = floor_centre_xy(self.spec)
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
        self.bodies.scenery.append(floor)

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

    def build_markers(self) -> None:
        """Thin coloured floor slabs (visual only) on storage homes, stations, docks, pads and parking."""
        cs = self.spec.cell_size_m
        half_z = assets.MARKER_THICKNESS_M / 2
        for code, rgba in assets.MARKER_RGBA.items():
            # Storage homes merge into runs; other markers stay per cell with a margin so each reads alone.
            inset_m = 0.04 * cs if code == STORAGE else 0.08 * cs
            runs = self._row_runs(code).items() if code == STORAGE else self._cell_runs(code)
            parts = [
                (
                    (length * cs / 2 - inset_m, cs / 2 - inset_m, half_z),
                    ((c + length / 2) * cs, -(r + 0.5) * cs, half_z),
                )
                for length, starts in runs
                for r, c in starts
            ]
            # Markers never move: a few mesh bodies of up to MARKERS_PER_MESH slabs each instead of one
            # body per slab. A 2,000-unit floor has ~5,000 storage runs, and PyBullet's body
            # creation and syncBodyInfo grow faster than linearly in bodies (seconds at that size).
            for k in range(0, len(parts), MARKERS_PER_MESH):
                visual = self._mesh_visual(assets.box_mesh(parts[k : k + MARKERS_PER_MESH]), rgba)
                self._static_batch([(0.0, 0.0, 0.0)], visual=visual)

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

    def build_station_furniture(self) -> None:
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
        `assets.station_model_parts`), placed 1.6 cells out past the operator so the model's
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
        return ids, origin

    def build_pods(self) -> None:
        """All pods in one batch: a dark frame (base) and yellow bins (one fixed link, its own colour)."""
        spec = self.spec
        if not len(spec.pod_cells):
            return
        self.bodies.pods = self.create_pods(spec.pod_cells)

    def create_pods(self, cells: np.ndarray) -> np.ndarray:
        """Pod bodies resting on int[K, 2] cells, in one batch; returns their int32[K] body ids.

        `build_pods` makes every pod at once; a world with lazy pods makes each when it first moves.
        """
        cells = np.asarray(cells).reshape(-1, 2)
        if not len(cells):
            return np.empty(0, dtype=np.int32)
        collision, frame_visual, bins_visual = self._pod_shapes()
        x, y = xy_from_cell(cells[:, 0], cells[:, 1], self.spec.cell_size_m)
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
            linkOrientations=[IDENTITY_QUAT],
            linkInertialFramePositions=[(0, 0, 0)],
            linkInertialFrameOrientations=[IDENTITY_QUAT],
            linkParentIndices=[0],
            linkJointTypes=[p.JOINT_FIXED],
            linkJointAxis=[(0, 0, 1)],
        )
        ids = np.array(ids, dtype=np.int32).reshape(-1)
        for body in ids.tolist():
            self._pb(p.setCollisionFilterGroupMask, body, -1, COLLISION_GROUP_POD, _MASK_MOVERS)
        return ids

    def _pod_shapes(self) -> tuple[int, int, int]:
        """(collision, frame visual, bins visual) shape ids shared by every pod, made once."""
        if self._pod_shape_ids is None:
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
            self._pod_shape_ids = (collision, frame_visual, bins_visual)
        return self._pod_shape_ids

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

    def build_units(self) -> None:
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
        self.bodies.units = np.array(ids, dtype=np.int32).reshape(-1)
        for body in self.bodies.units.tolist():
            self._pb(p.setCollisionFilterGroupMask, body, -1, COLLISION_GROUP_UNIT, _MASK_MOVERS)
