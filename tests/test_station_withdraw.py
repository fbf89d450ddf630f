"""A pod at a drained station's face goes back to storage: the `Withdraw` command.

A person-worked station closed past ``closed_queue_hold_s`` is drained (controller/closures.py);
the trips not at its face were always sent back, but the one at its face had its serves with the
station, which starts no line while closed: its drive unit stood there with the pod until the
station reopened (for a release, the rest of the shift). Now the dispatcher sends `Withdraw`: the
station drops the serves it has not started (one ``withdrawn`` event each), a line under way
finishes, and the pod goes to storage with its unserved lines handed to the open stations.
"""

from __future__ import annotations

import collections

import msgspec
import pytest
from closure_floor import floor, step, submit_orders

from fctwin.controller.records import AT_STATION, SETTING_DOWN, TO_STORAGE
from fctwin.network import protocol as p
from fctwin.robots.checker import CheckerFloor, ContractViolation, check_unit
from fctwin.robots.human import HumanStation
from fctwin.robots.messages import CommandBatch, Serve, TelemetryFrame, UnitEvent, UnitMode, Withdraw
from fctwin.robots.vulcan import VulcanStation

# ------------------------------------------------------------------------------- the station


def _station() -> HumanStation:
    floor = CheckerFloor()
    st = HumanStation.for_checker(floor)  # pod 0 presented at its cell
    st.reset(seed=3)
    return st


def test_a_station_drops_the_queued_serves_of_the_task_and_not_the_started_line():
    st = _station()
    for k, task in enumerate((5, 5, 5, 6)):
        st.handle(Serve(10 + k, st.unit_id, task, "pick", 0, 3, 1), 0.0)
    st.step(0.5, 0.5)
    assert st.state().mode == int(UnitMode.SERVING)  # serve 10 (task 5) under way
    events = st.handle(Withdraw(20, st.unit_id, 5), 0.5)
    assert [(e.kind, e.command_id) for e in events] == [("ack", 20), ("withdrawn", 11), ("withdrawn", 12)]
    assert events[0].data == {"op": "withdraw", "task": 5, "dropped": 2, "running": 1}
    assert all(e.data == {"op": "serve", "task": 5} for e in events[1:])
    # a duplicate is acknowledged and drops nothing; a task with nothing queued is a no-op
    assert [e.data for e in st.handle(Withdraw(20, st.unit_id, 5), 0.5)] == [{"duplicate": 1}]
    assert [e.data["dropped"] for e in st.handle(Withdraw(21, st.unit_id, 99), 0.5)] == [0]
    done = []
    t = 0.5
    while t < 300 and 13 not in done:
        t += 0.5
        done += [e.command_id for e in st.step(t, 0.5) if e.kind == "done"]
    assert done == [10, 13]  # the started line finished, the other task's too; 11 and 12 never


def test_a_station_without_people_does_not_take_withdraw():
    floor = CheckerFloor()
    st = VulcanStation.for_checker(floor)
    assert "withdraw" not in st.spec.accepted_commands
    assert "withdraw" in HumanStation.for_checker(CheckerFloor()).spec.accepted_commands
    (ev,) = st.handle(Withdraw(1, st.unit_id, 5), 0.0)
    assert ev.kind == "refused"


def test_the_checker_catches_a_station_that_drops_its_started_line():
    class Greedy(HumanStation):
        unit_type = "greedy_human"

        def _withdraw(self, command, t_s):
            events = super()._withdraw(command, t_s)
            if self._current is not None and self._current[0].task_id == command.task_id:
                cmd = self._current[0]
                self._current = None  # drops the line under way too: its units are lost
                events.append(UnitEvent(self.unit_id, "withdrawn", t_s, cmd.command_id, {"op": "serve"}))
            return events

    check_unit(HumanStation)
    with pytest.raises(ContractViolation, match="dropped"):
        check_unit(Greedy)


# ------------------------------------------------------------------------------- the wire


