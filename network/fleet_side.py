"""Fleet/robot side of the wire: a DEALER session with liveness, reconnection and a watchdog.

`FleetClient` is single-threaded and poll-driven, like the dispatcher side. The owner calls
`poll(timeout_s)` in its control loop; it gets back the dispatcher's ``command`` (and ``bye``)
messages and sends telemetry and events with `send`. The client handles everything else:

- registration: ``hello`` with the units' current state; again after ``unknown_client``;
- heartbeats: one whenever nothing else was sent for a heartbeat interval;
- liveness: a dispatcher silent for ``heartbeat_liveness`` intervals is presumed gone: the socket
  is closed and re-created and hello re-sent, with exponential back-off (Paranoid Pirate);
- watchdog: `watchdog_expired()` turns true when no valid message came from the dispatcher for
  ``watchdog_s``; the owner must then stop its unit safely (the client cannot move motors);
- end of run: a ``bye`` from the dispatcher ends the session for good (`ended`): no hello is sent
  again; the owner stops its unit and exits (or starts a new client for the next run).

Every liveness, heartbeat, back-off and watchdog decision reads the client's ``clock``
(`time.monotonic` unless given), so tests can drive a manual clock (calling ``poll(0)``) and
check those decisions in counted clock time, whatever the machine's load.

`CommandDeduper` implements idempotent command ids for the owner: a repeated command is
acknowledged, never executed twice.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import zmq

from fctwin.network import protocol as p
from fctwin.network.protocol import Envelope, ErrorCode, ProtocolError, SeqCounter, SeqTracker, UnitInfo
from fctwin.network.security import ClientKeys, apply_client_curve
from fctwin.robots.messages import UnitEvent

log = logging.getLogger(__name__)

_NOBLOCK = int(zmq.NOBLOCK)  # plain ints: enum conversions cost more than the calls they flag
_EVENTS = int(zmq.EVENTS)
_POLLIN = int(zmq.POLLIN)


@dataclass(frozen=True, kw_only=True)
class ClientConfig:
    """How a fleet host or robot connects. Liveness values are replaced by the dispatcher's."""

    endpoint: str
    client_id: str
    role: str = p.ROLE_ROBOT
    heartbeat_interval_s: float = p.HEARTBEAT_INTERVAL_S
    heartbeat_liveness: int = p.HEARTBEAT_LIVENESS
    watchdog_s: float = p.WATCHDOG_S
    reconnect_min_s: float = p.RECONNECT_MIN_S
    reconnect_max_s: float = p.RECONNECT_MAX_S
    keys: ClientKeys | None = None
    software: str = "fctwin"
    # Silence after which the dispatcher is presumed gone (reconnect) and the watchdog fires.
    # None: heartbeat_interval_s * heartbeat_liveness and watchdog_s from the dispatcher's welcome.
    # A lockstep fleet host sets it long: its dispatcher may think for seconds between ticks.
    dispatcher_timeout_s: float | None = None


