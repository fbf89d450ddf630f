"""Frames of the world (metres, z up) and conversions between grid cells, headings and poses.

Cell (row, col) has row 0 as the north row; ``x = (col + 0.5) * cell_size_m`` grows east,
``y = -(row + 0.5) * cell_size_m`` (north is +y, rows grow southwards). Heading h (0 east, 1 south,
2 west, 3 north) has yaw ``-h * pi / 2``. A unit pose is ``(x_m, y_m, yaw_rad)``; a body's origin is
the centre of its footprint at floor level.
"""

from __future__ import annotations

import math

import numpy as np

Cell = tuple[int, int]  # (row, col)

IDENTITY_QUAT = (0.0, 0.0, 0.0, 1.0)


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


def quats_from_yaws(yaw_rad: np.ndarray) -> np.ndarray:
    """Quaternions float64[N, 4] (x, y, z, w) of rotations about +z."""
    q = np.zeros((len(yaw_rad), 4))
    q[:, 2] = np.sin(yaw_rad / 2)
    q[:, 3] = np.cos(yaw_rad / 2)
    return q
