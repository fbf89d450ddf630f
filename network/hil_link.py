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

The robots' sessions are served whenever this link waits (for the fleet host to start, for a
fleet-host frame, for robots to report, and between ticks through `idle`): a robot hears the
dispatcher at least once per heartbeat interval from its welcome to the run's ``bye``. With a
``grid``, every pose a robot reports (hello and telemetry) is checked against the floor and the
other units (error ``pose``), and events for command ids never sent to the unit are refused
(``unknown_command``).
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
    # The floor's cell codes (uint8[H, W] or nested lists): sent in welcome, and poses are checked
    # against it. None (toy fleets in tests): no floor in welcome, poses not checked.
    grid: Any = None
    # Start cells of the simulated drive units (unit id -> (row, col)): poses are checked against
    # them until the fleet host's first frame (robots are served while it starts).
    start_cells: Any = None
    # Resuming (`fctwin serve --resume`): the simulated drive units' cells where the journal left
    # them (unit id -> (row, col)). Robots re-register where they stand now, so their poses are
    # checked against these cells, not against the fleet host's first frame (the run's start, where
    # a robot may well stand hours later), and not against the cells the replay passes through.
    resume_cells: Any = None
    # Resuming after a dispatcher killed between sending a batch and journaling its frame: every
    # drive unit's cell had it executed that batch (`cells_after_batch`), and the batch's step. A
    # robot that did execute it stands one cell on, possibly where a simulated unit stood before
    # that batch moved it away: its pose is checked against the simulated units' cells after the
    # batch, and the same batch, sent again live, reaches it unheld (it acknowledges the repeats).
    resume_sent_cells: Any = None
    resume_sent_step: int | None = None
    step_s: float = 0.0  # announced in welcome (simulated seconds per batch)
    realtime_factor: float = 0.0  # announced in welcome (0: not paced)
    # The dispatcher's PUB socket for dashboards (recommendations; `fctwin serve --pub`), None: none.
    pub_endpoint: str | None = None


DRIVE_UNIT_TYPE = "titan"
_WALL, _DOCK = 1, 5  # cell codes no drive unit can stand on (robots.floor)


def sim_cells_before_first_frame(hil: HilOptions) -> dict[tuple[int, int], str]:
    """Cell -> simulated drive unit that robots' poses are checked against while the run starts:
    the journal's last cells when resuming (robots stand where the stopped run left them), else the
    scene's start cells."""
    cells = hil.resume_cells if hil.resume_cells is not None else hil.start_cells
    return {tuple(cell): uid for uid, cell in (cells or {}).items() if uid not in hil.external_ids}


def cells_after_batch(units: Any, batch: CommandBatch) -> dict[str, tuple[int, int]]:
    """Cell of each drive unit in ``units`` (`UnitState`s) once it has executed its moves in ``batch``.

    Turns change the heading the next forward move uses; a unit with no move keeps its cell. Whether
    a move would have been vetoed is not known here: this is where a unit *may* stand.
    """
    moves: dict[str, list[int]] = {}
    for c in batch.commands:
        if isinstance(c, Move):
            moves.setdefault(c.unit_id, []).append(c.action)
    out = {}
    for u in units:
        if u.unit_type != DRIVE_UNIT_TYPE:
            continue
        row, col, heading = u.row, u.col, u.heading
        for action in moves.get(u.unit_id, ()):
            if action == Action.F:
                dr, dc = FORWARD_DELTA[heading]
                row, col = row + dr, col + dc
            elif action == Action.R:
                heading = (heading + 1) % 4
            elif action == Action.C:
                heading = (heading - 1) % 4
        out[u.unit_id] = (row, col)
    return out


