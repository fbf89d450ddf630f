"""Geometry, colours and a synthetic demo layout for the PyBullet world (`fctwin.sim.world`).

Everything here is plain data or a pure function: `bodies.py` turns it into bodies. Bodies are made
of boxes only, because a 10k-triangle mesh per pod (``kiva_shelf``) is far too heavy for thousands of pods
and TinyRenderer snapshots. A PyBullet link carries one colour for all its visual shapes (the
``shapeIndex`` argument of ``changeVisualShape`` is ignored by TinyRenderer), so bodies that need two
colours are a base plus one fixed link.

Frames: a body's origin is the centre of its footprint at floor level (z = 0 on the floor), so a body's
``z`` is directly its height above the floor (a lifted pod reports ``z == POD_LIFT_M``).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "AISLE",
    "CHARGE",
    "DOCK",
    "PARK",
    "PICK",
    "STORAGE",
    "STOW",
    "WALL",
    "BoxPart",
    "Mesh",
    "box_mesh",
    "prism_mesh",
    "unit_outline",
    "pod_frame_parts",
    "pod_bins_parts",
    "synthetic_layout",
]

# Cell codes (uint8), the same values as `fctwin.sim.scene.layout.CellCode` (the scene layer owns
# the enum; these constants keep the world importable without the scene schema).
AISLE = 0
WALL = 1
STORAGE = 2
PICK = 3
STOW = 4
DOCK = 5
CHARGE = 6
PARK = 7

# Heights (m). A drive unit slides under a resting pod: UNIT_HEIGHT_M < POD_CLEARANCE_M, and a lifted pod
# (raised by POD_LIFT_M) sits on the unit's lift plate.
POD_CLEARANCE_M = 0.35  # underside of the pod's bin body above the floor
POD_LIFT_M = 0.05  # a carried pod rides this much above its resting height
UNIT_HEIGHT_M = 0.33
WALL_HEIGHT_M = 1.2
MARKER_THICKNESS_M = 0.01  # floor slabs (storage homes, stations, docks, pads); thin enough to drive over
FLOOR_THICKNESS_M = 0.05

# Colours (RGBA). Pods are the yellow fabric bins of Amazon pods; drive units are orange so they stand out
# from pods from above; failed units turn red, external (hardware) units blue.
RGBA_FLOOR = (0.78, 0.78, 0.76, 1.0)
RGBA_STORAGE_HOME = (0.62, 0.64, 0.68, 1.0)
RGBA_WALL = (0.42, 0.42, 0.45, 1.0)
RGBA_POD_FRAME = (0.22, 0.22, 0.25, 1.0)
RGBA_POD_BINS = (0.98, 0.80, 0.15, 1.0)
RGBA_UNIT = (0.95, 0.42, 0.05, 1.0)
RGBA_UNIT_FRONT = (0.10, 0.10, 0.10, 1.0)
RGBA_UNIT_FAILED = (0.85, 0.05, 0.05, 1.0)
RGBA_UNIT_EXTERNAL = (0.10, 0.35, 0.95, 1.0)
# GUI: drive units coloured by what they report (the browser console uses the same hues).
RGBA_UNIT_STATE = {
    "idle": (0.59, 0.59, 0.59, 1.0),
    "to pod": (0.16, 0.47, 0.90, 1.0),
    "carrying": RGBA_UNIT,
    "at station": (0.12, 0.67, 0.24, 1.0),
    "charging": (0.90, 0.82, 0.12, 1.0),
    "failed": RGBA_UNIT_FAILED,
    "external": (0.67, 0.24, 0.78, 1.0),
}
RGBA_PICK = (0.15, 0.70, 0.25, 1.0)
RGBA_STOW = (0.55, 0.25, 0.75, 1.0)
RGBA_DOCK = (0.55, 0.38, 0.22, 1.0)
RGBA_DOOR = (0.30, 0.30, 0.32, 1.0)
RGBA_CHARGE = (0.10, 0.75, 0.80, 1.0)
RGBA_PARK = (0.50, 0.58, 0.70, 1.0)
RGBA_OPERATOR_TABLE = (0.85, 0.85, 0.88, 1.0)
RGBA_OPERATOR = (0.20, 0.30, 0.55, 1.0)

MARKER_RGBA: dict[int, tuple[float, float, float, float]] = {
    STORAGE: RGBA_STORAGE_HOME,
    PICK: RGBA_PICK,
    STOW: RGBA_STOW,
    DOCK: RGBA_DOCK,
    CHARGE: RGBA_CHARGE,
    PARK: RGBA_PARK,
}


# (half_extents_m, centre_in_body_frame_m): one box of a compound shape.
BoxPart = tuple[tuple[float, float, float], tuple[float, float, float]]


# (vertices_m [V][3], normals [V][3], triangle indices [3T]) as createVisualShape(GEOM_MESH) takes them.
Mesh = tuple[list[list[float]], list[list[float]], list[int]]


def box_mesh(parts: list[BoxPart]) -> Mesh:
    """One triangle mesh of several boxes, with flat per-face normals and outward (CCW) winding.

    A mesh visual takes a colour at creation, unlike a visual-shape array; colouring thousands of bodies
    afterwards with changeVisualShape costs O(bodies) per call in TinyRenderer, so O(bodies^2) in total.
    """
    vertices: list[list[float]] = []
    normals: list[list[float]] = []
    indices: list[int] = []
    for half, centre in parts:
        for axis in range(3):
            u, v = (axis + 1) % 3, (axis + 2) % 3  # u x v = +axis, so this corner order is CCW from +axis
            for sign in (-1.0, 1.0):
                normal = [0.0, 0.0, 0.0]
                normal[axis] = sign
                first = len(vertices)
                for su, sv in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
                    corner = list(centre)
                    corner[axis] += sign * half[axis]
                    corner[u] += su * half[u]
                    corner[v] += sv * half[v]
                    vertices.append(corner)
                    normals.append(normal)
                order = (0, 1, 2, 0, 2, 3) if sign > 0 else (0, 2, 1, 0, 3, 2)
                indices.extend(first + k for k in order)
    return vertices, normals, indices


def prism_mesh(outline_xy: list[tuple[float, float]], z_bottom_m: float, z_top_m: float) -> Mesh:
    """A vertical prism over a convex outline (counter-clockwise from above), with flat normals."""
    vertices: list[list[float]] = []
    normals: list[list[float]] = []
    indices: list[int] = []
    n = len(outline_xy)
    for z, normal_z in ((z_top_m, 1.0), (z_bottom_m, -1.0)):
        first = len(vertices)
        vertices.extend([x, y, z] for x, y in outline_xy)
        normals.extend([0.0, 0.0, normal_z] for _ in outline_xy)
        for k in range(1, n - 1):  # a fan: fine for convex outlines
            indices.extend(
                (first, first + k, first + k + 1) if normal_z > 0 else (first, first + k + 1, first + k)
            )
    for k in range(n):
        (x0, y0), (x1, y1) = outline_xy[k], outline_xy[(k + 1) % n]
        length = float(np.hypot(x1 - x0, y1 - y0))
        normal = [(y1 - y0) / length, -(x1 - x0) / length, 0.0]  # right of a CCW edge is outside
        first = len(vertices)
        vertices.extend([[x0, y0, z_bottom_m], [x1, y1, z_bottom_m], [x1, y1, z_top_m], [x0, y0, z_top_m]])
        normals.extend([normal] * 4)
        indices.extend(first + k for k in (0, 1, 2, 0, 2, 3))
    return vertices, normals, indices


def unit_outline(length_m: float, width_m: float) -> list[tuple[float, float]]:
    """Footprint of a drive unit, front (+x) corners cut so the heading reads from above (CCW, centred)."""
    hx, hy = length_m / 2, width_m / 2
    cut_m = 0.35 * hy
    return [(-hx, -hy), (hx - cut_m, -hy), (hx, -hy + cut_m), (hx, hy - cut_m), (hx - cut_m, hy), (-hx, hy)]


def pod_frame_parts(size_m: tuple[float, float, float]) -> list[BoxPart]:
    """Boxes of a pod's dark steel frame: four corner posts (legs up to the top) and a base plate.

    `size_m` is (length x, width y, height z) of the whole pod. There is no top plate, so from above a pod
    reads as yellow bins in a dark outline.
    """
    length_m, width_m, height_m = size_m
    hx, hy = length_m / 2, width_m / 2
    post_half_m = min(0.035, 0.08 * min(hx, hy))
    posts = [
        (
            (post_half_m, post_half_m, height_m / 2),
            (sx * (hx - post_half_m), sy * (hy - post_half_m), height_m / 2),
        )
        for sx in (-1, 1)
        for sy in (-1, 1)
    ]
    plate_half_z = 0.015
    plate = ((hx, hy, plate_half_z), (0.0, 0.0, POD_CLEARANCE_M + plate_half_z))
    return [*posts, plate]


def pod_bins_parts(size_m: tuple[float, float, float], *, n_shelves: int = 4) -> list[BoxPart]:
    """Boxes of a pod's fabric bins: `n_shelves` stacked layers with small gaps, so shelves read in renders.

    The bins are inset slightly inside the corner posts and fill the height from the base plate to the top.
    """
    length_m, width_m, height_m = size_m
    inset_m = 0.02
    bottom_m = POD_CLEARANCE_M + 0.03
    top_m = height_m
    gap_m = 0.03
    layer_m = (top_m - bottom_m - gap_m * (n_shelves - 1)) / n_shelves
    half = (length_m / 2 - inset_m, width_m / 2 - inset_m, layer_m / 2)
    return [(half, (0.0, 0.0, bottom_m + k * (layer_m + gap_m) + layer_m / 2)) for k in range(n_shelves)]


def synthetic_layout(
    *, rows: int, cols: int, n_pods: int, n_units: int, seed: int = 0, fill: float = 0.9
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A warehouse-like grid for tests, docs and benchmarks (not a scene file).

    Walls ring the floor; pick stations sit on the west edge, stow stations on the east edge, docks on the
    south edge, charging pads and parking along the north wall. Storage is 2 x 5 blocks of cells with
    one-cell aisles, taken from the centre outwards until they hold ``n_pods / fill`` cells; pods occupy
    a seeded random subset of them. Units start on distinct free aisle/park/charge cells.

    Returns:
        (cell_codes uint8[rows, cols], pod_cells int32[P, 2], unit_cells int32[N, 2], unit_headings int8[N]),
        with ``P == n_pods`` and ``N == n_units``.

    Raises:
        ValueError: the grid is too small to hold the pods or the units.
    """
    rng = np.random.default_rng(seed)
    codes = np.full((rows, cols), AISLE, dtype=np.uint8)
    codes[0, :] = WALL
    codes[-1, :] = WALL
    codes[:, 0] = WALL
    codes[:, -1] = WALL
    # Stations and docks replace edge wall cells: the operator or door stands just outside the grid.
    codes[3 : rows - 3 : 6, 0] = PICK
    codes[3 : rows - 3 : 6, -1] = STOW
    codes[-1, 4 : cols - 4 : 10] = DOCK
    codes[1, 3 : cols - 3 : 3] = CHARGE
    codes[1, 4 : cols - 3 : 3] = PARK

    # Storage blocks of 2 rows x 5 cols with one aisle row/col between, inside a 3-cell margin of aisle.
    block_rows, block_cols = 2, 5
    first_row, first_col = 4, 4
    blocks = [
        (r, c)
        for r in range(first_row, rows - 4 - block_rows + 1, block_rows + 1)
        for c in range(first_col, cols - 4 - block_cols + 1, block_cols + 1)
    ]
    centre = np.array([(rows - 1) / 2, (cols - 1) / 2])
    blocks.sort(key=lambda rc: float(np.hypot(*(np.array(rc) + [0.5, 2.0] - centre))))
    cells_wanted = int(np.ceil(n_pods / fill))
    storage: list[tuple[int, int]] = []
    for r, c in blocks:
        if len(storage) >= cells_wanted:
            break
        storage.extend((r + dr, c + dc) for dr in range(block_rows) for dc in range(block_cols))
    if len(storage) < n_pods:
        raise ValueError(
            f"a {rows} x {cols} grid holds {len(storage)} storage cells, fewer than {n_pods} pods"
        )
    storage_rc = np.array(storage, dtype=np.int32).reshape(-1, 2)
    codes[storage_rc[:, 0], storage_rc[:, 1]] = STORAGE
    pod_cells = storage_rc[np.sort(rng.choice(len(storage_rc), size=n_pods, replace=False))]

    free = np.argwhere(np.isin(codes, (AISLE, PARK, CHARGE))).astype(np.int32)
    if len(free) < n_units:
        raise ValueError(f"a {rows} x {cols} grid has {len(free)} free cells, fewer than {n_units} units")
    unit_cells = free[rng.choice(len(free), size=n_units, replace=False)]
    unit_headings = rng.integers(0, 4, size=n_units).astype(np.int8)
    return codes, pod_cells.astype(np.int32), unit_cells.astype(np.int32), unit_headings


