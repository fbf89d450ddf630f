"""The shared base of station units (human, Vulcan, Blue Jay, Sequoia ports).

A station serves the pod (or tote) a drive unit presents in its cell. The dispatcher sends one
`Serve` command per order line or stow line; the station queues them and works through them in
order, charging the per-visit handling time once per pod visit. Each line ends with a ``done``
event carrying ``task_id``, ``units`` moved and ``to_person`` (units an arm could not handle and
handed to a person, still counted as moved). Subclasses decide how long a line takes and whether
it succeeds (`line_outcome`).
"""

from __future__ import annotations

import abc
from collections import deque
from dataclasses import dataclass

import numpy as np

from fctwin.robots.contract import RobotUnit, UnitSpec
from fctwin.robots.floor import FloorView
from fctwin.robots.messages import (
    Command,
    Resume,
    Serve,
    Staff,
    Stop,
    UnitEvent,
    UnitMode,
    UnitState,
    Withdraw,
)

Cell = tuple[int, int]  # row, col


@dataclass(frozen=True)
class LineOutcome:
    duration_s: float
    units_done: int  # by the unit itself
    units_to_person: int  # handed to a person (arm failure), also moved


STATION_COMMANDS = frozenset({"serve", "stop", "resume"})


class StationUnit(RobotUnit):
    """Base class: queueing, presence checks, events. Subclasses implement `line_outcome`."""

    def __init__(self, *, unit_id: str, floor: FloorView, cell: Cell, kind: str, footprint_m=(2.0, 2.0)):
        if kind not in ("pick", "stow"):
            raise ValueError(f"station kind must be 'pick' or 'stow', not {kind!r}")
        self.unit_id = unit_id
        self.floor = floor
        self.cell = tuple(cell)
        self.kind = kind
        self.spec = UnitSpec(
            unit_type=self.unit_type,
            footprint_m=footprint_m,
            accepted_commands=STATION_COMMANDS,
            reported_modes=frozenset({int(UnitMode.IDLE), int(UnitMode.SERVING), int(UnitMode.STOPPED)}),
        )
        self.reset()

    def reset(self, *, seed: int | None = None) -> UnitState:
        self.rng = np.random.default_rng(seed)
        self._queue: deque[Serve] = deque()
        self._current: tuple[Serve, LineOutcome] | None = None
        self.busy_until_s = 0.0
        self._last_pod = -1
        self._stopped = False
        self._seen: set[int] = set()
        self.busy_s = 0.0
        self.units_served = 0
        self.units_to_person = 0
        return self.state()

    def state(self) -> UnitState:
        if self._stopped:
            mode = UnitMode.STOPPED
        elif self._current is not None:
            mode = UnitMode.SERVING
        else:
            mode = UnitMode.IDLE
        return UnitState(
            unit_id=self.unit_id,
            unit_type=self.unit_type,
            mode=int(mode),
            row=self.cell[0],
            col=self.cell[1],
            heading=0,
            pod_id=self._current[0].pod_id if self._current else -1,
            busy_until_s=self.busy_until_s,
        )

    def queue_length(self) -> int:
        return len(self._queue) + (self._current is not None)

    def handle(self, command: Command, t_s: float) -> list[UnitEvent]:
        cid = command.command_id
        if cid in self._seen:
            return [UnitEvent(self.unit_id, "ack", t_s, cid, {"duplicate": 1})]
        self._seen.add(cid)
        if isinstance(command, Stop):
            self._stopped = True
            return [UnitEvent(self.unit_id, "ack", t_s, cid, {"op": "stop"})]
        if isinstance(command, Resume):
            self._stopped = False
            return [UnitEvent(self.unit_id, "ack", t_s, cid, {"op": "resume"})]
        if not isinstance(command, Serve):
            reason = f"{self.unit_type} station does not accept {type(command).__name__}"
            return [UnitEvent(self.unit_id, "refused", t_s, cid, {"reason": reason})]
        if command.kind != self.kind:
            reason = f"{self.kind} station cannot {command.kind}"
            return [UnitEvent(self.unit_id, "refused", t_s, cid, {"reason": reason, "task": command.task_id})]
        if command.units <= 0:
            return [
                UnitEvent(
                    self.unit_id,
                    "refused",
                    t_s,
                    cid,
                    {"reason": "units must be > 0", "task": command.task_id},
                )
            ]
        self._queue.append(command)
        return [UnitEvent(self.unit_id, "ack", t_s, cid, {"op": "serve", "task": command.task_id})]

    def step(self, t_s: float, dt_s: float) -> list[UnitEvent]:
        events: list[UnitEvent] = []
        if self._stopped:
            return events
        # Finish the current line, then start lines back to back within this step.
        while True:
            if self._current is not None:
                cmd, out = self._current
                if out is None:  # a line running alongside the floor: let it catch up to t_s
                    out = self.advance_line(t_s)
                    if out is None:
                        self.busy_until_s = max(self.busy_until_s, t_s)
                        break
                    self.busy_until_s = self._line_start_s + out.duration_s
                    self.busy_s += out.duration_s
                    self._current = (cmd, out)
                if t_s + 1e-9 < self.busy_until_s:
                    break
                self._current = None
                self.units_served += out.units_done + out.units_to_person
                self.units_to_person += out.units_to_person
                events.append(
                    UnitEvent(
                        self.unit_id,
                        "done",
                        self.busy_until_s,
                        cmd.command_id,
                        {
                            "op": "serve",
                            "task": cmd.task_id,
                            "pod": cmd.pod_id,
                            "sku": cmd.sku,
                            "units": out.units_done + out.units_to_person,
                            "to_person": out.units_to_person,
                        },
                    )
                )
            if not self._queue or not self.can_start():
                break
            cmd = self._queue[0]
            _, pod = self.floor.carrier_at(self.cell)
            if pod != cmd.pod_id:
                break  # the pod has not arrived yet; keep the line queued
            self._queue.popleft()
            new_pod = pod != self._last_pod
            self._last_pod = pod
            start = max(self.busy_until_s, t_s - dt_s)
            if self.begin_line(cmd, new_pod=new_pod):
                # Runs on the floor's clock (physics arms): the loop advances it up to t_s now.
                self._line_start_s = start
                self.busy_until_s = start
                self._current = (cmd, None)
                continue
            out = self.line_outcome(cmd, new_pod=new_pod)
            self.busy_until_s = start + out.duration_s
            self.busy_s += out.duration_s
            self._current = (cmd, out)
        return events

    def begin_line(self, command: Serve, *, new_pod: bool) -> bool:
        """Start a line that runs alongside the floor (`advance_line` then drives it); False: the
        line's outcome is drawn at once by `line_outcome` (the default: fast models, people)."""
        return False

    def advance_line(self, t_s: float) -> LineOutcome | None:
        """Run the line begun by `begin_line` up to the floor time ``t_s``; its outcome once finished."""
        raise NotImplementedError

    def can_start(self) -> bool:
        """Whether the station may start its next line now (a person-worked one needs people)."""
        return True

    @abc.abstractmethod
    def line_outcome(self, command: Serve, *, new_pod: bool) -> LineOutcome:
        """Duration and result of one line (drawn from ``self.rng``)."""


