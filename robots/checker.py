"""The robot-unit contract checker, shipped in the package (like Gymnasium's env_checker).

`check_unit(cls)` builds the unit with `cls.for_checker(CheckerFloor())` and verifies the contract:
spec and state types, keyword-only seeded reset, determinism under a seed, refusal (not exception)
of unsupported commands, idempotent command ids, events that encode on the wire, and for units
that declare ``withdraw`` the `Withdraw` rules (queued serves of the task dropped, each answered
``withdrawn``; the started line not dropped; a duplicate acknowledged; an unknown task a no-op).
It raises `ContractViolation` naming the first broken rule. Tests run it over every registered
unit type.
"""

from __future__ import annotations

import inspect

import msgspec

from fctwin.robots.contract import RobotUnit, UnitSpec
from fctwin.robots.floor import AISLE, CHARGE, PICK, STORAGE, WALL
from fctwin.robots.messages import (
    Move,
    Serve,
    Stop,
    TelemetryFrame,
    UnitEvent,
    UnitMode,
    UnitState,
    Withdraw,
)

Cell = tuple[int, int]


class ContractViolation(AssertionError):  # noqa: N818 - reads as a verdict, like AssertionError
    pass


class CheckerFloor:
    """A 5 x 5 floor: walls around, a pod on (2, 2) (storage), a pick cell (2, 0), a charger (0, 2)."""

    def __init__(self):
        self.codes = {(r, c): AISLE for r in range(5) for c in range(5)}
        self.codes[(2, 2)] = STORAGE
        self.codes[(2, 0)] = PICK
        self.codes[(0, 2)] = CHARGE
        self.pods = {(2, 2): 0}
        self.carried: dict[Cell, tuple[str, int]] = {}

    def code(self, cell: Cell) -> int:
        return self.codes.get(tuple(cell), WALL)

    def pod_at(self, cell: Cell) -> int:
        return self.pods.get(tuple(cell), -1)

    def pod_mass_kg(self, pod_id: int) -> float:
        return 300.0

    def carrier_at(self, cell: Cell) -> tuple[str, int]:
        return self.carried.get(tuple(cell), ("", -1))


def _fail(cls, rule: str) -> None:
    raise ContractViolation(f"{cls.__name__}: {rule}")


def _run_script(unit: RobotUnit, t0: float = 0.0, steps: int = 40, dt: float = 1.0):
    log = []
    t = t0
    for cmd in unit.script():
        log.extend(unit.handle(cmd, t))
    for _ in range(steps):
        t += dt
        log.extend(unit.step(t, dt))
        log.append(unit.state())
    return log


def check_unit(cls: type[RobotUnit]) -> None:
    """Verify that ``cls`` honours the robot-unit contract; raises `ContractViolation`."""
    if not isinstance(getattr(cls, "unit_type", None), str):
        _fail(cls, "unit_type must be a class-level string")
    sig = inspect.signature(cls.reset)
    seed = sig.parameters.get("seed")
    if seed is None or seed.kind is not inspect.Parameter.KEYWORD_ONLY:
        _fail(cls, "reset must take a keyword-only 'seed'")

    unit = cls.for_checker(CheckerFloor())
    if not isinstance(unit.spec, UnitSpec) or unit.spec.unit_type != cls.unit_type:
        _fail(cls, "spec must be a UnitSpec with the class's unit_type")
    if min(unit.spec.footprint_m) <= 0:
        _fail(cls, "footprint must be positive")
    if not unit.spec.accepted_commands:
        _fail(cls, "spec.accepted_commands is empty")
    state = unit.reset(seed=1)
    if not isinstance(state, UnitState):
        _fail(cls, "reset must return a UnitState")
    if state.unit_id != unit.unit_id or state.unit_type != cls.unit_type:
        _fail(cls, "state must carry the unit's id and type")
    if state.mode not in unit.spec.reported_modes:
        _fail(cls, f"initial mode {state.mode} not in spec.reported_modes")

    # Determinism: the same seed gives the same events and states.
    try:
        unit.reset(seed=123)
        first = _run_script(unit)
        unit.reset(seed=123)
        second = _run_script(unit)
    except Exception as exc:  # noqa: BLE001 - any exception is a contract break
        _fail(cls, f"handle/step raised {type(exc).__name__}: {exc} (must report events instead)")
    if first != second:
        _fail(cls, "same seed and commands gave different events or states")
    for item in first:
        if isinstance(item, UnitEvent):
            msgspec.msgpack.encode(item)
        elif isinstance(item, UnitState):
            if item.mode not in unit.spec.reported_modes:
                _fail(cls, f"reported mode {item.mode} not declared in spec.reported_modes")
        else:
            _fail(cls, f"step/handle returned {type(item).__name__}, not UnitEvent")
    frame = TelemetryFrame(
        step=0, t_s=0.0, units=[unit.state()], events=[e for e in first if isinstance(e, UnitEvent)]
    )
    msgspec.msgpack.decode(msgspec.msgpack.encode(frame), type=TelemetryFrame)

    # Unsupported commands are refused with an event, never raised.
    unit.reset(seed=0)
    foreign = (
        Serve(9001, unit.unit_id, 1, "pick", 0, 0, 1) if "serve" not in unit.spec.accepted_commands else None
    )
    foreign = foreign or Move(9001, unit.unit_id, 0, 0)
    if "move" in unit.spec.accepted_commands and "serve" in unit.spec.accepted_commands:
        foreign = None
    if foreign is not None:
        try:
            events = unit.handle(foreign, 0.0)
        except Exception as exc:  # noqa: BLE001 - the contract forbids any exception here
            _fail(cls, f"an unsupported command raised {type(exc).__name__} instead of a 'refused' event")
        if not any(e.kind in ("refused", "error") for e in events):
            _fail(cls, "an unsupported command must produce a 'refused' event")

    # Idempotence: a repeated command id is acknowledged, not executed twice.
    unit.reset(seed=0)
    stop = Stop(9100, unit.unit_id, "checker")
    unit.handle(stop, 0.0)
    again = unit.handle(stop, 0.0)
    if not any(e.kind == "ack" and e.command_id == 9100 and e.data.get("duplicate") for e in again):
        _fail(cls, "a repeated command id must be acknowledged as a duplicate")
    if unit.state().mode != int(UnitMode.STOPPED):
        _fail(cls, "Stop must put the unit in mode STOPPED")
    if "withdraw" in unit.spec.accepted_commands:
        _check_withdraw(cls)


