"""An `aborted` command (a robot's watchdog stopped it mid-lift) loses nothing: the step is redone.

The story: a unit is lifting its trip's pod when its watchdog fires (the robot stops, the lift never
finishes, it reports ``aborted`` with reason ``watchdog``). The dispatcher must resume the unit and
lift again, and the trip must still be completed with its lines served.
"""

from __future__ import annotations

from fctwin.controller.dispatcher import LIFTING, SETTING_DOWN, Dispatcher
from fctwin.controller.orders import Order, OrderLine
from fctwin.robots.messages import CommandBatch, Resume, Serve, SetDown, Stop, TelemetryFrame, UnitEvent
from fctwin.sim.fleet_host import FleetHost
from fctwin.sim.fleet_link_local import LocalFleetLink
from fctwin.sim.run import floorplan_from_scene

MAX_TICKS = 3000


def _one_order_floor(scene_path):
    """A fleet host, its in-process link and a dispatcher holding one order for a SKU of pod 0, so
    a pick trip starts at once."""
    host = FleetHost(scene_path, world=False)
    plan, config = floorplan_from_scene(host.scene)
    dispatcher = Dispatcher(plan, config)
    sku = next(int(s) for s in plan.slot_sku[0] if s >= 0)
    dispatcher.submit_order(Order(order_id=1, t_s=0.0, lines=[OrderLine(sku=sku, units=1)]))
    return host, LocalFleetLink(host), dispatcher


def test_a_lift_aborted_by_the_watchdog_is_resumed_and_redone_and_its_trip_completes(
    small_scene_dict, write_scene
):
    host, link, dispatcher = _one_order_floor(write_scene(small_scene_dict))
    frame = link.initial_frame()
    victim = None
    trip = None
    sent = []
    try:
        for _ in range(MAX_TICKS):
            batch = dispatcher.tick(frame)
            sent.extend(batch.commands)
            if victim is None:
                lifting = [u for u in dispatcher.units if u.trip is not None and u.trip.phase == LIFTING]
                if lifting:
                    victim, trip = lifting[0], lifting[0].trip
                    # The robot's watchdog fires before the lift finishes: it stops and says so.
                    frame = link.exchange(batch)
                    titan = host.by_id[victim.unit_id]
                    titan.handle(Stop(-1, victim.unit_id, "watchdog"), frame.t_s)
                    aborted = UnitEvent(victim.unit_id, "aborted", frame.t_s, -1, {"reason": "watchdog"})
                    frame = type(frame)(
                        step=frame.step,
                        t_s=frame.t_s,
                        units=[titan.state() if s.unit_id == victim.unit_id else s for s in frame.units],
                        events=[e for e in frame.events if e.unit_id != victim.unit_id] + [aborted],
                    )
                    assert titan.pod_id < 0  # the lift did not happen
                    continue
            frame = link.exchange(batch)
            if trip is not None and any(r[1] == "trip_done" and r[3] == trip.trip_id for r in dispatcher.log):
                break
        assert victim is not None, "no unit ever lifted"
        assert any(isinstance(c, Resume) and c.unit_id == victim.unit_id for c in sent)
        assert any(r[1] == "trip_done" and r[3] == trip.trip_id for r in dispatcher.log)
        assert dispatcher.stats["units_picked"] == 1 and dispatcher.stats["orders_completed"] == 1
        assert host.floor.stored_units() == dispatcher.book.total_units()  # book and floor agree
    finally:
        link.close()


def test_a_set_down_that_finished_before_the_watchdog_stop_is_taken_as_done_where_the_unit_reports(
    small_scene_dict, write_scene
):
    """The done event went to a dispatcher that died; the unit comes back stopped, pod already down."""
    host, link, dispatcher = _one_order_floor(write_scene(small_scene_dict))
    frame = link.initial_frame()
    victim = trip = None
    sent = []
    try:
        for _ in range(MAX_TICKS):
            batch = dispatcher.tick(frame)
            sent.extend(c for c in batch.commands if victim is not None and c.unit_id == victim.unit_id)
            frame = link.exchange(batch)
            if victim is None:
                setting = [u for u in dispatcher.units if u.trip is not None and u.trip.phase == SETTING_DOWN]
                if setting:
                    victim, trip = setting[0], setting[0].trip
                    titan = host.by_id[victim.unit_id]
                    while titan.pod_id >= 0:  # the set-down finishes; its done event is lost
                        frame = link.exchange(CommandBatch(step=frame.step, t_s=frame.t_s, commands=[]))
                    titan.handle(Stop(-1, victim.unit_id, "watchdog"), frame.t_s)
                    aborted = UnitEvent(victim.unit_id, "aborted", frame.t_s, -1, {"reason": "watchdog"})
                    frame = TelemetryFrame(
                        step=frame.step,
                        t_s=frame.t_s,
                        units=[titan.state() if s.unit_id == victim.unit_id else s for s in frame.units],
                        events=[e for e in frame.events if e.unit_id != victim.unit_id] + [aborted],
                    )
                    down_at = titan.cell
            elif any(r[1] == "trip_done" and r[3] == trip.trip_id for r in dispatcher.log):
                break
        assert victim is not None, "no unit ever set a pod down"
        assert any(r[1] == "trip_done" and r[3] == trip.trip_id for r in dispatcher.log)
        assert dispatcher.book.pod_cell[trip.pod] == down_at == host.floor.pod_cell[trip.pod]
        assert not [c for c in sent if isinstance(c, SetDown)]  # not set down a second time elsewhere
    finally:
        link.close()


def test_a_serve_a_station_aborts_is_sent_again_for_the_same_line(small_scene_dict, write_scene):
    host, link, dispatcher = _one_order_floor(write_scene(small_scene_dict))
    frame = link.initial_frame()
    try:
        for _ in range(MAX_TICKS):
            frame = link.exchange(dispatcher.tick(frame))
            serving = [s for s in dispatcher.stations if s.queue and s.queue[0].open_serves]
            if serving:
                break
        station = serving[0]
        trip = station.queue[0]
        (cid, line), *_ = trip.open_serves.items()
        aborted = UnitEvent(station.station_id, "aborted", frame.t_s, cid, {"reason": "operator"})
        batch = dispatcher.tick(
            TelemetryFrame(step=frame.step, t_s=frame.t_s, units=frame.units, events=[aborted])
        )
        again = [c for c in batch.commands if isinstance(c, Serve) and c.unit_id == station.station_id]
        assert [(c.sku, c.units, c.task_id) for c in again] == [(line.sku, line.units, trip.trip_id)]
        assert again[0].command_id != cid and list(trip.open_serves) == [again[0].command_id]
    finally:
        link.close()
