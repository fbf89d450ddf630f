"""The wire format on its own: every message type round-trips; every bad frame gets a typed error."""

from __future__ import annotations

import msgspec
import pytest

from fctwin.network import protocol as p
from fctwin.network.fleet_side import CommandDeduper
from fctwin.network.protocol import ErrorCode, ProtocolError
from fctwin.robots.messages import CommandBatch, Lift, Move, TelemetryFrame, UnitEvent, UnitState

STATE = UnitState(unit_id="T-01", unit_type="titan", mode=0, row=2, col=3, heading=1)

BODIES = {
    p.HELLO: p.Hello(
        client_id="T-01",
        role=p.ROLE_ROBOT,
        units=[p.UnitInfo(unit_id="T-01", unit_type="titan", state=STATE)],
    ),
    p.WELCOME: p.Welcome(
        client_id="T-01",
        session=1,
        heartbeat_interval_s=0.5,
        heartbeat_liveness=3,
        watchdog_s=2.0,
        max_message_bytes=1,
    ),
    p.COMMAND: CommandBatch(step=4, t_s=4.0, commands=[Move(1, "T-01", 0, 4), Lift(2, "T-01", 17)]),
    p.TELEMETRY: TelemetryFrame(step=4, t_s=4.0, units=[STATE], events=[UnitEvent("T-01", "lifted", 4.0, 2)]),
    p.ACK: UnitEvent("T-01", "ack", 1.0, 7),
    p.DONE: UnitEvent("T-01", "done", 1.0, 7, {"op": "lift", "pod": 3}),
    p.ABORTED: UnitEvent("T-01", "aborted", 1.0, 7),
    p.FAILED: UnitEvent("T-01", "failed", 1.0, -1, {"reason": "battery empty"}),
    p.EVENT: UnitEvent("T-01", "battery_low", 1.0),
    p.HEARTBEAT: p.Heartbeat(step=3),
    p.ERROR: p.Error(code=ErrorCode.SEQUENCE, detail="seq 3 not after 5"),
    p.BYE: p.Bye(reason="shutting down"),
    p.RECOMMENDATION: p.Recommendation(
        rec_id=1,
        run_id="r1",
        t_s=600.0,
        kind="move_associates",
        text="[08:10] move 1 associate",
        mode="advise",
        applied=False,
        actions=[p.RecommendedAction("move_associates", '{"source": "S1", "target": "P3", "n": 1}')],
        effective_s=720.0,
        horizon_s=1800.0,
        predicted={"objective": 12.5, "cycle_p95_s": None},
    ),  # fmt: skip
}


def _raw(**fields: object) -> bytes:
    env = {
        "v": 1,
        "type": "heartbeat",
        "sender": "T-01",
        "seq": 1,
        "t_sim_s": 0.0,
        "t_wall_s": 0.0,
        "body": {},
    }
    env.update(fields)
    return msgspec.msgpack.encode(env)


def _code(frame: bytes, **kw: object) -> str:
    with pytest.raises(ProtocolError) as info:
        p.decode(frame, **kw)
    return info.value.code


def test_every_message_type_round_trips_with_its_envelope():
    assert set(BODIES) == set(p.BODY_TYPES)
    for seq, (msg_type, body) in enumerate(BODIES.items(), start=1):
        frame = p.encode(
            msg_type, body, sender="T-01", seq=seq, t_sim_s=12.5, t_wall_s=1000.25, ref_seq=seq - 1
        )
        env = p.decode(frame)
        assert (env.v, env.type, env.sender, env.seq, env.ref_seq) == (
            p.PROTOCOL_VERSION,
            msg_type,
            "T-01",
            seq,
            seq - 1,
        )
        assert (env.t_sim_s, env.t_wall_s) == (12.5, 1000.25)
        assert env.body == body


