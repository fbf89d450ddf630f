"""Titan drive unit: one action per step, lift/set-down of pods, a simple battery.

The action model is the League of Robot Runners' (MAPF_T): each step a unit moves one cell
forward, rotates 90 degrees either way, or waits. Lifting and setting down take configurable time
during which the unit does not move. A pod heavier than the payload is refused. A loaded unit may
not enter a cell where a pod stands; an unloaded one passes under stored pods. Battery drains by
power draw (moving or idle) and charges on a charging pad; at zero the unit stops.

A Titan's numeric state lives in a row of a `fctwin.robots.titan_arrays.TitanArrays` (its own, or
the fleet host's for all its Titans), stepped by one kernel: see that module.

Moves are confirmed by telemetry (no ack event per step: at fleet scale that would be most of the
traffic); timed commands (lift, set down, charge) produce ``ack`` then ``done`` (with the kind of
the command in ``data["op"]``), or ``refused`` with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import floor as _floor

import numpy as np

from fctwin.robots.command_ids import RecentCommandIds
from fctwin.robots.contract import RobotUnit, UnitSpec, register
from fctwin.robots.floor import CHARGE, STORAGE, FloorView, may_enter
from fctwin.robots.messages import (
    FORWARD_DELTA,
    Action,
    Charge,
    Command,
    Lift,
    Move,
    Resume,
    SetDown,
    Stop,
    UnitEvent,
    UnitMode,
    UnitState,
)
from fctwin.robots.titan_arrays import (
    EV_BATTERY_LOW,
    EV_DONE,
    EV_FAILED,
    TIMED_CHARGE,
    TIMED_LIFT,
    TIMED_NAMES,
    TIMED_NONE,
    TitanArrays,
)

Cell = tuple[int, int]  # row, col

_RECENT_COMMANDS = 4096  # idempotence window per unit
_F, _R, _C, _W = (int(a) for a in (Action.F, Action.R, Action.C, Action.W))
_IDLE, _MOVING, _STOPPED = (int(m) for m in (UnitMode.IDLE, UnitMode.MOVING, UnitMode.STOPPED))


def round_6(x: float) -> float:
    """``round(x, 6)``, bit for bit, at about half its cost.

    The fleet host reports every unit's battery fraction every step, and ``round(x, 6)`` (a correctly
    rounded decimal conversion, 0.6-1.0 us) was the largest part of a unit's `Titan.state`. Here
    ``k = floor(x * 1e6 + 0.5)`` picks the same 6-digit decimal unless ``x * 1e6`` lies within 1e-4
    of a rounding boundary (its own rounding error is below 1e-9 for ``x`` under 1e6), and ``k / 1e6``
    is the double nearest ``k / 10**6``, as ``round`` returns. Anything else takes ``round`` itself.
    """
    if 0.0 < x < 1e6:  # not zero (keeps round's sign of -0.0), inf or nan
        y = x * 1e6
        k = _floor(y + 0.5)
        if -0.4999 < y - k < 0.4999:
            return k / 1e6
    return round(x, 6)


def move_refusal(
    floor: FloorView,
    action: int,
    *,
    stopped: bool,
    timed_op: int,
    row: int,
    col: int,
    heading: int,
    loaded: bool,
) -> str | None:
    """Why a Titan in this state refuses a move command with ``action`` (None: it takes it).

    A wait is always taken; any other action not while stopped or busy with a timed command; a
    forward move only into a cell the unit may enter (`fctwin.robots.floor.may_enter`). The fleet
    host asks this for the move commands of all its Titans without going through each `Titan`.
    """
    if action not in (0, 1, 2, 3):
        return f"unknown action {action}"
    if action == _W:
        return None
    if stopped:
        return "unit is stopped"
    if timed_op != TIMED_NONE:
        return f"busy with {TIMED_NAMES[timed_op]}"
    if action == _F:
        dr, dc = FORWARD_DELTA[heading]
        target = (row + dr, col + dc)
        if not may_enter(floor, target, loaded=loaded):
            return f"cannot enter {target}"
    return None


@dataclass(frozen=True, kw_only=True)
class TitanParams:
    """Limits and timings of a Titan (defaults: RAWSim-O and FACTS.md)."""

    max_speed_mps: float = 1.5
    accel_mps2: float = 0.5
    turn_90_s: float = 0.625
    payload_kg: float = 1134.0
    lift_s: float = 3.0
    set_down_s: float = 3.0
    battery_wh: float = 1500.0
    power_moving_w: float = 300.0
    power_idle_w: float = 40.0
    charge_power_w: float = 3000.0
    low_battery_frac: float = 0.2
    initial_battery_frac: float = 1.0  # charge at the start of the run (a battery wave: all low)
    footprint_m: tuple[float, float] = (0.8, 0.7)
    cell_size_m: float = 1.0


TITAN_COMMANDS = frozenset({"move", "lift", "set_down", "charge", "stop", "resume"})


def _row_field(name: str, doc: str) -> property:
    """A `Titan` attribute stored in its row of the `TitanArrays`, read and written as a Python scalar."""

    def get(self):
        return getattr(self._arrays, name).item(self._row)

    def set_(self, value) -> None:
        getattr(self._arrays, name)[self._row] = value

    return property(get, set_, doc=doc)


@register
class Titan(RobotUnit):
    """One Titan drive unit: a view onto row ``row`` of ``arrays`` (`TitanArrays`; its own one-row
    arrays if none is given). The fleet host gives its Titans one shared `TitanArrays` and steps them
    all at once; each Titan still takes its own commands and reports its own state."""

    unit_type = "titan"

    def __init__(
        self,
        *,
        unit_id: str,
        floor: FloorView,
        cell: Cell,
        heading: int = 0,
        params: TitanParams | None = None,
        arrays: TitanArrays | None = None,
        row: int = 0,
    ):
        self.unit_id = unit_id
        self.params = params or TitanParams()
        p = self.params
        self.spec = UnitSpec(
            unit_type=self.unit_type,
            footprint_m=p.footprint_m,
            max_speed_mps=p.max_speed_mps,
            accel_mps2=p.accel_mps2,
            turn_90_s=p.turn_90_s,
            payload_kg=p.payload_kg,
            accepted_commands=TITAN_COMMANDS,
            reported_modes=frozenset(
                int(m)
                for m in (
                    UnitMode.IDLE,
                    UnitMode.MOVING,
                    UnitMode.LIFTING,
                    UnitMode.SETTING_DOWN,
                    UnitMode.CHARGING,
                    UnitMode.STOPPED,
                )
            ),
        )
        self.floor = floor
        if arrays is None:
            arrays, row = TitanArrays(1), 0
        self._arrays = arrays
        self._row = row
        arrays.set_params(row, p)
        self._initial = (tuple(cell), int(heading))
        self.reset()

    # The unit's state, in its row of the arrays.
    heading = _row_field("heading", "0 east, 1 south, 2 west, 3 north")
    mode = _row_field("mode", "UnitMode, as an int")
    pod_id = _row_field("pod_id", "the carried pod, -1 for none")
    battery_wh = _row_field("battery_wh", "charge left")
    busy_until_s = _row_field("busy_until_s", "when the timed command (lift, set down) ends")
    distance_m = _row_field("distance_m", "driven so far")
    _pending_action = _row_field("pending", "this step's action (Action), W once done")
    _charge_until = _row_field("charge_until_frac", "a charge's target, as a fraction of capacity")
    _stopped = _row_field("stopped", "stopped (by a stop command or an empty battery)")

    @property
    def cell(self) -> Cell:
        a, i = self._arrays, self._row
        return (a.row.item(i), a.col.item(i))

    @cell.setter
    def cell(self, cell: Cell) -> None:
        self._arrays.row[self._row], self._arrays.col[self._row] = cell

    @property
    def _timed(self) -> tuple[str, int, object] | None:
        """The timed command under way: (op, command id, argument), or None."""
        a, i = self._arrays, self._row
        op = a.timed_op.item(i)
        if op == TIMED_NONE:
            return None
        return (TIMED_NAMES[op], a.timed_cid[i], a.timed_arg.item(i) if op == TIMED_LIFT else None)

    @_timed.setter
    def _timed(self, timed: tuple[str, int, object] | None) -> None:
        a, i = self._arrays, self._row
        if timed is None:
            a.timed_op[i] = TIMED_NONE
            return
        op, cid, arg = timed
        a.timed_op[i] = TIMED_NAMES.index(op)
        a.timed_cid[i] = cid
        a.timed_arg[i] = -1 if arg is None else int(arg)

    # ------------------------------------------------------------------ contract

    def reset(self, *, seed: int | None = None) -> UnitState:
        self.cell: Cell = self._initial[0]
        self.heading = self._initial[1]
        self.mode = UnitMode.IDLE
        self.pod_id = -1
        self.battery_wh = self.params.battery_wh * self.params.initial_battery_frac
        self.busy_until_s = 0.0
        self._pending_action = int(Action.W)
        self._timed = None
        self._charge_until = 0.0
        self._stopped = False
        self._recent = RecentCommandIds(_RECENT_COMMANDS)
        self.distance_m = 0.0
        self.rng = np.random.default_rng(seed)
        return self.state()

    def state(self) -> UnitState:
        a, i = self._arrays, self._row
        return UnitState(
            self.unit_id,
            self.unit_type,
            a.mode.item(i),
            a.row.item(i),
            a.col.item(i),
            a.heading.item(i),
            a.pod_id.item(i),
            round_6(a.battery_wh.item(i) / self.params.battery_wh),
            a.busy_until_s.item(i),
        )

    def handle(self, command: Command, t_s: float) -> list[UnitEvent]:
        cid = command.command_id
        if cid >= 0 and self._recent.check_and_remember(cid):
            return [UnitEvent(self.unit_id, "ack", t_s, cid, {"duplicate": 1})]
        if isinstance(command, Move):
            return self._handle_move(command, t_s)
        if isinstance(command, Stop):
            self._stopped = True
            self._timed = None
            self.mode = UnitMode.STOPPED
            return [UnitEvent(self.unit_id, "ack", t_s, command.command_id, {"op": "stop"})]
        if isinstance(command, Resume):
            self._stopped = False
            self.mode = UnitMode.IDLE
            return [UnitEvent(self.unit_id, "ack", t_s, command.command_id, {"op": "resume"})]
        if self._stopped:
            return [self._refuse(command, t_s, "unit is stopped")]
        if self._timed is not None:
            return [self._refuse(command, t_s, f"busy with {self._timed[0]}")]
        if isinstance(command, Lift):
            return self._handle_lift(command, t_s)
        if isinstance(command, SetDown):
            return self._handle_set_down(command, t_s)
        if isinstance(command, Charge):
            if self.floor.code(self.cell) != CHARGE:
                return [self._refuse(command, t_s, "not on a charging pad")]
            self._timed = ("charge", command.command_id, None)
            self._charge_until = command.until_frac
            self.mode = UnitMode.CHARGING
            return [UnitEvent(self.unit_id, "ack", t_s, command.command_id, {"op": "charge"})]
        return [self._refuse(command, t_s, f"titan does not accept {type(command).__name__}")]

    def step(self, t_s: float, dt_s: float) -> list[UnitEvent]:
        # The same kernel the fleet host runs over all its Titans at once, here over this row alone.
        if self._arrays.step(t_s, dt_s, self._row, self._row + 1):
            return self.step_events(t_s)
        return []

    def step_events(self, t_s: float) -> list[UnitEvent]:
        """The events of this unit's last step, from the flags the kernel left in its row."""
        a, i = self._arrays, self._row
        flags = a.flags.item(i)
        events: list[UnitEvent] = []
        if flags & EV_DONE:
            op = a.done_op.item(i)
            cid = a.timed_cid[i]
            if op == TIMED_CHARGE:
                events.append(UnitEvent(self.unit_id, "done", t_s, cid, {"op": "charge"}))
            else:
                pod = a.done_pod.item(i)
                events.append(UnitEvent(self.unit_id, "done", t_s, cid, {"op": TIMED_NAMES[op], "pod": pod}))
        if flags & EV_BATTERY_LOW:
            frac = a.battery_wh.item(i) / self.params.battery_wh
            events.append(UnitEvent(self.unit_id, "battery_low", t_s, -1, {"frac": frac}))
        if flags & EV_FAILED:
            events.append(UnitEvent(self.unit_id, "failed", t_s, -1, {"reason": "battery empty"}))
        return events

    @classmethod
    def for_checker(cls, floor) -> Titan:
        return cls(unit_id="T-CHK", floor=floor, cell=(2, 1), heading=0)

    def script(self) -> list[Command]:
        # Drive east onto the pod's cell and lift it (300 kg, within payload).
        return [Move(1, self.unit_id, int(Action.F), 0), Lift(2, self.unit_id, 0)]

    # ------------------------------------------------------------------ helpers

    def next_cell(self) -> Cell:
        """Where the pending action will put the unit at the end of this step."""
        if self._pending_action == _F and self._timed is None and not self._stopped:
            dr, dc = FORWARD_DELTA[self.heading]
            return (self.cell[0] + dr, self.cell[1] + dc)
        return self.cell

    def cancel_move(self, t_s: float, reason: str) -> UnitEvent:
        """Safety layer: drop this step's forward move (the unit waits instead)."""
        self._pending_action = int(Action.W)
        return UnitEvent(self.unit_id, "refused", t_s, -1, {"op": "move", "reason": reason})

    def _handle_move(self, command: Move, t_s: float) -> list[UnitEvent]:
        a, i = self._arrays, self._row
        reason = move_refusal(
            self.floor,
            command.action,
            stopped=a.stopped.item(i),
            timed_op=a.timed_op.item(i),
            row=a.row.item(i),
            col=a.col.item(i),
            heading=a.heading.item(i),
            loaded=a.pod_id.item(i) >= 0,
        )
        if reason is not None:
            return [self._refuse(command, t_s, reason)]
        a.pending[i] = command.action
        return []

    def _handle_lift(self, command: Lift, t_s: float) -> list[UnitEvent]:
        if self.pod_id >= 0:
            return [self._refuse(command, t_s, "already carrying a pod")]
        pod = self.floor.pod_at(self.cell)
        if pod < 0 or pod != command.pod_id:
            return [self._refuse(command, t_s, f"pod {command.pod_id} is not on {self.cell}")]
        mass = self.floor.pod_mass_kg(pod)
        if mass > self.params.payload_kg:
            return [
                UnitEvent(
                    self.unit_id,
                    "error",
                    t_s,
                    command.command_id,
                    {
                        "op": "lift",
                        "reason": "overweight",
                        "mass_kg": mass,
                        "payload_kg": self.params.payload_kg,
                    },
                )
            ]
        self._timed = ("lift", command.command_id, pod)
        self.busy_until_s = t_s + self.params.lift_s
        self.mode = UnitMode.LIFTING
        return [UnitEvent(self.unit_id, "ack", t_s, command.command_id, {"op": "lift"})]

    def _handle_set_down(self, command: SetDown, t_s: float) -> list[UnitEvent]:
        if self.pod_id < 0:
            return [self._refuse(command, t_s, "not carrying a pod")]
        if self.floor.code(self.cell) != STORAGE or self.floor.pod_at(self.cell) >= 0:
            return [self._refuse(command, t_s, f"{self.cell} is not a free storage cell")]
        self._timed = ("set_down", command.command_id, None)
        self.busy_until_s = t_s + self.params.set_down_s
        self.mode = UnitMode.SETTING_DOWN
        return [UnitEvent(self.unit_id, "ack", t_s, command.command_id, {"op": "set_down"})]

    def _refuse(self, command: Command, t_s: float, reason: str) -> UnitEvent:
        op = type(command).__name__.lower()
        return UnitEvent(self.unit_id, "refused", t_s, command.command_id, {"op": op, "reason": reason})