def _command_frame(command: dict) -> bytes:
    body = {"step": 1, "t_s": 1.0, "commands": [command]}
    env = {"v": 1, "type": "command", "sender": "dispatcher", "seq": 1, "t_sim_s": 0.0, "t_wall_s": 0.0}
    return msgspec.msgpack.encode({**env, "body": body})


def test_withdraw_round_trips_and_hostile_withdraws_get_a_schema_error():
    batch = CommandBatch(step=1, t_s=1.0, commands=[Withdraw(7, "P1", 42)])
    env = p.decode(p.encode(p.COMMAND, batch, sender="dispatcher", seq=1))
    assert env.body.commands == [Withdraw(7, "P1", 42)]
    good = {"type": "withdraw", "command_id": 7, "unit_id": "P1", "task_id": 42}
    assert p.decode(_command_frame(good)).body.commands == [Withdraw(7, "P1", 42)]
    for bad in (
        {**good, "task_id": "all"},  # not an int
        {k: v for k, v in good.items() if k != "task_id"},  # no task
        {**good, "task_id": 42.5},  # not a whole number
        {**good, "unit_id": ["P1", "P2"]},
        {**good, "type": "withdraw_all"},  # no such command
    ):
        with pytest.raises(p.ProtocolError) as info:
            p.decode(_command_frame(bad))
        assert info.value.code == p.ErrorCode.SCHEMA, bad


def test_a_withdrawn_event_for_a_serve_never_sent_is_an_unknown_command():
    from fctwin.network.dispatcher_side import DispatcherServer, ServerConfig

    server = DispatcherServer(ServerConfig(router_endpoint="tcp://127.0.0.1:*", track_commands=True))
    try:
        server.note_sent([Serve(5, "P1", 9, "pick", 0, 3, 1)])

        def problem(ev: UnitEvent, msg_type: str = p.EVENT):
            env = p.Envelope(v=1, type=msg_type, sender="P1", seq=1, t_sim_s=0.0, t_wall_s=0.0, body=ev)
            return server._content_problem(env)

        assert problem(UnitEvent("P1", "withdrawn", 1.0, 5, {"op": "serve", "task": 9})) is None
        code, detail = problem(UnitEvent("P1", "withdrawn", 1.0, 6, {"op": "serve", "task": 9}))
        assert code == p.ErrorCode.UNKNOWN_COMMAND and "withdrawn for command 6" in detail
        frame = TelemetryFrame(step=1, t_s=1.0, units=[], events=[UnitEvent("P1", "withdrawn", 1.0, 7)])
        assert problem(frame, p.TELEMETRY)[0] == p.ErrorCode.UNKNOWN_COMMAND  # inside telemetry too
    finally:
        server.close()


# ------------------------------------------------------------------------------- the dispatcher


def _face_with_open_serves(d, p1):
    q = d.stations[p1].queue
    return bool(q) and q[0].phase == AT_STATION and len(q[0].open_serves) >= 2


def _books_exact(d, host, picked):
    """Every line picked once at most, every order whole, units conserved on the floor."""
    assert all(n == 1 for n in picked.values()), "a line picked twice"
    assert not d.orders, f"orders left: {sorted(d.orders)}"
    served = sum(host.by_id[s.station_id].units_served for s in d.stations)
    assert served == d.stats["units_picked"] + d.stats["units_stowed"], "the station and the books disagree"
    carried = [u.pod for u in d.units if u.pod >= 0]
    assert len(carried) == len(set(carried))


def _picks(d):
    return collections.Counter((e[2], e[3], e[4]) for e in d.log if e[1] == "line_picked")