def test_the_wire_is_a_plain_msgpack_map_a_c_client_can_read():
    frame = p.encode(p.HEARTBEAT, p.Heartbeat(), sender="T-01", seq=9)
    plain = msgspec.msgpack.decode(frame)  # untyped: what any msgpack library sees
    assert (
        plain["v"] == 1
        and plain["type"] == "heartbeat"
        and plain["seq"] == 9
        and plain["body"] == {"step": -1}
    )


def test_unknown_versions_are_rejected_by_name_even_with_another_envelope():
    assert _code(_raw(v=2)) == ErrorCode.VERSION
    assert _code(msgspec.msgpack.encode({"v": 7, "kind": "something new"})) == ErrorCode.VERSION
    with pytest.raises(ProtocolError, match="speaks version 1"):
        p.decode(_raw(v=0))


def test_oversized_malformed_unknown_and_schema_errors_are_typed():
    assert _code(b"\x00" * (p.MAX_MESSAGE_BYTES + 1)) == ErrorCode.OVERSIZED
    for junk in (
        b"",
        b"\xc1",
        b"\x93\x01\x02\x03",
        msgspec.msgpack.encode("hello"),
        _raw(seq=-1),
        _raw(sender=""),
    ):
        assert _code(junk) == ErrorCode.MALFORMED
    assert _code(_raw(sender="x" * (p.MAX_ID_CHARS + 1))) == ErrorCode.MALFORMED
    bad_utf8 = _raw(sender="T-01").replace(b"T-01", b"T\x9d01")  # found by the fuzz benchmark
    assert _code(bad_utf8) == ErrorCode.MALFORMED
    assert _code(_raw(type="teleport")) == ErrorCode.UNKNOWN_TYPE
    assert (
        _code(_raw(type="command", body={"step": 1}), allowed_types=p.CLIENT_TYPES) == ErrorCode.UNKNOWN_TYPE
    )
    assert _code(_raw(type="command", body={"step": 1})) == ErrorCode.SCHEMA
    assert _code(_raw(type="heartbeat", body={"step": "soon"})) == ErrorCode.SCHEMA
    # an event must travel under its own type
    done_as_ack = msgspec.to_builtins(UnitEvent("T-01", "done", 1.0, 7))
    assert _code(_raw(type="ack", body=done_as_ack)) == ErrorCode.SCHEMA
    assert _code(_raw(type="event", body=done_as_ack)) == ErrorCode.SCHEMA


def test_count_limits_are_enforced_and_encode_refuses_what_decode_would_reject():
    too_many = {"step": 1, "t_s": 0.0, "units": [msgspec.to_builtins(STATE)] * (p.MAX_UNITS_PER_FRAME + 1)}
    assert _code(_raw(type="telemetry", body=too_many)) == ErrorCode.SCHEMA
    huge = p.Bye(reason="x" * 10)
    with pytest.raises(ValueError, match="unknown message type"):
        p.encode("teleport", huge, sender="a", seq=1)
    giant = TelemetryFrame(step=1, t_s=0.0, units=[STATE] * 20_000)
    with pytest.raises(ValueError, match="exceeds"):
        p.encode(p.TELEMETRY, giant, sender="a", seq=1)


def test_sequence_numbers_reject_replays_and_count_gaps():
    t = p.SeqTracker(first=5)
    assert t.accept(6) == 0
    assert t.accept(9) == 2 and t.lost == 2
    for stale in (9, 8, 0):
        with pytest.raises(ProtocolError) as info:
            t.accept(stale)
        assert info.value.code == ErrorCode.SEQUENCE


def test_repeated_command_ids_are_acknowledged_not_executed_again():
    d = CommandDeduper(capacity=4)
    fresh, acks = d.split([Move(1, "T-01", 0, 1), Move(1, "T-02", 0, 1)], 1.0)
    assert len(fresh) == 2 and acks == []  # same id on two units: two commands
    fresh, acks = d.split([Move(1, "T-01", 0, 2), Move(2, "T-01", 0, 2)], 2.0)
    assert [c.command_id for c in fresh] == [2]
    assert [(a.kind, a.command_id, a.data) for a in acks] == [("ack", 1, {"duplicate": 1})]
