"""Dispatcher side of the wire: one ROUTER for sessions and commands, one PUB for fleet state.

`DispatcherServer` is single-threaded and poll-driven: the owner calls `poll(timeout_s)`, which
receives and validates everything pending, answers invalid messages with ``error`` messages,
keeps the sessions (registration, sequence numbers, heartbeats, liveness) and returns what the
dispatcher must act on as `ServerEvent`s. Nothing in here decides anything about the fleet.

Contract
--------
- A client's ZeroMQ routing id must equal its client id, the envelope ``sender`` and (with
  CURVE) the id its public key is bound to; otherwise its messages are refused (``unauthorized``)
  and logged.
- A registered client silent for ``heartbeat_liveness`` heartbeat intervals is declared lost
  (`ClientLost`) and its units are released; its next message gets ``unknown_client`` so it
  re-registers (`Registered` with ``resumed=True``).
- Invalid frames never raise out of `poll`: each is counted in `counters` under its error code.
- Every heartbeat and liveness decision reads the server's ``clock`` (`time.monotonic` unless
  given): tests drive a manual clock and call ``poll(0)``, so liveness is checked in counted clock
  time, not in whatever real time a loaded machine leaves them.
- With ``check_pose`` configured, every pose a client reports (in ``hello`` and in telemetry) is
  checked before it is accepted: a hello without a state, or a pose off the floor, on a wall or on
  another unit's cell, is refused with ``pose`` (a refused hello opens no session).
- With ``track_commands``, an ``ack``/``done``/``aborted`` (or a station's ``withdrawn``) naming a
  command id this server never sent to that unit is refused with ``unknown_command`` (and counted),
  never taken silently.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import zmq

from fctwin.network import protocol as p
from fctwin.network.protocol import (
    Envelope,
    ErrorCode,
    Hello,
    ProtocolError,
    SeqCounter,
    SeqTracker,
    UnitInfo,
)
from fctwin.network.security import ServerKeys, apply_server_curve, check_bind_allowed, start_authenticator
from fctwin.robots.messages import UnitState

log = logging.getLogger(__name__)

SERVER_ID = "dispatcher"
MAX_MESSAGES_PER_POLL = 20_000  # bounds one poll() so heartbeats and liveness still run under flood
# Bounds the time one poll() spends reading: a backlog is read over several polls, so the owner's
# tick stays short (reading 20,000 queued messages in one call took seconds on a busy machine).
MAX_DRAIN_S = 0.004
# Heartbeats sent by one poll(): sessions registered together come due together, and 1,000 of them
# in one poll was the load benchmark's p99 tick (~7 ms of CPU once a second); the rest follow
# in the next polls, a few ms late against a liveness of three intervals.
MAX_HEARTBEATS_PER_POLL = 100
_NOBLOCK = int(zmq.NOBLOCK)  # plain ints: the enum conversions showed in the per-message profile
_RCVMORE = int(zmq.RCVMORE)
_EVENTS = int(zmq.EVENTS)
_POLLIN = int(zmq.POLLIN)
_SNDMORE_NOBLOCK = int(zmq.SNDMORE) | _NOBLOCK
_LOG_FIRST_N_PER_CODE = 5  # then one log line per 1,000 errors of a code: a fuzzer cannot flood logs


@dataclass(frozen=True, kw_only=True)
class ServerConfig:
    """Where and how the dispatcher listens. ``router_endpoint`` may end in ``:*`` (random port)."""

    router_endpoint: str
    pub_endpoint: str | None = None
    heartbeat_interval_s: float = p.HEARTBEAT_INTERVAL_S
    heartbeat_liveness: int = p.HEARTBEAT_LIVENESS
    watchdog_s: float = p.WATCHDOG_S
    keys: ServerKeys | None = None
    insecure: bool = False  # allow a plaintext bind on a non-loopback address
    max_drain_s: float = MAX_DRAIN_S  # reading time per poll() before returning to the owner
    # Told to every client in its welcome (optional fields; see protocol.Welcome).
    floor: p.FloorInfo | None = None
    step_s: float = 0.0
    realtime_factor: float = 0.0
    # check_pose(client_id, state) -> "" if the pose can be, else why not (error ``pose``). Called
    # for every unit state in a hello (a missing state is refused without asking) and in telemetry.
    check_pose: Callable[[str, UnitState], str] | None = None
    # Remember the command ids sent to each unit (the last COMMAND_MEMORY) and refuse events that
    # name another (error ``unknown_command``).
    track_commands: bool = False


COMMAND_MEMORY = 4096  # command ids remembered per unit (the protocol's idempotence window)
_COMMAND_EVENTS = frozenset((p.ACK, p.DONE, p.ABORTED))
# event kinds that name a command sent to the unit: those types, and a station's ``withdrawn`` (a
# serve it dropped on `Withdraw`), which travels as type ``event``
_COMMAND_EVENT_KINDS = _COMMAND_EVENTS | {"withdrawn"}


@dataclass(frozen=True)
class Registered:
    """A client registered (``resumed``: its id had a session before, e.g. after a restart)."""

    client_id: str
    role: str
    units: list[UnitInfo]
    resumed: bool


@dataclass(frozen=True)
class Received:
    """A valid telemetry or unit-event message from a registered client."""

    client_id: str
    envelope: Envelope


@dataclass(frozen=True)
class ClientLost:
    """A client's session ended: ``reason`` is ``"heartbeat"`` (silent too long) or ``"bye"``."""

    client_id: str
    unit_ids: tuple[str, ...]
    reason: str


