"""Titan drive unit: one action per step, lift/set-down of pods, a simple battery.

The action model is the League of Robot Runners' (MAPF_T): each step a unit moves one cell
forward, rotates 90 degrees either way, or waits. Lifting and setting down take configurable time
during which the unit does not move. A pod heavier than the payload is refused. A loaded unit may
not enter a cell where a pod stands; an unloaded one passes under stored pods. Battery drains by
power draw (moving or idle) and charges on a charging pad; at zero the unit stops.

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


@register
class Titan(RobotUnit):
    unit_type = "titan"

    def __init__(
        self,
        *,
        unit_id: str,
        floor: FloorView,
        cell: Cell,
        heading: int = 0,
        params: TitanParams | None = None,
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
        self._low_wh = p.low_battery_frac * p.battery_wh
        self._initial = (tuple(cell), int(heading))
        self.reset()

    # ------------------------------------------------------------------ contract

    def reset(self, *, seed: int | None = None) -> UnitState:
        self.cell: Cell = self._initial[0]
        self.heading = self._initial[1]
        self.mode = UnitMode.IDLE
        self.pod_id = -1
        self.battery_wh = self.params.battery_wh * self.params.initial_battery_frac
        self.busy_until_s = 0.0
        self._pending_action = int(Action.W)
        self._timed: tuple[str, int, object] | None = None  # (op, command_id, argument)
        self._charge_until = 0.0
        self._stopped = False
        self._recent = RecentCommandIds(_RECENT_COMMANDS)
        self.distance_m = 0.0
        self.rng = np.random.default_rng(seed)
        return self.state()

    def state(self) -> UnitState:
        return UnitState(
            self.unit_id,
            self.unit_type,
            int(self.mode),
            self.cell[0],
            self.cell[1],
            self.heading,
            self.pod_id,
            round_6(self.battery_wh / self.params.battery_wh),
            self.busy_until_s,
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
        # The fleet host calls this for every unit every step: plain ints instead of enum lookups.
        events: list[UnitEvent] = []
        p = self.params
        moving = False
        if self._stopped:
            self._pending_action = _W
        elif self._timed is not None:
            op, cid, arg = self._timed
            if op == "charge":
                self.battery_wh = min(p.battery_wh, self.battery_wh + p.charge_power_w * dt_s / 3600.0)
                if self.battery_wh < self._charge_until * p.battery_wh:
                    return events  # still charging: no drain this step
                self._timed = None
                self.mode = _IDLE
                events.append(UnitEvent(self.unit_id, "done", t_s, cid, {"op": "charge"}))
            elif t_s + 1e-9 >= self.busy_until_s:
                self._timed = None
                self.mode = _IDLE
                if op == "lift":
                    self.pod_id = int(arg)
                    events.append(
                        UnitEvent(self.unit_id, "done", t_s, cid, {"op": "lift", "pod": self.pod_id})
                    )
                else:
                    pod = self.pod_id
                    self.pod_id = -1
                    events.append(UnitEvent(self.unit_id, "done", t_s, cid, {"op": "set_down", "pod": pod}))
            moving = True  # lifting draws motor power too
        else:
            action = self._pending_action
            self._pending_action = _W
            if action == _F:
                dr, dc = FORWARD_DELTA[self.heading]
                self.cell = (self.cell[0] + dr, self.cell[1] + dc)
                self.distance_m += p.cell_size_m
                moving = True
                self.mode = _MOVING
            elif action in (_R, _C):
                self.heading = (self.heading + (1 if action == _R else 3)) % 4
                moving = True
                self.mode = _MOVING
            else:
                self.mode = _IDLE
        before = self.battery_wh
        after = before - (p.power_moving_w if moving else p.power_idle_w) * dt_s / 3600.0
        self.battery_wh = after if after > 0.0 else 0.0
        low = self._low_wh
        if before > low >= self.battery_wh:
            events.append(
                UnitEvent(self.unit_id, "battery_low", t_s, -1, {"frac": self.battery_wh / p.battery_wh})
            )
        if self.battery_wh <= 0.0 and not self._stopped:
            self._stopped = True
            self.mode = _STOPPED
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
        action = command.action
        if action not in (0, 1, 2, 3):
            return [self._refuse(command, t_s, f"unknown action {action}")]
        if action == _W:
            self._pending_action = action
            return []
        if self._stopped:
            return [self._refuse(command, t_s, "unit is stopped")]
        if self._timed is not None:
            return [self._refuse(command, t_s, f"busy with {self._timed[0]}")]
        if action == _F:
            dr, dc = FORWARD_DELTA[self.heading]
            target = (self.cell[0] + dr, self.cell[1] + dc)
            if not may_enter(self.floor, target, loaded=self.pod_id >= 0):
                return [self._refuse(command, t_s, f"cannot enter {target}")]
        self._pending_action = action
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
