"""Free-flow bounds on RHCR kiva.map throughput under the rotation and the grid action models.

    python benchmarks/kiva_free_flow.py [--tasks 200000] [--seed 0]

One robot alone, always on a shortest path, serving the benchmark's tasks: a uniformly random
endpoint other than the current cell. Rotation model: states = cell x heading (F moves one cell,
R/C turn 90 degrees, each one step), starting with the heading it arrived with. Grid model (RHCR's:
move to one of 4 neighbours or wait): plain 4-connected distances. The mean steps per task T is a
lower bound for any robot in a team (others can only delay it), so N robots finish at most N / T
tasks per step. RHCR's published figures use the grid model, where turning is free; under rotation
ours cannot reach them where N / T is below them.

Also printed: the steps per task of a lone robot that follows our grid planner's guidance (the
kiva presets of ``benchmarks/mapf.py``: one-way gap columns at penalty 6, or one-way streets at
penalty 1 with the gap columns at 3, and a few alternatives), i.e. what the one-way rules cost in
detours before any robot meets another (shortest guided routes, the fewest steps among equal costs).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra, shortest_path

from fctwin.controller.planning.guidance import grid_highway_move_costs, highway_move_costs
from fctwin.controller.planning.instances import read_kiva_map

ROOT = Path(__file__).resolve().parents[1]

KIVA = ROOT.parent / "shared" / "benchmarks" / "mapf" / "rhcr" / "kiva.map"
RHCR = {60: 2.27, 100: 3.31, 140: 1.43, 180: 0.94, 220: 0.45}  # PBS, w=10, no rotations
STEP = ((0, 1), (1, 0), (0, -1), (-1, 0))  # headings E, S, W, N


def rotation_distances(passable: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Steps from each source state (cell_lin * 4 + heading) to every state: ``float[S, H*W*4]``."""
    H, W = passable.shape
    rows, cols = [], []
    for r, c in np.argwhere(passable):
        u = r * W + c
        for h in range(4):
            s = 4 * u + h
            rows += [s, s]
            cols += [4 * u + (h + 1) % 4, 4 * u + (h + 3) % 4]
            rr, cc = r + STEP[h][0], c + STEP[h][1]
            if 0 <= rr < H and 0 <= cc < W and passable[rr, cc]:
                rows.append(s)
                cols.append(4 * (rr * W + cc) + h)
    n = H * W * 4
    graph = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    return shortest_path(graph, method="D", unweighted=True, indices=sources)


def grid_steps(passable: np.ndarray, sources: np.ndarray, move_cost: np.ndarray | None = None) -> np.ndarray:
    """Steps of the cheapest 4-connected route from each source cell to every cell: ``float[S, H*W]``.

    move_cost ``uint8[H, W, 4]`` (guidance; None = unit costs): routes minimise the guided cost,
    and among equal costs the steps (each edge weighs ``cost * 2**16 + 1``, so both fit exactly).
    """
    H, W = passable.shape
    rows, cols, weight = [], [], []
    for r, c in np.argwhere(passable):
        for h, (dr, dc) in enumerate(STEP):
            rr, cc = r + dr, c + dc
            if 0 <= rr < H and 0 <= cc < W and passable[rr, cc]:
                rows.append(r * W + c)
                cols.append(rr * W + cc)
                weight.append((1 if move_cost is None else int(move_cost[r, c, h])) * 65536 + 1)
    graph = csr_matrix((np.array(weight, float), (rows, cols)), shape=(H * W, H * W))
    dist = dijkstra(graph, indices=sources)
    reachable = np.isfinite(dist)  # obstacles stay unreachable (inf)
    dist[reachable] %= 65536
    return dist


def mean_task_steps(to_end: np.ndarray, rng: np.random.Generator, n_tasks: int) -> float:
    """Mean steps per task over a random endpoint sequence; ``to_end[k, g]`` steps between endpoints."""
    K = to_end.shape[0]
    k, total = int(rng.integers(K)), 0.0
    for _ in range(n_tasks):
        g = int(rng.integers(K - 1))
        g += g >= k  # another endpoint
        total += to_end[k, g]
        k = g
    return total / n_tasks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    kiva = read_kiva_map(KIVA)
    H, W = kiva.passable.shape
    ends = kiva.endpoints[:, 0] * W + kiva.endpoints[:, 1]
    sources = (4 * ends[:, None] + np.arange(4)[None, :]).ravel()
    dist = rotation_distances(kiva.passable, sources)  # [K*4, H*W*4]
    to_end = dist[:, 4 * ends[:, None] + np.arange(4)[None, :]]  # [K*4, K, 4]
    rng = np.random.default_rng(args.seed)
    k, h, total = int(rng.integers(len(ends))), 0, 0.0
    for _ in range(args.tasks):
        g = int(rng.integers(len(ends) - 1))
        g += g >= k  # another endpoint
        arrive = to_end[4 * k + h, g]
        h = int(rng.choice(np.flatnonzero(arrive == arrive.min())))  # heading of a shortest arrival
        total += arrive.min()
        k = g
    T = total / args.tasks
    print(f"kiva.map, rotation model: {T:.2f} steps per task alone (shortest paths, random endpoints)")
    for n, ref in RHCR.items():
        print(f"  {n} robots: at most {n / T:.2f} tasks per step; RHCR (no rotations) {ref}")
    grid = grid_steps(kiva.passable, ends)[:, ends]
    T = mean_task_steps(grid, np.random.default_rng(args.seed), args.tasks)
    print(f"kiva.map, grid model (RHCR's): {T:.2f} steps per task alone (shortest paths, random endpoints)")
    for n, ref in RHCR.items():
        print(f"  {n} robots: at most {n / T:.2f} tasks per step; RHCR {ref}")
    presets = {
        "gap columns one-way, penalty 6 (the preset below 9% of free cells)": highway_move_costs(
            kiva.passable, penalty=6
        ),
        "gap columns one-way, penalty 3": highway_move_costs(kiva.passable, penalty=3),
        "gap columns one-way, penalty 1": highway_move_costs(kiva.passable, penalty=1),
        "one-way streets, penalty 1 (the preset from 9% until December 2026)": grid_highway_move_costs(
            kiva.passable, penalty=1
        ),
        "one-way streets, penalty 1, gap columns 3 (the preset from 9%)": grid_highway_move_costs(
            kiva.passable, penalty=1, aisle_penalty=3
        ),
    }
    for label, cost in presets.items():
        guided = grid_steps(kiva.passable, ends, cost)[:, ends]
        T = mean_task_steps(guided, np.random.default_rng(args.seed), args.tasks)
        bounds = ", ".join(f"{n}: {n / T:.2f}" for n in RHCR)
        print(
            f"  grid model, guided routes, {label}: {T:.2f} steps per task alone; per step at most {bounds}"
        )


if __name__ == "__main__":
    main()
