"""Floor geometry helpers against plain reference implementations."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest
from jit_compare import jit_and_nojit_outputs  # tests/ is on sys.path (rootdir conftest)

from fctwin.controller.floorplan import grid_bfs_distance
from fctwin.controller.planning.grid_bfs import grid_bfs_distance_fast
from fctwin.controller.records import CellsByDistance


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


@pytest.mark.parametrize("seed", range(20))
def test_numba_bfs_matches_the_wavefront_reference(seed):
    rng = np.random.default_rng(100 + seed)
    height, width = rng.integers(1, 40, size=2)
    passable = rng.random((height, width)) < rng.uniform(0.3, 0.9)
    sources = [(int(rng.integers(height)), int(rng.integers(width))) for _ in range(int(rng.integers(1, 4)))]
    np.testing.assert_array_equal(
        grid_bfs_distance_fast(passable, sources), grid_bfs_distance(passable, sources)
    )


def test_numba_bfs_is_the_same_as_plain_python():
    code = (
        "import json, numpy as np\n"
        "from fctwin.controller.planning.grid_bfs import grid_bfs_distance_fast\n"
        "rng = np.random.default_rng(3)\n"
        "out = []\n"
        "for _ in range(5):\n"
        "    passable = rng.random((17, 23)) < 0.7\n"
        "    out.append(grid_bfs_distance_fast(passable, [(0, 0), (16, 22), (8, 5)]).tolist())\n"
        "print(json.dumps(out))\n"
    )
    jit, nojit = jit_and_nojit_outputs(code)
    assert jit == nojit
    passable = np.random.default_rng(3).random((17, 23)) < 0.7
    assert jit[0] == grid_bfs_distance(passable, [(0, 0), (16, 22), (8, 5)]).tolist()


def test_cells_by_distance_reads_like_the_list_of_tuples_it_replaces():
    rng = np.random.default_rng(5)
    cells = rng.integers(0, 500, size=(3000, 2)).astype(np.int32)
    plain = [(int(r), int(c)) for r, c in cells.tolist()]
    lazy = CellsByDistance(cells)
    assert len(lazy) == 3000 and lazy[7] == plain[7] and lazy[-2:] == plain[-2:]
    # a walk that stops early converts only a prefix; later walks see the same cells, in order
    first = []
    for cell in lazy:
        first.append(cell)
        if len(first) == 300:
            break
    assert first == plain[:300]
    assert 300 <= len(lazy._tuples) < 3000
    assert list(lazy) == plain
    assert list(lazy) == plain  # the fully converted list, once more
    assert all(type(c) is tuple and type(c[0]) is int for c in lazy)
