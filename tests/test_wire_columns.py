"""Columnar blocks on the wire (`UnitColumns` in telemetry, `MoveColumns` in command batches): the same
frames, commands, dispatcher and run as one object per unit and move, and clear errors for a block
that cannot be read.

A large fleet host reports its drive units as one block of packed columns, and the dispatcher sends
its moves as one (docs/protocol.md, "UnitColumns", "MoveColumns"). Every check here compares the
columnar path with the per-object one on the same input.
"""

from __future__ import annotations

import hashlib
import sqlite3

import numpy as np
import pytest
import zmq

import fctwin.sim.fleet_host as fleet_host_module
from fctwin.controller.dispatcher import Dispatcher
from fctwin.controller.orders import Order, OrderLine
from fctwin.network import protocol as p
from fctwin.network.dispatcher_side import DispatcherServer, Received, ServerConfig
from fctwin.network.protocol import ErrorCode, ProtocolError
from fctwin.robots.messages import (
    UNIT_COLUMNS,
    CommandBatch,
    Lift,
    Move,
    MoveColumns,
    TelemetryFrame,
    UnitColumns,
    UnitMode,
    UnitState,
)
from fctwin.sim.fleet_host import FleetHost
from fctwin.sim.run import RunOptions, floorplan_from_scene, run_fc


def _states() -> list[UnitState]:
    return [
        UnitState("T-01", "titan", 1, 3, 4, 2, 17, 0.923417, 12.5),
        UnitState("T-02", "titan", 0, 0, 0, 0),  # defaults: no pod, full battery, not busy
        UnitState("T-03", "titan", 7, 40000, 65000, 3, 19999, 1e-06, 0.1 + 0.2),
    ]


def _frame_bytes(frame: TelemetryFrame, seq: int = 5) -> bytes:
    return p.encode(p.TELEMETRY, frame, sender="fleet-host", seq=seq)


def test_a_block_decodes_to_the_unit_states_it_was_made_of_bit_for_bit():
    station = UnitState("P1", "station", int(UnitMode.SERVING), 5, 5, 0, -1, 1.0, 3.25)
    frame = TelemetryFrame(step=3, t_s=3.8, units=[station], columns=UnitColumns.from_states(_states()))
    got = p.decode(_frame_bytes(frame)).body
    assert got.all_states() == [*_states(), station]
    assert got.units == [station] and got.columns.n == 3
    a = got.columns.arrays()
    assert a["battery_frac"].tolist() == [0.923417, 1.0, 1e-06]
    assert a["busy_until_s"][2] == 0.1 + 0.2  # float64 end to end, not rounded
    # a frame without a block is the per-unit form as before (no `columns` key on the wire)
    plain = TelemetryFrame(step=3, t_s=3.8, units=_states())
    assert b"columns" not in _frame_bytes(plain)
    assert p.decode(_frame_bytes(plain)).body.all_states() == _states()


def _bad(frame_columns: UnitColumns, units: list[UnitState] | None = None) -> ProtocolError:
    frame = TelemetryFrame(step=1, t_s=1.0, units=units or [], columns=frame_columns)
    with pytest.raises(ProtocolError) as err:
        p.decode(_frame_bytes(frame))
    return err.value


def test_a_block_that_cannot_be_read_is_a_schema_error_naming_what_is_wrong():
    good = UnitColumns.from_states(_states())
    short_row = UnitColumns(**{**_fields(good), "row": good.row[:-1]})
    err = _bad(short_row)
    assert err.code == ErrorCode.SCHEMA
    assert "columns.row holds 11 bytes; 3 units of int32 (12 bytes) expected" in err.detail
    err = _bad(UnitColumns(**{**_fields(good), "unit_ids": "T-01\nT-02"}))
    assert (err.code, "columns.unit_ids names 2 units; n is 3" in err.detail) == (ErrorCode.SCHEMA, True)
    err = _bad(UnitColumns(**{**_fields(good), "unit_ids": "T-01\n\nT-03"}))
    assert "columns.unit_ids[1] is 0 characters (1..64)" in err.detail
    err = _bad(UnitColumns(**{**_fields(good), "n": -1}))
    assert "columns.n is -1" in err.detail
    # a column that is not bytes at all: msgspec's own message, still `schema`
    raw = p.encode(
        p.TELEMETRY,
        {"step": 1, "t_s": 1.0, "units": [], "columns": {**_fields(good), "mode": 3}},
        sender="x",
        seq=1,
    )
    with pytest.raises(ProtocolError) as bad_type:
        p.decode(raw)
    assert bad_type.value.code == ErrorCode.SCHEMA and "columns.mode" in bad_type.value.detail
    # the frame's unit limit counts the block's rows
    n = p.MAX_UNITS_PER_FRAME
    big = UnitColumns.from_arrays(
        "\n".join(f"T-{k}" for k in range(n)), "titan", **{name: np.zeros(n) for name in UNIT_COLUMNS}
    )
    err = _bad(big, units=[_states()[0]])
    assert f"{n + 1} units > {n}" in err.detail


