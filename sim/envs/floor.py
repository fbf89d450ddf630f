"""A PettingZoo ParallelEnv over the drive units of a real FC layout, in the spirit of RWARE.

Each agent is a Titan drive unit of the scene (``n_agents`` of them, the scene's first fleet
resized). Like RWARE (Papoudakis et al., 2021) a set of ``requests`` pods is requested at any time;
an agent earns 1 when a requested pod it carries has been served at a pick station, and a new
request is drawn. Unlike RWARE the floor is ours: the scene's layout, our unit model (a move, a
90-degree turn or a wait per step; lifting and setting down take the unit's ``lift_s`` and
``set_down_s``; loaded units cannot pass under stored pods), the fleet host's safety layer (moves
into occupied cells or head-on swaps are vetoed, so units never collide) and the stations' service
times. The fleet host runs without its PyBullet mirror (``world=False``): the mirror only draws.

- **actions** ``Discrete(5)``: 0 forward, 1 turn clockwise, 2 turn counter-clockwise, 3 wait,
  4 toggle load (lift the pod on this cell, or set the carried pod down on a free storage cell).
  A unit busy lifting, setting down or being served ignores its action.
- **observations** ``Box(0, 1, float32)``: the unit's own row and column (as shares of the floor),
  heading (one-hot), carrying, carrying a requested pod, busy, on a pick station; then a
  ``(2 * view_radius + 1)``-square window around it with 5 channels: blocked (wall, dock, off the
  floor), stored pod, requested pod (stored or carried), other unit, pick station.
- **serving**: a unit that stands on a pick station's cell with a requested pod is served
  automatically (one unit of one SKU of the pod); it waits there until the station is done.
- **episode**: ``max_steps`` steps, then every agent is truncated.

`parallel_api_test` (PettingZoo's API test) passes; same seed and actions give the same episode.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from fctwin.robots.floor import CHARGE, DOCK, PICK, STORAGE, STOW, WALL
from fctwin.robots.messages import CommandBatch, Lift, Move, Serve, SetDown, UnitMode

__all__ = ["FloorParallelEnv", "FORWARD", "RIGHT", "LEFT", "WAIT", "TOGGLE"]

FORWARD, RIGHT, LEFT, WAIT, TOGGLE = range(5)
N_CHANNELS = 5
N_SELF = 10
_BUSY_MODES = (int(UnitMode.LIFTING), int(UnitMode.SETTING_DOWN), int(UnitMode.CHARGING))


class FloorParallelEnv(ParallelEnv):
    metadata = {"name": "fctwin_floor_v0", "render_modes": ["ansi"], "is_parallelizable": True}

    def __init__(
        self,
        scene: str | Path = "fc_small",
        *,
        n_agents: int = 8,
        requests: int | None = None,
        max_steps: int = 500,
        view_radius: int = 2,
        overrides: dict[str, Any] | None = None,
        render_mode: str | None = None,
    ):
        from fctwin.sim.api import load_scene

        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode must be None or 'ansi', not {render_mode!r}")
        self.scene_ref = scene
        self.overrides = {**dict(overrides or {}), "fleet[0].count": int(n_agents)}
        self.n_requests = int(requests or n_agents)
        self.max_steps = int(max_steps)
        self.radius = int(view_radius)
        self.render_mode = render_mode
        probe = load_scene(scene, overrides=self.overrides)
        self.possible_agents = [u.unit_id for u in probe.units if u.config.type == "titan"]
        if not self.possible_agents:
            raise ValueError(f"{scene}: no drive units")
        self.height, self.width = probe.grid.shape
        self.grid = np.asarray(probe.grid)
        self.pick_stations = {s.cell: s.station_id for s in probe.stations if s.kind == "pick"}
        self.default_seed = int(probe.seed)
        side = 2 * self.radius + 1
        self._obs_space = spaces.Box(0.0, 1.0, shape=(N_SELF + N_CHANNELS * side * side,), dtype=np.float32)
        self._act_space = spaces.Discrete(5)
        # static channels of the whole floor, padded by the view radius (off the floor is blocked)
        r = self.radius
        blocked = np.ones((self.height + 2 * r, self.width + 2 * r), dtype=np.float32)
        blocked[r : r + self.height, r : r + self.width] = np.isin(self.grid, (WALL, DOCK))
        station = np.zeros_like(blocked)
        station[r : r + self.height, r : r + self.width] = self.grid == PICK
        self._static = (blocked, station)
        self._rng = np.random.default_rng()
        self.host = None
        self.agents: list[str] = []

    # ------------------------------------------------------------------ spaces (one object, every agent)

    def observation_space(self, agent: str) -> spaces.Box:
        return self._obs_space

    def action_space(self, agent: str) -> spaces.Discrete:
        return self._act_space

    # ------------------------------------------------------------------ episode

    def reset(self, seed: int | None = None, options: dict | None = None):
        from fctwin.sim.api import load_scene
        from fctwin.sim.fleet_host import FleetHost

        if seed is not None:
            self._rng = np.random.default_rng(seed)
        options = options or {}
        scene_seed = int(options.get("scene_seed", self._rng.integers(0, 2**31 - 1)))
        if self.host is not None:
            self.host.close()
        scene = load_scene(self.scene_ref, seed=scene_seed, overrides=self.overrides)
        self.host = FleetHost(scene, world=False)
        self.titans = {t.unit_id: t for t in self.host.titans if t.unit_id in self.possible_agents}
        self.agents = list(self.possible_agents)
        self.steps = 0
        self._cid = 0
        self._task = 0
        self._serving: dict[str, int] = {}  # agent -> the serve command in progress
        self._pods_version = 0
        self.requested: set[int] = set()
        for _ in range(self.n_requests):
            self._draw_request()
        self.delivered = 0
        self.host.initial_frame()
        infos = {a: {"scene_seed": scene_seed} for a in self.agents}
        return self._observations(), infos

    def _draw_request(self) -> None:
        floor = self.host.floor
        carried = {t.pod_id for t in self.titans.values() if t.pod_id >= 0}
        candidates = [
            p
            for p in range(len(floor.contents))
            if floor.contents[p] and p not in self.requested and p not in carried
        ]
        if candidates:
            self.requested.add(int(candidates[int(self._rng.integers(len(candidates)))]))

    def _next_cid(self) -> int:
        self._cid += 1
        return self._cid

    def step(self, actions: dict[str, int]):
        if not self.agents:
            raise RuntimeError("step() after the episode ended: call reset()")
        host = self.host
        floor = host.floor
        commands = []
        for agent in self.agents:
            t = self.titans[agent]
            a = int(actions.get(agent, WAIT))
            if agent in self._serving or t.state().mode in _BUSY_MODES:
                continue
            if a == TOGGLE:
                if t.pod_id >= 0:
                    commands.append(SetDown(self._next_cid(), agent))
                elif floor.pod_at(t.cell) >= 0:
                    commands.append(Lift(self._next_cid(), agent, floor.pod_at(t.cell)))
            elif a in (FORWARD, RIGHT, LEFT):
                commands.append(Move(self._next_cid(), agent, a, self.steps))
            # a wait needs no command: a unit without one waits
        # Serve requested pods presented at pick stations (one line of one unit, the lowest SKU).
        for agent in self.agents:
            t = self.titans[agent]
            station = self.pick_stations.get(t.cell)
            if station is None or agent in self._serving or t.pod_id not in self.requested:
                continue
            if t.state().mode in _BUSY_MODES or not floor.contents[t.pod_id]:
                continue
            sku = min(floor.contents[t.pod_id])
            self._task += 1
            cid = self._next_cid()
            commands.append(Serve(cid, station, self._task, "pick", t.pod_id, sku, 1))
            self._serving[agent] = cid
        frame = host.apply(CommandBatch(step=self.steps, t_s=host.t_s, commands=commands))
        rewards = {a: 0.0 for a in self.agents}
        by_cid = {cid: agent for agent, cid in self._serving.items()}
        for ev in frame.events:
            if ev.kind in ("done", "refused", "failed", "error") and ev.command_id in by_cid:
                agent = by_cid[ev.command_id]
                del self._serving[agent]
                if ev.kind == "done":
                    pod = int(ev.data.get("pod", -1))
                    rewards[agent] += 1.0
                    self.delivered += 1
                    self.requested.discard(pod)
                    self._draw_request()
            elif ev.kind == "done" and ev.data.get("op") in ("lift", "set_down"):
                self._pods_version += 1
        self.steps += 1
        done = self.steps >= self.max_steps
        terminations = {a: False for a in self.agents}
        truncations = {a: done for a in self.agents}
        infos = {a: {} for a in self.agents}
        observations = self._observations()
        if done:
            self.agents = []
        return observations, rewards, terminations, truncations, infos

    # ------------------------------------------------------------------ observations

    def _observations(self) -> dict[str, np.ndarray]:
        r = self.radius
        side = 2 * r + 1
        pad = (self.height + 2 * r, self.width + 2 * r)
        stored = np.zeros(pad, dtype=np.float32)
        requested = np.zeros(pad, dtype=np.float32)
        units = np.zeros(pad, dtype=np.float32)
        for (row, col), pod in self.host.floor.pods.items():
            stored[row + r, col + r] = 1.0
            if pod in self.requested:
                requested[row + r, col + r] = 1.0
        for t in self.titans.values():
            row, col = t.cell
            units[row + r, col + r] = 1.0
            if t.pod_id in self.requested:
                requested[row + r, col + r] = 1.0
        blocked, station = self._static
        out = {}
        for agent in self.agents:
            t = self.titans[agent]
            row, col = t.cell
            mode = t.state().mode
            own = np.zeros(N_SELF, dtype=np.float32)
            own[0] = row / max(1, self.height - 1)
            own[1] = col / max(1, self.width - 1)
            own[2 + t.heading] = 1.0
            own[6] = t.pod_id >= 0
            own[7] = t.pod_id in self.requested
            own[8] = agent in self._serving or mode in _BUSY_MODES
            own[9] = (row, col) in self.pick_stations
            window = np.stack(
                [
                    blocked[row : row + side, col : col + side],
                    stored[row : row + side, col : col + side],
                    requested[row : row + side, col : col + side],
                    units[row : row + side, col : col + side],
                    station[row : row + side, col : col + side],
                ]
            )
            window[3, r, r] = 0.0  # itself is not "another unit"
            out[agent] = np.concatenate([own, window.ravel()])
        return out

    def state(self) -> np.ndarray:
        """The whole floor: for every cell, stored pod, requested pod, unit (3 x H x W, float32)."""
        s = np.zeros((3, self.height, self.width), dtype=np.float32)
        for (row, col), pod in self.host.floor.pods.items():
            s[0, row, col] = 1.0
            s[1, row, col] = pod in self.requested
        for t in self.titans.values():
            s[2, t.cell[0], t.cell[1]] = 1.0
            if t.pod_id in self.requested:
                s[1, t.cell[0], t.cell[1]] = 1.0
        return s

    def render(self) -> str | None:
        if self.render_mode != "ansi" or self.host is None:
            return None
        chars = {WALL: "#", DOCK: "D", STORAGE: ".", PICK: "P", STOW: "S", CHARGE: "c"}
        rows = [[chars.get(int(code), " ") for code in line] for line in self.grid]
        for (row, col), pod in self.host.floor.pods.items():
            rows[row][col] = "R" if pod in self.requested else "o"
        for t in self.titans.values():
            rows[t.cell[0]][t.cell[1]] = "$" if t.pod_id >= 0 else "x"
        return "\n".join("".join(r) for r in rows)

    def close(self) -> None:
        if self.host is not None:
            self.host.close()
            self.host = None
