"""The fctwin wire protocol: constants, envelope, message bodies, encode/decode with validation.

Every protocol number lives in this module; `docs/protocol.md` is the human-readable spec of the
same thing and must change with it.

One ZeroMQ message = one frame = one msgpack map (the `Envelope`)::

    {"v": 1, "type": "telemetry", "sender": "fleet-0", "seq": 17, "ref_seq": -1,
     "t_sim_s": 12.5, "t_wall_s": 1718000000.25, "body": {...}}

The body's schema is chosen by ``type`` (`BODY_TYPES`). Bodies are the payloads of
`fctwin.robots.messages` (commands, telemetry, unit events) plus the session messages defined here
(hello, welcome, heartbeat, error, bye). Nothing is ever pickled: decoding is msgspec's typed
msgpack decoder, which validates while it parses.

`decode` raises `ProtocolError` (with a machine-readable ``code``) for anything that is not a
valid message of this version; the receiver answers with an ``error`` message and counts it.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Final

import msgspec

from fctwin.robots.messages import CommandBatch, TelemetryFrame, UnitEvent, UnitState

# ----------------------------------------------------------------------------------------------
# Versions and limits
# ----------------------------------------------------------------------------------------------

PROTOCOL_VERSION: Final = 1
"""Carried in every message as ``v``; a receiver rejects any other value with error ``version``."""

MAX_MESSAGE_BYTES: Final = 1 << 20
"""Largest message (one frame) a receiver processes: larger ones are answered with ``oversized``."""

SOCKET_MAX_MESSAGE_BYTES: Final = 4 << 20
"""libzmq ``MAXMSGSIZE`` on the dispatcher's sockets: a peer sending more is disconnected outright
(it cannot be answered); between the two limits the sender gets an ``oversized`` error."""

MAX_ID_CHARS: Final = 64  # client and unit ids
MAX_TEXT_CHARS: Final = 256  # reasons, error details
MAX_UNITS_PER_CLIENT: Final = 4096  # units one hello may register (a fleet host)
MAX_UNITS_PER_FRAME: Final = 4096
MAX_EVENTS_PER_FRAME: Final = 16384
MAX_COMMANDS_PER_BATCH: Final = 16384
MAX_CAPABILITIES: Final = 32
MAX_FLOOR_SIDE: Final = 4096  # rows or columns of a floor sent in a welcome

# ----------------------------------------------------------------------------------------------
# Liveness defaults (a dispatcher announces its values in `Welcome`; clients must use those)
# ----------------------------------------------------------------------------------------------

HEARTBEAT_INTERVAL_S: Final = 0.5
"""Each side sends a heartbeat when it has sent nothing else for this long."""

HEARTBEAT_LIVENESS: Final = 3
"""A peer silent for ``HEARTBEAT_LIVENESS`` intervals (1.5 s by default) is declared dead."""

WATCHDOG_S: Final = 2.0
"""A robot that has had no valid message from the dispatcher for this long stops safely."""

RECONNECT_MIN_S: Final = 0.1  # first reconnect back-off; doubles up to RECONNECT_MAX_S
RECONNECT_MAX_S: Final = 5.0

# ZMTP (transport-level) heartbeats: libzmq pings the connection itself, so a frozen or vanished
# peer is dropped in well under a second even when TCP would take minutes (field notes).
ZMTP_HEARTBEAT_IVL_MS: Final = 250
ZMTP_HEARTBEAT_TIMEOUT_MS: Final = 1000
ZMTP_HEARTBEAT_TTL_MS: Final = 1000

# ----------------------------------------------------------------------------------------------
# Message types and error codes
# ----------------------------------------------------------------------------------------------

# client -> dispatcher
HELLO: Final = "hello"
TELEMETRY: Final = "telemetry"
ACK: Final = "ack"
DONE: Final = "done"
ABORTED: Final = "aborted"
FAILED: Final = "failed"
EVENT: Final = "event"
# dispatcher -> client
WELCOME: Final = "welcome"
COMMAND: Final = "command"
# dispatcher -> subscribers on its PUB socket (dashboards, monitors); never on the ROUTER
RECOMMENDATION: Final = "recommendation"
# both directions
HEARTBEAT: Final = "heartbeat"
ERROR: Final = "error"
BYE: Final = "bye"

EVENT_TYPES: Final = frozenset({ACK, DONE, ABORTED, FAILED, EVENT})
"""Types whose body is a `UnitEvent`. For ack/done/aborted/failed the event's ``kind`` equals the
type; ``event`` carries every other kind (``lifted``, ``battery_low``, ``refused``...)."""

CLIENT_TYPES: Final = frozenset({HELLO, TELEMETRY, HEARTBEAT, ERROR, BYE}) | EVENT_TYPES
DISPATCHER_TYPES: Final = frozenset({WELCOME, COMMAND, HEARTBEAT, ERROR, BYE})
PUB_TYPES: Final = frozenset({TELEMETRY, RECOMMENDATION})
"""Types a subscriber of the dispatcher's PUB socket may receive (pass as ``allowed_types``)."""

