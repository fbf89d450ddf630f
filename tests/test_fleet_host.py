"""The fleet host's safety layer: it vetoes moves that would put two units in one cell or swap them."""

from __future__ import annotations

import numpy as np
import pytest

from fctwin.robots.messages import Action, CommandBatch, Move
from fctwin.sim import fleet_host as fleet_host_module
from fctwin.sim.fleet_host import FleetHost
from fctwin.sim.world import xy_from_cell

AISLE = 0


@pytest.fixture(params=["objects", "arrays"])
def host(request, small_scene_dict, write_scene, monkeypatch):
    # A small fleet steps its Titans as objects; the arrays (large fleets) are forced by the threshold.
    if request.param == "arrays":
        monkeypatch.setattr(fleet_host_module, "ARRAY_MIN_UNITS", 1)
    h = FleetHost(write_scene(small_scene_dict), world=False)
    assert (h.arrays is not None) == (request.param == "arrays")
    yield h
    h.close()


def _aisle_run(host: FleetHost, length: int) -> tuple[int, int]:
    """A (row, col) starting `length` free aisle cells in a row, away from every unit."""
    grid = host.scene.grid
    taken = {t.cell for t in host.titans}
    for r in range(grid.shape[0]):
        for c in range(grid.shape[1] - length):
            cells = [(r, c + k) for k in range(length)]
            if all(grid[x] == AISLE for x in cells) and not taken & set(cells):
                return r, c
    raise AssertionError("no free aisle run")


def _place(host: FleetHost, placements: list[tuple[tuple[int, int], int]]) -> list:
    units = host.titans[: len(placements)]
    for t, (cell, heading) in zip(units, placements, strict=True):
        t.cell, t.heading = cell, heading
    host._refresh_carried()
    return units


def _forward(host: FleetHost, units, step: int = 0):
    cmds = [Move(100 * step + k + 1, t.unit_id, int(Action.F), step) for k, t in enumerate(units)]
    return host.apply(CommandBatch(step=step, t_s=host.t_s, commands=cmds))


def _vetoes(frame) -> dict[str, str]:
    return {e.unit_id: e.data["reason"] for e in frame.events if e.kind == "refused"}


def test_two_units_moving_into_one_cell_are_both_stopped(host):
    r, c = _aisle_run(host, 3)
    a, b = _place(host, [((r, c), 0), ((r, c + 2), 2)])  # east and west, towards (r, c + 1)
    frame = _forward(host, [a, b])
    assert _vetoes(frame) == {a.unit_id: "cell contested", b.unit_id: "cell contested"}
    assert (a.cell, b.cell) == ((r, c), (r, c + 2))
    assert host.moves_vetoed == 2 and host.collisions == 0


def test_a_swap_is_vetoed_but_following_is_allowed(host):
    r, c = _aisle_run(host, 3)
    a, b = _place(host, [((r, c), 0), ((r, c + 1), 2)])  # facing each other
    frame = _forward(host, [a, b])
    assert _vetoes(frame) == {a.unit_id: "swap", b.unit_id: "swap"}
    assert (a.cell, b.cell) == ((r, c), (r, c + 1))

    b.heading = 0  # now both face east: b leaves the cell a enters
    frame = _forward(host, [a, b], step=1)
    assert _vetoes(frame) == {}
    assert (a.cell, b.cell) == ((r, c + 1), (r, c + 2))
    assert host.collisions == 0


def test_units_sharing_a_cell_are_counted_as_collisions_every_step(host):
    r, c = _aisle_run(host, 3)
    a, b = _place(host, [((r, c), 0), ((r, c), 0)])  # put in one cell (the safety layer never does)
    host.apply(CommandBatch(step=0, t_s=host.t_s, commands=[]))
    assert host.collisions == 1
    frame = _forward(host, [a], step=1)  # a drives off: both cells now hold one unit
    assert _vetoes(frame) == {} and a.cell == (r, c + 1) and b.cell == (r, c)
    assert host.collisions == 1


def test_moving_into_a_waiting_unit_is_vetoed_for_the_mover_only(host):
    r, c = _aisle_run(host, 2)
    a, b = _place(host, [((r, c), 0), ((r, c + 1), 0)])
    frame = _forward(host, [a])  # b waits
    assert _vetoes(frame) == {a.unit_id: "cell contested"}
    assert (a.cell, b.cell) == ((r, c), (r, c + 1))