@pytest.mark.parametrize("accepts", [True, False])
def test_a_release_past_the_hold_frees_the_face_unit_and_its_lines_are_picked_elsewhere(
    accepts, small_scene_dict, write_scene
):
    # P1's last person is sent home with a pod at its face and lines open; a minute later P1 is
    # drained. A station that takes `Withdraw` frees the unit: its pod reaches storage and its
    # lines are picked at the other stations. One that does not keeps the pod at its face.
    host, d, link = floor(small_scene_dict, write_scene, closed_queue_hold_min=1.0)
    try:
        submit_orders(d, 29, 3, seed=5, distinct=True)
        p1 = d.station_index["P1"]
        d.stations[p1].accepts_withdraw = accepts
        frame = link.initial_frame()
        frame = step(d, link, frame, 3000, until=lambda: _face_with_open_serves(d, p1))
        assert _face_with_open_serves(d, p1)
        trip = d.stations[p1].queue[0]
        face = d.units[trip.unit]
        open_lines = list(trip.open_serves.values())
        d.set_station_staff("P1", 0, 1.0)
        frame = step(d, link, frame, 80, until=lambda: p1 in d.drained)
        frame = step(d, link, frame, 5)
        if not accepts:
            assert face.trip is trip and trip.phase == AT_STATION and face.cell == d.stations[p1].cell
            assert not any(e[1] == "withdraw_sent" for e in d.log)
            return
        sent = [e for e in d.log if e[1] == "withdraw_sent"]
        assert [e[3] for e in sent] == [trip.trip_id]
        assert any(e[1] == "trip_withdrawn" and e[3] == trip.trip_id and e[5] == AT_STATION for e in d.log)
        assert trip not in d.stations[p1].queue and trip.kind == "return"
        frame = step(d, link, frame, 600, until=lambda: face.trip is None)
        assert face.trip is None and face.pod < 0, "the face pod never reached storage"
        assert any(e[1] == "pod_returned" and e[3] == trip.trip_id for e in d.log)
        frame = step(d, link, frame, 4000, until=lambda: not d.orders)
        picked = _picks(d)
        _books_exact(d, host, picked)
        # the face trip's unserved lines were picked at the open stations
        for ln in open_lines:
            if id(ln) not in trip.served:
                at = [s for (s, o, k) in picked if o == ln.order_id and k == ln.sku]
                assert at and "P1" not in at, (ln, at)
    finally:
        link.close()


def test_a_station_reopened_before_the_answer_keeps_its_face_pod(small_scene_dict, write_scene):
    # The shift lead staffs P1 again in the tick the `Withdraw` goes out: the dropped serves are
    # sent again and the pod is worked at P1's face, every line once.
    host, d, link = floor(small_scene_dict, write_scene, closed_queue_hold_min=1.0)
    try:
        submit_orders(d, 29, 3, seed=5, distinct=True)
        p1 = d.station_index["P1"]
        frame = link.initial_frame()
        frame = step(d, link, frame, 3000, until=lambda: _face_with_open_serves(d, p1))
        trip = d.stations[p1].queue[0]
        d.set_station_staff("P1", 0, 1.0)
        for _ in range(100):
            batch = d.tick(frame)
            if any(isinstance(c, Withdraw) for c in batch.commands):
                d.set_station_staff("P1", 1, 1.0)  # reopened: the answer has not come yet
                frame = link.exchange(batch)
                break
            frame = link.exchange(batch)
        assert any(e[1] == "withdraw_sent" for e in d.log)
        frame = step(d, link, frame, 4000, until=lambda: not d.orders)
        assert not any(e[1] == "trip_withdrawn" and e[3] == trip.trip_id for e in d.log)
        assert len(trip.served) == len(trip.lines)  # all its lines picked at P1's face
        _books_exact(d, host, _picks(d))
    finally:
        link.close()