ROLE_ROBOT: Final = "robot"  # one unit, usually hardware
ROLE_FLEET: Final = "fleet"  # a fleet host serving many simulated units
ROLE_MONITOR: Final = "monitor"  # registers no units (viewers, tools)


class ErrorCode:
    """Values of `Error.code`. Strings, so logs and C clients read them without a table."""

    VERSION = "version"  # `v` is not PROTOCOL_VERSION
    OVERSIZED = "oversized"  # message longer than MAX_MESSAGE_BYTES
    MALFORMED = "malformed"  # not one msgpack map with the envelope fields, or multipart
    UNKNOWN_TYPE = "unknown_type"  # `type` not defined for this direction
    SCHEMA = "schema"  # body does not match the schema of its type, or exceeds a count limit
    SEQUENCE = "sequence"  # `seq` not greater than the previous one from this sender
    UNKNOWN_CLIENT = "unknown_client"  # no session: send hello first (also after a failure)
    UNAUTHORIZED = "unauthorized"  # id does not match the connection or its CURVE key
    DUPLICATE_UNIT = "duplicate_unit"  # a unit id another live client already owns
    UNKNOWN_UNIT = "unknown_unit"  # telemetry/event for a unit this client did not register
    POSE = "pose"  # a reported pose that cannot be: off the floor, on a wall, on another unit's cell
    UNKNOWN_COMMAND = "unknown_command"  # ack/done/aborted naming a command id never sent to that unit


ALL_ERROR_CODES: Final = frozenset(v for k, v in vars(ErrorCode).items() if k.isupper())

# ----------------------------------------------------------------------------------------------
# Session bodies (the payload bodies come from robots.messages)
# ----------------------------------------------------------------------------------------------

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_CHARS)]
Text = Annotated[str, msgspec.Meta(max_length=MAX_TEXT_CHARS)]
Seq = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]


class UnitInfo(msgspec.Struct, frozen=True):
    """One unit a client registers: its type, what it can do, and where it is now."""

    unit_id: Id
    unit_type: Id
    capabilities: Annotated[list[Id], msgspec.Meta(max_length=MAX_CAPABILITIES)] = []
    state: UnitState | None = None  # current pose and mode; None if unknown


class Hello(msgspec.Struct, frozen=True):
    """Registration, client -> dispatcher. Sent first, and again after any ``unknown_client``."""

    client_id: Id
    role: Id  # ROLE_ROBOT, ROLE_FLEET or ROLE_MONITOR
    units: Annotated[list[UnitInfo], msgspec.Meta(max_length=MAX_UNITS_PER_CLIENT)] = []
    software: Text = ""  # free text: client name and version, for logs


class FloorInfo(msgspec.Struct, frozen=True):
    """The floor's cell codes, row-major: ``codes[row * cols + col]`` (one byte per cell).

    Codes: 0 aisle, 1 wall, 2 storage, 3 pick, 4 stow, 5 dock, 6 charge, 7 park. Row 0 is north,
    col 0 west. A drive unit may stand on any cell but wall and dock; loaded, not on a storage
    cell where a pod stands."""

    rows: Annotated[int, msgspec.Meta(ge=1, le=MAX_FLOOR_SIDE)]
    cols: Annotated[int, msgspec.Meta(ge=1, le=MAX_FLOOR_SIDE)]
    codes: bytes

    def code(self, row: int, col: int) -> int:
        """Cell code; WALL (1) off the floor."""
        if 0 <= row < self.rows and 0 <= col < self.cols:
            return self.codes[row * self.cols + col]
        return 1


class Welcome(msgspec.Struct, frozen=True):
    """Registration accepted, dispatcher -> client. Values the client must use from now on."""

    client_id: Id
    session: int  # increases with every accepted hello from this client id
    heartbeat_interval_s: float
    heartbeat_liveness: int
    watchdog_s: float
    max_message_bytes: int
    resumed: bool = False  # True if this client id was known before (re-registration)
    # Optional (a dispatcher that drives robots sends them; a v1 client ignores what it does not use):
    floor: FloorInfo | None = None  # the floor's cell codes
    step_s: float = 0.0  # simulated seconds of one motion step (one batch), 0 if not announced
    realtime_factor: float = 0.0  # wall seconds = simulated seconds / factor; 0 if not announced


