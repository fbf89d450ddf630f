"""Hardware-in-the-loop link: simulated units in the fleet host plus external robots on the wire.

`HilFleetLink` has the same interface as `ZmqFleetLink` (``initial_frame``, ``exchange``,
``close``), so the run loop and the dispatcher cannot tell which units are hardware. It owns one
`DispatcherServer` bound on a public endpoint (``--bind``) where external robots register, and a
`ZmqFleetLink` to the fleet host that simulates everything else (the external unit ids are passed
to it as ``exclude_units``).

Each tick, `exchange`:

1. splits the batch: the simulated units' commands go to the fleet host (lockstep), with the
   external units' states (``CommandBatch.external``) so its safety layer keeps out of their cells;
2. sends each external robot its commands (one ``command`` per robot), except a forward move into
   a cell a drive unit still holds after the fleet host's step (answered ``refused``, reason
   ``cell contested``, as the fleet host does for its own units);
3. waits, at most ``external_wait_s``, for every commanded external robot to report telemetry for
   this step (a real robot executes its motion step in real time);
4. merges the fleet host's frame with the latest state and the events of every external unit.

An external robot that is lost (killed, frozen, unplugged: no heartbeat for three intervals) is
reported with mode ``FAILED`` at its last known cell until it registers again, so the dispatcher
blocks that cell and re-assigns its tasks; its re-registration reports where it is.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import msgspec

from fctwin.network import protocol as p
from fctwin.network.dispatcher_side import ClientLost, DispatcherServer, Received, Registered, ServerConfig
from fctwin.network.fleet_link import ZmqFleetLink
from fctwin.network.security import ServerKeys
from fctwin.robots.messages import (
    FORWARD_DELTA,
    Action,
    CommandBatch,
    Move,
    TelemetryFrame,
    UnitEvent,
    UnitMode,
    UnitState,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class HilOptions:
    bind: str  # endpoint for external robots, e.g. tcp://0.0.0.0:5555
    external_ids: frozenset[str]
    keys: ServerKeys | None = None
    insecure: bool = False
    heartbeat_interval_s: float = p.HEARTBEAT_INTERVAL_S
    watchdog_s: float = p.WATCHDOG_S
    register_timeout_s: float = 120.0  # how long to wait at start for every external robot
    external_wait_s: float = 2.0  # how long one tick waits for commanded robots to report


DRIVE_UNIT_TYPE = "titan"


def hold_blocked_moves(
    commands: dict[str, list[Any]], states: dict[str, UnitState], occupied: set, t_s: float
) -> tuple[dict[str, list[Any]], list[UnitEvent]]:
    """Withhold forward moves of external units into ``occupied`` cells (row, col).

    Returns the commands to send (units left with none are dropped) and a ``refused`` event
    (reason ``cell contested``, as the fleet host's safety layer says it) for each withheld move.
    A unit whose state is unknown keeps its commands.
    """
    out: dict[str, list[Any]] = {}
    held: list[UnitEvent] = []
    for uid, cmds in commands.items():
        st = states.get(uid)
        keep = []
        for c in cmds:
            if st is not None and isinstance(c, Move) and c.action == Action.F:
                dr, dc = FORWARD_DELTA[st.heading]
                if (st.row + dr, st.col + dc) in occupied:
                    held.append(
                        UnitEvent(
                            uid, "refused", t_s, c.command_id, {"op": "move", "reason": "cell contested"}
                        )
                    )
                    continue
            keep.append(c)
        if keep:
            out[uid] = keep
    return out, held


class HilFleetLink:
    """Fleet link whose external units are real (or reference) robot processes."""

    def __init__(self, scene: Any, hil: HilOptions, *, link_kwargs: dict[str, Any] | None = None) -> None:
        self.hil = hil
        self.server = DispatcherServer(
            ServerConfig(
                router_endpoint=hil.bind,
                heartbeat_interval_s=hil.heartbeat_interval_s,
                watchdog_s=hil.watchdog_s,
                keys=hil.keys,
                insecure=hil.insecure,
            )
        )
        self.endpoint = self.server.router_endpoint
        self.states: dict[str, UnitState] = {}
        self.reported_step: dict[str, int] = {}
        self._events: list[UnitEvent] = []
        self._told_external: list[UnitState] = []  # external units in the last frame returned
        kwargs = dict(link_kwargs or {})
        options = dict(kwargs.pop("host_options", {}) or {})
        options["exclude_units"] = frozenset(hil.external_ids)
        try:
            self.sim = ZmqFleetLink(scene, host_options=options, **kwargs)
            self._wait_for_robots()
        except BaseException:
            self.server.close()
            raise

    # ------------------------------------------------------------------ link API

    def initial_frame(self) -> TelemetryFrame:
        return self._merge(self.sim.initial_frame())

    def exchange(self, batch: CommandBatch) -> TelemetryFrame:
        self.server.t_sim_s = batch.t_s
        external: dict[str, list[Any]] = {}
        simulated = []
        for c in batch.commands:
            if c.unit_id in self.hil.external_ids:
                external.setdefault(c.unit_id, []).append(c)
            else:
                simulated.append(c)
        self._pump(0.0)
        # Simulated units step first: a robot is not sent into a cell a simulated unit still holds
        # (its move was vetoed or refused) or another robot stands in; the fleet host's safety
        # layer cannot stop a robot, so this is the same layer for it.
        frame = self.sim.exchange(self._sim_batch(batch, simulated, self._told_external))
        occupied = {(u.row, u.col) for u in frame.units if u.unit_type == DRIVE_UNIT_TYPE}
        occupied |= {(u.row, u.col) for u in self.states.values()}
        external, held = hold_blocked_moves(external, self.states, occupied, batch.t_s)
        self._events.extend(held)
        waiting = set()
        for uid, cmds in external.items():
            if self.server.send_commands(uid, CommandBatch(step=batch.step, t_s=batch.t_s, commands=cmds)):
                waiting.add(uid)
        deadline = time.monotonic() + self.hil.external_wait_s
        while time.monotonic() < deadline and any(
            self.reported_step.get(u, -1) < batch.step for u in waiting
        ):
            self._pump(0.01)
        return self._merge(frame)

    def replay(self, batch: CommandBatch, before: TelemetryFrame, after: TelemetryFrame) -> TelemetryFrame:
        """Re-drive the simulated units with a journaled tick (`fctwin.sim.journal`); return their frame.

        ``before`` is the journaled frame the batch was decided from, ``after`` the one it got.

        External units are taken from the journal and are not commanded: a robot keeps its own
        state, and the batches after the journal reach it live (repeats are acknowledged, not run).
        Sessions are served meanwhile, so robots reconnecting during a long replay stay registered.
        """
        self._pump(0.0)
        simulated = [c for c in batch.commands if c.unit_id not in self.hil.external_ids]
        external = [u for u in before.units if u.unit_id in self.hil.external_ids]
        frame = self.sim.exchange(self._sim_batch(batch, simulated, external))
        # The dispatcher decides the next batch from `after`: the first live tick must give the
        # fleet host those states, or it misses what robots did in the last journaled tick (a
        # set-down seen one cell later put the pod on the wrong cell).
        self._told_external = [u for u in after.units if u.unit_id in self.hil.external_ids]
        return frame

    def _sim_batch(self, batch: CommandBatch, simulated: list, external) -> CommandBatch:
        # The fleet host gets the external units' states from the frame the dispatcher decided on
        # (journaled, so a replay gives the fleet host the same input): its safety layer keeps out
        # of their cells, its floor and world follow the pods they carry.
        return CommandBatch(step=batch.step, t_s=batch.t_s, commands=simulated, external=list(external))

    def close(self) -> None:
        try:
            self.sim.close()
        finally:
            self.server.close()

    # ------------------------------------------------------------------ internals

    def _wait_for_robots(self) -> None:
        deadline = time.monotonic() + self.hil.register_timeout_s
        while time.monotonic() < deadline and not self.hil.external_ids <= set(self.states):
            self._pump(0.05)
        missing = sorted(self.hil.external_ids - set(self.states))
        if missing:
            raise TimeoutError(
                f"external units did not register within {self.hil.register_timeout_s:g} s: {missing}"
            )

    def _pump(self, timeout_s: float) -> None:
        for ev in self.server.poll(timeout_s):
            if isinstance(ev, Registered):
                for info in ev.units:
                    if info.unit_id not in self.hil.external_ids:
                        log.warning("unit %s is not external in this scene; ignored", info.unit_id)
                    elif info.state is not None:
                        self.states[info.unit_id] = info.state
                log.info("external unit %s registered (resumed=%s)", ev.client_id, ev.resumed)
            elif isinstance(ev, ClientLost):
                for uid in ev.unit_ids:
                    st = self.states.get(uid)
                    if st is not None:
                        self.states[uid] = msgspec.structs.replace(st, mode=int(UnitMode.FAILED))
                    self._events.append(
                        UnitEvent(
                            unit_id=uid, kind="failed", t_s=self.server.t_sim_s, data={"reason": ev.reason}
                        )
                    )
            elif isinstance(ev, Received):
                env = ev.envelope
                if env.type == p.TELEMETRY:
                    for st in env.body.units:
                        self.states[st.unit_id] = st
                        self.reported_step[st.unit_id] = max(
                            self.reported_step.get(st.unit_id, -1), env.body.step
                        )
                    self._events.extend(env.body.events)
                else:
                    self._events.append(env.body)

    def _merge(self, frame: TelemetryFrame) -> TelemetryFrame:
        events, self._events = self._events, []
        units = [u for u in frame.units if u.unit_id not in self.hil.external_ids]
        self._told_external = [self.states[uid] for uid in sorted(self.states)]
        units += self._told_external
        return TelemetryFrame(step=frame.step, t_s=frame.t_s, units=units, events=[*frame.events, *events])
