"""Floor geometry helpers against plain reference implementations."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest

from fctwin.controller.floorplan import grid_bfs_distance


def bfs_reference(passable: np.ndarray, sources: list[tuple[int, int]]) -> np.ndarray:
    """Textbook queue BFS: the readable definition the wavefront version must match."""
    height, width = passable.shape
    dist = np.full((height, width), -1, dtype=np.int32)
    queue = deque()
    for s in sources:
        dist[s] = 0
        queue.append(s)
    while queue:
        r, c = queue.popleft()
        for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0)):
            nr, nc = r + dr, c + dc
            if 0 <= nr < height and 0 <= nc < width and passable[nr, nc] and dist[nr, nc] < 0:
                dist[nr, nc] = dist[r, c] + 1
                queue.append((nr, nc))
    return dist


@pytest.mark.parametrize("seed", range(20))
def test_wavefront_bfs_matches_the_queue_reference(seed):
    rng = np.random.default_rng(seed)
    height, width = rng.integers(1, 30, size=2)
    passable = rng.random((height, width)) < rng.uniform(0.3, 0.9)
    n_sources = int(rng.integers(1, 4))
    sources = [(int(rng.integers(height)), int(rng.integers(width))) for _ in range(n_sources)]
    np.testing.assert_array_equal(grid_bfs_distance(passable, sources), bfs_reference(passable, sources))


def test_a_walled_off_region_is_unreachable_and_a_blocked_source_still_counts():
    passable = np.ones((3, 5), dtype=bool)
    passable[:, 2] = False
    dist = grid_bfs_distance(passable, [(1, 2)])  # the source itself is a wall cell
    assert dist[1, 2] == 0
    assert dist[1, 1] == 1 and dist[1, 3] == 1
    dist = grid_bfs_distance(passable, [(0, 0)])
    assert (dist[:, 3:] == -1).all() and dist[2, 1] == 3