def test_a_move_block_decodes_to_the_moves_it_was_made_of_and_a_bad_one_is_a_schema_error():
    moves = [Move(101, "T-01", 0, 7), Move(102, "T-03", 2, 7), Move(2**62, "T-02", 1, 7)]
    lift = Lift(100, "T-09", 4)
    batch = CommandBatch(step=7, t_s=8.8, commands=[lift], moves=MoveColumns.from_moves(moves))
    got = p.decode(p.encode(p.COMMAND, batch, sender="dispatcher", seq=3)).body
    assert got.all_commands() == [lift, *moves] and got.commands == [lift]
    assert b"moves" not in p.encode(p.COMMAND, CommandBatch(7, 8.8, [lift]), sender="dispatcher", seq=4)
    good = batch.moves
    cases = [
        ({"action": good.action[:2]}, "moves.action holds 2 bytes; 3 moves of uint8 (3 bytes) expected"),
        ({"command_id": good.command_id + b"x"}, "moves.command_id holds 25 bytes; 3 moves of int64"),
        ({"unit_ids": "T-01\nT-03"}, "moves.unit_ids names 2 units; n is 3"),
        ({"unit_ids": "T-01\n" + "x" * 65 + "\nT-02"}, "moves.unit_ids[1] is 65 characters (1..64)"),
    ]
    for change, detail in cases:
        bad = CommandBatch(7, 8.8, [], moves=MoveColumns(**{**_fields(good), **change}))
        with pytest.raises(ProtocolError) as err:
            p.decode(p.encode(p.COMMAND, bad, sender="dispatcher", seq=5))
        assert err.value.code == ErrorCode.SCHEMA and detail in err.value.detail


@pytest.mark.parametrize("arrays", [False, True], ids=["titan objects", "titan arrays"])
def test_a_fleet_host_executes_a_move_block_as_it_executes_moves(
    arrays, small_scene_dict, write_scene, monkeypatch
):
    """Refusals (a forward into a wall), duplicates (an id seen before), unknown units and moves to a
    station: the same events and frames from a block as from `Move`s."""
    if arrays:
        monkeypatch.setattr(fleet_host_module, "ARRAY_MIN_UNITS", 1)
    path = write_scene(small_scene_dict)
    hosts = [FleetHost(path, world=False) for _ in range(2)]
    ids = [t.unit_id for t in hosts[0].titans]
    station = hosts[0].stations[0].unit_id
    script = [
        [Move(1, ids[0], 0, 1), Move(2, ids[1], 1, 1), Move(3, "T-nobody", 0, 1), Move(4, station, 0, 1)],
        [Move(1, ids[0], 0, 2), Move(5, ids[2], 2, 2), Move(6, ids[0], 0, 2)],  # 1 again: duplicate
        *[[Move(10 + 10 * k + j, ids[j], 0, 3 + k) for j in range(len(ids))] for k in range(12)],
    ]
    events = [[], []]
    for k, moves in enumerate(script):
        step = moves[0].step
        frames = [
            hosts[0].apply(CommandBatch(step, step * 1.0, moves)),
            hosts[1].apply(CommandBatch(step, step * 1.0, [], moves=MoveColumns.from_moves(moves))),
        ]
        assert frames[0] == frames[1], f"batch {k}"
        for e, f in zip(events, frames, strict=True):
            e += f.events
    said = {(e.kind, str(e.data.get("reason", e.data.get("duplicate")))[:12]) for e in events[0]}
    for what in [
        ("ack", "1"),
        ("error", "unknown unit"),
        ("refused", "cannot enter"),
        ("refused", "human statio"),
    ]:
        assert what in said, said


def _fields(c) -> dict:
    return {name: getattr(c, name) for name in c.__struct_fields__}


