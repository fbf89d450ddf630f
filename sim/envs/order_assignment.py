"""A Gymnasium environment at the decision level: which pick station takes the next order.

Merschformann et al. (2019) found the order-to-station assignment rule drives an RMFS's throughput
more than pod selection or storage; this environment hands that rule to an agent. The simulation
is the real one: `fctwin.sim.run.run_fc` (dispatcher, fleet host, stations, demand) with the scene's
``dispatch.order_assignment`` set to ``external``, whose chooser is this environment's action.

One step is one decision: the order at the head of the backlog, while some pick station can take
more lines. The run goes on in a thread of its own that waits for the action at every decision,
so nothing runs between steps and an episode is as deterministic as a run (same seed, same
actions, same observations and rewards).

- **action**: ``Discrete(n_pick)``, the pick station (in scene order). A station already at
  ``max_lines_per_station`` holds the order; it is asked again next tick (``info["action_mask"]``
  says which stations can take it).
- **observation**: ``Box(float32)``, per pick station its open lines / max_lines_per_station,
  trips queued or heading there / (queue_cells + 2), and whether a pod is being served; then the
  order's lines / 6 and units / 24, the backlog / 100 and the elapsed share of the episode.
- **reward**: units picked since the previous decision (the episode's return is the units picked).
- **episode**: ``hours`` of simulated time (default 0.25), then ``truncated`` (a time limit, the
  floor does not terminate). ``reset(seed=s)`` makes the scene's seed root a draw of the seeded
  generator; ``options={"scene_seed": k}`` sets it directly (``info["scene_seed"]`` says which).
"""

from __future__ import annotations

import itertools
import queue
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = ["OrderAssignmentEnv"]

_ABORT = object()
_TIMEOUT_S = 600.0
_channels = itertools.count()


class _AbortedError(Exception):
    """Raised inside the run's thread to end an episode early (reset or close)."""


class OrderAssignmentEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(
        self,
        scene: str | Path = "fc_small",
        *,
        hours: float = 0.25,
        overrides: dict[str, Any] | None = None,
    ):
        from fctwin.sim.api import load_scene

        self.scene_ref = scene
        self.hours = float(hours)
        self.overrides = dict(overrides or {})
        probe = load_scene(scene, hours=self.hours, overrides=self.overrides)
        self.n_pick = sum(1 for s in probe.stations if s.kind == "pick")
        if self.n_pick < 1:
            raise ValueError(f"{scene}: no pick station to assign orders to")
        self.max_lines = int(probe.spec.dispatch.max_lines_per_station)
        self.queue_norm = float(max(g.queue_cells for g in probe.spec.stations) + 2)
        self.run_s = probe.run_s
        self.default_seed = int(probe.seed)
        self.action_space = spaces.Discrete(self.n_pick)
        # Open lines can pass max_lines_per_station by one order's lines (the cap holds orders
        # back, it does not split them): ratios are not clipped, so the ranking of stations is kept.
        n = self.n_pick
        high = np.concatenate([np.full(n, 4.0), np.full(n, 4.0), np.ones(n), [1.0, 1.0, 1.0, 1.0]])
        self.observation_space = spaces.Box(0.0, high.astype(np.float32), dtype=np.float32)
        self._channel = f"gym-{id(self):x}-{next(_channels)}"
        self._thread: threading.Thread | None = None
        self._to_sim: queue.Queue = queue.Queue(maxsize=1)
        self._to_env: queue.Queue = queue.Queue(maxsize=1)
        self._tmp = Path(tempfile.mkdtemp(prefix="fctwin-gym-"))
        self._episode = 0
        self._picked = 0
        self._last_obs = np.zeros(self.observation_space.shape, dtype=np.float32)
        self._done = True

    # ------------------------------------------------------------------ the run's side (its thread)

    def _observe(self, d, order, picks, open_lines) -> tuple[np.ndarray, dict]:
        cap = self.max_lines
        n = self.n_pick
        obs = np.zeros(self.observation_space.shape, dtype=np.float32)
        in_flight = {k: len(d.stations[k].queue) for k in picks}
        for t in d.trips:
            if t.station in in_flight:
                in_flight[t.station] += 1
        for j, k in enumerate(picks):
            st = d.stations[k]
            obs[j] = min(open_lines[k] / cap, 4.0)
            obs[n + j] = min(in_flight[k] / self.queue_norm, 4.0)
            obs[2 * n + j] = 1.0 if st.busy else 0.0
        lines = order.order.lines
        obs[3 * n] = min(len(lines) / 6.0, 1.0)
        obs[3 * n + 1] = min(sum(ln.units for ln in lines) / 24.0, 1.0)
        obs[3 * n + 2] = min(len(d.backlog) / 100.0, 1.0)
        obs[3 * n + 3] = min(d.t_s / self.run_s, 1.0)
        info = {
            "action_mask": np.array([open_lines[k] < cap for k in picks], dtype=np.int8),
            "order_id": int(order.order.order_id),
            "t_s": float(d.t_s),
        }
        return obs, info

    def _choose(self, d, order, picks, open_lines):
        obs, info = self._observe(d, order, picks, open_lines)
        self._to_env.put(("decide", obs, info, int(d.stats["units_picked"])))
        msg = self._to_sim.get(timeout=_TIMEOUT_S)
        if msg is _ABORT:
            raise _AbortedError
        return picks[int(msg)]

    def _run(self, scene_seed: int, run_id: str) -> None:
        from fctwin.controller.policies.order_assignment import register_chooser, unregister_chooser
        from fctwin.sim.run import RunOptions, run_fc
        from fctwin.sim.scene.catalog import resolve_scene

        register_chooser(self._channel, self._choose)
        overrides = {
            **self.overrides,
            "dispatch.order_assignment": "external",
            "dispatch.params.order_assignment.channel": self._channel,
        }
        try:
            result = run_fc(
                resolve_scene(self.scene_ref),
                RunOptions(
                    hours=self.hours,
                    seed=scene_seed,
                    overrides=overrides,
                    link="local",
                    runs_dir=self._tmp,
                    run_id=run_id,
                    record_poses=False,
                    command_line=["fctwin.sim.envs.OrderAssignmentEnv"],
                ),
            )
            self._to_env.put(("end", None, {"kpis": result.kpis}, int(result.kpis["units_picked"])))
        except _AbortedError:
            pass
        except BaseException as exc:  # handed to the caller of step/reset
            self._to_env.put(("error", exc, {}, 0))
        finally:
            unregister_chooser(self._channel)

    # ------------------------------------------------------------------ the agent's side

    def _receive(self):
        try:
            kind, obs, info, picked = self._to_env.get(timeout=_TIMEOUT_S)
        except queue.Empty:
            raise RuntimeError("the simulation did not answer within 10 minutes") from None
        if kind == "error":
            self._thread.join()
            self._thread = None
            raise RuntimeError(f"the simulation failed: {type(obs).__name__}: {obs}") from obs
        return kind, obs, info, picked

    def _stop_episode(self) -> None:
        if self._thread is None:
            return
        if self._thread.is_alive() and not self._done:
            self._to_sim.put(_ABORT)
        self._thread.join(timeout=_TIMEOUT_S)
        self._thread = None
        while not self._to_env.empty():
            self._to_env.get_nowait()
        shutil.rmtree(self._tmp / f"episode-{self._episode}", ignore_errors=True)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._stop_episode()
        options = options or {}
        if "scene_seed" in options:
            scene_seed = int(options["scene_seed"])
        else:
            scene_seed = int(self.np_random.integers(0, 2**31 - 1))
        self._episode += 1
        self._picked = 0
        self._done = False
        self._thread = threading.Thread(
            target=self._run,
            args=(scene_seed, f"episode-{self._episode}"),
            name=f"fctwin-{self._channel}",
            daemon=True,
        )
        self._thread.start()
        kind, obs, info, picked = self._receive()
        info = {**info, "scene_seed": scene_seed}
        if kind == "end":  # not a single decision in the whole episode
            self._done = True
            obs = self._last_obs
        self._picked = picked
        self._last_obs = obs
        return obs, info

    def step(self, action):
        if self._done:
            raise RuntimeError("step() after the episode ended: call reset()")
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not in {self.action_space}")
        self._to_sim.put(int(action))
        kind, obs, info, picked = self._receive()
        reward = float(picked - self._picked)
        self._picked = picked
        if kind == "end":
            self._done = True
            self._thread.join(timeout=_TIMEOUT_S)
            return self._last_obs, reward, False, True, info
        self._last_obs = obs
        return obs, reward, False, False, info

    def close(self) -> None:
        self._stop_episode()
        self._done = True
        shutil.rmtree(self._tmp, ignore_errors=True)
        super().close()
