"""Random and heuristic baselines for both environments, and their scores.

    python -m fctwin.sim.envs.baselines [--scene fc_small] [--episodes 5] [--hours 0.25] [--steps 500]

Order assignment (`OrderAssignmentEnv`, return = units picked in the episode):

- ``random``: a uniformly random station among those that can take the order (the action mask);
- ``least_loaded``: the station with the fewest open lines (lowest index on ties): the scene's
  default rule, so its return equals a plain run's units picked at the same scene seed;
- ``round_robin``: stations in turn.

Floor (`FloorParallelEnv`, return = requested pods served, summed over agents):

- ``random``: uniform actions;
- ``heuristic``: each unit without a pod drives to the nearest stored requested pod and lifts
  it, carries it to the nearest pick station, waits to be served, then sets it down on the nearest
  free storage cell (shortest paths by breadth-first search, loaded units around stored pods), with
  a 10% random action so units that block each other get apart.
"""

from __future__ import annotations

import argparse
import sys
from collections import deque
from collections.abc import Callable

import numpy as np

from fctwin.robots.floor import DOCK, STORAGE, WALL
from fctwin.robots.messages import FORWARD_DELTA

__all__ = [
    "FloorHeuristic",
    "least_loaded",
    "random_station",
    "round_robin",
    "run_floor_episode",
    "run_order_episode",
]


# ---------------------------------------------------------------------------- order assignment


def random_station(rng: np.random.Generator) -> Callable:
    def policy(obs, info):
        allowed = np.flatnonzero(info["action_mask"])
        return int(rng.choice(allowed)) if allowed.size else 0

    return policy


def least_loaded(n_pick: int) -> Callable:
    def policy(obs, info):
        return min(range(n_pick), key=lambda k: (obs[k], k))

    return policy


def round_robin(n_pick: int) -> Callable:
    state = {"next": 0}

    def policy(obs, info):
        k = state["next"] % n_pick
        state["next"] += 1
        return k

    return policy


def run_order_episode(env, policy: Callable, *, scene_seed: int) -> float:
    """One episode at scene seed ``scene_seed``; returns its return (units picked)."""
    obs, info = env.reset(options={"scene_seed": scene_seed})
    total = 0.0
    while True:
        obs, reward, terminated, truncated, info = env.step(policy(obs, info))
        total += reward
        if terminated or truncated:
            return total


# ---------------------------------------------------------------------------------------- floor


class FloorHeuristic:
    """Fetch, deliver, put back: see the module docstring. ``actions()`` for the env's current state."""

    def __init__(self, env, *, seed: int = 0, jitter: float = 0.1):
        self.env = env
        self.rng = np.random.default_rng(seed)
        self.jitter = jitter
        self._cache: dict = {}

    def _distances(self, targets: frozenset, loaded: bool) -> dict:
        key = (targets, loaded, self.env._pods_version)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        if len(self._cache) > 256:
            self._cache.clear()
        env = self.env
        grid, pods = env.grid, env.host.floor.pods
        h, w = grid.shape
        dist = {c: 0 for c in targets}
        todo = deque(targets)
        while todo:
            cell = todo.popleft()
            for dr, dc in FORWARD_DELTA:
                n = (cell[0] + dr, cell[1] + dc)
                if n in dist or not (0 <= n[0] < h and 0 <= n[1] < w):
                    continue
                code = grid[n]
                if code in (WALL, DOCK) or (loaded and code == STORAGE and n in pods):
                    continue
                dist[n] = dist[cell] + 1
                todo.append(n)
        self._cache[key] = dist
        return dist

    def _toward(self, t, dist: dict) -> int:
        """Forward if the cell ahead is one of the nearest to the target, else turn toward one."""
        from fctwin.sim.envs.floor import FORWARD, LEFT, RIGHT, WAIT

        here = dist.get(t.cell)
        steps = {}
        for d, (dr, dc) in enumerate(FORWARD_DELTA):
            n = dist.get((t.cell[0] + dr, t.cell[1] + dc))
            if n is not None and (here is None or n < here):
                steps[d] = n
        if not steps:
            return WAIT
        best = min(steps.values())
        if steps.get(t.heading) == best:
            return FORWARD
        d = min((d for d, n in steps.items() if n == best), key=lambda d: (d - t.heading) % 4 == 2)
        return LEFT if (d - t.heading) % 4 == 3 else RIGHT

    def actions(self) -> dict[str, int]:
        from fctwin.sim.envs.floor import TOGGLE, WAIT

        env = self.env
        floor = env.host.floor
        stations = frozenset(env.pick_stations)
        wanted = frozenset(c for c, p in floor.pods.items() if p in env.requested)
        out = {}
        for agent in env.agents:
            t = env.titans[agent]
            if self.rng.random() < self.jitter:
                out[agent] = int(self.rng.integers(5))
                continue
            if agent in env._serving:
                out[agent] = WAIT
                continue
            if t.pod_id >= 0 and t.pod_id in env.requested:
                out[agent] = WAIT if t.cell in stations else self._toward(t, self._distances(stations, True))
            elif t.pod_id >= 0:
                if env.grid[t.cell] == STORAGE and t.cell not in floor.pods:
                    out[agent] = TOGGLE
                else:
                    free = frozenset(
                        tuple(int(x) for x in c)
                        for c in np.argwhere(env.grid == STORAGE)
                        if tuple(c) not in floor.pods
                    )
                    out[agent] = self._toward(t, self._distances(free, True))
            elif t.cell in wanted:
                out[agent] = TOGGLE
            elif wanted:
                out[agent] = self._toward(t, self._distances(wanted, False))
            else:
                out[agent] = WAIT
        return out


