"""Messages round-trip through msgpack unchanged and unknown tags are rejected."""

import msgspec
import pytest

from fctwin.robots.messages import CommandBatch, Lift, Move, TelemetryFrame, UnitEvent, UnitState


def test_command_batch_round_trip():
    batch = CommandBatch(step=3, t_s=2.0, commands=[Move(1, "T-1", 0, 3), Lift(2, "T-2", 17)])
    wire = msgspec.msgpack.encode(batch)
    assert msgspec.msgpack.decode(wire, type=CommandBatch) == batch


def test_telemetry_round_trip():
    frame = TelemetryFrame(
        step=1,
        t_s=0.5,
        units=[UnitState("T-1", "titan", 1, 2, 3, 0)],
        events=[UnitEvent("T-1", "ack", 0.5, command_id=1, data={"x": 1})],
    )
    wire = msgspec.msgpack.encode(frame)
    assert msgspec.msgpack.decode(wire, type=TelemetryFrame) == frame


def test_unknown_command_tag_rejected():
    bad = msgspec.msgpack.encode({"type": "commands", "step": 0, "t_s": 0.0, "commands": [{"type": "fly"}]})
    with pytest.raises(msgspec.ValidationError):
        msgspec.msgpack.decode(bad, type=CommandBatch)