# --- station units (robots/) as the world shows them ------------------------------------------------
# Each station type's model lives in its own cell frame (metres, z up, the frame robots/physics builds
# its cell in): footprint spans (x0, x1, y0, y1) and boxes (half extents, centre, rgba). The world puts
# the frame beside the station, outside the floor, and draws these boxes; in physics mode with a GUI
# the real cell (arms, pod face, gantry) is loaded there instead and moves.
RGBA_ARM = (0.95, 0.55, 0.10, 1.0)
RGBA_ARM_BASE = (0.30, 0.30, 0.35, 1.0)
RGBA_FABRIC = (0.25, 0.35, 0.55, 1.0)
RGBA_TOTE = (0.20, 0.40, 0.80, 1.0)
RGBA_CELL_TABLE = (0.55, 0.50, 0.45, 1.0)

STATION_SPANS_M = {
    "vulcan": (-0.45, 1.0, -0.40, 0.40),
    "bluejay": (-1.1, 1.1, -1.1, 1.1),
    "sequoia": (-0.35, 5.9, -0.25, 0.80),
}


def station_model_parts(unit_type: str, *, arms: int = 3) -> list[tuple[tuple, tuple, tuple]]:
    """Boxes ``(half_m, centre_m, rgba)`` of a station type's static model in its cell frame.

    Empty for ``human`` (the operator table and operator are station furniture). Shapes follow the
    physics cells: Vulcan's arm on a pedestal facing a fabric pod face at x = 0.72 m; Blue Jay's table
    with ``arms`` arms round it (arm k at k x 90 deg, radius 0.65 m); Sequoia's 8 x 5 tote rack with
    the gantry's port stand at x = 0.
    """
    if unit_type == "vulcan":
        return [
            ((0.30, 0.15, 0.30), (-0.10, 0.0, 0.30), RGBA_ARM_BASE),  # rail pedestal
            ((0.07, 0.07, 0.30), (-0.25, 0.0, 0.90), RGBA_ARM),  # upper arm
            ((0.30, 0.05, 0.05), (0.10, 0.0, 1.15), RGBA_ARM),  # forearm towards the face
            ((0.12, 0.33, 0.50), (0.84, 0.0, 1.15), RGBA_FABRIC),  # pod face with its bins
        ]
    if unit_type == "bluejay":
        parts = [
            ((1.1, 1.1, 0.02), (0.0, 0.0, -0.02), RGBA_CELL_TABLE),
            ((0.1, 0.1, 0.05), (0, 0, 0.05), RGBA_TOTE),
        ]
        for k in range(arms):
            cx, cy = 0.65 * math.cos(k * math.pi / 2), 0.65 * math.sin(k * math.pi / 2)
            parts.append(((0.07, 0.07, 0.35), (cx, cy, 0.35), RGBA_ARM))
            parts.append(((0.05, 0.05, 0.05), (0.6 * cx, 0.6 * cy, 0.72), RGBA_ARM))
        return parts
    if unit_type == "sequoia":
        return [
            ((2.95, 0.30, 1.15), (3.15, 0.60, 1.15), RGBA_TOTE),  # the rack of totes
            ((0.35, 0.25, 0.30), (0.0, 0.60, 0.30), (0.2, 0.6, 0.3, 1.0)),  # port stand
            ((3.1, 0.05, 0.05), (2.8, 0.0, 2.35), RGBA_ARM),  # gantry rail
        ]
    return []