class Heartbeat(msgspec.Struct, frozen=True):
    """Liveness, both directions. Any valid message counts as a heartbeat too."""

    step: int = -1  # the sender's current lockstep step, -1 if not meaningful


class Error(msgspec.Struct, frozen=True):
    """A rejected message. ``ref_seq`` in the envelope names it (-1 if its seq was unreadable)."""

    code: Id
    detail: Text = ""


class Bye(msgspec.Struct, frozen=True):
    """Orderly end of a session, both directions. The receiver forgets the sender's session."""

    reason: Text = ""


MAX_REC_TEXT_CHARS: Final = 2048  # a recommendation's sentence
MAX_REC_ACTIONS: Final = 16
MAX_REC_PARAMS_CHARS: Final = 4096  # one action's parameters as JSON text
MAX_REC_FIGURES: Final = 32  # entries of ``predicted`` / ``realised``


class RecommendedAction(msgspec.Struct, frozen=True):
    """One lever action of a recommendation: its ``kind`` (``move_associates``, ``order_release``,
    ``close_cells``, ``one_way``, ``preposition``, ...; docs/eluna.md) and its parameters as a JSON
    object in text (the fields of the action, e.g. ``{"source": "S1", "target": "P3", "n": 1}``)."""

    kind: Id
    params_json: Annotated[str, msgspec.Meta(max_length=MAX_REC_PARAMS_CHARS)] = "{}"


Figures = Annotated[dict[Id, float | None], msgspec.Meta(max_length=MAX_REC_FIGURES)]


class Recommendation(msgspec.Struct, frozen=True):
    """The floor manager's recommendation, dispatcher -> PUB subscribers (added in protocol v1;
    a subscriber that does not know the type skips it).

    ``rec_id`` is unique in the run; ``t_s`` when it was made and ``effective_s`` when it takes
    effect if applied now (simulated seconds from the run's start); ``mode`` ``advise`` (shown to
    an operator) or ``auto`` (``applied`` by the agent itself); ``predicted`` the lookahead's
    predicted effect over ``horizon_s`` (``objective``, ``throughput_units``, ``open_units``,
    ``cycle_p95_s``; None where unknown)."""

    rec_id: Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
    run_id: Id
    t_s: Annotated[float, msgspec.Meta(ge=0.0)]
    kind: Id
    text: Annotated[str, msgspec.Meta(max_length=MAX_REC_TEXT_CHARS)]
    mode: Id
    applied: bool
    actions: Annotated[list[RecommendedAction], msgspec.Meta(max_length=MAX_REC_ACTIONS)] = []
    effective_s: Annotated[float, msgspec.Meta(ge=0.0)] = 0.0
    horizon_s: Annotated[float, msgspec.Meta(ge=0.0)] = 0.0
    predicted: Figures = {}


def recommendation_body(rec: dict, *, run_id: str, mode: str) -> Recommendation:
    """The wire body of an agent's recommendation record (the dict the run store keeps)."""
    import json

    actions = (rec.get("action") or {}).get("actions", [])
    if not actions and isinstance(rec.get("action"), dict) and "kind" in rec["action"]:
        actions = [rec["action"]]
    pred = rec.get("predicted") or {}
    figures = {str(k)[:MAX_ID_CHARS]: (None if v is None else float(v)) for k, v in pred.items()
               if v is None or isinstance(v, (int, float))}  # fmt: skip
    return Recommendation(
        rec_id=int(rec.get("rec_id") or 1),
        run_id=run_id[:MAX_ID_CHARS] or "run",
        t_s=float(rec["t_s"]),
        kind=str(rec.get("kind") or "plan")[:MAX_ID_CHARS],
        text=str(rec.get("text", ""))[:MAX_REC_TEXT_CHARS],
        mode=mode,
        applied=bool(rec.get("applied")),
        actions=[
            RecommendedAction(
                kind=str(a.get("kind", "action"))[:MAX_ID_CHARS],
                params_json=json.dumps({k: v for k, v in a.items() if k != "kind"}, default=str),
            )
            for a in actions[:MAX_REC_ACTIONS]
        ],
        effective_s=float(rec.get("effective_s") or rec["t_s"]),
        horizon_s=float(rec.get("horizon_s") or 0.0),
        predicted=dict(list(figures.items())[:MAX_REC_FIGURES]),
    )


