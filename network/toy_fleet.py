"""A tiny stand-in for `fctwin.sim.fleet_host.FleetHost`, for network tests and benchmarks.

Same constructor and methods as the real fleet host (``initial_frame``, ``apply``, ``close``) but
no PyBullet and no scene: ``scene_path`` names the fleet, ``"toy:N"`` for N drive units (default 2)
on an open grid. Every executed command yields ``ack`` and ``done`` events carrying its command
id, so a test can count executions (idempotence) and see where each unit is.
"""

from __future__ import annotations

from fctwin.robots.messages import (
    FORWARD_DELTA,
    Action,
    CommandBatch,
    Move,
    Stop,
    TelemetryFrame,
    UnitEvent,
    UnitMode,
    UnitState,
)

TOY_UNIT_TYPE = "titan"


class ToyFleetHost:
    """Kinematic drive units on an unbounded grid; one action per `apply`."""

    def __init__(
        self,
        scene_path: str,
        *,
        seed: int | None = None,
        gui: bool = False,
        realtime_factor: float | None = None,
        exclude_units: frozenset[str] = frozenset(),
    ):
        count = int(scene_path.split(":", 1)[1]) if scene_path.startswith("toy:") else 2
        self.step_s = 1.0
        self.step = 0
        self.executed: list[int] = []  # command ids in execution order
        self._units = {
            f"T-{i + 1:02d}": UnitState(
                unit_id=f"T-{i + 1:02d}",
                unit_type=TOY_UNIT_TYPE,
                mode=int(UnitMode.IDLE),
                row=i,
                col=0,
                heading=0,
            )
            for i in range(count)
            if f"T-{i + 1:02d}" not in exclude_units
        }

    def initial_frame(self) -> TelemetryFrame:
        return TelemetryFrame(step=self.step, t_s=self.step * self.step_s, units=list(self._units.values()))

    def apply(self, batch: CommandBatch) -> TelemetryFrame:
        self.step += 1
        t_s = self.step * self.step_s
        events: list[UnitEvent] = []
        for cmd in batch.all_commands():
            u = self._units.get(cmd.unit_id)
            if u is None:
                events.append(
                    UnitEvent(unit_id=cmd.unit_id, kind="refused", t_s=t_s, command_id=cmd.command_id)
                )
                continue
            self.executed.append(cmd.command_id)
            events.append(UnitEvent(unit_id=u.unit_id, kind="ack", t_s=t_s, command_id=cmd.command_id))
            if isinstance(cmd, Move):
                u = _act(u, cmd.action)
            elif isinstance(cmd, Stop):
                u = _with(u, mode=int(UnitMode.STOPPED))
            self._units[u.unit_id] = u
            events.append(UnitEvent(unit_id=u.unit_id, kind="done", t_s=t_s, command_id=cmd.command_id))
        return TelemetryFrame(step=self.step, t_s=t_s, units=list(self._units.values()), events=events)

    def close(self) -> None:
        pass


def _with(u: UnitState, **changes: int) -> UnitState:
    import msgspec

    return msgspec.structs.replace(u, **changes)


def _act(u: UnitState, action: int) -> UnitState:
    if action == Action.F:
        dr, dc = FORWARD_DELTA[u.heading]
        return _with(u, row=u.row + dr, col=u.col + dc, mode=int(UnitMode.MOVING))
    if action == Action.R:
        return _with(u, heading=(u.heading + 1) % 4)
    if action == Action.C:
        return _with(u, heading=(u.heading + 3) % 4)
    return _with(u, mode=int(UnitMode.IDLE))
