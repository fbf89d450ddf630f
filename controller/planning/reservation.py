"""Prioritized space-time A* with a reservation table (the simple, correct baseline planner).

Each unit that needs a plan (new goal, plan exhausted or invalidated) searches over states
(row, col, heading, t) with the rotation action model, avoiding cells and edges reserved by the
other units' plans (Silver 2005, "Cooperative Pathfinding"). A unit without a plan holds its cell
indefinitely, so planned units route around it. Loaded units search over ``passable_loaded``.
The heuristic is the 4-connected BFS distance to the goal over ``passable_unloaded`` (a superset
of the loaded map, hence admissible for both), cached per goal.

Plans are checked every step against where units really are; a final safety pass guarantees
that the emitted actions have no vertex or swap conflict even if a plan went stale. Not complete
(prioritized planning can wait forever in pathological cases); the numba PIBT planner is the
default for that reason and for speed.
"""

from __future__ import annotations

import heapq
from collections import deque

import numpy as np

from fctwin.controller.planning.base import FleetArrays, GridMaps

F, R, C, W = 0, 1, 2, 3
DELTA = ((0, 1), (1, 0), (0, -1), (-1, 0))  # E, S, W, N

State = tuple[int, int, int]  # row, col, heading


class ReservationPlanner:
    name = "reservation"

    def __init__(self, *, max_expansions: int = 6000, horizon_steps: int = 300):
        self.max_expansions = max_expansions
        self.horizon_steps = horizon_steps

    def reset(self, grid: GridMaps, n_agents: int, *, seed: int = 0) -> None:
        self.t = 0
        self.paths: list[deque[State]] = [deque() for _ in range(n_agents)]
        self.goals = np.full((n_agents, 2), -1, dtype=np.int32)
        self.reserved: dict[tuple[int, int, int], int] = {}  # (t, r, c) -> agent
        self.dist_cache: dict[tuple[int, int], np.ndarray] = {}
        self._unloaded_sig = grid.passable_unloaded.tobytes()
        self.expansions = 0
        self.retry_at = np.zeros(n_agents, dtype=np.int64)  # back-off after a failed search

    # ------------------------------------------------------------------ main step

    def step(self, grid: GridMaps, fleet: FleetArrays, out_actions: np.ndarray) -> None:
        n = fleet.n
        sig = grid.passable_unloaded.tobytes()
        if sig != self._unloaded_sig:  # cells closed or opened at run time
            self.dist_cache.clear()
            self._unloaded_sig = sig
        now = self.t
        pos = fleet.pos
        need: list[int] = []
        for i in range(n):
            path = self.paths[i]
            cur = (int(pos[i, 0]), int(pos[i, 1]), int(fleet.heading[i]))
            if path and path[0] != cur:
                self._drop(i)
                path.clear()
            goal_changed = tuple(fleet.goal[i]) != tuple(self.goals[i])
            self.goals[i] = fleet.goal[i]
            if not fleet.active[i]:
                if path:
                    self._drop(i)
                    path.clear()
                continue
            has_goal = fleet.goal[i, 0] >= 0
            at_goal = has_goal and cur[0] == fleet.goal[i, 0] and cur[1] == fleet.goal[i, 1]
            if (
                goal_changed
                or (has_goal and not at_goal and len(path) < 2)
                or not self._path_valid(i, grid, fleet)
            ):
                if path:
                    self._drop(i)
                    path.clear()
                if has_goal and not at_goal and (goal_changed or self.retry_at[i] <= now):
                    need.append(i)
        # Units that hold still reserve their cell for the whole horizon (see _blocked).
        holders: dict[tuple[int, int], int] = {}
        for i in range(n):
            if len(self.paths[i]) < 2 and i not in need:
                holders[(int(pos[i, 0]), int(pos[i, 1]))] = i
        for i in range(n):  # a unit whose plan ends holds its final cell afterwards
            path = self.paths[i]
            if len(path) >= 2:
                last = path[-1]
                holders.setdefault((last[0], last[1]), i)
        # Loaded units first: they have fewer options.
        need.sort(key=lambda i: (not fleet.loaded[i], i))
        for i in need:
            start = (int(pos[i, 0]), int(pos[i, 1]), int(fleet.heading[i]))
            passable = grid.passable_loaded if fleet.loaded[i] else grid.passable_unloaded
            goal = (int(fleet.goal[i, 0]), int(fleet.goal[i, 1]))
            path = self._search(i, start, goal, passable, grid.passable_unloaded, holders, now)
            if path is not None:
                self.paths[i] = deque(path)
                self._add(i)
                if holders.get((start[0], start[1])) == i:
                    del holders[(start[0], start[1])]
                holders.setdefault((path[-1][0], path[-1][1]), i)
            else:
                holders[(start[0], start[1])] = i
                # Someone holds the goal or the way is shut for now: wait a few steps before
                # searching again (staggered by agent so retries do not all fall on one step).
                self.retry_at[i] = now + 2 + (i % 5)
        # Emit actions from plans.
        out_actions[:] = W
        for i in range(n):
            path = self.paths[i]
            if fleet.active[i] and len(path) >= 2:
                out_actions[i] = _action(path[0], path[1])
        self._safety_pass(grid, fleet, out_actions)
        # Advance plans by one step.
        for i in range(n):
            path = self.paths[i]
            if path:
                s = path.popleft()
                self.reserved.pop((now, s[0], s[1]), None)
                if out_actions[i] == W and path and (path[0][0], path[0][1]) != (s[0], s[1]):
                    # Forced to wait by the safety pass: the plan is stale.
                    self._drop(i, from_t=now + 1)
                    path.clear()
        self.t = now + 1

    # ------------------------------------------------------------------ search

    def _dist_to(self, goal: tuple[int, int], passable: np.ndarray) -> np.ndarray:
        d = self.dist_cache.get(goal)
        if d is None:
            d = _bfs(passable, goal)
            if len(self.dist_cache) > 4096:
                self.dist_cache.clear()
            self.dist_cache[goal] = d
        return d

    def _search(self, agent, start: State, goal, passable, heuristic_map, holders, now) -> list[State] | None:
        height, width = passable.shape
        if not passable[goal]:
            return None
        h = holders.get(goal)
        if h is not None and h != agent and len(self.paths[h]) < 2:
            return None  # the goal is occupied by a unit that is not leaving
        dist = self._dist_to(goal, heuristic_map)
        h0 = dist[start[0], start[1]]
        if h0 < 0:
            return None
        reserved = self.reserved
        horizon = now + self.horizon_steps
        open_heap: list = [(int(h0), 0, start, now)]
        parent: dict[tuple[State, int], tuple[State, int] | None] = {(start, now): None}
        expansions = 0
        counter = 0
        while open_heap:
            _, g, s, t = heapq.heappop(open_heap)
            r, c, hd = s
            if (r, c) == goal and self._can_stay(goal, t, agent, holders):
                self.expansions += expansions
                return _unwind(parent, (s, t))
            expansions += 1
            if expansions > self.max_expansions or t >= horizon:
                continue
            nt = t + 1
            dr, dc = DELTA[hd]
            candidates = (
                ((r + dr, c + dc, hd), True),
                ((r, c, (hd + 1) % 4), False),
                ((r, c, (hd + 3) % 4), False),
                ((r, c, hd), False),
            )
            for ns, moves in candidates:
                nr, nc, _ = ns
                if moves:
                    if not (0 <= nr < height and 0 <= nc < width) or not passable[nr, nc]:
                        continue
                    other = reserved.get((t, nr, nc))
                    if other is not None and reserved.get((nt, r, c)) == other:
                        continue  # swap
                key = (ns, nt)
                if key in parent:
                    continue
                if self._blocked(nr, nc, nt, agent, holders):
                    continue
                parent[key] = (s, t)
                hn = dist[nr, nc]
                if hn < 0:
                    continue
                counter += 1
                heapq.heappush(open_heap, (g + 1 + int(hn), g + 1, ns, nt))
        self.expansions += expansions
        return None

    def _blocked(self, r, c, t, agent, holders) -> bool:
        other = self.reserved.get((t, r, c))
        if other is not None and other != agent:
            return True
        h = holders.get((r, c))
        if h is not None and h != agent:
            # A holder keeps its cell until its own plan (if any) has left it.
            path = self.paths[h]
            if len(path) < 2:
                return True
            last_t = self.t + len(path) - 1
            last = path[-1]
            if (last[0], last[1]) == (r, c) and t >= last_t:
                return True
        return False

    def _can_stay(self, cell, t, agent, holders) -> bool:
        r, c = cell
        h = holders.get(cell)
        if h is not None and h != agent:
            return False
        # No one else may pass through the goal after we arrive (within their plans).
        for other, path in enumerate(self.paths):
            if other == agent or not path:
                continue
            base = self.t
            for k, s in enumerate(path):
                if base + k >= t and (s[0], s[1]) == (r, c):
                    return False
        return True

    # ------------------------------------------------------------------ bookkeeping

    def _add(self, i: int) -> None:
        for k, s in enumerate(self.paths[i]):
            self.reserved[(self.t + k, s[0], s[1])] = i

    def _drop(self, i: int, from_t: int | None = None) -> None:
        base = self.t if from_t is None else from_t
        offset = 0 if from_t is None else from_t - self.t
        path = list(self.paths[i])
        for k, s in enumerate(path[offset:] if offset > 0 else path):
            key = (base + k, s[0], s[1])
            if self.reserved.get(key) == i:
                del self.reserved[key]

    def _path_valid(self, i: int, grid: GridMaps, fleet: FleetArrays) -> bool:
        path = self.paths[i]
        if len(path) < 2:
            return True
        passable = grid.passable_loaded if fleet.loaded[i] else grid.passable_unloaded
        return all(passable[s[0], s[1]] for s in path)

    def _safety_pass(self, grid: GridMaps, fleet: FleetArrays, actions: np.ndarray) -> None:
        """Turn any conflicting or illegal forward move into a wait, to a fixed point."""
        n = fleet.n
        pos = fleet.pos
        changed = True
        while changed:
            changed = False
            nxt = pos.copy()
            for i in range(n):
                if actions[i] == F:
                    dr, dc = DELTA[int(fleet.heading[i])]
                    nxt[i, 0] += dr
                    nxt[i, 1] += dc
            occupant: dict[tuple[int, int], int] = {}
            for i in range(n):
                key = (int(nxt[i, 0]), int(nxt[i, 1]))
                j = occupant.get(key)
                if j is not None:
                    for k in (i, j):
                        if actions[k] == F:
                            actions[k] = W
                            changed = True
                else:
                    occupant[key] = i
            if changed:
                continue
            here = {(int(pos[i, 0]), int(pos[i, 1])): i for i in range(n)}
            for i in range(n):
                if actions[i] != F:
                    continue
                passable = grid.passable_loaded if fleet.loaded[i] else grid.passable_unloaded
                r, c = int(nxt[i, 0]), int(nxt[i, 1])
                if not (0 <= r < passable.shape[0] and 0 <= c < passable.shape[1]) or not passable[r, c]:
                    actions[i] = W
                    changed = True
                    continue
                j = here.get((r, c))
                if (
                    j is not None
                    and j != i
                    and (int(nxt[j, 0]), int(nxt[j, 1])) == (int(pos[i, 0]), int(pos[i, 1]))
                ):
                    actions[i] = W
                    actions[j] = W if actions[j] == F else actions[j]
                    changed = True


def _action(a: State, b: State) -> int:
    if (a[0], a[1]) != (b[0], b[1]):
        return F
    if a[2] == b[2]:
        return W
    return R if (a[2] + 1) % 4 == b[2] else C


def _unwind(parent, node) -> list[State]:
    out = []
    while node is not None:
        out.append(node[0])
        node = parent[node]
    out.reverse()
    return out


def _bfs(passable: np.ndarray, goal: tuple[int, int]) -> np.ndarray:
    height, width = passable.shape
    dist = np.full((height, width), -1, dtype=np.int32)
    dist[goal] = 0
    queue = deque([goal])
    while queue:
        r, c = queue.popleft()
        d = dist[r, c] + 1
        for dr, dc in DELTA:
            nr, nc = r + dr, c + dc
            if 0 <= nr < height and 0 <= nc < width and dist[nr, nc] < 0 and passable[nr, nc]:
                dist[nr, nc] = d
                queue.append((nr, nc))
    return dist
