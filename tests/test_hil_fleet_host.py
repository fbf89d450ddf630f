"""External (hardware) units in the fleet host: shown in the world from their telemetry, avoided by
the safety layer like any other unit, and carrying pods the floor and world follow."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fctwin.robots.floor import STORAGE
from fctwin.robots.messages import Action, CommandBatch, Move, UnitMode, UnitState
from fctwin.sim.fleet_host import FleetHost
from fctwin.sim.world import xy_from_cell

AISLE = 0
EXTERNAL = "T-01"


@pytest.fixture
def host(small_scene_dict, write_scene):
    raw = dict(small_scene_dict)
    raw["fleet"] = [{**raw["fleet"][0], "external": [EXTERNAL]}]
    h = FleetHost(write_scene(raw), exclude_units=frozenset({EXTERNAL}))
    yield h
    h.close()


def _state(cell, heading=0, pod=-1, mode=UnitMode.IDLE) -> UnitState:
    return UnitState(EXTERNAL, "titan", int(mode), cell[0], cell[1], heading, pod)


def _free_aisle_pair(host: FleetHost) -> tuple[tuple[int, int], tuple[int, int]]:
    grid = host.scene.grid
    taken = {t.cell for t in host.titans} | {(u.row, u.col) for u in host.external.values()}
    for r in range(grid.shape[0]):
        for c in range(grid.shape[1] - 1):
            a, b = (r, c), (r, c + 1)
            if grid[a] == AISLE and grid[b] == AISLE and not taken & {a, b}:
                return a, b
    raise AssertionError("no free aisle pair")


def _world_xy(host: FleetHost, unit_id: str) -> tuple[float, float]:
    x, y, _ = host.world.unit_pose(host._titan_pos[unit_id])
    return x, y


def test_an_external_units_reported_pose_moves_its_body_and_a_simulated_unit_is_kept_out_of_its_cell(host):
    assert EXTERNAL not in host.by_id and host.world is not None
    mover_cell, ext_cell = _free_aisle_pair(host)
    host.set_external_states([_state(ext_cell, heading=2)])
    assert _world_xy(host, EXTERNAL) == pytest.approx(xy_from_cell(*ext_cell, host.scene.cell_size_m))

    mover = host.titans[0]
    mover.cell, mover.heading = mover_cell, 0  # facing east, into the external unit's cell
    host._refresh_carried()
    frame = host.apply(
        CommandBatch(step=0, t_s=host.t_s, commands=[Move(1, mover.unit_id, int(Action.F), 0)])
    )
    refusals = [e for e in frame.events if e.unit_id == mover.unit_id and e.kind == "refused"]
    assert [e.data["reason"] for e in refusals] == ["cell contested"]
    assert mover.cell == mover_cell

    # the external unit drives on (its telemetry says so): the cell is free again, the body follows
    away = (ext_cell[0], ext_cell[1] + 1)
    host.set_external_states([_state(away)])
    assert _world_xy(host, EXTERNAL) == pytest.approx(xy_from_cell(*away, host.scene.cell_size_m))
    host.apply(CommandBatch(step=1, t_s=host.t_s, commands=[Move(2, mover.unit_id, int(Action.F), 1)]))
    assert mover.cell == ext_cell


def test_a_pod_lifted_by_an_external_unit_leaves_the_floor_rides_on_it_and_is_set_down_where_it_reports(host):
    pod = 0
    home = host.floor.pod_cell[pod]
    k = host._titan_pos[EXTERNAL]
    host.set_external_states([_state(home)])
    host.set_external_states([_state(home, pod=pod, mode=UnitMode.IDLE)])
    assert host.floor.pod_at(home) == -1 and host.world.pod_carrier(pod) == k
    assert host.floor.carrier_at(home) == (EXTERNAL, pod)

    free = next(
        (int(r), int(c))
        for r, c in np.argwhere(host.scene.grid == STORAGE)
        if host.floor.pod_at((int(r), int(c))) < 0 and (int(r), int(c)) != home
    )
    host.set_external_states([_state(free, pod=pod)])
    x, y, z = host.world.pod_position(pod)
    fx, fy = xy_from_cell(*free, host.scene.cell_size_m)
    assert math.hypot(x - fx, y - fy) < 1e-6 and z > 0  # riding on the unit
    host.set_external_states([_state(free, pod=-1)])
    assert host.floor.pod_at(free) == pod and host.world.pod_carrier(pod) == -1
    assert host.floor.code(free) == STORAGE


def test_an_external_robot_is_not_sent_into_a_cell_a_unit_still_holds():
    from fctwin.network.hil_link import hold_blocked_moves
    from fctwin.robots.messages import Lift

    states = {"T-01": _state((2, 4), heading=0), "T-02": _state((5, 5), heading=3)}
    commands = {
        "T-01": [Move(7, "T-01", int(Action.F), 3)],  # east into (2, 5): held
        "T-02": [Move(8, "T-02", int(Action.F), 3), Lift(9, "T-02", 4)],  # north into (4, 5): free
    }
    kept, held = hold_blocked_moves(commands, states, {(2, 5)}, 12.0)
    assert kept == {"T-02": commands["T-02"]}
    assert [(e.unit_id, e.kind, e.command_id, e.data["reason"]) for e in held] == [
        ("T-01", "refused", 7, "cell contested")
    ]


def test_after_a_replay_the_first_live_tick_gives_the_fleet_host_the_last_journaled_external_states():
    """The robot's last journaled state (pod just set down) must reach the fleet host, else it sees
    the set-down one cell later, on the wrong cell."""
    from fctwin.network.hil_link import HilFleetLink, HilOptions
    from fctwin.robots.messages import TelemetryFrame

    class _Server:
        t_sim_s = 0.0

        def poll(self, timeout_s):
            return []

        def send_commands(self, uid, batch):
            return 1

        def note_sent(self, commands):
            pass

    class _Sim:
        def __init__(self):
            self.batches = []

        def exchange(self, batch):
            self.batches.append(batch)
            return TelemetryFrame(step=batch.step + 1, t_s=batch.t_s + 1.0, units=[])

    link = HilFleetLink.__new__(HilFleetLink)  # no sockets, no fleet-host process: the bookkeeping only
    link.hil = HilOptions(bind="tcp://127.0.0.1:1", external_ids=frozenset({EXTERNAL}), external_wait_s=0.0)
    link.server, link.sim = _Server(), _Sim()
    link.states, link.reported_step, link._events, link._told_external = {}, {}, [], []
    link._sim_cells, link._resuming, link._sim_cells_sent = {}, True, None
    carrying = _state((3, 5), pod=155, mode=UnitMode.SETTING_DOWN)
    set_down = _state((3, 5), pod=-1)
    before = TelemetryFrame(step=9, t_s=9.0, units=[carrying])
    after = TelemetryFrame(step=10, t_s=10.0, units=[set_down])
    link.replay(CommandBatch(step=9, t_s=9.0, commands=[]), before, after)
    assert link.sim.batches[-1].external == [carrying]
    link.states[EXTERNAL] = _state((4, 5))  # live: the robot has driven on since
    link.exchange(CommandBatch(step=10, t_s=10.0, commands=[]))
    assert link.sim.batches[-1].external == [set_down]


def test_a_resumed_serve_checks_robots_poses_against_where_the_journal_left_the_simulated_units():
    """Resuming, robots re-register where they stand now. The scene's start cells (and the cells the
    replay passes through) are history: a robot standing on a cell where a simulated unit started
    must be welcomed, one standing on a cell a simulated unit holds now must not. (Before the fix a
    resumed serve refused a robot on another unit's start cell, and waited for it for good.)"""
    from fctwin.network.hil_link import HilFleetLink, HilOptions, floor_info, sim_cells_before_first_frame
    from fctwin.robots.messages import TelemetryFrame

    grid = np.zeros((6, 8), dtype=np.uint8)
    start = {EXTERNAL: (1, 1), "T-02": (2, 2), "T-03": (3, 3)}
    now = {EXTERNAL: (2, 2), "T-02": (4, 4), "T-03": (3, 5)}
    fresh = HilOptions(bind="tcp://127.0.0.1:1", external_ids=frozenset({EXTERNAL}), start_cells=start)
    resumed = HilOptions(**{**fresh.__dict__, "resume_cells": now})
    assert sim_cells_before_first_frame(fresh) == {(2, 2): "T-02", (3, 3): "T-03"}
    assert sim_cells_before_first_frame(resumed) == {(4, 4): "T-02", (3, 5): "T-03"}

    class _Server:
        t_sim_s = 0.0

        def poll(self, timeout_s):
            return []

        def note_sent(self, commands):
            pass

    class _Sim:
        def exchange(self, batch):  # the replay re-drives the fleet host through the run's history
            units = [UnitState("T-02", "titan", 0, 2, 2, 0), UnitState("T-03", "titan", 0, 3, 3, 0)]
            return TelemetryFrame(step=batch.step + 1, t_s=batch.t_s + 1.0, units=units)

    link = HilFleetLink.__new__(HilFleetLink)  # no sockets, no fleet-host process: the bookkeeping only
    link.hil, link.floor = resumed, floor_info(grid)
    link.server, link.sim = _Server(), _Sim()
    link.states, link.reported_step, link._events, link._told_external = {}, {}, [], []
    link._resuming, link._sim_cells, link._sim_cells_sent = True, sim_cells_before_first_frame(resumed), None
    assert link._pose_problem(EXTERNAL, _state(now[EXTERNAL])) == ""  # T-02's start cell: free now
    assert "held by unit T-03" in link._pose_problem(EXTERNAL, _state(now["T-03"]))
    # a replayed tick puts the fleet host back at the start cells: robots are still checked against now
    frame = TelemetryFrame(step=0, t_s=0.0, units=[_state((1, 1))])
    link.replay(CommandBatch(step=0, t_s=0.0, commands=[]), frame, frame)
    assert link._pose_problem(EXTERNAL, _state(now[EXTERNAL])) == ""
    # a fresh serve checks against the scene's start
    link._resuming, link._sim_cells = False, sim_cells_before_first_frame(fresh)
    assert "held by unit T-02" in link._pose_problem(EXTERNAL, _state(now[EXTERNAL]))


def test_a_robot_that_ran_the_killed_dispatchers_unjournaled_batch_is_welcomed_where_it_took_it():
    """The dispatcher sent step 7 (T-03 east out of (2, 3), the robot east into it) and was killed
    before journaling the frame. The robot executed its move; the journal still has T-03 at (2, 3).
    Resuming, the robot must be welcomed there (it was refused for good before: `serve --resume`
    gave up after --wait-s), one that did not execute it too, and the step-7 batch sent again live
    must reach the robot unheld (it acknowledges the repeat) although T-03 now stands ahead of it."""
    from fctwin.network.hil_link import HilFleetLink, HilOptions, cells_after_batch, floor_info
    from fctwin.robots.messages import TelemetryFrame

    grid = np.zeros((6, 8), dtype=np.uint8)
    last = [_state((2, 2)), UnitState("T-03", "titan", 0, 2, 3, 0), UnitState("T-04", "titan", 0, 5, 0, 3)]
    sent = CommandBatch(
        step=7,
        t_s=7.0,
        commands=[
            Move(70, "T-03", Action.F, 7),
            Move(71, EXTERNAL, Action.F, 7),
            Move(72, "T-04", Action.R, 7),
        ],
    )
    after = cells_after_batch(last, sent)
    assert after == {EXTERNAL: (2, 3), "T-03": (2, 4), "T-04": (5, 0)}
    assert cells_after_batch([UnitState("T-05", "titan", 0, 3, 3, 0)], CommandBatch(
        step=0, t_s=0.0, commands=[Move(1, "T-05", Action.C, 0), Move(2, "T-05", Action.F, 0)]
    )) == {"T-05": (2, 3)}  # fmt: skip  # turned north (counter-clockwise from east), then forward

    hil = HilOptions(
        bind="tcp://127.0.0.1:1",
        external_ids=frozenset({EXTERNAL}),
        resume_cells={u.unit_id: (u.row, u.col) for u in last},
        resume_sent_cells=after,
        resume_sent_step=7,
    )
    sent_to: dict = {}

    class _Server:
        t_sim_s = 0.0

        def poll(self, timeout_s):
            return []

        def send_commands(self, uid, batch):
            sent_to[uid] = batch.commands
            return False  # nobody waits for a report in this test

    class _Sim:
        def exchange(self, batch):  # the fleet host runs the step-7 batch again: T-03 moves on
            return TelemetryFrame(step=8, t_s=8.0, units=[UnitState("T-03", "titan", 0, 2, 4, 0)])

    def make_link():
        link = HilFleetLink.__new__(HilFleetLink)  # no sockets, no fleet-host process: the bookkeeping only
        link.hil, link.floor = hil, floor_info(grid)
        link.server, link.sim = _Server(), _Sim()
        link.states, link.reported_step, link._events, link._told_external = {}, {}, [], []
        link._resuming = True
        link._sim_cells = {(2, 3): "T-03", (5, 0): "T-04"}
        link._sim_cells_sent = {(2, 4): "T-03", (5, 0): "T-04"}
        return link

    link = make_link()
    assert link._pose_problem(EXTERNAL, _state((2, 3))) == ""  # ran it: welcomed where it took it
    assert link._pose_problem(EXTERNAL, _state((2, 2))) == ""  # did not run it: where it was
    assert "held by unit T-04" in link._pose_problem(EXTERNAL, _state((5, 0)))
    link.states[EXTERNAL] = _state((2, 3))
    frame = link.exchange(sent)
    assert sent_to == {EXTERNAL: [sent.commands[1]]}  # the repeat reaches it: acknowledged, not run
    assert not [e for e in frame.events if e.kind == "refused"]
    assert link._pose_problem(EXTERNAL, _state((2, 3))) == ""  # live now: the fleet host's frame rules

    link = make_link()  # a robot that did not run it gets the batch with the usual safety check
    link.states[EXTERNAL] = _state((2, 2))
    link._sim_cells_sent = {(2, 4): "T-03", (5, 0): "T-04"}
    link.exchange(sent)
    assert sent_to[EXTERNAL] == [sent.commands[1]]
