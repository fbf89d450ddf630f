"""Plain, versioned messages between the dispatcher and robot units.

These are the payloads the controller writes (commands) and reads (telemetry, events). They are
`msgspec.Struct`s: typed, validated on decode, plain msgpack on the wire, never pickled. The
`network` package wraps them in an envelope (protocol version, sequence number, timestamps); an
in-process transport may pass them directly. A simulated unit and a hardware unit produce and
consume exactly these types.

Frames and units
----------------
- Grid cells are ``(row, col)``; row 0 is the top (north) row of the layout, col 0 the west column.
- Headings follow the League of Robot Runners: 0 east, 1 south, 2 west, 3 north.
- Times are seconds of simulated time (``t_s``) unless a name says ``wall``.
"""

from __future__ import annotations

from enum import IntEnum

import msgspec
import numpy as np

MESSAGE_SCHEMA_VERSION = 1

Cell = tuple[int, int]  # row, col


class Heading(IntEnum):
    EAST = 0
    SOUTH = 1
    WEST = 2
    NORTH = 3


class Action(IntEnum):
    """One drive-unit action per step (the LoRR / MAPF_T action model)."""

    F = 0  # forward one cell along the heading
    R = 1  # rotate 90 deg clockwise
    C = 2  # rotate 90 deg counter-clockwise
    W = 3  # wait


# Row/col offset of one forward step for each heading (E, S, W, N).
FORWARD_DELTA: tuple[Cell, ...] = ((0, 1), (1, 0), (0, -1), (-1, 0))


class UnitMode(IntEnum):
    """What a unit is doing, as reported in telemetry."""

    IDLE = 0
    MOVING = 1
    LIFTING = 2
    SETTING_DOWN = 3
    SERVING = 4  # a station working on a pod or tote
    CHARGING = 5
    STOPPED = 6  # safe stop (watchdog, operator, or low battery)
    FAILED = 7


# --------------------------------------------------------------------------------------------
# Commands: dispatcher -> unit. Every command carries a unit id and a command id; a unit that
# sees a command id again acknowledges it without executing it twice (idempotence).
# --------------------------------------------------------------------------------------------


class Move(msgspec.Struct, tag="move", frozen=True):
    """One action for one drive unit at one step."""

    command_id: int
    unit_id: str
    action: int  # Action
    step: int


class Lift(msgspec.Struct, tag="lift", frozen=True):
    """Lift the pod stored in the unit's current cell."""

    command_id: int
    unit_id: str
    pod_id: int


class SetDown(msgspec.Struct, tag="set_down", frozen=True):
    """Set the carried pod down in the unit's current cell."""

    command_id: int
    unit_id: str


class Charge(msgspec.Struct, tag="charge", frozen=True):
    """Charge on the current cell (which must be a charging cell) until `until_frac` full."""

    command_id: int
    unit_id: str
    until_frac: float = 0.95


class Stop(msgspec.Struct, tag="stop", frozen=True):
    """Stop now and hold position (kill semantics); `Resume` lifts it."""

    command_id: int
    unit_id: str
    reason: str = ""


class Resume(msgspec.Struct, tag="resume", frozen=True):
    command_id: int
    unit_id: str


class Serve(msgspec.Struct, tag="serve", frozen=True):
    """A station serves the pod (or tote) presented by a drive unit in its cell.

    ``kind`` is ``"pick"`` (take ``units`` of ``sku`` out) or ``"stow"`` (put them in). ``task_id``
    ties the resulting `done`/`failed` event to the dispatcher's task.
    """

    command_id: int
    unit_id: str  # the station's unit id
    task_id: int
    kind: str
    pod_id: int
    sku: int
    units: int