def test_a_block_naming_a_unit_the_client_did_not_register_is_refused():
    ctx = zmq.Context()
    server = DispatcherServer(ServerConfig(router_endpoint="tcp://127.0.0.1:*"), context=ctx)
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.setsockopt_string(zmq.IDENTITY, "fleet-host")
    sock.connect(server.router_endpoint)
    try:
        mine = _states()[:2]
        hello = p.Hello(
            client_id="fleet-host",
            role=p.ROLE_FLEET,
            units=[p.UnitInfo(unit_id=s.unit_id, unit_type="titan", state=s) for s in mine],
        )
        assert _exchange(server, sock, p.encode(p.HELLO, hello, sender="fleet-host", seq=1)).type == p.WELCOME
        ok = TelemetryFrame(step=1, t_s=1.0, units=[], columns=UnitColumns.from_states(mine))
        sock.send(_frame_bytes(ok, seq=2))
        got = _serve_until(server, lambda e: isinstance(e, Received))
        assert got.envelope.body.all_states() == mine
        # the same ids again (checked once) and then a block with a stranger in it
        sock.send(_frame_bytes(ok, seq=3))
        _serve_until(server, lambda e: isinstance(e, Received))
        foreign = TelemetryFrame(step=2, t_s=2.0, units=[], columns=UnitColumns.from_states(_states()))
        reply = _exchange(server, sock, _frame_bytes(foreign, seq=4))
        assert (reply.body.code, reply.body.detail) == (
            ErrorCode.UNKNOWN_UNIT,
            "unit 'T-03' not registered by you",
        )
    finally:
        server.close()
        ctx.destroy(linger=0)


def _exchange(server: DispatcherServer, sock, data: bytes) -> p.Envelope:
    sock.send(data)
    for _ in range(500):
        server.poll(0.01)
        if sock.poll(0, zmq.POLLIN):
            env = p.decode(sock.recv())
            if env.type != p.HEARTBEAT:
                return env
    raise AssertionError("no reply")


def _serve_until(server: DispatcherServer, want):
    for _ in range(500):
        for ev in server.poll(0.01):
            if want(ev):
                return ev
    raise AssertionError("nothing received")


def _unit_fields(d: Dispatcher) -> list[tuple]:
    return [(u.row, u.col, u.cell, u.heading, u.mode, u.pod, u.battery_frac, u.failed) for u in d.units]


@pytest.mark.parametrize("arrays", [False, True], ids=["titan objects", "titan arrays"])
def test_the_dispatcher_reads_a_block_as_it_reads_unit_states(
    arrays, small_scene_dict, write_scene, monkeypatch
):
    """Two fleet hosts and two dispatchers, one pair per unit and move and one in columns (over the
    wire codec both ways), tick by tick: the same frames, commands, unit records and planner arrays,
    through a unit reported failed and back (where the block is read unit by unit)."""
    if arrays:
        monkeypatch.setattr(fleet_host_module, "ARRAY_MIN_UNITS", 1)
    path = write_scene(small_scene_dict)
    hosts = [FleetHost(path, world=False, telemetry_columns=c) for c in (False, True)]
    assert (hosts[1].arrays is not None) == arrays
    plan, config = floorplan_from_scene(hosts[0].scene)
    ds = [Dispatcher(plan, config) for _ in hosts]
    ds[1].move_columns = True
    skus = [int(s) for s in plan.slot_sku[0] if s >= 0][:1] + [int(s) for s in plan.slot_sku[5] if s >= 0][:1]
    for d in ds:
        for k in range(8):
            d.submit_order(
                Order(order_id=k + 1, t_s=0.0, lines=[OrderLine(sku=skus[k % len(skus)], units=1)])
            )
    frames = [h.initial_frame() for h in hosts]
    victim = plan.drive_units[3].unit_id
    moved = 0
    for tick in range(160):
        a, b = frames[0], p.decode(_frame_bytes(frames[1], seq=tick + 1)).body
        assert b.columns is not None and b.all_states() == a.units
        if tick in (70, 71):  # unit 3 reports failed (the dispatcher hands its trip back), then stopped
            mode = int(UnitMode.FAILED if tick == 70 else UnitMode.STOPPED)
            a = _with_mode(a, victim, mode)
            b = _with_mode(b, victim, mode)
        if tick == 90:  # and idle again: it has recovered
            a, b = _with_mode(a, victim, int(UnitMode.IDLE)), _with_mode(b, victim, int(UnitMode.IDLE))
        batches = [ds[0].tick(a), ds[1].tick(b)]
        batches[1] = p.decode(p.encode(p.COMMAND, batches[1], sender="dispatcher", seq=tick + 1)).body
        assert batches[0].moves is None and batches[1].moves is not None
        assert batches[0].commands == batches[1].all_commands(), f"tick {tick}"
        assert not any(type(c).__name__ == "Move" for c in batches[1].commands)
        assert _unit_fields(ds[0]) == _unit_fields(ds[1]), f"tick {tick}"
        for name in ("pos", "heading", "loaded", "active"):
            assert np.array_equal(getattr(ds[0], name), getattr(ds[1], name)), f"{name}, tick {tick}"
        moved += sum(1 for c in batches[0].commands if type(c).__name__ == "Move")
        frames = [h.apply(batch) for h, batch in zip(hosts, batches, strict=True)]
    assert moved > 100  # the fleet was driving, not standing still
    log = [e[1] for e in ds[0].log]
    assert "unit_failed" in log and "unit_recovered" in log
    assert ds[0].log == ds[1].log
    assert ds[1]._columns.frames > 100  # the block was read as arrays on most ticks


