"""Station geometry: each station's queue cells and its distance field, computed once at start.

`StationLayout` is one part of `Dispatcher` (a mixin over the same state). Which unit a station
serves next is the unit-allocation policy's `order_queue`.
"""

from __future__ import annotations

import numpy as np

from fctwin.controller.floorplan import AISLE
from fctwin.controller.planning.grid_bfs import grid_bfs_distance_fast
from fctwin.controller.records import Cell, CellsByDistance


class StationLayout:
    """Queue lines and storage-by-distance lists per station; mixed into `Dispatcher`."""

    def _prepare_stations(self) -> None:
        loaded_ok = self.static_loaded | self.storage_mask
        for station in self.stations:
            dist = grid_bfs_distance_fast(loaded_ok, [station.cell])
            station.queue_cells = self._queue_line(station.cell, dist)
            station.distance = dist
            st = np.argwhere(self.storage_mask & (dist >= 0))
            order = np.lexsort((st[:, 1], st[:, 0], dist[self.storage_mask & (dist >= 0)]))
            station.storage_by_distance = CellsByDistance(st[order])

    def _queue_line(self, cell: Cell, dist: np.ndarray) -> list[Cell]:
        """Cells where units wait for a station, nearest first.

        A flow-through station (two or more open neighbours) queues in a straight line along the
        longest run of aisle cells from it, so a served unit leaves by another neighbour. A station
        with one entrance keeps the entrance free and queues from distance 2.
        """
        height, width = self.grid.shape
        want = max(self.config.queue_cells, 1)
        open_nb = [
            (cell[0] + dr, cell[1] + dc)
            for dr, dc in ((-1, 0), (0, 1), (1, 0), (0, -1))
            if 0 <= cell[0] + dr < height
            and 0 <= cell[1] + dc < width
            and self.static_loaded[cell[0] + dr, cell[1] + dc]
        ]
        if len(open_nb) >= 2:
            best: list[Cell] = []
            for dr, dc in ((-1, 0), (1, 0), (0, 1), (0, -1)):  # north first: units flow southwards
                run = []
                r, c = cell[0] + dr, cell[1] + dc
                while 0 <= r < height and 0 <= c < width and self.grid[r, c] == AISLE and len(run) < want:
                    run.append((r, c))
                    r, c = r + dr, c + dc
                if len(run) > len(best):
                    best = run
            if best:
                return best
        aisle = (self.grid == AISLE) & (dist >= 2)
        cand = np.argwhere(aisle)
        order = np.lexsort((cand[:, 1], cand[:, 0], dist[aisle]))
        return [tuple(map(int, cand[k])) for k in order[:want]]