def _check_withdraw(cls) -> None:
    """A station that declares ``withdraw``: three serves of task 77 queued, the first started; a
    `Withdraw` of 77 drops the other two (one ``withdrawn`` each, under its command id), not the
    started one, which finishes ``done``; task 78's serve is untouched; a repeat of the command is
    acknowledged as a duplicate; a task with nothing queued is acknowledged, ``dropped`` 0."""
    unit = cls.for_checker(CheckerFloor())
    unit.reset(seed=0)
    serve = next((c for c in unit.script() if isinstance(c, Serve)), None)
    if serve is None:
        _fail(cls, "declares withdraw but its script() has no Serve to withdraw")
    mine = [
        Serve(9200 + k, unit.unit_id, 77, serve.kind, serve.pod_id, serve.sku, serve.units) for k in range(3)
    ]
    other = Serve(9210, unit.unit_id, 78, serve.kind, serve.pod_id, serve.sku, serve.units)
    for c in [*mine, other]:
        unit.handle(c, 0.0)
    t = 0.0
    started = unit.state().mode == int(UnitMode.SERVING)
    done: list[int] = []
    while not started and t < 30.0:  # the first line starts once the station sees the pod
        t += 0.5
        done += [e.command_id for e in unit.step(t, 0.5) if e.kind == "done"]
        started = unit.state().mode == int(UnitMode.SERVING)
    if not started or done:
        _fail(cls, "the checker's first serve must start (and not finish) within 30 s to test withdraw")
    events = unit.handle(Withdraw(9300, unit.unit_id, 77), t)
    acks = [e for e in events if e.kind == "ack" and e.command_id == 9300]
    dropped = sorted(e.command_id for e in events if e.kind == "withdrawn")
    if not acks or acks[0].data.get("op") != "withdraw":
        _fail(cls, "Withdraw must be acknowledged with op 'withdraw'")
    if dropped != [9201, 9202] or acks[0].data.get("dropped") != 2 or acks[0].data.get("running") != 1:
        _fail(
            cls,
            f"Withdraw of a task with one line started and two queued dropped {dropped}, ack {acks[0].data}",
        )
    again = unit.handle(Withdraw(9300, unit.unit_id, 77), t)
    if any(e.kind == "withdrawn" for e in again) or not any(e.data.get("duplicate") for e in again):
        _fail(cls, "a repeated Withdraw command id must be acknowledged as a duplicate, not executed")
    none = unit.handle(Withdraw(9301, unit.unit_id, 4242), t)
    if [(e.kind, e.data.get("dropped")) for e in none] != [("ack", 0)]:
        _fail(cls, "a Withdraw of a task with nothing queued must be acknowledged with dropped 0 (a no-op)")
    for _ in range(400):
        t += 0.5
        done += [e.command_id for e in unit.step(t, 0.5) if e.kind == "done"]
        if 9210 in done:
            break
    if done != [9200, 9210]:
        _fail(cls, f"after Withdraw the started line and the other task's must finish, and only they: {done}")