def _with_mode(frame: TelemetryFrame, unit_id: str, mode: int) -> TelemetryFrame:
    def fix(states):
        return [UnitState(**{**_as_dict(s), "mode": mode}) if s.unit_id == unit_id else s for s in states]

    if frame.columns is None:
        return TelemetryFrame(frame.step, frame.t_s, fix(frame.units), frame.events)
    cols = UnitColumns.from_states(fix(frame.columns.states()))
    return TelemetryFrame(frame.step, frame.t_s, frame.units, frame.events, columns=cols)


def _as_dict(s: UnitState) -> dict:
    return {name: getattr(s, name) for name in s.__struct_fields__}


# KPIs that time the run (wall clock): the rest must be equal
_TIMED_KPIS = ("wall_s", "realtime_factor", "planner_ms_per_step", "run_id", "db")


def _run_digest(db_path) -> tuple:
    db = sqlite3.connect(db_path)
    out = []
    for sql in (
        "SELECT t_s, kind, subject, a, b, c FROM events ORDER BY id",
        "SELECT * FROM poses ORDER BY rowid",
    ):
        h = hashlib.sha256()
        for row in db.execute(sql):
            h.update(repr(row).encode())
        out.append(h.hexdigest()[:16])
    out.append(db.execute("SELECT count(*) FROM poses").fetchone()[0])
    db.close()
    return tuple(out)


@pytest.mark.parametrize("link", ["zmq", "local"])
def test_a_run_with_columnar_telemetry_is_the_same_run(link, small_scene_dict, write_scene, tmp_path):
    """The whole run (fleet host in its own process over ZeroMQ, and in-process): event log, recorded
    poses and KPIs identical with the block and without it."""
    path = write_scene({**small_scene_dict, "run_hours": 0.05})
    results = {}
    for mode in ("off", "on"):
        res = run_fc(
            path,
            RunOptions(link=link, runs_dir=tmp_path / mode, record_poses=True, wire_columns=mode),
        )
        kpis = {k: v for k, v in res.kpis.items() if k not in _TIMED_KPIS}
        results[mode] = (_run_digest(res.db_path), kpis)
    assert results["on"] == results["off"]
    assert results["on"][0][2] > 0  # poses were recorded


def test_telemetry_columns_option_is_checked(tmp_path):
    with pytest.raises(ValueError, match="RunOptions.wire_columns is 'yes'; expected auto, on or off"):
        run_fc("fc_small", RunOptions(wire_columns="yes", hours=0.01, runs_dir=tmp_path))


def test_the_run_tracker_counts_a_block_as_it_counts_unit_states(small_scene_dict, write_scene):
    """Distance, collisions (two units on one cell, counted every tick until they part) and poses."""
    from fctwin.sim.run.tracker import Tracker
    from fctwin.sim.scene import load_scene

    scene = load_scene(write_scene(small_scene_dict))
    start = [UnitState(u.unit_id, "titan", 0, *u.cell, u.heading) for u in scene.units]
    station = UnitState(scene.stations[0].station_id, "station", int(UnitMode.SERVING), 0, 0, 0)
    r0, c0 = start[0].row, start[0].col
    ticks = [
        start[2:],  # units 0 and 1 not seen yet
        start,
        [_moved(start[0], 1, 0), *start[1:]],  # one cell south
        [
            _moved(start[0], 1, 0),
            UnitState(start[1].unit_id, "titan", 0, r0 + 1, c0, 0),
            *start[2:],
        ],  # shared
        [_moved(start[0], 1, 0), UnitState(start[1].unit_id, "titan", 0, r0 + 1, c0, 1), *start[2:]],
        [_moved(start[0], 1, 3), *start[1:]],
    ]
    counts = []
    for columns in (False, True):
        tracker = Tracker(scene)
        seen = []
        for k, states in enumerate(ticks):
            if columns:
                frame = TelemetryFrame(k, k * 1.0, [station], columns=UnitColumns.from_states(states))
            else:
                frame = TelemetryFrame(k, k * 1.0, [*states, station])
            tracker.observe_frame(frame)
            seen.append((tracker.distance_cells, tracker.collisions, tracker.poses().tolist()))
        counts.append((seen, tracker._n_seen, tracker.busy_ticks))
    assert counts[0] == counts[1]
    # unit 0: 1 cell south, then 3 east; unit 1: to the cell south of unit 0's start and back again
    there = abs(start[1].row - r0 - 1) + abs(start[1].col - c0)
    assert counts[0][0][-1][:2] == (1 + 3 + 2 * there, 2)  # two ticks with one shared cell


def _moved(s: UnitState, dr: int, dc: int) -> UnitState:
    return UnitState(s.unit_id, s.unit_type, 1, s.row + dr, s.col + dc, s.heading)
