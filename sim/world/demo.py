"""``python -m fctwin.sim.world``: a snapshot of a synthetic layout and build and teleport timings."""

from __future__ import annotations

import time

import numpy as np
import pybullet as p

from fctwin.sim.world import assets
from fctwin.sim.world.assets import AISLE
from fctwin.sim.world.spec import WorldSpec
from fctwin.sim.world.world import World


def main(argv: list[str] | None = None) -> int:
    """Write a snapshot of a synthetic layout and print build and teleport timings (docs and benchmarks)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m fctwin.sim.world", description=main.__doc__)
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