class Staffed:
    """Mixin for a station people work (human stations, Sequoia ports): a `Staff` command sets how
    many associates work it and how much faster than one they are together (``speed_factor``); with
    0 associates it starts no line. Put it before the station class in the bases.

    Such a station also takes `Withdraw`: a closed one holds the serves of the pod at its face, and
    a dispatcher that drains it takes them back so the pod can go to storage (controller/closures.py).
    """

    associates = 1
    speed_factor = 1.0

    def accept_staff(self) -> None:
        """Add ``staff`` and ``withdraw`` to the commands the unit's spec accepts (call after the
        station's init)."""
        self.spec = UnitSpec(
            unit_type=self.spec.unit_type,
            footprint_m=self.spec.footprint_m,
            accepted_commands=self.spec.accepted_commands | STAFFED_COMMANDS,
            reported_modes=self.spec.reported_modes,
        )

    def handle(self, command: Command, t_s: float) -> list[UnitEvent]:
        if not isinstance(command, (Staff, Withdraw)):
            return super().handle(command, t_s)
        cid = command.command_id
        if cid in self._seen:
            return [UnitEvent(self.unit_id, "ack", t_s, cid, {"duplicate": 1})]
        self._seen.add(cid)
        if isinstance(command, Withdraw):
            return self._withdraw(command, t_s)
        if command.associates < 0 or (command.associates > 0 and command.speed_factor <= 0):
            reason = "associates must be >= 0 and speed_factor > 0 when staffed"
            return [UnitEvent(self.unit_id, "refused", t_s, cid, {"reason": reason})]
        self.associates = int(command.associates)
        self.speed_factor = float(command.speed_factor)
        return [UnitEvent(self.unit_id, "ack", t_s, cid, {"op": "staff", "associates": self.associates})]

    def can_start(self) -> bool:
        return self.associates > 0

    def _withdraw(self, command: Withdraw, t_s: float) -> list[UnitEvent]:
        """Drop the queued serves of ``command.task_id``; the line under way (if any) goes on."""
        task = command.task_id
        dropped = [c for c in self._queue if c.task_id == task]
        if dropped:
            self._queue = deque(c for c in self._queue if c.task_id != task)
        running = int(self._current is not None and self._current[0].task_id == task)
        ack = {"op": "withdraw", "task": task, "dropped": len(dropped), "running": running}
        events = [UnitEvent(self.unit_id, "ack", t_s, command.command_id, ack)]
        # one event per dropped serve, under the serve's own command id: the dispatcher resolves
        # serves by command id (as it does `done` and `aborted`), and event data holds no lists
        events += [
            UnitEvent(self.unit_id, "withdrawn", t_s, c.command_id, {"op": "serve", "task": task})
            for c in dropped
        ]
        return events


STAFFED_COMMANDS = frozenset({"staff", "withdraw"})


def accepts_withdraw(unit_type: str) -> bool:
    """Whether stations of the registered ``unit_type`` take `Withdraw` (person-worked ones do)."""
    from fctwin.robots.contract import registered_types

    cls = registered_types().get(unit_type)
    return cls is not None and issubclass(cls, Staffed)
