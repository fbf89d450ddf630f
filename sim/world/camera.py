"""Pictures of the world: a camera fitted to the floor or a close-up, TinyRenderer snapshots, PNG files.

TinyRenderer works without a display (~100 ms a 640 x 480 frame, FIELD_NOTES.md).
"""

from __future__ import annotations

import math
import struct
import zlib

import numpy as np
import pybullet as p

from fctwin.sim.world.frames import Cell, xy_from_cell
from fctwin.sim.world.spec import WorldSpec, floor_size_xy


def camera_matrices(
    spec: WorldSpec, client: int, width: int, height: int, focus_cell: Cell | None, radius_cells: float
) -> tuple[list[float], list[float]]:
    """View and projection matrices of a camera south of a region, looking north and down over it.

    The region is the whole floor, or the square of `radius_cells` around `focus_cell`. Distance and
    aim are fitted so the corners of the region's bounding box (up to pod height) all land inside the
    image, with the region centred vertically.
    """
    cs = spec.cell_size_m
    if focus_cell is None:
        margin_m = 1.5
        size_x, size_y = floor_size_xy(spec)
        x0, x1, y0, y1 = -margin_m, size_x + margin_m, -size_y - margin_m, margin_m
    else:
        cx, cy = xy_from_cell(focus_cell[0], focus_cell[1], cs)
        r_m = radius_cells * cs
        x0, x1, y0, y1 = cx - r_m, cx + r_m, cy - r_m, cy + r_m
    centre_x = (x0 + x1) / 2
    fov_v_deg, elevation = 40.0, math.radians(62 if focus_cell is None else 80)
    aspect = width / height
    corners = np.array(
        [(x, y, z, 1.0) for x in (x0, x1) for y in (y0, y1) for z in (0.0, spec.pod_size_m[2])]
    )
    projection: list[float] = []

    def corners_ndc(target_y: float, distance_m: float) -> tuple[list[float], np.ndarray]:
        nonlocal projection
        eye = (centre_x, target_y - distance_m * math.cos(elevation), distance_m * math.sin(elevation))
        view = p.computeViewMatrix(eye, (centre_x, target_y, 0.0), (0, 0, 1), physicsClientId=client)
        projection = p.computeProjectionMatrixFOV(
            fov_v_deg, aspect, 0.05 * distance_m, 4 * distance_m, physicsClientId=client
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
    spec: WorldSpec,
    client: int,
    *,
    width: int = 960,
    height: int = 540,
    focus_cell: Cell | None = None,
    radius_cells: float = 5,
) -> np.ndarray:
    """uint8[height, width, 3] TinyRenderer image (works in DIRECT mode).

    Shows the whole floor from the south, or a close-up of the cells within `radius_cells` of
    `focus_cell` (row, col).
    """
    view, projection = camera_matrices(spec, client, width, height, focus_cell, radius_cells)
    _, _, rgba, _, _ = p.getCameraImage(
        width,
        height,
        view,
        projection,
        renderer=p.ER_TINY_RENDERER,
        shadow=0,
        lightDirection=(-0.4, -0.6, 1.0),
        physicsClientId=client,
    )
    return np.asarray(rgba, dtype=np.uint8).reshape(height, width, 4)[:, :, :3]


def png_bytes(rgb: np.ndarray) -> bytes:
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