class Staff(msgspec.Struct, tag="staff", frozen=True):
    """A person-worked station's staffing changed: ``associates`` people now work it.

    ``speed_factor`` is how much faster than one associate the station now works (the dispatcher's
    labour rate model, `fctwin.controller.eluna.labour`); 0 associates means the station serves
    nothing until staffed again. Stations without people refuse it.
    """

    command_id: int
    unit_id: str  # the station's unit id
    associates: int
    speed_factor: float = 1.0


class Withdraw(msgspec.Struct, tag="withdraw", frozen=True):
    """Take back the serves of task ``task_id`` the station has not started (a drained station).

    The station drops every queued `Serve` of that task and answers each dropped one with a
    ``withdrawn`` event carrying the serve's command id (``data``: ``op`` ``serve``, ``task``); a
    line already started is not dropped: it finishes and reports ``done`` as usual. The command
    itself is acknowledged with ``op`` ``withdraw``, ``task``, ``dropped`` (serves dropped) and
    ``running`` (1 if a line of the task is under way). A task with nothing queued is a no-op
    (``dropped`` 0), not a refusal: the dispatcher cannot know whether its last serve just started.
    Only stations that declare ``withdraw`` in their accepted commands take it.
    """

    command_id: int
    unit_id: str  # the station's unit id
    task_id: int


Command = Move | Lift | SetDown | Charge | Stop | Resume | Serve | Staff | Withdraw


UNIT_ID_SEPARATOR = "\n"
_ids_checked = ""  # the last `UnitColumns.unit_ids` found well formed


def _ids_problem(what: str, ids: list[str], n: int) -> str:
    """Why a block's ids are not ``n`` ids of 1..64 characters ("" if they are)."""
    if len(ids) != n:
        return f"{what}.unit_ids names {len(ids)} units; n is {n}"
    if n and (min(map(len, ids)) < 1 or max(map(len, ids)) > 64):
        k, uid = next((k, uid) for k, uid in enumerate(ids) if not 1 <= len(uid) <= 64)
        return f"{what}.unit_ids[{k}] is {len(uid)} characters (1..64)"
    return ""


def _columns_problem(what: str, block, columns: dict[str, str], rows: str) -> str:
    """Why a block's packed columns are not ``block.n`` values each ("" if they are)."""
    if block.n < 0:
        return f"{what}.n is {block.n}"
    for name, dt in columns.items():
        size = np.dtype(dt).itemsize
        got = len(getattr(block, name))
        if got != block.n * size:
            return (
                f"{what}.{name} holds {got} bytes; {block.n} {rows} of {np.dtype(dt).name}"
                f" ({block.n * size} bytes) expected"
            )
    return ""


# The columns of a `MoveColumns` block: name -> little-endian dtype (see `UNIT_COLUMNS`).
MOVE_COLUMNS: dict[str, str] = {"command_id": "<i8", "action": "<u1"}


class MoveColumns(msgspec.Struct, frozen=True):
    """``n`` `Move` commands of one step as columns (a large fleet's moves, from the dispatcher).

    Row k is ``Move(command_id[k], unit_ids[k], action[k], step)``: ``unit_ids`` joined by a newline,
    each field of `MOVE_COLUMNS` ``n`` packed little-endian values (msgpack bin).
    """

    n: int
    step: int
    unit_ids: str
    command_id: bytes
    action: bytes

    @staticmethod
    def from_arrays(unit_ids: str, step: int, command_id, action) -> MoveColumns:
        n = unit_ids.count(UNIT_ID_SEPARATOR) + 1 if unit_ids else 0
        return MoveColumns(
            n=n,
            step=step,
            unit_ids=unit_ids,
            command_id=np.ascontiguousarray(command_id, dtype=MOVE_COLUMNS["command_id"]).tobytes(),
            action=np.ascontiguousarray(action, dtype=MOVE_COLUMNS["action"]).tobytes(),
        )

    @staticmethod
    def from_moves(moves: list[Move]) -> MoveColumns:
        steps = {m.step for m in moves}
        if len(steps) > 1:
            raise ValueError(f"one step per MoveColumns block, got {sorted(steps)}")
        return MoveColumns.from_arrays(
            UNIT_ID_SEPARATOR.join(m.unit_id for m in moves),
            steps.pop() if steps else 0,
            [m.command_id for m in moves],
            [m.action for m in moves],
        )

    def ids(self) -> list[str]:
        return self.unit_ids.split(UNIT_ID_SEPARATOR) if self.n else []

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: np.frombuffer(getattr(self, name), dtype=dt) for name, dt in MOVE_COLUMNS.items()}

    def problem(self) -> str:
        """Why this block cannot be read ("" if it can)."""
        return _columns_problem("moves", self, MOVE_COLUMNS, "moves") or _ids_problem(
            "moves", self.ids(), self.n
        )

    def moves(self) -> list[Move]:
        """The block as `Move` commands, in row order."""
        a = self.arrays()
        step = self.step
        return [
            Move(cid, uid, action, step)
            for uid, cid, action in zip(
                self.ids(), a["command_id"].tolist(), a["action"].tolist(), strict=True
            )
        ]