class FleetClient:
    """DEALER endpoint of one fleet host or robot. Not thread-safe: one owner thread calls it.

    ``units`` is called whenever a hello is sent and returns the units to register with their
    current state, so a robot that comes back reports where it is. ``clock`` (seconds, monotonic)
    times heartbeats, liveness, back-off and the watchdog; with a clock that only moves when told
    (tests), call ``poll(0)``: ``poll(timeout_s)`` runs until the clock passes its deadline.
    """

    def __init__(
        self,
        config: ClientConfig,
        units: Callable[[], list[UnitInfo]],
        *,
        context: zmq.Context | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.clock = clock
        self._units = units
        self._own_context = context is None
        self.context = context or zmq.Context()
        self.counters: Counter[str] = Counter()
        self.t_sim_s = -1.0  # the owner sets its simulated time; stamped on every message
        self.registered = False
        self.ended = False  # the dispatcher said bye: the run is over, never re-register
        self.bye_reason = ""
        self.welcome: p.Welcome | None = None  # the last welcome (liveness values, floor, step time)
        self.mute_until = 0.0  # fault injection (tests): nothing is sent before this clock time
        self.session = 0
        self.heartbeat_interval_s = config.heartbeat_interval_s
        self.heartbeat_liveness = config.heartbeat_liveness
        self.watchdog_s = config.watchdog_s
        self._backoff_s = config.reconnect_min_s
        now = clock()
        self._last_valid_s = now  # last valid message from the dispatcher (watchdog)
        self._last_heard_s = now  # last anything-valid from the dispatcher (liveness)
        self._last_sent_s = 0.0
        self._next_hello_s = now
        self._out = SeqCounter()
        self._in = SeqTracker()
        self.sock: zmq.Socket | None = None
        self._connect()

    # ------------------------------------------------------------------ socket life cycle

    def _connect(self) -> None:
        s = self.context.socket(zmq.DEALER)
        s.linger = 0
        s.setsockopt_string(zmq.IDENTITY, self.config.client_id)
        # Queue nothing for a connection that is not up: stale commands must not burst out later.
        s.setsockopt(zmq.IMMEDIATE, 1)
        s.setsockopt(zmq.RECONNECT_IVL, int(self.config.reconnect_min_s * 1000))
        s.setsockopt(zmq.RECONNECT_IVL_MAX, int(self.config.reconnect_max_s * 1000))
        s.setsockopt(zmq.HEARTBEAT_IVL, p.ZMTP_HEARTBEAT_IVL_MS)
        s.setsockopt(zmq.HEARTBEAT_TIMEOUT, p.ZMTP_HEARTBEAT_TIMEOUT_MS)
        s.setsockopt(zmq.HEARTBEAT_TTL, p.ZMTP_HEARTBEAT_TTL_MS)
        s.setsockopt(zmq.MAXMSGSIZE, p.SOCKET_MAX_MESSAGE_BYTES)
        s.setsockopt(zmq.SNDHWM, 10_000)
        if self.config.keys is not None:
            apply_client_curve(s, self.config.keys)
        s.connect(self.config.endpoint)
        self.sock = s
        # One poller per socket: Socket.poll builds a new one on every call (a lockstep fleet host
        # polls once per tick).
        self._poller = zmq.Poller()
        self._poller.register(s, zmq.POLLIN)
        self.counters["connects"] += 1

    def _reconnect(self, now: float) -> None:
        """Drop the socket and start over (the dispatcher or the path to it is gone)."""
        log.warning(
            "%s: dispatcher silent for %.2f s; reconnecting", self.config.client_id, now - self._last_heard_s
        )
        if self.sock is not None:
            self.sock.close(linger=0)
        self.registered = False
        self._connect()
        self._last_heard_s = now
        # Hello as soon as the new connection is up. (It was scheduled one back-off later, which
        # at the back-off cap is exactly when the next reconnect fired first: no hello was ever
        # sent again and a robot never came back to a restarted dispatcher.)
        self._next_hello_s = now
        self._backoff_s = min(self._backoff_s * 2, self.config.reconnect_max_s)
        self.counters["reconnects"] += 1

    def close(self, *, bye: bool = True) -> None:
        if self.sock is not None:
            if bye and self.registered:
                self.send(p.BYE, p.Bye(reason="client closing"))
            self.sock.close(linger=0)
            self.sock = None
        if self._own_context:
            self.context.term()

    # ------------------------------------------------------------------ public API

    def silence_s(self) -> float:
        """Seconds since the last valid message from the dispatcher."""
        return self.clock() - self._last_valid_s

    def watchdog_expired(self) -> bool:
        limit = self.config.dispatcher_timeout_s or self.watchdog_s
        return self.silence_s() > limit

    def send(self, msg_type: str, body: Any, *, ref_seq: int = -1) -> int:
        """Send one message; return its seq, or 0 if it could not be queued (not connected, HWM)."""
        assert self.sock is not None, "client closed"
        if self.mute_until and self.clock() < self.mute_until:
            self.counters["muted"] += 1
            return False
        data = p.encode(
            msg_type,
            body,
            sender=self.config.client_id,
            seq=self._out.next(),
            t_sim_s=self.t_sim_s,
            ref_seq=ref_seq,
        )
        try:
            self.sock.send(data, _NOBLOCK)
        except zmq.Again:
            self.counters["send_dropped"] += 1
            return False
        self._last_sent_s = self.clock()
        self.counters["sent"] += 1
        return True

    def poll(self, timeout_s: float) -> list[Envelope]:
        """Run the session for up to ``timeout_s``; return command and bye messages received.

        Returns early as soon as a command arrives, and as soon as a session is established (a
        welcome), so the caller can send what a new session needs at once: waiting out the timeout
        there delayed a fleet host's first frame, and so every run's start, by up to ``timeout_s``.
        Never raises for bad input from the wire.
        """
        assert self.sock is not None, "client closed"
        clock = self.clock
        deadline = clock() + max(0.0, timeout_s)
        out: list[Envelope] = []
        session = self.session
        while True:
            now = clock()
            self._housekeeping(now)
            wait_ms = max(0, int((deadline - now) * 1000))
            wait_ms = min(wait_ms, max(1, int(self.heartbeat_interval_s * 250)))
            if self._poller.poll(wait_ms):
                sock = self.sock
                ready = True  # the poller just reported a message: no need to ask (2.3 us) again
                for _ in range(10_000):  # bounded drain
                    # Ask whether a message is queued rather than read until zmq.Again, whose raising
                    # and catching cost more than the check on every tick of a lockstep fleet host.
                    if not ready and not sock.getsockopt(_EVENTS) & _POLLIN:
                        break
                    ready = False
                    # As bytes: a zero-copy Frame only pays off for large messages; a command batch
                    # is small, and creating the Frame cost more than copying it.
                    try:
                        buf = sock.recv(_NOBLOCK)
                    except zmq.Again:  # the poller's report went stale
                        break
                    self.counters["received"] += 1
                    env = self._handle(buf)
                    if env is not None:
                        out.append(env)
            if out or (self.registered and self.session != session) or clock() >= deadline:
                return out

    # ------------------------------------------------------------------ internals

    def _hello(self) -> bool:
        # A new session: our seq restarts (any start is allowed for hello), theirs restarts at welcome.
        self._out = SeqCounter()
        hello = p.Hello(
            client_id=self.config.client_id,
            role=self.config.role,
            units=self._units(),
            software=self.config.software,
        )
        if self.send(p.HELLO, hello):
            self.counters["hellos"] += 1
            return True
        return False

    def _housekeeping(self, now: float) -> None:
        dead_after = self.config.dispatcher_timeout_s or self.heartbeat_interval_s * self.heartbeat_liveness
        if now - self._last_heard_s > max(dead_after, self._backoff_s) and not self._message_waiting():
            # Only silent if nothing is queued: a client that was itself stalled (a paused process,
            # a loaded machine) past the timeout finds the dispatcher's messages waiting, and
            # reconnecting then threw a live session away unread.
            self._reconnect(now)
        if self.ended:
            return
        if not self.registered:
            if now >= self._next_hello_s:
                if self._hello():  # sent: give the dispatcher a back-off to answer
                    self._next_hello_s = now + self._backoff_s
                    self._backoff_s = min(self._backoff_s * 2, self.config.reconnect_max_s)
                else:  # not connected yet (IMMEDIATE): nothing went out, try again soon
                    self._next_hello_s = now + self.config.reconnect_min_s
        elif now - self._last_sent_s >= self.heartbeat_interval_s:
            self.send(p.HEARTBEAT, p.Heartbeat())

    def _message_waiting(self) -> bool:
        sock = self.sock
        return sock is not None and bool(sock.getsockopt(_EVENTS) & _POLLIN)

    def _handle(self, buf: bytes) -> Envelope | None:
        try:
            env = p.decode(buf, allowed_types=p.DISPATCHER_TYPES)
            if env.type == p.WELCOME:
                self._in = SeqTracker(first=env.seq)
            elif self.registered and not (env.type in (p.ERROR, p.BYE) and env.seq == 0):
                # An error from a dispatcher that has no session for us (it restarted) carries seq 0
                # and is exempt: sequence-checked, its unknown_client was refused and hello never sent.
                # So is a bye repeated to a client whose session the dispatcher already closed.
                self.counters["lost"] += self._in.accept(env.seq)
        except ProtocolError as exc:
            self.counters[f"error_{exc.code}"] += 1
            log.info("%s: invalid message from dispatcher: %s", self.config.client_id, exc)
            if self.registered:
                self.send(p.ERROR, p.Error(code=exc.code, detail=exc.detail), ref_seq=exc.seq)
            return None
        now = self.clock()
        self._last_heard_s = now
        self._last_valid_s = now
        if env.type == p.WELCOME:
            w: p.Welcome = env.body
            self.welcome = w
            self.registered = True
            self.session = w.session
            self.heartbeat_interval_s = w.heartbeat_interval_s
            self.heartbeat_liveness = w.heartbeat_liveness
            self.watchdog_s = w.watchdog_s
            self._backoff_s = self.config.reconnect_min_s
            self.counters["welcomes"] += 1
            log.info("%s: registered (session %d, resumed=%s)", self.config.client_id, w.session, w.resumed)
            return None
        if env.type == p.ERROR:
            self.counters[f"peer_error_{env.body.code}"] += 1
            if env.body.code == ErrorCode.UNKNOWN_CLIENT:
                # The dispatcher lost our session (restart, or we were declared dead): register again.
                if self.registered or now >= self._next_hello_s:
                    self.registered = False
                    self._next_hello_s = now
            else:
                log.warning(
                    "%s: dispatcher refused a message: %s %s",
                    self.config.client_id,
                    env.body.code,
                    env.body.detail,
                )
            return None
        if env.type == p.HEARTBEAT:
            return None
        if env.type == p.BYE:
            # The run is over (or the dispatcher shut down in order): the session ends here and no
            # hello follows (re-registering with a dispatcher that said bye is what kept robots
            # reconnecting for ever after a run).
            self.registered = False
            self.ended = True
            self.bye_reason = env.body.reason
            log.info("%s: dispatcher said bye (%s)", self.config.client_id, env.body.reason)
        return env


class CommandDeduper:
    """Idempotent command ids: remembers the last ``capacity`` (unit id, command id) pairs."""

    def __init__(self, capacity: int = 65_536) -> None:
        self.capacity = capacity
        self._seen: OrderedDict[tuple[str, int], None] = OrderedDict()

    def is_repeat(self, unit_id: str, command_id: int) -> bool:
        """True if this command was seen before; records it otherwise. Negative ids (local,
        unnumbered commands) are never repeats, as in `fctwin.robots.titan.Titan`."""
        if command_id < 0:
            return False
        key = (unit_id, command_id)
        if key in self._seen:
            return True
        self._seen[key] = None
        if len(self._seen) > self.capacity:
            self._seen.popitem(last=False)
        return False

    def split(self, commands: list[Any], t_s: float) -> tuple[list[Any], list[UnitEvent]]:
        """Fresh commands to execute, and ``ack`` events (data duplicate=1) for the repeats.

        With no repeat (every lockstep tick of a healthy run) ``fresh`` is ``commands`` itself.
        """
        # `is_repeat` inlined: a lockstep fleet host splits ~15 commands every tick, and the call
        # per command was half of this method's cost.
        seen = self._seen
        capacity = self.capacity
        acks: list[UnitEvent] = []
        repeats: list[int] = []
        for k, c in enumerate(commands):
            cid = c.command_id
            if cid < 0:
                continue
            key = (c.unit_id, cid)
            if key in seen:
                repeats.append(k)
                acks.append(
                    UnitEvent(unit_id=c.unit_id, kind="ack", t_s=t_s, command_id=cid, data={"duplicate": 1})
                )
                continue
            seen[key] = None
            if len(seen) > capacity:
                seen.popitem(last=False)
        if not repeats:
            return commands, acks
        skip = set(repeats)
        return [c for k, c in enumerate(commands) if k not in skip], acks