BODY_TYPES: Final[dict[str, Any]] = {
    HELLO: Hello,
    WELCOME: Welcome,
    COMMAND: CommandBatch,
    TELEMETRY: TelemetryFrame,
    ACK: UnitEvent,
    DONE: UnitEvent,
    ABORTED: UnitEvent,
    FAILED: UnitEvent,
    EVENT: UnitEvent,
    HEARTBEAT: Heartbeat,
    ERROR: Error,
    BYE: Bye,
    RECOMMENDATION: Recommendation,
}

# ----------------------------------------------------------------------------------------------
# Envelope
# ----------------------------------------------------------------------------------------------


class Envelope(msgspec.Struct, frozen=True):
    """A decoded message: the envelope fields and the typed body.

    ``seq`` increases by one with every message a sender sends in one session (hello starts at
    any value); ``ref_seq`` is the seq of the message this one answers, or -1. ``t_sim_s`` is
    the sender's simulated time (-1.0 if it has none), ``t_wall_s`` its Unix wall time.
    """

    v: int
    type: str
    sender: str
    seq: int
    t_sim_s: float
    t_wall_s: float
    body: Any
    ref_seq: int = -1


class _Head(msgspec.Struct, frozen=True):
    # Same fields as Envelope; the body is kept raw until the type is known and checked.
    v: int
    type: str
    sender: Id
    seq: Seq
    t_sim_s: float
    t_wall_s: float
    body: msgspec.Raw
    ref_seq: int = -1


class _VersionProbe(msgspec.Struct):
    v: int


class ProtocolError(Exception):
    """A received frame that is not a valid message. ``code`` is an `ErrorCode` value."""

    def __init__(self, code: str, detail: str, *, seq: int = -1, sender: str = "") -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail[:MAX_TEXT_CHARS]
        self.seq = seq  # seq of the offending message if it could be read, else -1
        self.sender = sender


# What msgspec may raise on hostile input: DecodeError/ValidationError, but also
# UnicodeDecodeError for invalid UTF-8 in a string (found by benchmarks/network.py fuzz) and
# RecursionError for absurd nesting. All of them mean "not a valid message".
_DECODE_FAILURES = (msgspec.DecodeError, ValueError, OverflowError, RecursionError)

_encoder = msgspec.msgpack.Encoder()
_head_decoder = msgspec.msgpack.Decoder(_Head)
_probe_decoder = msgspec.msgpack.Decoder(_VersionProbe)
_body_decoders = {name: msgspec.msgpack.Decoder(tp) for name, tp in BODY_TYPES.items()}


def encode(
    msg_type: str,
    body: Any,
    *,
    sender: str,
    seq: int,
    t_sim_s: float = -1.0,
    t_wall_s: float | None = None,
    ref_seq: int = -1,
) -> bytes:
    """Encode one message. Raises ValueError for an unknown type or a message over the size limit
    (a sender splits large batches rather than have them rejected)."""
    if msg_type not in BODY_TYPES:
        raise ValueError(f"unknown message type {msg_type!r}")
    env = Envelope(
        v=PROTOCOL_VERSION,
        type=msg_type,
        sender=sender,
        seq=seq,
        t_sim_s=float(t_sim_s),
        t_wall_s=time.time() if t_wall_s is None else float(t_wall_s),
        body=body,
        ref_seq=ref_seq,
    )
    data = _encoder.encode(env)
    if len(data) > MAX_MESSAGE_BYTES:
        raise ValueError(f"{msg_type} message of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}")
    return data