class CommandBatch(msgspec.Struct, tag="commands", frozen=True, omit_defaults=True):
    """All commands the dispatcher issues for one step (lockstep tick).

    ``external`` (optional, omitted when empty) is for a fleet host only: the last reported state
    of units it does not simulate (hardware on the wire), so its safety layer keeps out of their
    cells and its world shows them. ``moves`` (optional, omitted when None): more `Move` commands,
    as one `MoveColumns` block, executed after ``commands`` (`all_commands`); sent only to a fleet
    host that reads it (`fctwin run` on a large fleet).
    """

    step: int
    t_s: float
    commands: list[Command]
    external: list[UnitState] = []
    moves: MoveColumns | None = None

    def all_commands(self) -> list[Command]:
        """Every command in execution order: ``commands``, then the block's moves (if any)."""
        if self.moves is None:
            return self.commands
        return [*self.commands, *self.moves.moves()]


# --------------------------------------------------------------------------------------------
# Telemetry and events: unit -> dispatcher.
# --------------------------------------------------------------------------------------------


class UnitState(msgspec.Struct, frozen=True):
    """What a unit reports about itself each step."""

    unit_id: str
    unit_type: str
    mode: int  # UnitMode
    row: int
    col: int
    heading: int  # Heading
    pod_id: int = -1  # carried pod, -1 for none
    battery_frac: float = 1.0
    busy_until_s: float = 0.0  # when the current timed action (lift, service) ends


class UnitEvent(msgspec.Struct, frozen=True):
    """Something that happened to a unit.

    ``kind`` is one of ``ack``, ``done``, ``aborted``, ``failed``, ``refused``, ``error`` and the
    unit-type specific kinds (``lifted``, ``set_down``, ``served``, ``charged``, ``battery_low``).
    ``data`` carries small kind-specific fields (numbers and strings only).
    """

    unit_id: str
    kind: str
    t_s: float
    command_id: int = -1
    data: dict[str, int | float | str] = {}


# The columns of a `UnitColumns` block: name -> little-endian dtype. Fixed widths, so a C client
# writes them with memcpy; the receiver reads each as a numpy array without one object per unit.
UNIT_COLUMNS: dict[str, str] = {
    "mode": "<u1",
    "row": "<i4",
    "col": "<i4",
    "heading": "<u1",
    "pod_id": "<i4",
    "battery_frac": "<f8",
    "busy_until_s": "<f8",
}