def run_floor_episode(env, policy: str, *, seed: int) -> float:
    """One episode (``policy``: ``random`` or ``heuristic``); returns the pods served (all agents)."""
    env.reset(seed=seed)
    rng = np.random.default_rng(seed + 1)
    heuristic = FloorHeuristic(env, seed=seed) if policy == "heuristic" else None
    total = 0.0
    while env.agents:
        if heuristic is not None:
            actions = heuristic.actions()
        else:
            actions = {a: int(rng.integers(5)) for a in env.agents}
        _, rewards, _, _, _ = env.step(actions)
        total += sum(rewards.values())
    return total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scene", default="fc_small", help="scene for both environments (default fc_small)")
    ap.add_argument("--episodes", type=int, default=5)
    ap.add_argument("--hours", type=float, default=0.25, help="order assignment: hours per episode")
    ap.add_argument("--steps", type=int, default=500, help="floor: steps per episode")
    ap.add_argument("--agents", type=int, default=8, help="floor: drive units")
    args = ap.parse_args(argv)
    from fctwin.sim.envs.floor import FloorParallelEnv
    from fctwin.sim.envs.order_assignment import OrderAssignmentEnv
    from fctwin.sim.experiments.stats import estimate

    seeds = range(args.episodes)
    env = OrderAssignmentEnv(args.scene, hours=args.hours)
    print(
        f"OrderAssignmentEnv, {args.scene}, {args.hours} h episodes, scene seeds {list(seeds)}:",
        "units picked",
    )
    for name, make in (
        ("random", lambda: random_station(np.random.default_rng(0))),
        ("round_robin", lambda: round_robin(env.n_pick)),
        ("least_loaded", lambda: least_loaded(env.n_pick)),
    ):
        scores = [run_order_episode(env, make(), scene_seed=s) for s in seeds]
        e = estimate(scores)
        print(f"  {name:<13} {e.mean:8.1f} +/- {e.ci:.1f}   ({', '.join(f'{x:.0f}' for x in scores)})")
    env.close()
    env = FloorParallelEnv(args.scene, n_agents=args.agents, max_steps=args.steps)
    print(
        f"FloorParallelEnv, {args.scene}, {args.agents} units, {args.steps} steps,"
        f" seeds {list(seeds)}: requested pods served"
    )
    for name in ("random", "heuristic"):
        scores = [run_floor_episode(env, name, seed=s) for s in seeds]
        e = estimate(scores)
        print(f"  {name:<13} {e.mean:8.1f} +/- {e.ci:.1f}   ({', '.join(f'{x:.0f}' for x in scores)})")
    env.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
