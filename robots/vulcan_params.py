"""Vulcan's cell parameters and the item types it refuses, without PyBullet.

`VulcanCellParams` (geometry, limits, non-motion times) is shared by the physics cell
(`fctwin.robots.physics.vulcan_cell`) and the fast model: which items the arm refuses at induction
(`refusal_reason`) is a property of the item and the pod face alone, so a fast station decides it per
SKU exactly as the physics does instead of averaging it into a success rate over another item mix.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from fctwin.robots.bins import CLEARANCE_M, make_pod_face

__all__ = ["VulcanCellParams", "refusal_reason"]

GRAVITY_MPS2 = 9.81


@dataclass(frozen=True, kw_only=True)
class VulcanCellParams:
    """Geometry, limits and non-motion times of the cell (SI units)."""

    face_x_m: float = 0.72
    face_bottom_z_m: float = 0.62
    pedestal_h_m: float = 0.60
    rail_m: float = 0.30  # the arm's base slides 0..rail_m along +x from x = -0.25
    rows: tuple = ((3, 0.26), (4, 0.20), (4, 0.20), (5, 0.16))  # (bins across, height) from the bottom
    face_width_m: float = 0.66
    depth_m: float = 0.24
    wall_t_m: float = 0.008
    band_clear_m: float = 0.02  # the band hangs down to this height above the bin floor
    band_stiffness_nm_per_rad: float = 0.6
    band_damping_nms_per_rad: float = 0.05
    tool_len_m: float = 0.16
    tool_w_m: float = 0.012
    tool_h_m: float = 0.04
    free_speed_mps: float = 0.7
    insert_speed_mps: float = 0.25
    sweep_speed_mps: float = 0.12
    jam_force_n: float = 45.0  # wrist force (above baseline) that means the item is stuck
    push_force_limit_n: float = 30.0  # the paddle stops pushing items aside beyond this
    suction_limit_n: float = 45.0  # a suction cup lets go above this
    # The cup is a spring, not a weld: the constraint pulls with at most suction_limit_n and the item
    # lags the tool when more is asked of it; a lag of break_stretch_m (the bellows fully stretched,
    # a spring rate of suction_limit_n / break_stretch_m) means the seal is lost.
    break_stretch_m: float = 0.015
    # Non-motion times (s), each log-normal: median and log sd (assumptions, docs/stations.md).
    induct_median_s: float = 1.6  # item scanned, measured and fed onto the end-of-arm tool
    induct_log_sd: float = 0.25
    rescan_p: float = 0.35  # polybag film: chance that a barcode read fails and is repeated
    rescan_s: float = 1.2
    image_s: float = 0.9  # stereo pair plus the learned depth model, once per plan
    segment_per_item_s: float = 0.06  # per item in the bins the arm may use (occlusion, bands)
    plan_s: float = 0.1  # slot choice and motion plan (public: ~100 ms)
    perceive_log_sd: float = 0.3
    verify_s: float = 0.6  # image after the move: is the item where the plan put it?
    item_friction: float = 0.5
    force_filter_s: float = 0.1
    band_friction: float = 0.4  # elastic fabric band on cardboard (was 0.02: a frictionless band)
    # Polybags: slippery film, a seal that depends on wrinkles, and a body that bends at the seam.
    bag_friction: float = 0.25
    bag_seal_n: tuple = (10.0, 40.0)  # uniform range of the cup's seal on film (a smooth carton: 45 N)
    bag_bend_nm_per_rad: float = 1.5  # bending stiffness of the seam per kg of bag
    bag_max_side_m: float = 0.20  # longer bags fold over the paddle: refused
    heavy_kg: float = 2.5  # payload limit of the tool with an item on the cup held at arm's length
    stack_share: float = 0.12  # share of picks with an item lying on top of the one picked
    # Where the tool receives each item from the induction conveyor, relative to the home pose:
    # beside the pod face, so every stow is a round trip (Vulcan's tool is fed at an induction station).
    induct_offset_m: tuple = (-0.10, -0.45, -0.20)
    transfer_s: float = 0.4  # the item conveyed onto the tool and the cup sealed
    # Pick: the vacuum sensor. A seal read below `seal_needed_n` before the pull is re-seated once
    # (reseat_s); a seal lost during the pull with the item back in its bin is grasped again
    # (pick_regrasps times). The check is the vacuum-gripper design rule for a cup on a vertical face
    # holding by friction: m (g + a) S / mu with S = 2, mu the cup on film, a the arm's acceleration.
    seal_safety: float = 2.0
    cup_friction: float = 0.5
    pull_accel_mps2: float = 2.0  # `move_linear`'s acceleration
    reseat_s: float = 0.5
    pick_regrasps: int = 1
    # Pick: after the item is out of its bin the arm backs straight away from the face until the item
    # is this far off the face plane, then carries it home (a pick pipeline's post-grasp retreat).
    # 0.03 m (= the carry clearance) is the earlier model: no retreat, a diagonal carry.
    pick_retreat_clear_m: float = 0.08
    # Pick: the weight check (a reading only; it changes no outcome). The wrist F/T sensor weighs the
    # held load at the carry pose (`VulcanCell.weigh_kg`); more than the item's catalogue mass by
    # weigh_tol_kg + weigh_tol_frac x mass flags a second item on the tool. Set from five single-item
    # picks before the calibration runs; on their clean picks the reading came out 11% heavy at the
    # median, light items about 20 g heavy (the spring cup's lag), with no false alarm (docs/stations.md).
    weigh_tol_kg: float = 0.05
    weigh_tol_frac: float = 0.05


@lru_cache(maxsize=8)
def _bin_sizes_m(params: VulcanCellParams) -> tuple[tuple[float, float, float], ...]:
    """(usable width, depth, height) of every bin of the face (the width between dividers)."""
    face = make_pod_face(params.rows, face_width_m=params.face_width_m, depth_m=params.depth_m)
    return tuple((b.width_m - params.wall_t_m, b.depth_m, b.height_m) for b in face.bins)


def refusal_reason(size_m, mass_kg: float, kind: str = "box", params: VulcanCellParams | None = None) -> str:
    """Why the arm will not take this item ("" when it will): fragile, too heavy for the tool or the
    cup, a polybag too floppy for the paddle, or too big for every bin (1 cm clearance each side,
    90% of the bin height)."""
    prm = params or VulcanCellParams()
    w, d, h = sorted(float(x) for x in size_m)
    if kind == "fragile":
        return "fragile"
    if mass_kg > prm.heavy_kg or mass_kg * GRAVITY_MPS2 > prm.suction_limit_n:
        return "too heavy"
    if kind == "bag" and max(w, d, h) > prm.bag_max_side_m:
        return "deformable: too floppy for the paddle"
    fits = any(w + 2 * CLEARANCE_M <= bw and d <= bd and h <= 0.9 * bh for bw, bd, bh in _bin_sizes_m(prm))
    return "" if fits else "too big"
