"""Free-flow bound on RHCR kiva.map throughput under the rotation action model.

    python benchmarks/kiva_free_flow.py [--tasks 200000] [--seed 0]

One robot alone, always on a shortest rotation-aware path (states = cell x heading; F moves one
cell, R/C turn 90 degrees, each one step), serving the benchmark's tasks: a uniformly random
endpoint other than the current cell, starting with the heading it arrived with. The mean steps per
task T is a lower bound for any robot in a team (others can only delay it), so N robots finish at
most N / T tasks per step. RHCR's published figures use the 4-connected model, where turning is
free; ours cannot reach them where N / T is below them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import shortest_path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from controller.planning.instances import read_kiva_map  # noqa: E402

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


if __name__ == "__main__":
    main()