def floor_info(grid: Any) -> p.FloorInfo:
    """The welcome's `FloorInfo` for a grid of cell codes (uint8[H, W] array or nested lists)."""
    rows = [list(map(int, r)) for r in grid]
    return p.FloorInfo(rows=len(rows), cols=len(rows[0]), codes=bytes(v for r in rows for v in r))


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
        self.floor = floor_info(hil.grid) if hil.grid is not None else None
        self.server = DispatcherServer(
            ServerConfig(
                router_endpoint=hil.bind,
                pub_endpoint=hil.pub_endpoint,
                heartbeat_interval_s=hil.heartbeat_interval_s,
                watchdog_s=hil.watchdog_s,
                keys=hil.keys,
                insecure=hil.insecure,
                floor=self.floor,
                step_s=hil.step_s,
                realtime_factor=hil.realtime_factor,
                check_pose=self._pose_problem if self.floor is not None else None,
                track_commands=True,
            )
        )
        self.endpoint = self.server.router_endpoint
        self.states: dict[str, UnitState] = {}
        self.reported_step: dict[str, int] = {}
        self._events: list[UnitEvent] = []
        self._told_external: list[UnitState] = []  # external units in the last frame returned
        # cell -> simulated drive unit, from the last fleet-host frame (the scene's start cells before)
        self._resuming = hil.resume_cells is not None
        self._sim_cells: dict[tuple[int, int], str] = sim_cells_before_first_frame(hil)
        # Resuming after a batch sent but never journaled: the simulated units' cells after it
        # (poses of robots that executed it are checked against these), until the first live tick.
        self._sim_cells_sent: dict[tuple[int, int], str] | None = None
        if self._resuming and hil.resume_sent_cells is not None:
            self._sim_cells_sent = {
                tuple(cell): uid for uid, cell in hil.resume_sent_cells.items() if uid not in hil.external_ids
            }
        self.sim: ZmqFleetLink | None = None
        kwargs = dict(link_kwargs or {})
        kwargs["wait_for_start"] = False  # robots are served while the fleet host starts
        options = dict(kwargs.pop("host_options", {}) or {})
        options["exclude_units"] = frozenset(hil.external_ids)
        try:
            self.sim = ZmqFleetLink(scene, host_options=options, **kwargs)
            self.sim.idle = self._serve_robots
            first = self.sim.initial_frame()  # waits for the fleet host's start
            if not self._resuming:
                self._note_sim(first)
            self._wait_for_robots()
        except BaseException:
            if self.sim is not None:
                self.sim.close()
            self.server.close(reason="start-up failed")
            raise

    # ------------------------------------------------------------------ link API

    def initial_frame(self) -> TelemetryFrame:
        return self._merge(self.sim.initial_frame())

    def idle(self, wait_s: float) -> None:
        """Serve the robots' sessions for ``wait_s`` (the run loop's wait between paced ticks)."""
        end = time.monotonic() + max(0.0, wait_s)
        while True:
            self._pump(max(0.0, min(0.05, end - time.monotonic())))
            if time.monotonic() >= end:
                return

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
        self._note_sim(frame)
        occupied = {(u.row, u.col) for u in frame.units if u.unit_type == DRIVE_UNIT_TYPE}
        occupied |= {(u.row, u.col) for u in self.states.values()}
        # The batch a killed dispatcher sent, sent again: a robot that executed it already stands
        # where it takes it; its (repeated) commands reach it unchecked and are acknowledged, not run.
        ran = self._ran_sent_batch(batch.step)
        unheld = {uid: external.pop(uid) for uid in ran if uid in external}
        external, held = hold_blocked_moves(external, self.states, occupied, batch.t_s)
        external.update(unheld)
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
        # The dead dispatcher sent these: a robot's ack or done for one of them is not unknown.
        self.server.note_sent([c for c in batch.commands if c.unit_id in self.hil.external_ids])
        external = [u for u in before.units if u.unit_id in self.hil.external_ids]
        frame = self.sim.exchange(self._sim_batch(batch, simulated, external))
        if not self._resuming:  # robots stand where they are now, not where the replay has got to
            self._note_sim(frame)
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

    def publish_recommendation(self, body: p.Recommendation) -> None:
        """The agent's recommendation to dashboards, on the dispatcher server's PUB socket."""
        self.server.publish_recommendation(body)

    def close(self) -> None:
        try:
            # Robots first: each hears bye (the run is over), stops and does not reconnect. (After
            # the fleet host's shutdown, seconds in which nobody served them, they had given up.)
            self.server.close(reason="run finished", linger_s=1.0)
        finally:
            self.sim.close()

    # ------------------------------------------------------------------ internals

    def _serve_robots(self) -> None:
        self._pump(0.0)

    def _ran_sent_batch(self, step: int) -> set[str]:
        """External units standing where the killed dispatcher's unjournaled batch (step ``step``)
        takes them, on the first live tick of a resume; empty otherwise. Ends the resume picture."""
        if self._sim_cells_sent is None:
            return set()
        self._sim_cells_sent = None
        hil = self.hil
        if step != hil.resume_sent_step:
            return set()
        return {
            uid
            for uid, st in self.states.items()
            if tuple(hil.resume_sent_cells.get(uid, ())) == (st.row, st.col)
            and tuple((hil.resume_cells or {}).get(uid, ())) != (st.row, st.col)
        }

    def _note_sim(self, frame: TelemetryFrame) -> None:
        self._sim_cells = {
            (u.row, u.col): u.unit_id
            for u in frame.units
            if u.unit_type == DRIVE_UNIT_TYPE and u.unit_id not in self.hil.external_ids
        }

    def _pose_problem(self, client_id: str, st: UnitState) -> str:
        """Why a reported pose cannot be, or "" (`ServerConfig.check_pose`)."""
        floor = self.floor
        assert floor is not None
        r, c = st.row, st.col
        if not (0 <= r < floor.rows and 0 <= c < floor.cols):
            return f"cell ({r}, {c}) is off the floor ({floor.rows} x {floor.cols})"
        code = floor.code(r, c)
        if code in (_WALL, _DOCK):
            return f"cell ({r}, {c}) is a {'wall' if code == _WALL else 'dock'}: no unit can stand there"
        if not 0 <= st.heading <= 3:
            return f"heading {st.heading} is not 0..3"
        if not 0 <= st.mode <= int(UnitMode.FAILED):
            return f"mode {st.mode} is not 0..7"
        sim_cells = self._sim_cells
        sent = self.hil.resume_sent_cells or {}
        if self._sim_cells_sent is not None and tuple(sent.get(st.unit_id, ())) == (r, c):
            # it executed the killed dispatcher's last batch: the simulated units did too, or will
            sim_cells = self._sim_cells_sent
        other = sim_cells.get((r, c))
        if other is None:
            other = next(
                (u for u, s in self.states.items() if u != st.unit_id and (s.row, s.col) == (r, c)), None
            )
        if other is not None:
            return f"cell ({r}, {c}) is held by unit {other}"
        return ""

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
                        continue
                    if info.unit_id in self.states:
                        # Back after a loss or a reconnect: the dispatcher recovers the unit (and
                        # resumes it if its watchdog stopped it meanwhile).
                        self._events.append(
                            UnitEvent(
                                info.unit_id, "online", self.server.t_sim_s, data={"resumed": int(ev.resumed)}
                            )
                        )
                    if info.state is not None:
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