def decode(frame: bytes | memoryview, *, allowed_types: frozenset[str] | None = None) -> Envelope:
    """Decode and validate one frame into an `Envelope` with a typed body.

    Checks, in order: size, envelope schema, version, type (and direction if ``allowed_types``
    is given), body schema, count limits, event kind vs type. Raises `ProtocolError`.
    """
    if len(frame) > MAX_MESSAGE_BYTES:
        raise ProtocolError(ErrorCode.OVERSIZED, f"{len(frame)} bytes > {MAX_MESSAGE_BYTES}")
    try:
        head = _head_decoder.decode(frame)
    except _DECODE_FAILURES as exc:
        # A message of another version may have another envelope: report the version if readable.
        try:
            v = _probe_decoder.decode(frame).v
        except _DECODE_FAILURES:
            v = PROTOCOL_VERSION
        if v != PROTOCOL_VERSION:
            raise ProtocolError(ErrorCode.VERSION, _version_detail(v)) from None
        raise ProtocolError(ErrorCode.MALFORMED, f"envelope: {exc}") from None
    seq, sender = head.seq, head.sender
    if head.v != PROTOCOL_VERSION:
        raise ProtocolError(ErrorCode.VERSION, _version_detail(head.v), seq=seq, sender=sender)
    body_decoder = _body_decoders.get(head.type)
    if body_decoder is None or (allowed_types is not None and head.type not in allowed_types):
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"type {head.type[:64]!r}", seq=seq, sender=sender)
    try:
        body = body_decoder.decode(head.body)
    except _DECODE_FAILURES as exc:
        raise ProtocolError(ErrorCode.SCHEMA, f"{head.type} body: {exc}", seq=seq, sender=sender) from None
    problem = _check_limits(head.type, body)
    if problem:
        raise ProtocolError(ErrorCode.SCHEMA, f"{head.type} body: {problem}", seq=seq, sender=sender)
    return Envelope(
        v=head.v,
        type=head.type,
        sender=sender,
        seq=seq,
        t_sim_s=head.t_sim_s,
        t_wall_s=head.t_wall_s,
        body=body,
        ref_seq=head.ref_seq,
    )


def _version_detail(v: object) -> str:
    return f"protocol version {v!r} not supported; this peer speaks version {PROTOCOL_VERSION}"


def _check_limits(msg_type: str, body: Any) -> str:
    """Count limits on the payload structs of robots.messages (which carry no constraints)."""
    if msg_type == TELEMETRY:
        cols = body.columns
        n_units = len(body.units) + (0 if cols is None else cols.n)
        if n_units > MAX_UNITS_PER_FRAME:
            return f"{n_units} units > {MAX_UNITS_PER_FRAME}"
        if cols is not None:
            problem = cols.problem()
            if problem:
                return problem
        if len(body.events) > MAX_EVENTS_PER_FRAME:
            return f"{len(body.events)} events > {MAX_EVENTS_PER_FRAME}"
    elif msg_type == COMMAND:
        if len(body.commands) > MAX_COMMANDS_PER_BATCH:
            return f"{len(body.commands)} commands > {MAX_COMMANDS_PER_BATCH}"
        if len(body.external) > MAX_UNITS_PER_FRAME:
            return f"{len(body.external)} external units > {MAX_UNITS_PER_FRAME}"
        moves = body.moves
        if moves is not None:
            n_commands = len(body.commands) + moves.n
            if n_commands > MAX_COMMANDS_PER_BATCH:
                return f"{n_commands} commands > {MAX_COMMANDS_PER_BATCH}"
            problem = moves.problem()
            if problem:
                return problem
    elif msg_type == WELCOME and body.floor is not None:
        if len(body.floor.codes) != body.floor.rows * body.floor.cols:
            return f"floor: {len(body.floor.codes)} codes for {body.floor.rows} x {body.floor.cols} cells"
    elif msg_type == RECOMMENDATION:
        import json

        for k, a in enumerate(body.actions):
            try:
                params = json.loads(a.params_json)
            except ValueError:
                return f"actions[{k}].params_json is not JSON"
            if not isinstance(params, dict):
                return f"actions[{k}].params_json is not a JSON object"
        if body.mode not in ("advise", "auto"):
            return f"mode {body.mode[:16]!r} is not advise or auto"
    elif msg_type in EVENT_TYPES:
        if msg_type != EVENT and body.kind != msg_type:
            return f"event kind {body.kind[:32]!r} sent as type {msg_type!r}"
        if msg_type == EVENT and body.kind in EVENT_TYPES:
            return f"event kind {body.kind!r} must be sent as its own type"
    return ""


class SeqCounter:
    """Outgoing sequence numbers of one session."""

    __slots__ = ("value",)

    def __init__(self, start: int = 0) -> None:
        self.value = start

    def next(self) -> int:
        self.value += 1
        return self.value


class SeqTracker:
    """Incoming sequence numbers of one peer's session.

    ``accept(seq)`` raises `ProtocolError(SEQUENCE)` for a seq not greater than the last one
    (a replay or reordering) and returns how many messages were skipped (lost) before it.
    """

    __slots__ = ("last", "lost")

    def __init__(self, first: int | None = None) -> None:
        self.last = -1 if first is None else first
        self.lost = 0

    def accept(self, seq: int) -> int:
        if seq <= self.last:
            raise ProtocolError(ErrorCode.SEQUENCE, f"seq {seq} not after {self.last}", seq=seq)
        gap = seq - self.last - 1 if self.last >= 0 else 0
        self.last = seq
        self.lost += gap
        return gap
