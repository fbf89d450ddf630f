"""Which fleet hosts build a PyBullet world: only where someone can watch it (GUI, realtime)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fctwin.sim.fleet_host import FleetHost
from fctwin.sim.fleet_link_local import LocalFleetLink
from fctwin.sim.run import RunOptions, startup
from fctwin.sim.scene import load_scene

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("options", "world"),
    [
        ({}, False),  # a headless fast run: nobody reads the world
        ({"gui": True}, True),
        ({"realtime": True}, True),
        ({"gui": True, "world": False}, False),  # asked for none
    ],
)
def test_the_fleet_host_program_builds_its_world_only_to_be_watched(monkeypatch, options, world):
    made = {}

    class FakeLink:
        def __init__(self, scene, **kwargs):
            made.update(kwargs)

    monkeypatch.setattr("fctwin.network.fleet_link.ZmqFleetLink", FakeLink)
    scene = load_scene(ROOT / "scenes" / "fc_small.toml")
    startup.make_link(ROOT / "scenes" / "fc_small.toml", scene, RunOptions(**options))
    assert made["host_options"]["world"] is world


def test_a_fleet_host_without_a_world_sends_the_same_frames(small_scene_dict, write_scene):
    """The world is a mirror: with and without it the fleet host answers the same commands alike
    (and flushing a world that is not there does nothing)."""
    from fctwin.robots.messages import Action, CommandBatch, Move

    path = write_scene(small_scene_dict)
    with_world, without = FleetHost(path), FleetHost(path, world=False)
    for h in (with_world, without):
        h.defer_world_updates = True
    try:
        a, b = LocalFleetLink(with_world), LocalFleetLink(without)
        assert a.initial_frame() == b.initial_frame()
        ids = [t.unit_id for t in with_world.titans]
        for step in range(120):
            cmds = [Move(step * len(ids) + k, uid, int(Action.F if (step + k) % 3 else Action.R), step)
                    for k, uid in enumerate(ids)]  # fmt: skip
            batch = CommandBatch(step=step, t_s=step * with_world.step_s, commands=cmds)
            assert a.exchange(batch) == b.exchange(batch)
            with_world.flush_world()
            without.flush_world()
        without.flush_world(now=True)
        without.sync_world()
        assert with_world.world is not None and without.world is None
    finally:
        with_world.close()
        without.close()