ServerEvent = Registered | Received | ClientLost


@dataclass(kw_only=True)
class _Session:
    client_id: str
    routing_id: bytes
    role: str
    units: list[UnitInfo]
    unit_ids: frozenset[str]
    number: int
    incoming: SeqTracker
    outgoing: SeqCounter = field(default_factory=SeqCounter)
    last_heard_s: float = 0.0  # server clock
    last_sent_s: float = 0.0
    # The last `UnitColumns.unit_ids` of this session's telemetry whose ids were all its own: a
    # fleet host sends the same block every frame, checked once instead of id by id each time.
    column_ids_ok: str = ""


class DispatcherServer:
    """ROUTER + PUB endpoint of the dispatcher. Not thread-safe: one owner thread calls it.

    ``clock`` (seconds, monotonic) times heartbeats and liveness. With a clock that only moves when
    told (tests), call ``poll(0)``: ``poll(timeout_s)`` waits until the clock passes its deadline.
    """

    def __init__(
        self,
        config: ServerConfig,
        *,
        context: zmq.Context | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        check_bind_allowed(config.router_endpoint, keys=config.keys, insecure=config.insecure)
        if config.pub_endpoint:
            check_bind_allowed(config.pub_endpoint, keys=config.keys, insecure=config.insecure)
        self.config = config
        self.clock = clock
        self._own_context = context is None
        self.context = context or zmq.Context()
        self.counters: Counter[str] = Counter()
        self.t_sim_s = -1.0  # the owner sets the current simulated time; stamped on every message
        self._sessions: dict[str, _Session] = {}
        self._unit_owner: dict[str, str] = {}
        self._session_numbers: Counter[str] = Counter()
        self._auth = None
        self._keyed_ids: set[str] = set()
        self._events: list[ServerEvent] = []
        self._next_housekeeping_s = 0.0
        self._backlog = False  # the last drain stopped on its time budget: messages are still queued
        self._sent_ids: dict[str, tuple[deque[int], set[int]]] = {}  # unit -> ids sent (track_commands)
        if config.keys is not None:
            self._auth, self._keyed_ids = start_authenticator(self.context, config.keys)
        self.router = self._make_router()
        self.router.bind(config.router_endpoint)
        self.router_endpoint = self.router.getsockopt_string(zmq.LAST_ENDPOINT)
        self.pub: zmq.Socket | None = None
        self.pub_endpoint: str | None = None
        if config.pub_endpoint:
            self.pub = self._make_pub()
            self.pub.bind(config.pub_endpoint)
            self.pub_endpoint = self.pub.getsockopt_string(zmq.LAST_ENDPOINT)
        self._poller = zmq.Poller()
        self._poller.register(self.router, zmq.POLLIN)

    # ------------------------------------------------------------------ sockets

    def _make_router(self) -> zmq.Socket:
        s = self.context.socket(zmq.ROUTER)
        s.linger = 0
        # A robot reconnecting with its id takes the route over at once (else it is ignored while
        # the old pipe looks alive); sends to a gone robot raise instead of vanishing silently.
        s.setsockopt(zmq.ROUTER_HANDOVER, 1)
        s.setsockopt(zmq.ROUTER_MANDATORY, 1)
        s.setsockopt(zmq.MAXMSGSIZE, p.SOCKET_MAX_MESSAGE_BYTES)
        s.setsockopt(zmq.HEARTBEAT_IVL, p.ZMTP_HEARTBEAT_IVL_MS)
        s.setsockopt(zmq.HEARTBEAT_TIMEOUT, p.ZMTP_HEARTBEAT_TIMEOUT_MS)
        s.setsockopt(zmq.HEARTBEAT_TTL, p.ZMTP_HEARTBEAT_TTL_MS)
        s.setsockopt(zmq.RCVHWM, 100_000)  # per pipe; a full pipe blocks the sender, nothing is lost
        s.setsockopt(zmq.SNDHWM, 10_000)
        if self.config.keys is not None:
            apply_server_curve(s, self.config.keys)
        return s

    def _make_pub(self) -> zmq.Socket:
        s = self.context.socket(zmq.PUB)
        s.linger = 0
        s.setsockopt(zmq.SNDHWM, 100)  # viewers want recent state; a slow one drops, never stalls us
        s.setsockopt(zmq.HEARTBEAT_IVL, p.ZMTP_HEARTBEAT_IVL_MS)
        s.setsockopt(zmq.HEARTBEAT_TIMEOUT, p.ZMTP_HEARTBEAT_TIMEOUT_MS)
        if self.config.keys is not None:
            apply_server_curve(s, self.config.keys)
        return s

    # ------------------------------------------------------------------ public API

    @property
    def clients(self) -> dict[str, tuple[str, ...]]:
        """Registered client id -> its unit ids."""
        return {cid: tuple(sorted(s.unit_ids)) for cid, s in self._sessions.items()}

    def owner_of(self, unit_id: str) -> str | None:
        return self._unit_owner.get(unit_id)

    def silence_s(self, client_id: str) -> float | None:
        """Clock seconds since a valid message came from a registered client (None: no session)."""
        s = self._sessions.get(client_id)
        return None if s is None else self.clock() - s.last_heard_s

    def poll(self, timeout_s: float) -> list[ServerEvent]:
        """Process pending messages, waiting up to ``timeout_s`` for the first; return events.

        Returns as soon as at least one event is ready (or the timeout passes). Heartbeats are
        sent and liveness checked on every call.
        """
        clock = self.clock
        deadline = clock() + max(0.0, timeout_s)
        while True:
            now = clock()
            wait_ms = 0 if self._events else max(0, int((deadline - now) * 1000))
            wait_ms = min(wait_ms, int(self.config.heartbeat_interval_s * 250) + 1)
            if self._poller.poll(wait_ms):
                self._drain(ready=True)
            else:
                # Nothing queued: a backlog flag left by a drain that stopped on its time budget
                # just as it read the last message is stale, and would hold off liveness for good.
                self._backlog = False
            self._housekeeping(clock())
            if self._events or clock() >= deadline:
                events, self._events = self._events, []
                return events

    def send(self, client_id: str, msg_type: str, body: Any, *, ref_seq: int = -1) -> int:
        """Send one message to a registered client; return its seq, or 0 if the client has no
        session or cannot be reached (gone, or its pipe is full)."""
        s = self._sessions.get(client_id)
        if s is None:
            self.counters["send_no_session"] += 1
            return 0
        seq = s.outgoing.next()
        data = p.encode(msg_type, body, sender=SERVER_ID, seq=seq, t_sim_s=self.t_sim_s, ref_seq=ref_seq)
        if self._send_raw(s.routing_id, data):
            s.last_sent_s = self.clock()
            if msg_type == p.COMMAND and self.config.track_commands:
                self.note_sent(body.all_commands())
            return seq
        return 0

    def note_sent(self, commands: Any) -> None:
        """Remember command ids as sent (done by `send`; a restarted dispatcher replaying its journal
        calls it for the commands its predecessor sent, whose acks may still arrive)."""
        for c in commands:
            entry = self._sent_ids.get(c.unit_id)
            if entry is None:
                entry = self._sent_ids[c.unit_id] = (deque(), set())
            order, ids = entry
            if c.command_id in ids:
                continue
            order.append(c.command_id)
            ids.add(c.command_id)
            if len(order) > COMMAND_MEMORY:
                ids.discard(order.popleft())

    def send_commands(self, client_id: str, batch: Any) -> int:
        return self.send(client_id, p.COMMAND, batch)

    def publish(self, frame: Any) -> None:
        """Publish fleet state (a TelemetryFrame) to viewers and monitors on the PUB socket."""
        if self.pub is None:
            return
        data = p.encode(
            p.TELEMETRY, frame, sender=SERVER_ID, seq=self.counters["published"] + 1, t_sim_s=self.t_sim_s
        )
        try:
            self.pub.send(data, flags=zmq.NOBLOCK)
            self.counters["published"] += 1
        except zmq.Again:
            self.counters["publish_dropped"] += 1

    def publish_recommendation(self, body: p.Recommendation) -> None:
        """Publish an agent's recommendation (`protocol.Recommendation`) to dashboards on the PUB socket."""
        if self.pub is None:
            return
        data = p.encode(
            p.RECOMMENDATION, body, sender=SERVER_ID, seq=self.counters["published"] + 1, t_sim_s=body.t_s
        )
        try:
            self.pub.send(data, flags=zmq.NOBLOCK)
            self.counters["published"] += 1
        except zmq.Again:
            self.counters["publish_dropped"] += 1

    def drop(self, client_id: str, *, reason: str = "dropped") -> None:
        """End a client's session from this side (sends ``bye``)."""
        if client_id in self._sessions:
            self.send(client_id, p.BYE, p.Bye(reason=reason))
            self._end_session(client_id, reason)

    def close(self, *, reason: str = "dispatcher closing", linger_s: float = 0.0, bye: bool = True) -> None:
        """Say ``bye`` to every client and close.

        For ``linger_s`` after the byes the socket stays open and any message from any client
        (told bye before, or lost and registering again) is answered with ``bye`` (seq 0): a bye
        queued on a socket that is then closed did not always leave (1 robot in 4 never heard it
        and kept reconnecting to a run that was over). ``bye=False`` closes without a word, as a
        dying dispatcher would (tests).
        """
        told: dict[bytes, str] = {}
        for cid in list(self._sessions) if bye else ():
            rid = self._sessions[cid].routing_id
            if self.send(cid, p.BYE, p.Bye(reason=reason)):
                told[rid] = cid
            else:
                log.warning("could not say bye to %s (gone, or its queue is full)", cid)
            self._end_session(cid, "closing")
        if bye and linger_s > 0:
            again = p.encode(p.BYE, p.Bye(reason=reason), sender=SERVER_ID, seq=0, t_sim_s=self.t_sim_s)
            # Real time, not self.clock: this waits on the socket for messages still on the way.
            deadline = time.monotonic() + linger_s
            while (wait_s := deadline - time.monotonic()) > 0:
                if not self.router.poll(max(1, int(wait_s * 1000)), zmq.POLLIN):
                    continue
                rid = self.router.recv(_NOBLOCK)
                while self.router.getsockopt(_RCVMORE):
                    self.router.recv(_NOBLOCK)
                # Anyone still talking hears bye: a robot told before, or one that was lost and is
                # saying hello again while the run ends (it would otherwise reconnect for ever).
                self.counters["bye_repeated"] += 1
                self._send_raw(rid, again)
        self.router.close(linger=200 if told else 0)
        if self.pub is not None:
            self.pub.close(linger=0)
        if self._auth is not None:
            self._auth.stop()
        if self._own_context:
            self.context.term()

    # ------------------------------------------------------------------ receiving

    def _drain(self, *, ready: bool = False) -> None:
        # Frame by frame, as bytes: recv_multipart(copy=False) cost about half of a small message's
        # handling (zero-copy Frame objects only pay off for large frames). With CURVE the payload
        # stays a Frame, whose User-Id property names the key it came with.
        router = self.router
        copy = self.config.keys is None
        end_s = time.perf_counter() + self.config.max_drain_s
        for _ in range(MAX_MESSAGES_PER_POLL):
            # Ask whether a message is queued rather than read until zmq.Again: raising and catching
            # that exception on every drain cost more than the check (a lockstep tick drains one).
            # Not for the first message after the poller reported one (``ready``): asking again
            # cost 2.3 us, a tenth of this loop's own work per lockstep tick.
            if not ready and not router.getsockopt(_EVENTS) & _POLLIN:
                self._backlog = False
                return
            ready = False
            try:
                rid = router.recv(_NOBLOCK)
            except zmq.Again:  # the poller's report went stale (not seen, but cheap to be sure of)
                self._backlog = False
                return
            # A ROUTER message has the routing id and at least one frame, all there already.
            payload = router.recv(_NOBLOCK, copy=copy)
            extra = 0
            while router.getsockopt(_RCVMORE):
                router.recv(_NOBLOCK)
                extra += 1
            self.counters["received"] += 1
            self._handle(rid, payload, extra)
            if time.perf_counter() >= end_s:
                break
        self._backlog = True
        self.counters["drain_capped"] += 1

    def _handle(self, rid: bytes, payload: bytes | zmq.Frame, extra_frames: int = 0) -> None:
        if extra_frames:
            n = extra_frames + 1
            self._reject(rid, ProtocolError(ErrorCode.MALFORMED, f"{n} frames; one expected"))
            return
        try:
            env = p.decode(
                payload if isinstance(payload, bytes) else payload.buffer, allowed_types=p.CLIENT_TYPES
            )
        except ProtocolError as exc:
            self._reject(rid, exc)
            return
        problem = self._identity_problem(rid, env, payload)
        if problem:
            self._reject(rid, ProtocolError(ErrorCode.UNAUTHORIZED, problem, seq=env.seq), warn=True)
            return
        now = self.clock()
        if env.type == p.HELLO:
            self._on_hello(rid, env, now)
            return
        s = self._sessions.get(env.sender)
        if s is None or s.routing_id != rid:
            self._reject(rid, ProtocolError(ErrorCode.UNKNOWN_CLIENT, "no session: send hello", seq=env.seq))
            return
        try:
            self.counters["lost"] += s.incoming.accept(env.seq)
        except ProtocolError as exc:
            self._reject(rid, exc)
            return
        s.last_heard_s = now
        if env.type == p.HEARTBEAT:
            return
        if env.type == p.BYE:
            self._end_session(s.client_id, "bye")
            return
        if env.type == p.ERROR:
            self.counters["peer_error"] += 1
            log.info("client %s reports error %s: %s", s.client_id, env.body.code, env.body.detail)
            return
        unknown = self._foreign_units(s, env)
        if unknown:
            self._reject(
                rid,
                ProtocolError(ErrorCode.UNKNOWN_UNIT, f"unit {unknown!r} not registered by you", seq=env.seq),
            )
            return
        problem = self._content_problem(env)
        if problem:
            code, detail = problem
            self._reject(rid, ProtocolError(code, detail, seq=env.seq), warn=True)
            return
        self.counters[env.type] += 1
        self._events.append(Received(s.client_id, env))

    def _identity_problem(self, rid: bytes, env: Envelope, payload: bytes | zmq.Frame) -> str:
        if rid != env.sender.encode():
            return f"sender {env.sender!r} does not match the connection's routing id (set ZMQ_ROUTING_ID)"
        if self.config.keys is not None:
            try:
                bound = payload.get("User-Id")
            except zmq.ZMQError:
                bound = ""
            if bound != env.sender:
                return f"claims id {env.sender!r} but its CURVE key is bound to {bound!r}"
        return ""

    def _foreign_units(self, s: _Session, env: Envelope) -> str:
        if env.type == p.TELEMETRY:
            cols = env.body.columns
            if cols is not None and cols.unit_ids != s.column_ids_ok:
                for uid in cols.ids():
                    if uid not in s.unit_ids:
                        return uid
                s.column_ids_ok = cols.unit_ids
            for u in env.body.units:
                if u.unit_id not in s.unit_ids:
                    return u.unit_id
            for e in env.body.events:
                if e.unit_id not in s.unit_ids:
                    return e.unit_id
        elif env.type in p.EVENT_TYPES and env.body.unit_id not in s.unit_ids:
            return env.body.unit_id
        return ""

    def _content_problem(self, env: Envelope) -> tuple[str, str] | None:
        """Poses that cannot be (``check_pose``) and events for commands never sent (``track_commands``)."""
        check = self.config.check_pose
        if check is not None and env.type == p.TELEMETRY:
            for st in env.body.all_states():
                why = check(env.sender, st)
                if why:
                    return ErrorCode.POSE, f"unit {st.unit_id}: {why}"
        if self.config.track_commands:
            if env.type in _COMMAND_EVENTS or env.type == p.EVENT:
                events = (env.body,)
            elif env.type == p.TELEMETRY:
                events = env.body.events
            else:
                events = ()
            for e in events:
                if e.kind in _COMMAND_EVENT_KINDS and e.command_id >= 0:
                    entry = self._sent_ids.get(e.unit_id)
                    if entry is None or e.command_id not in entry[1]:
                        return (
                            ErrorCode.UNKNOWN_COMMAND,
                            f"{e.kind} for command {e.command_id}, never sent to unit {e.unit_id!r}",
                        )
        return None

    def _on_hello(self, rid: bytes, env: Envelope, now: float) -> None:
        hello: Hello = env.body
        cid = env.sender
        problem = self._hello_problem(cid, hello)
        if problem:
            code, detail = problem
            self._reject(rid, ProtocolError(code, detail, seq=env.seq), warn=code != ErrorCode.SCHEMA)
            return
        resumed = self._session_numbers[cid] > 0
        if cid in self._sessions:
            self._release_units(self._sessions.pop(cid))
        self._session_numbers[cid] += 1
        unit_ids = frozenset(u.unit_id for u in hello.units)
        s = _Session(
            client_id=cid,
            routing_id=rid,
            role=hello.role,
            units=list(hello.units),
            unit_ids=unit_ids,
            number=self._session_numbers[cid],
            incoming=SeqTracker(first=env.seq),
            last_heard_s=now,
        )
        self._sessions[cid] = s
        for uid in unit_ids:
            self._unit_owner[uid] = cid
        welcome = p.Welcome(
            client_id=cid,
            session=s.number,
            heartbeat_interval_s=self.config.heartbeat_interval_s,
            heartbeat_liveness=self.config.heartbeat_liveness,
            watchdog_s=self.config.watchdog_s,
            max_message_bytes=p.MAX_MESSAGE_BYTES,
            resumed=resumed,
            floor=self.config.floor,
            step_s=self.config.step_s,
            realtime_factor=self.config.realtime_factor,
        )
        self.send(cid, p.WELCOME, welcome, ref_seq=env.seq)
        self.counters["registered"] += 1
        log.info("client %s registered (%s, %d units, session %d)", cid, hello.role, len(unit_ids), s.number)
        self._events.append(Registered(cid, hello.role, list(hello.units), resumed))

    def _hello_problem(self, cid: str, hello: Hello) -> tuple[str, str] | None:
        if hello.client_id != cid:
            return ErrorCode.UNAUTHORIZED, f"hello for {hello.client_id!r} sent by {cid!r}"
        if hello.role not in (p.ROLE_ROBOT, p.ROLE_FLEET, p.ROLE_MONITOR):
            return ErrorCode.SCHEMA, f"unknown role {hello.role!r}"
        ids = [u.unit_id for u in hello.units]
        if len(set(ids)) != len(ids):
            return ErrorCode.SCHEMA, "a unit id appears twice"
        if hello.role == p.ROLE_ROBOT and ids != [cid]:
            return ErrorCode.SCHEMA, "a robot registers exactly one unit, named by its client id"
        if hello.role == p.ROLE_MONITOR and ids:
            return ErrorCode.SCHEMA, "a monitor registers no units"
        for uid in ids:
            owner = self._unit_owner.get(uid)
            if owner is not None and owner != cid:
                return ErrorCode.DUPLICATE_UNIT, f"unit {uid!r} belongs to live client {owner!r}"
            if uid != cid and uid in self._keyed_ids:
                return ErrorCode.UNAUTHORIZED, f"unit {uid!r} has its own key; only it may register"
        check = self.config.check_pose
        if check is not None:
            for u in hello.units:
                if u.state is None:
                    return ErrorCode.POSE, f"unit {u.unit_id!r}: hello must carry the unit's state (its pose)"
                why = check(cid, u.state)
                if why:
                    return ErrorCode.POSE, f"unit {u.unit_id!r}: {why}"
        return None

    def _reject(self, rid: bytes, exc: ProtocolError, *, warn: bool = False) -> None:
        n = self.counters[f"error_{exc.code}"] = self.counters[f"error_{exc.code}"] + 1
        if n <= _LOG_FIRST_N_PER_CODE or n % 1000 == 0:
            level = logging.WARNING if warn else logging.INFO
            log.log(level, "refused message from %r (%s, #%d): %s", rid[:64], exc.code, n, exc.detail)
        # A registered peer gets the error in its session's sequence; anyone else gets seq 0.
        s = self._sessions.get(rid.decode("utf-8", "replace"))
        seq = s.outgoing.next() if s is not None and s.routing_id == rid else 0
        err = p.Error(code=exc.code, detail=exc.detail)
        self._send_raw(
            rid, p.encode(p.ERROR, err, sender=SERVER_ID, seq=seq, t_sim_s=self.t_sim_s, ref_seq=exc.seq)
        )

    def _send_raw(self, rid: bytes, data: bytes) -> bool:
        try:
            # Two sends with plain-int flags: send_multipart combined enum flags per frame (1-2 us).
            # A ROUTER queues a message only once its last frame is sent, so a failure on either
            # frame leaves nothing half-sent.
            self.router.send(rid, _SNDMORE_NOBLOCK)
            self.router.send(data, _NOBLOCK)
        except zmq.Again:
            self.counters["send_dropped_hwm"] += 1
            return False
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EHOSTUNREACH:
                raise
            self.counters["send_unreachable"] += 1
            return False
        self.counters["sent"] += 1
        return True

    # ------------------------------------------------------------------ sessions and liveness

    def _housekeeping(self, now: float) -> None:
        if now < self._next_housekeeping_s:
            return
        ivl = self.config.heartbeat_interval_s
        self._next_housekeeping_s = now + ivl / 4
        dead_after = ivl * self.config.heartbeat_liveness
        budget = MAX_HEARTBEATS_PER_POLL
        for s in list(self._sessions.values()):
            # Unread messages may be this client's: silence counts only once the queue is read.
            if now - s.last_heard_s > dead_after and not self._backlog:
                log.warning("client %s silent for %.2f s: lost", s.client_id, now - s.last_heard_s)
                self.counters["lost_clients"] += 1
                self._end_session(s.client_id, "heartbeat")
            elif now - s.last_sent_s >= ivl:
                if budget:
                    self.send(s.client_id, p.HEARTBEAT, p.Heartbeat())
                    budget -= 1
                else:
                    self._next_housekeeping_s = now  # the rest at the next poll

    def _end_session(self, client_id: str, reason: str) -> None:
        s = self._sessions.pop(client_id, None)
        if s is None:
            return
        self._release_units(s)
        self._events.append(ClientLost(client_id, tuple(sorted(s.unit_ids)), reason))

    def _release_units(self, s: _Session) -> None:
        for uid in s.unit_ids:
            if self._unit_owner.get(uid) == s.client_id:
                del self._unit_owner[uid]