def test_no_two_units_share_a_cell_after_random_forward_commands(host):
    rng = np.random.default_rng(3)
    for step in range(60):
        for t in host.titans:
            t.heading = int(rng.integers(4)) if rng.random() < 0.3 else t.heading
        frame = _forward(host, host.titans, step=step)
        cells = [(u.row, u.col) for u in frame.units if u.unit_type == "titan"]
        assert len(cells) == len(set(cells)), f"shared cell at step {step}"
    assert host.collisions == 0


def _drive_pod_trip(host: FleetHost, defer: bool) -> tuple[int, tuple[int, int], tuple[int, int], list]:
    """Unit 0 lifts pod 0 at its home, is carried off to a free storage cell and sets it down there;
    the host then runs to the next pose sync. Returns (pod, home, free cell, world pod-carrier trace)."""
    from fctwin.robots.floor import STORAGE
    from fctwin.robots.messages import Lift, SetDown

    host.defer_world_updates = defer
    t, pod = host.titans[0], 0
    home = host.floor.pod_cell[pod]
    free = next(
        (int(r), int(c))
        for r, c in np.argwhere(host.scene.grid == STORAGE)
        if host.floor.pod_at((int(r), int(c))) < 0 and (int(r), int(c)) != home
    )
    trace = []

    def tick(cmds) -> None:
        host.apply(CommandBatch(step=host.step_index, t_s=host.t_s, commands=cmds))
        host.flush_world()
        trace.append(host.world.pod_carrier(pod))

    _place(host, [(home, 0)])
    tick([Lift(1, t.unit_id, pod)])
    while t.pod_id != pod:
        tick([])
    _place(host, [(free, 1)])  # carried off (teleported: the safety layer is not under test here)
    tick([SetDown(2, t.unit_id)])
    while t.pod_id >= 0:
        tick([])
    while host.step_index % host._world_sync_steps:
        tick([])
    return pod, home, free, trace


def test_deferred_world_updates_are_replayed_at_the_cells_where_they_happened(small_scene_dict, write_scene):
    """A link that defers world updates (the ZeroMQ fleet host) gets them at the minute's pose sync,
    each lift and set-down at the cell where it happened (the unit has moved on since): the world
    then shows what an undeferred host shows, and the frames never depended on it."""
    worlds = []
    for defer in (False, True):
        h = FleetHost(write_scene(small_scene_dict))
        try:
            assert h.world is not None and h._world_sync_steps > 1  # headless: lazily synced
            pod, home, free, trace = _drive_pod_trip(h, defer)
            worlds.append((h.world.pod_cells.tolist(), h.world.unit_poses_world().tolist(), trace[-1]))
            if defer:  # nothing reached the world before the sync, then all of it at once
                assert set(trace[:-1]) == {-1} and h._world_backlog == []
            else:  # the lift showed at once
                assert 0 in trace
            assert h.world.pod_cells[pod].tolist() == list(free) and h.world.pod_carrier(pod) == -1
            x, y, _ = h.world.unit_pose(h._titan_pos[h.titans[0].unit_id])  # the body caught up
            assert (x, y) == pytest.approx(xy_from_cell(*free, h.scene.cell_size_m))
        finally:
            h.close()
    assert worlds[0] == worlds[1]


def test_a_repeated_command_is_acknowledged_by_the_host_and_not_executed_again(host):
    """The ZeroMQ link relies on this (`dedups_commands`) instead of de-duplicating in front of it."""
    from fctwin.robots.messages import Lift, Stop

    assert FleetHost.dedups_commands
    row, col = _aisle_run(host, 3)
    (t,) = _place(host, [((row, col), 0)])
    station = host.stations[0]
    first = _forward(host, [t], step=0)
    assert t.cell == (row, col + 1) and not _vetoes(first)
    again = host.apply(
        CommandBatch(
            step=1,
            t_s=host.t_s,
            commands=[
                Move(1, t.unit_id, int(Action.F), 1),  # the same command id as step 0's move
                Stop(7, station.unit_id),
                Stop(7, station.unit_id),  # a repeat within one batch
                Lift(8, "T-NOPE", 0),
            ],
        )
    )
    assert t.cell == (row, col + 1)  # not moved a second time
    assert [(e.unit_id, e.kind, e.command_id, e.data) for e in again.events if e.kind == "ack"] == [
        (t.unit_id, "ack", 1, {"duplicate": 1}),
        (station.unit_id, "ack", 7, {"op": "stop"}),
        (station.unit_id, "ack", 7, {"duplicate": 1}),
    ]
    assert [(e.kind, e.data["reason"]) for e in again.events if e.unit_id == "T-NOPE"] == [
        ("error", "unknown unit")
    ]