def test_a_face_unit_lost_before_the_answer_hands_its_trip_back(small_scene_dict, write_scene):
    host, d, link = floor(small_scene_dict, write_scene, closed_queue_hold_min=1.0)
    try:
        submit_orders(d, 29, 3, seed=5, distinct=True)
        p1 = d.station_index["P1"]
        frame = link.initial_frame()
        frame = step(d, link, frame, 3000, until=lambda: _face_with_open_serves(d, p1))
        i = d.stations[p1].queue[0].unit
        d.set_station_staff("P1", 0, 1.0)
        for _ in range(100):
            batch = d.tick(frame)
            if any(isinstance(c, Withdraw) for c in batch.commands):
                d._unit_failed(i, "lost")  # the link's entry point, before the answers arrive
                frame = link.exchange(batch)
                break
            frame = link.exchange(batch)
        d.unit_recovered(d.units[i].unit_id)
        frame = step(d, link, frame, 4000, until=lambda: not d.orders and d.units[i].trip is None)
        _books_exact(d, host, _picks(d))
        assert d.units[i].pod < 0 and d.units[i].trip is None
    finally:
        link.close()


def test_the_face_trip_waits_for_a_line_under_way(small_scene_dict, write_scene):
    # Drained while a line runs at the face (no hold: the drain comes the tick after the close):
    # the pod leaves only after that line's done.
    host, d, link = floor(small_scene_dict, write_scene, closed_queue_hold_min=0.0)
    try:
        submit_orders(d, 29, 3, seed=5, distinct=True)
        p1 = d.station_index["P1"]
        st = host.by_id["P1"]

        def running():
            return _face_with_open_serves(d, p1) and st._current is not None

        frame = link.initial_frame()
        frame = step(d, link, frame, 3000, until=running)
        assert running()
        trip = d.stations[p1].queue[0]
        cid_running = st._current[0].command_id
        line_running = trip.open_serves[cid_running]
        d.set_station_staff("P1", 0, 1.0)
        frame = step(d, link, frame, 200, until=lambda: trip.phase in (TO_STORAGE, SETTING_DOWN))
        kinds = [e[1] for e in d.log]
        assert "withdraw_sent" in kinds
        assert cid_running not in trip.open_serves and id(line_running) in trip.served  # done, not dropped
        picked_before = [e for e in d.log if e[1] == "line_picked" and e[2] == "P1"]
        withdrawn_at = next(e[0] for e in d.log if e[1] == "trip_withdrawn" and e[3] == trip.trip_id)
        assert picked_before and picked_before[-1][0] <= withdrawn_at
        frame = step(d, link, frame, 4000, until=lambda: not d.orders)
        _books_exact(d, host, _picks(d))
    finally:
        link.close()


def test_a_face_trip_whose_last_line_was_under_way_leaves_as_a_trip_done(small_scene_dict, write_scene):
    # Drained while the face trip's only open line runs: nothing is dropped, so it leaves as a
    # trip done (`leave_station`, counted), not as a withdrawn one.
    host, d, link = floor(small_scene_dict, write_scene, closed_queue_hold_min=0.0)
    try:
        submit_orders(d, 300, 2, seed=5, distinct=True)
        p1 = d.station_index["P1"]
        st = host.by_id["P1"]

        def last_line_running():
            q = d.stations[p1].queue
            return (
                bool(q) and q[0].phase == AT_STATION and len(q[0].open_serves) == 1
                and st._current is not None and st._current[0].command_id in q[0].open_serves
                and any(d.book.available(q[0].pod, ln.sku) >= ln.units for ln in d.stations[p1].pending)
            )  # fmt: skip

        frame = link.initial_frame()
        frame = step(d, link, frame, 6000, until=last_line_running)
        assert last_line_running()
        trip = d.stations[p1].queue[0]
        d.set_station_staff("P1", 0, 1.0)
        serves_after = []
        for _ in range(300):
            batch = d.tick(frame)
            serves_after += [c for c in batch.commands if isinstance(c, Serve) and c.unit_id == "P1"]
            frame = link.exchange(batch)
            if trip.phase in (TO_STORAGE, SETTING_DOWN) or trip not in d.stations[p1].queue:
                break
        assert not serves_after, "lines piled on a drained station's face pod"
        mine = [e[1] for e in d.log if e[3] == trip.trip_id and e[1] in ("leave_station", "trip_withdrawn")]
        assert mine == ["leave_station"]
        assert len(trip.served) == len(trip.lines) and trip.kind == "pick"
    finally:
        link.close()