class UnitColumns(msgspec.Struct, frozen=True):
    """The states of ``n`` units of one type as columns (a large fleet host's telemetry).

    Row k is the `UnitState` of the k-th id of ``unit_ids`` (the ids joined by a newline): each
    field of `UNIT_COLUMNS` is ``n`` packed little-endian values (msgpack bin). The same values as
    ``n`` `UnitState` maps, bit for bit, read into arrays at once (`arrays`) instead of decoded
    into ``n`` objects; `states` makes the objects for readers that want them.
    """

    n: int
    unit_type: str
    unit_ids: str
    mode: bytes
    row: bytes
    col: bytes
    heading: bytes
    pod_id: bytes
    battery_frac: bytes
    busy_until_s: bytes

    @staticmethod
    def from_arrays(unit_ids: str, unit_type: str, **columns) -> UnitColumns:
        """Pack the columns (array-likes, one value per unit; converted to `UNIT_COLUMNS`' types)."""
        n = unit_ids.count(UNIT_ID_SEPARATOR) + 1 if unit_ids else 0
        packed = {
            name: np.ascontiguousarray(columns[name], dtype=dt).tobytes() for name, dt in UNIT_COLUMNS.items()
        }
        return UnitColumns(n=n, unit_type=unit_type, unit_ids=unit_ids, **packed)

    @staticmethod
    def from_states(states: list[UnitState]) -> UnitColumns:
        """The columns of ``states`` (all of one ``unit_type``); `states` gives them back."""
        kinds = {s.unit_type for s in states}
        if len(kinds) > 1:
            raise ValueError(f"one unit type per UnitColumns block, got {sorted(kinds)}")
        return UnitColumns.from_arrays(
            UNIT_ID_SEPARATOR.join(s.unit_id for s in states),
            kinds.pop() if kinds else "",
            **{name: [getattr(s, name) for s in states] for name in UNIT_COLUMNS},
        )

    def ids(self) -> list[str]:
        return self.unit_ids.split(UNIT_ID_SEPARATOR) if self.n else []

    def arrays(self) -> dict[str, np.ndarray]:
        """Each column as a read-only numpy array of ``n`` values (views of the message's bytes)."""
        return {name: np.frombuffer(getattr(self, name), dtype=dt) for name, dt in UNIT_COLUMNS.items()}

    def problem(self) -> str:
        """Why this block cannot be read ("" if it can): a column of the wrong length, bad ids."""
        problem = _columns_problem("columns", self, UNIT_COLUMNS, "units")
        if problem:
            return problem
        global _ids_checked
        if self.unit_ids is _ids_checked or self.unit_ids == _ids_checked:
            return ""  # a fleet host sends the same ids every frame: checked once
        problem = _ids_problem("columns", self.ids(), self.n)
        if not problem:
            _ids_checked = self.unit_ids
        return problem

    def states(self) -> list[UnitState]:
        """The block as `UnitState` objects, in row order (as the per-unit form decodes them)."""
        a = self.arrays()
        kind = self.unit_type
        return [
            UnitState(uid, kind, m, r, c, h, p, b, t)
            for uid, m, r, c, h, p, b, t in zip(
                self.ids(),
                a["mode"].tolist(),
                a["row"].tolist(),
                a["col"].tolist(),
                a["heading"].tolist(),
                a["pod_id"].tolist(),
                a["battery_frac"].tolist(),
                a["busy_until_s"].tolist(),
                strict=True,
            )
        ]


class TelemetryFrame(msgspec.Struct, tag="telemetry", frozen=True, omit_defaults=True):
    """One batched telemetry frame from a fleet host (or one robot) for one step.

    ``columns`` (optional, omitted when None): more unit states, as one `UnitColumns` block; the
    frame's units are then the block's rows followed by ``units`` (`all_states`). A fleet host sends
    it only when its link asks (`fctwin run` with a large fleet); readers that want objects call
    `all_states`, readers on the hot path read the block's arrays.
    """

    step: int
    t_s: float
    units: list[UnitState]
    events: list[UnitEvent] = []
    columns: UnitColumns | None = None

    def all_states(self) -> list[UnitState]:
        """Every unit's state in frame order: the block's rows (if any), then ``units``."""
        if self.columns is None:
            return self.units
        return [*self.columns.states(), *self.units]
