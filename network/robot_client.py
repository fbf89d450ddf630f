"""Reference hardware client: one drive unit's controller speaking the fctwin protocol.

This is the file integrators copy. It runs its own real-time control loop (``control_period_s``)
and keeps the wire, the safety logic and the motion apart:

- the wire: a `FleetClient` session (hello with the unit's pose, heartbeats, reconnection);
- safety: commands are deduplicated by id (a repeat is acknowledged, never executed twice); the
  watchdog stops the unit when no valid message came from the dispatcher in time, and the unit
  stays stopped, reporting ``STOPPED``, until the dispatcher sends ``Resume``;
- motion: `fctwin.robots.titan.Titan` is the emulated drive (its local state machine executes Move, Lift,
  SetDown, Charge). Replace `_start_step`/`_finish_step` with real motor control.

Timing: a batch of commands starts one motion step of ``step_s`` wall seconds (divided by the
realtime factor); at its end the unit's state is sent as telemetry with the batch's ``step``, so
a dispatcher can wait for it. Telemetry also goes out every ``telemetry_period_s``.

Cell codes come from the dispatcher's welcome (``floor``) when it sends them, else from the
scene given at start. With a ``state_file`` the robot keeps its pose, pod and battery on disk
(written at the end of every motion step) and starts from it: what a real drive unit reads back
from its localisation after a power cycle, so a robot killed and restarted reports where it is.
A ``bye`` from the dispatcher (the run is over) stops the unit and ends `run`.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import zmq

from fctwin.network import protocol as p
from fctwin.network.fleet_side import ClientConfig, CommandDeduper, FleetClient
from fctwin.robots.floor import AISLE, STORAGE, Cell
from fctwin.robots.messages import CommandBatch, Lift, Stop, TelemetryFrame, UnitEvent, UnitMode
from fctwin.robots.titan import Titan

log = logging.getLogger(__name__)

TITAN_CAPABILITIES = ["move", "lift", "set_down", "charge", "stop", "resume"]


class OpenFloor:
    """What an emulated robot senses: the floor's cell codes, and no stored pods.

    An emulated robot has no pod sensor: told to lift pod P, it takes P to be where it stands (a
    real drive unit reads the pod's fiducial), and it does not know where pods stand, so it never
    refuses to drive loaded into a storage cell (the dispatcher plans loaded units around stored
    pods; a real drive unit also senses them). `grid_codes` gives the codes of a scene's grid.
    """

    def __init__(self, pods: dict[Cell, int] | None = None, codes: dict[Cell, int] | None = None):
        self.pods = dict(pods or {})
        self.codes = dict(codes or {})

    def code(self, cell: Cell) -> int:
        return self.codes.get(cell, STORAGE if cell in self.pods else AISLE)

    def pod_at(self, cell: Cell) -> int:
        return self.pods.get(cell, -1)

    def pod_mass_kg(self, pod_id: int) -> float:
        return 300.0

    def carrier_at(self, cell: Cell) -> tuple[str, int]:
        return ("", -1)


def grid_codes(grid) -> dict[Cell, int]:
    """Cell codes of a floor grid (uint8[H, W], a scene's ``grid``), except aisles (the default)."""
    return {(int(r), int(c)): int(grid[r, c]) for r, c in zip(*(grid != AISLE).nonzero(), strict=True)}


@dataclass(frozen=True, kw_only=True)
class RobotConfig:
    client: ClientConfig
    cell: Cell = (0, 0)
    heading: int = 0
    step_s: float = 1.0  # simulated seconds per motion step
    realtime_factor: float = 1.0  # wall seconds = simulated seconds / factor
    control_period_s: float = 0.01
    telemetry_period_s: float = 0.1  # 10 Hz
    state_file: str | None = None  # pose/pod/battery kept here across restarts (see module doc)


class ReferenceRobot:
    """A Titan controller on its own real-time loop. ``run()`` until `stop_requested`.

    ``clock`` (seconds, monotonic) times the wire session, the watchdog, motion steps and telemetry.
    Tests may pass a manual clock and call ``tick(0)`` themselves instead of ``run()``.
    """

    def __init__(
        self,
        config: RobotConfig,
        *,
        floor: OpenFloor | None = None,
        clock: Callable[[], float] = time.monotonic,
        context: zmq.Context | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        saved = load_state(config.state_file) if config.state_file else None
        self.unit = Titan(
            unit_id=config.client.client_id,
            floor=floor or OpenFloor(),
            cell=(saved["row"], saved["col"]) if saved else config.cell,
            heading=saved["heading"] if saved else config.heading,
        )
        if saved:
            self.unit.pod_id = int(saved.get("pod_id", -1))
            self.unit.battery_wh = float(saved.get("battery_frac", 1.0)) * self.unit.params.battery_wh
        self._floor_from_welcome = False
        self.ended_by_dispatcher = False
        self.client = FleetClient(config.client, self._units, context=context, clock=clock)
        self.dedup = CommandDeduper()
        self.t_s = 0.0  # simulated time, re-anchored on every command batch
        self.step = 0  # last dispatcher step whose commands were executed (reported in telemetry)
        self._batch_step = 0  # last dispatcher step whose commands were received
        self.watchdog_stopped = False
        self.stop_requested = False
        self._step_end_wall: float | None = None
        self._next_telemetry_wall = 0.0
        self._pending_events: list[UnitEvent] = []

    def _units(self) -> list[p.UnitInfo]:
        return [
            p.UnitInfo(
                unit_id=self.unit.unit_id,
                unit_type=self.unit.unit_type,
                capabilities=TITAN_CAPABILITIES,
                state=self.unit.state(),
            )
        ]

    def run(self, *, duration_s: float | None = None) -> None:
        end = None if duration_s is None else self.clock() + duration_s
        try:
            while not self.stop_requested and (end is None or self.clock() < end):
                self.tick(self.config.control_period_s)
        finally:
            self.client.close()

    def tick(self, timeout_s: float) -> None:
        """One pass of the control loop: wire, watchdog, motion, telemetry."""
        for env in self.client.poll(timeout_s):
            if env.type == p.COMMAND:
                self._on_batch(env.body)
            elif env.type == p.BYE:
                self._on_bye(env.body.reason)
                return
        if not self._floor_from_welcome and self.client.welcome is not None:
            self._take_floor(self.client.welcome.floor)
        now = self.clock()
        if self.client.watchdog_expired() and not self.watchdog_stopped:
            self._watchdog_stop()
        if self._step_end_wall is not None and now >= self._step_end_wall:
            self._finish_step()
        if now >= self._next_telemetry_wall:
            self._send_telemetry()

    # ------------------------------------------------------------------ commands and motion

    def _on_batch(self, batch: CommandBatch) -> None:
        mine = [c for c in batch.all_commands() if c.unit_id == self.unit.unit_id]
        fresh, acks = self.dedup.split(mine, batch.t_s)
        self.t_s = max(self.t_s, batch.t_s)
        self.client.t_sim_s = self.t_s
        events = list(acks)
        for cmd in fresh:
            if isinstance(cmd, Lift) and isinstance(self.unit.floor, OpenFloor) and self.unit.pod_id < 0:
                # emulated pod sensor (not for a lift it will refuse: carrying, the pod it "saw"
                # stayed on the floor and blocked the cell it had just lifted it from)
                self.unit.floor.pods[self.unit.cell] = cmd.pod_id
            events += self.unit.handle(cmd, self.t_s)
            if self.watchdog_stopped and cmd.__class__.__name__ == "Resume":
                self.watchdog_stopped = False
        self._send_events(events)
        self._batch_step = max(self._batch_step, batch.step)
        if self._step_end_wall is None:
            self._start_step()

    def _start_step(self) -> None:
        # Real hardware: hand the pending action to the motion controller here.
        self._step_end_wall = self.clock() + self.config.step_s / self.config.realtime_factor

    def _finish_step(self) -> None:
        # Real hardware: read back the achieved pose from odometry / fiducials here.
        self.t_s += self.config.step_s
        events = self.unit.step(self.t_s, self.config.step_s)
        if isinstance(self.unit.floor, OpenFloor):
            # The emulated sensor saw the pod only while lifting it. A pod it sets down is not
            # remembered: it cannot see another unit take it away later, and a remembered pod made
            # it refuse, loaded, a cell that was free (146 refusals in a row in the soak).
            for e in events:
                if e.kind == "done" and e.data.get("op") in ("lift", "set_down"):
                    self.unit.floor.pods.pop(self.unit.cell, None)
        self.step = self._batch_step
        self._save_state()
        self._send_events(events)
        busy = self.unit.mode in (UnitMode.LIFTING, UnitMode.SETTING_DOWN, UnitMode.CHARGING)
        self._step_end_wall = None
        if busy:
            self._start_step()
        self._send_telemetry()

    def mute(self, seconds: float) -> None:
        """Fault injection: send nothing for ``seconds`` (still receiving, still driving)."""
        self.client.mute_until = self.clock() + seconds

    def _on_bye(self, reason: str) -> None:
        """The run is over: hold still, remember where we are, end the loop (no reconnecting)."""
        log.warning("%s: dispatcher said bye (%s); stopping", self.unit.unit_id, reason)
        self.unit.handle(Stop(command_id=-1, unit_id=self.unit.unit_id, reason="bye"), self.t_s)
        self._step_end_wall = None
        self._save_state()
        self.ended_by_dispatcher = True
        self.stop_requested = True

    def _take_floor(self, floor: p.FloorInfo | None) -> None:
        self._floor_from_welcome = True
        if floor is None or not isinstance(self.unit.floor, OpenFloor):
            return
        aisle = AISLE
        self.unit.floor.codes = {divmod(k, floor.cols): v for k, v in enumerate(floor.codes) if v != aisle}

    def _save_state(self) -> None:
        if self.config.state_file:
            save_state(self.config.state_file, self.unit.state())

    def _watchdog_stop(self) -> None:
        log.warning(
            "%s: watchdog: no dispatcher message for %.2f s; stopping",
            self.unit.unit_id,
            self.client.silence_s(),
        )
        self.unit.handle(Stop(command_id=-1, unit_id=self.unit.unit_id, reason="watchdog"), self.t_s)
        self._step_end_wall = None
        self.watchdog_stopped = True
        self._pending_events.append(
            UnitEvent(unit_id=self.unit.unit_id, kind="aborted", t_s=self.t_s, data={"reason": "watchdog"})
        )

    # ------------------------------------------------------------------ reporting

    def _send_events(self, events: list[UnitEvent]) -> None:
        self._pending_events += events
        if not self.client.registered:
            return  # kept until registered: nothing the dispatcher must know is dropped here
        for e in self._pending_events:
            msg_type = e.kind if e.kind in p.EVENT_TYPES else p.EVENT
            self.client.send(msg_type, e)
        self._pending_events = []

    def _send_telemetry(self) -> None:
        self._next_telemetry_wall = self.clock() + self.config.telemetry_period_s
        if self.client.registered:
            self._send_events([])
            self.client.send(
                p.TELEMETRY, TelemetryFrame(step=self.step, t_s=self.t_s, units=[self.unit.state()])
            )


def save_state(path: str, st) -> None:
    """Write the unit's pose, pod and battery atomically (a kill mid-write leaves the old file)."""
    data = {
        "row": st.row,
        "col": st.col,
        "heading": st.heading,
        "pod_id": st.pod_id,
        "battery_frac": st.battery_frac,
    }
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def load_state(path: str) -> dict | None:
    """The state `save_state` wrote, or None if there is none (first start)."""
    try:
        return json.loads(Path(path).read_text())
    except (FileNotFoundError, ValueError):
        return None


MUTE_S = 3.0  # how long SIGUSR1 silences a robot's transmitter


def install_signal_handlers(robot: ReferenceRobot) -> None:
    """SIGTERM/SIGINT end the loop cleanly (bye sent). SIGUSR1 is a fault for tests: the robot
    sends nothing for `MUTE_S` seconds while it still receives and runs (a radio that lost its
    uplink). SIGKILL and SIGSTOP are the other faults the tests use."""

    def _stop(signum: int, frame: object) -> None:
        robot.stop_requested = True

    def _mute(signum: int, frame: object) -> None:
        robot.mute(MUTE_S)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGUSR1, _mute)


def run_robot_process(
    *,
    endpoint: str,
    client_id: str,
    cell: Cell = (0, 0),
    heading: int = 0,
    step_s: float = 1.0,
    realtime_factor: float = 1.0,
    heartbeat_interval_s: float = p.HEARTBEAT_INTERVAL_S,
    key_dir: str | None = None,
    duration_s: float | None = None,
    codes: dict[Cell, int] | None = None,
    state_file: str | None = None,
) -> int:
    """Process entry point (multiprocessing "spawn" target, and `fctwin robot`)."""
    from fctwin.network.security import ClientKeys

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    keys = ClientKeys.from_dir(key_dir, client_id) if key_dir else None
    client = ClientConfig(
        endpoint=endpoint,
        client_id=client_id,
        heartbeat_interval_s=heartbeat_interval_s,
        keys=keys,
        software="fctwin-robot",
    )
    floor = OpenFloor(codes=codes) if codes else None
    robot = ReferenceRobot(
        RobotConfig(
            client=client,
            cell=cell,
            heading=heading,
            step_s=step_s,
            realtime_factor=realtime_factor,
            state_file=state_file,
        ),
        floor=floor,
    )
    install_signal_handlers(robot)
    robot.run(duration_s=duration_s)
    return 0
