"""Conformance run: a scripted dispatcher that drives one robot client through the protocol checklist.

`fctwin conformance --bind tcp://127.0.0.1:5599 --id T-07` binds a ROUTER like a dispatcher, waits
for the robot client ``--id`` to connect (a vendor points their own client at it), and takes it
through the checklist of docs/protocol.md section 14, one item after another, printing PASS / FAIL
/ SKIP with what it saw. Nothing here trusts the client: every frame is decoded and validated the
way the dispatcher does, and a client that crashes or goes quiet fails the items that follow.

The floor it announces in ``welcome`` is made up around the pose the client reports in its hello:
open aisle (no walls) reaching at least four cells past it in every direction the floor has, with
the robot's own cell a storage cell. The client is told to lift pod ``--pod`` there (an emulated
robot takes the pod to be under it; a real one needs that pod on its start cell), drive one cell,
turn back, set the pod down where it was, then stop, resume and move again. A real drive unit
needs that much free floor around it.

Timing: nothing is timed tighter than the spec's own rules. Motion and lift waits are bounded by
``timeout_s`` (wall seconds per item); heartbeat gaps are checked against the announced interval
(a client is late when it is silent for more than two intervals while it has nothing else to say).
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import zmq

from fctwin.network import protocol as p
from fctwin.robots.messages import (
    FORWARD_DELTA,
    Action,
    CommandBatch,
    Lift,
    Move,
    Resume,
    SetDown,
    Stop,
    Withdraw,
)

AISLE, STORAGE = 0, 2
STOPPED_MODE = 6


@dataclass(frozen=True, kw_only=True)
class ConformanceOptions:
    bind: str  # where the client connects, e.g. tcp://127.0.0.1:5599
    client_id: str
    pod_id: int = 0  # the pod the client is told to lift on its start cell
    heartbeat_interval_s: float = p.HEARTBEAT_INTERVAL_S
    heartbeat_liveness: int = p.HEARTBEAT_LIVENESS
    watchdog_s: float = p.WATCHDOG_S
    step_s: float = 1.0  # announced in welcome
    realtime_factor: float = 1.0  # announced in welcome
    connect_timeout_s: float = 60.0  # for the first hello
    timeout_s: float = 15.0  # wall seconds any one item may take
    insecure: bool = False


@dataclass
class Item:
    key: str
    title: str
    section: str
    status: str = "SKIP"  # PASS, FAIL, SKIP
    detail: str = ""


CHECKLIST: tuple[tuple[str, str, str], ...] = (
    (
        "C01",
        "connects and sends hello first: one frame, v 1, routing id = sender = client_id = unit id",
        "1, 3, 4",
    ),
    ("C02", "hello carries the unit's type and state; the pose is on the floor", "3, 14"),
    ("C03", "sequence numbers grow by one per message within a session", "4"),
    ("C04", "heartbeat whenever nothing else was sent for one interval (uses welcome's values)", "5"),
    ("C05", "telemetry at about 10 Hz with its one unit, valid mode and heading", "9, 14"),
    (
        "C06",
        "rotate clockwise and counter-clockwise: heading changes by one, telemetry carries the step",
        "3, 9",
    ),
    ("C07", "lift: ack then done (op lift, pod) and pod_id in telemetry", "3, 14"),
    ("C08", "a command it cannot execute (second lift) is refused with a reason", "3, 14"),
    ("C09", "move forward one cell (loaded, into aisle)", "3, 9"),
    ("C10", "a repeated command id is acknowledged (duplicate 1) and not executed again", "3"),
    ("C11", "set down on a free storage cell: ack then done (op set_down), pod_id -1", "3, 14"),
    ("C12", "stop holds the unit (mode 6, moves not executed) until resume; resume moves again", "14.3"),
    ("C13", "survives garbage, a wrong-version frame and an unknown type from the dispatcher", "6"),
    (
        "C14",
        "watchdog: dispatcher silent > watchdog_s stops the unit, aborted reason watchdog, mode 6",
        "5, 14.4",
    ),
    (
        "C15",
        "dispatcher silent > liveness: reconnects and sends hello again with its current state",
        "5, 14.4",
    ),
    ("C16", "error unknown_client (seq 0): hello again", "4"),
    ("C17", "stays stopped after re-registering until resume, then moves", "14.4"),
    ("C18", "bye ends the session: no hello follows", "4, 14.5"),
    (
        "C19",
        "withdraw: a unit declaring it acks one for a task it holds nothing of (dropped 0) and a repeat"
        " as a duplicate; any other unit refuses it with a reason",
        "3, 14.3",
    ),
)


class ConformanceError(Exception):
    """An item cannot go on (the client is gone, or did not do a prerequisite)."""


@dataclass
class _Seen:
    t: float
    env: p.Envelope


@dataclass
class _Wire:
    opts: ConformanceOptions
    ctx: zmq.Context
    sock: zmq.Socket = None  # type: ignore[assignment]
    rid: bytes = b""
    out_seq: int = 0
    last_sent: float = 0.0
    silent: bool = False
    received: list[_Seen] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    session_seq: int = -1  # last client seq of the current session
    seq_errors: list[str] = field(default_factory=list)
    sessions: int = 0
    unit: Any = None  # last UnitState reported
    step: int = 0

    def open(self) -> None:
        from fctwin.network.security import check_bind_allowed

        check_bind_allowed(self.opts.bind, keys=None, insecure=self.opts.insecure)
        s = self.ctx.socket(zmq.ROUTER)
        s.linger = 0
        s.setsockopt(zmq.ROUTER_HANDOVER, 1)
        s.setsockopt(zmq.ROUTER_MANDATORY, 1)
        s.setsockopt(zmq.MAXMSGSIZE, p.SOCKET_MAX_MESSAGE_BYTES)
        s.setsockopt(zmq.HEARTBEAT_IVL, p.ZMTP_HEARTBEAT_IVL_MS)
        s.setsockopt(zmq.HEARTBEAT_TIMEOUT, p.ZMTP_HEARTBEAT_TIMEOUT_MS)
        s.setsockopt(zmq.HEARTBEAT_TTL, p.ZMTP_HEARTBEAT_TTL_MS)
        s.bind(self.opts.bind)
        self.sock = s

    def send(self, msg_type: str, body: Any, *, seq: int | None = None, raw: bytes | None = None) -> None:
        if raw is None:
            if seq is None:
                self.out_seq += 1
                seq = self.out_seq
            raw = p.encode(msg_type, body, sender="dispatcher", seq=seq, t_sim_s=float(self.step))
        with contextlib.suppress(zmq.ZMQError):
            self.sock.send_multipart([self.rid or self.opts.client_id.encode(), raw], zmq.NOBLOCK)
        self.last_sent = time.monotonic()

    def pump(self, timeout_s: float) -> list[_Seen]:
        """Receive for ``timeout_s``; heartbeat when due (unless silent); return what arrived."""
        out: list[_Seen] = []
        end = time.monotonic() + timeout_s
        while True:
            now = time.monotonic()
            if not self.silent and self.rid and now - self.last_sent >= self.opts.heartbeat_interval_s:
                self.send(p.HEARTBEAT, p.Heartbeat(step=self.step))
            wait_ms = max(0, min(int((end - now) * 1000), 20))
            if self.sock.poll(wait_ms, zmq.POLLIN):
                frames = self.sock.recv_multipart()
                seen = self._on_frames(frames)
                if seen is not None:
                    out.append(seen)
            if time.monotonic() >= end:
                return out

    def _on_frames(self, frames: list[bytes]) -> _Seen | None:
        rid, payload = frames[0], frames[1:]
        t = time.monotonic()
        if len(payload) != 1:
            self.problems.append(f"a message of {len(payload)} frames (one expected)")
            return None
        try:
            env = p.decode(payload[0], allowed_types=p.CLIENT_TYPES)
        except p.ProtocolError as exc:
            self.problems.append(f"invalid frame: {exc}")
            return None
        if rid != self.opts.client_id.encode() or env.sender != self.opts.client_id:
            self.problems.append(
                f"routing id {rid!r} / sender {env.sender!r}, expected {self.opts.client_id!r}"
            )
            return None
        self.rid = rid
        if env.type == p.HELLO:
            self.session_seq = env.seq
            if not self.silent:
                self.welcome(env)
        else:
            if self.session_seq >= 0:
                if env.seq <= self.session_seq:
                    self.seq_errors.append(f"{env.type} seq {env.seq} after {self.session_seq}")
                elif env.seq != self.session_seq + 1:
                    self.seq_errors.append(f"{env.type} seq {env.seq} skips from {self.session_seq}")
            self.session_seq = env.seq
        if env.type == p.TELEMETRY and env.body.units:
            self.unit = env.body.units[0]
        seen = _Seen(t, env)
        self.received.append(seen)
        return seen

    def welcome(self, hello: p.Envelope) -> None:
        self.sessions += 1
        self.out_seq = 0
        state = hello.body.units[0].state if hello.body.units else None
        floor = _floor_around(state)
        self.send(
            p.WELCOME,
            p.Welcome(
                client_id=self.opts.client_id,
                session=self.sessions,
                heartbeat_interval_s=self.opts.heartbeat_interval_s,
                heartbeat_liveness=self.opts.heartbeat_liveness,
                watchdog_s=self.opts.watchdog_s,
                max_message_bytes=p.MAX_MESSAGE_BYTES,
                resumed=self.sessions > 1,
                floor=floor,
                step_s=self.opts.step_s,
                realtime_factor=self.opts.realtime_factor,
            ),
            seq=0,
        )
        # the welcome's seq starts the dispatcher's sequence of this session (0 here, then 1, 2, ...)
        if state is not None:
            self.unit = state


def _floor_around(state: Any) -> p.FloorInfo:
    r, c = (state.row, state.col) if state is not None and state.row >= 0 and state.col >= 0 else (0, 0)
    rows, cols = r + 5, c + 5
    codes = bytearray(rows * cols)  # all aisle
    codes[r * cols + c] = STORAGE
    return p.FloorInfo(rows=rows, cols=cols, codes=bytes(codes))


class Conformance:
    """Runs the checklist against one client. ``run()`` returns the items with their results."""

    def __init__(self, opts: ConformanceOptions, *, log: Callable[[str], None] | None = None) -> None:
        self.opts = opts
        self.items = {k: Item(k, title, section) for k, title, section in CHECKLIST}
        self.log = log or (lambda line: None)
        self._cid = 1000
        self._inbox: deque[_Seen] = deque()

    # ------------------------------------------------------------------ helpers

    def _pass(self, key: str, detail: str = "") -> None:
        it = self.items[key]
        it.status, it.detail = "PASS", detail
        self.log(f"{key} PASS  {it.title}" + (f" ({detail})" if detail else ""))

    def _fail(self, key: str, detail: str) -> None:
        it = self.items[key]
        it.status, it.detail = "FAIL", detail
        self.log(f"{key} FAIL  {it.title}: {detail}")

    def _check(self, key: str, ok: bool, detail: str) -> bool:
        (self._pass if ok else self._fail)(key, detail)
        return ok

    def _next_cid(self) -> int:
        self._cid += 1
        return self._cid

    def _batch(self, *commands: Any) -> int:
        w = self.wire
        w.step += 1
        w.send(p.COMMAND, CommandBatch(step=w.step, t_s=float(w.step), commands=list(commands)))
        return w.step

    def _wait(self, pred: Callable[[_Seen], bool], timeout_s: float | None = None) -> _Seen | None:
        """The first message (in arrival order) that matches; those before it are passed over,
        those after it stay for the next wait (a hello and the aborted right behind it arrive in
        one read: the aborted was lost and C14 failed now and then)."""
        end = time.monotonic() + (timeout_s or self.opts.timeout_s)
        while True:
            while self._inbox:
                seen = self._inbox.popleft()
                if pred(seen):
                    return seen
            if time.monotonic() >= end:
                return None
            self._inbox.extend(self.wire.pump(0.02))

    def _telemetry_after(self, step: int, timeout_s: float | None = None) -> Any:
        seen = self._wait(
            lambda s: s.env.type == p.TELEMETRY and s.env.body.step >= step and bool(s.env.body.units),
            timeout_s,
        )
        return None if seen is None else seen.env.body.units[0]

    def _event(self, kind: str, command_id: int | None = None, timeout_s: float | None = None) -> Any:
        def match(s: _Seen) -> bool:
            events = (
                s.env.body.events
                if s.env.type == p.TELEMETRY
                else ([s.env.body] if s.env.type in p.EVENT_TYPES else [])
            )
            return any(e.kind == kind and (command_id is None or e.command_id == command_id) for e in events)

        seen = self._wait(match, timeout_s)
        if seen is None:
            return None
        events = seen.env.body.events if seen.env.type == p.TELEMETRY else [seen.env.body]
        return next(
            e for e in events if e.kind == kind and (command_id is None or e.command_id == command_id)
        )

    def _move(self, action: int) -> tuple[int, Any]:
        uid = self.opts.client_id
        cid = self._next_cid()
        step = self._batch(Move(cid, uid, action, self.wire.step + 1))
        return cid, self._telemetry_after(step)

    # ------------------------------------------------------------------ the run

    def run(self) -> list[Item]:
        ctx = zmq.Context()
        self.wire = _Wire(self.opts, ctx)
        try:
            self.wire.open()
            self.log(f"waiting for {self.opts.client_id} on {self.opts.bind}")
            self._script()
        except ConformanceError as exc:
            self.log(f"stopped: {exc}")
        finally:
            if self.wire.sock is not None:
                self.wire.sock.close(linger=0)
            ctx.term()
        return list(self.items.values())

    def _script(self) -> None:
        o, w, uid = self.opts, self.wire, self.opts.client_id
        hello = self._wait(lambda s: s.env.type == p.HELLO, o.connect_timeout_s)
        if hello is None:
            self._fail("C01", f"no valid hello within {o.connect_timeout_s:g} s" + _first(w.problems))
            raise ConformanceError("no hello")
        h: p.Hello = hello.env.body
        first = w.received[0].env.type == p.HELLO
        ok = first and h.client_id == uid and h.role == p.ROLE_ROBOT and [u.unit_id for u in h.units] == [uid]
        self._check(
            "C01",
            ok and not w.problems,
            f"role {h.role!r}, units {[u.unit_id for u in h.units]}" + _first(w.problems),
        )
        st = h.units[0].state if h.units else None
        self._check(
            "C02",
            st is not None
            and h.units[0].unit_type != ""
            and st.row >= 0
            and st.col >= 0
            and 0 <= st.heading <= 3,
            "no state"
            if st is None
            else f"type {h.units[0].unit_type!r} at ({st.row}, {st.col}) heading {st.heading} mode {st.mode}",
        )
        if st is None:
            raise ConformanceError("no pose to build the floor around")
        # C04/C05: a quiet stretch of 3 s: heartbeats and telemetry only
        t0 = time.monotonic()
        quiet = [*self._inbox, *w.pump(3.0)]
        self._inbox.clear()
        times = [t0] + [s.t for s in quiet]
        gap = max(b - a for a, b in zip(times, times[1:] + [time.monotonic()], strict=False))
        hb = o.heartbeat_interval_s
        self._check("C04", gap <= 2 * hb, f"longest silence {gap:.2f} s (interval {hb:g} s)")
        frames = [s for s in quiet if s.env.type == p.TELEMETRY]
        rate = len(frames) / 3.0
        good = all(
            len(f.env.body.units) == 1
            and f.env.body.units[0].unit_id == uid
            and 0 <= f.env.body.units[0].mode <= 7
            and 0 <= f.env.body.units[0].heading <= 3
            for f in frames
        )
        self._check(
            "C05", rate >= 5.0 and good, f"{rate:.1f} Hz" + ("" if good else ", a frame with a bad unit")
        )
        # C06: rotate R then C
        h0 = w.unit.heading
        _, after_r = self._move(int(Action.R))
        _, after_c = self._move(int(Action.C))
        self._check(
            "C06",
            after_r is not None
            and after_c is not None
            and after_r.heading == (h0 + 1) % 4
            and after_c.heading == h0,
            f"heading {h0} -> {_heading(after_r)} -> {_heading(after_c)}",
        )
        if after_c is None:
            raise ConformanceError("no telemetry for a motion step")
        # face east or south (the floor extends there)
        while w.unit.heading not in (0, 1):
            _, u = self._move(int(Action.R))
            if u is None:
                raise ConformanceError("no telemetry for a motion step")
        home = (w.unit.row, w.unit.col)
        # C07: lift
        lift = self._next_cid()
        self._batch(Lift(lift, uid, o.pod_id))
        ack = self._event("ack", lift)
        done = self._event("done", lift, timeout_s=o.timeout_s + 10 * o.step_s / max(o.realtime_factor, 1e-6))
        u = self._telemetry_after(w.step, 2.0) or w.unit
        self._check(
            "C07",
            ack is not None and done is not None and done.data.get("op") == "lift" and u.pod_id == o.pod_id,
            f"ack {'yes' if ack else 'no'}, done {'no' if done is None else done.data}, pod_id {u.pod_id}",
        )
        # C08: a second lift is refused
        again = self._next_cid()
        self._batch(Lift(again, uid, o.pod_id))
        refused = self._event("refused", again)
        self._check(
            "C08",
            refused is not None and bool(refused.data.get("reason")),
            "no refused event" if refused is None else f"reason {refused.data.get('reason')!r}",
        )
        # C09: forward, loaded
        fwd, u = self._move(int(Action.F))
        dr, dc = FORWARD_DELTA[w.unit.heading if u is None else u.heading]
        ok = u is not None and (u.row, u.col) == (home[0] + dr, home[1] + dc)
        self._check("C09", ok, f"from {home} to {None if u is None else (u.row, u.col)}")
        # C10: the same command id again
        step = self._batch(Move(fwd, uid, int(Action.F), w.step + 1))
        dup = self._event("ack", fwd)
        u2 = self._telemetry_after(step, 3.0) or w.unit
        self._check(
            "C10",
            dup is not None
            and dup.data.get("duplicate") == 1
            and u is not None
            and (u2.row, u2.col) == (u.row, u.col),
            f"ack {None if dup is None else dup.data}, at {(u2.row, u2.col)}",
        )
        # back home: turn around, forward; C11: set down
        for a in (Action.R, Action.R, Action.F):
            self._move(int(a))
        sd = self._next_cid()
        self._batch(SetDown(sd, uid))
        ack = self._event("ack", sd)
        done = self._event("done", sd, timeout_s=o.timeout_s + 10 * o.step_s / max(o.realtime_factor, 1e-6))
        u = self._telemetry_after(w.step, 2.0) or w.unit
        self._check(
            "C11",
            ack is not None and done is not None and done.data.get("op") == "set_down" and u.pod_id == -1,
            f"at {(u.row, u.col)} (home {home}), ack {'yes' if ack else 'no'}, "
            f"done {'no' if done is None else done.data}, pod_id {u.pod_id}",
        )
        for a in (Action.R, Action.R):  # face the open floor again
            self._move(int(a))
        # C12: stop, a move is not executed, resume, the move is
        at = (w.unit.row, w.unit.col)
        stop = self._next_cid()
        self._batch(Stop(stop, uid, "conformance"))
        acked = self._event("ack", stop)
        _, u = self._move(int(Action.F))
        held = u is not None and (u.row, u.col) == at and u.mode == STOPPED_MODE
        res = self._next_cid()
        self._batch(Resume(res, uid))
        resumed = self._event("ack", res)
        _, u = self._move(int(Action.F))
        moved = u is not None and (u.row, u.col) != at
        self._check(
            "C12",
            bool(acked) and held and bool(resumed) and moved,
            f"stop ack {bool(acked)}, held in mode 6 {held}, resume ack {bool(resumed)}, moved after {moved}",
        )
        # C19: withdraw. Over the wire the checker holds no serve at the client, so only the no-op,
        # the duplicate and the refusal are checked here (queued and started lines: robots/checker.py)
        takes = "withdraw" in (h.units[0].capabilities if h.units else [])
        wd = self._next_cid()
        self._batch(Withdraw(wd, uid, 2**31 - 1))
        if takes:
            ack = self._event("ack", wd)
            self._batch(Withdraw(wd, uid, 2**31 - 1))
            dup = self._wait(lambda s: _has_event(s, "ack", duplicate=1))
            noop = ack is not None and ack.data.get("op") == "withdraw" and ack.data.get("dropped") == 0
            self._check(
                "C19",
                noop and dup is not None,
                f"ack {None if ack is None else ack.data}, duplicate {dup is not None}",
            )
        else:
            refused = self._event("refused", wd)
            self._check(
                "C19",
                refused is not None and bool(refused.data.get("reason")),
                "no refused event"
                if refused is None
                else f"not declared; refused: {refused.data.get('reason')!r}",
            )
        # C13: garbage, another version, an unknown type (each takes a seq: the gaps are allowed)
        w.send("", None, raw=b"\x93garbage")
        for v, msg_type in ((7, p.HEARTBEAT), (p.PROTOCOL_VERSION, "bogus")):
            w.out_seq += 1
            envelope = {"v": v, "type": msg_type, "sender": "dispatcher", "seq": w.out_seq, "ref_seq": -1,
                        "t_sim_s": 0.0, "t_wall_s": time.time(), "body": {}}  # fmt: skip
            w.send("", None, raw=msgspec.msgpack.encode(envelope))
        _, u = self._move(int(Action.W))
        self._check(
            "C13",
            u is not None,
            "still executes commands" if u is not None else "no telemetry after the bad frames",
        )
        # C14/C15: silence
        w.silent = True
        sessions = w.sessions
        silence_s = max(o.watchdog_s, o.heartbeat_interval_s * o.heartbeat_liveness) + 1.0
        t_quiet = time.monotonic()
        during = [*self._inbox, *w.pump(silence_s)]
        self._inbox.clear()
        w.silent = False
        aborted = [s for s in during if _has_event(s, "aborted", reason="watchdog")]
        hellos = [s for s in during if s.env.type == p.HELLO]
        # the hello waiting for an answer is answered now (welcome), or the client retries
        after = self._wait(
            lambda s: s.env.type == p.HELLO or _has_event(s, "aborted", reason="watchdog"), o.timeout_s
        )
        if after is not None and after.env.type == p.HELLO:
            hellos.append(after)
            if w.sessions == sessions:
                w.welcome(after.env)
        if not aborted:
            late = self._wait(lambda s: _has_event(s, "aborted", reason="watchdog"), o.timeout_s)
            if late is not None:
                aborted.append(late)
        u = self._telemetry_after(w.step, 3.0) or w.unit
        self._check(
            "C14",
            bool(aborted) and u.mode == STOPPED_MODE,
            f"aborted(watchdog) {bool(aborted)}, mode {u.mode} after {silence_s:.1f} s of silence",
        )
        first_hello = min((s.t for s in hellos), default=None)
        state_ok = (
            bool(hellos) and hellos[-1].env.body.units and hellos[-1].env.body.units[0].state is not None
        )
        self._check(
            "C15",
            first_hello is not None and state_ok,
            "no hello"
            if first_hello is None
            else f"hello {first_hello - t_quiet:.2f} s into the silence, state {'yes' if state_ok else 'no'}",
        )
        # C16: unknown_client
        before = w.sessions
        w.send(p.ERROR, p.Error(code=p.ErrorCode.UNKNOWN_CLIENT, detail="conformance"), seq=0)
        again = self._wait(lambda s: s.env.type == p.HELLO)
        self._check(
            "C16",
            again is not None and w.sessions > before,
            "hello again" if again else "no hello after unknown_client",
        )
        # C17: still stopped until resume
        at = (w.unit.row, w.unit.col)
        _, u = self._move(int(Action.F))
        held = u is not None and (u.row, u.col) == at and u.mode == STOPPED_MODE
        res = self._next_cid()
        self._batch(Resume(res, uid))
        self._event("ack", res)
        _, u = self._move(int(Action.F))
        moved = u is not None and (u.row, u.col) != at
        self._check("C17", held and moved, f"held before resume {held}, moved after {moved}")
        # C18: bye
        w.send(p.BYE, p.Bye(reason="conformance finished"))
        hello_after = self._wait(lambda s: s.env.type == p.HELLO, 3.0)
        self._check(
            "C18", hello_after is None, "no hello after bye" if hello_after is None else "hello after bye"
        )
        self._check("C03", not w.seq_errors, "; ".join(w.seq_errors[:3]) or "every message previous + 1")


def _heading(u: Any) -> int | None:
    return None if u is None else u.heading


def _has_event(s: _Seen, kind: str, **data: Any) -> bool:
    env = s.env
    events = env.body.events if env.type == p.TELEMETRY else ([env.body] if env.type in p.EVENT_TYPES else [])
    return any(e.kind == kind and all(e.data.get(k) == v for k, v in data.items()) for e in events)


def _first(problems: list[str]) -> str:
    return f"; {problems[0]}" if problems else ""


def format_report(items: list[Item]) -> str:
    lines = [
        f"{it.key}  {it.status:4}  {it.title}" + (f"\n           {it.detail}" if it.detail else "")
        for it in items
    ]
    passed = sum(it.status == "PASS" for it in items)
    lines.append(f"{passed}/{len(items)} passed")
    return "\n".join(lines)


__all__ = ["CHECKLIST", "Conformance", "ConformanceOptions", "Item", "format_report"]
