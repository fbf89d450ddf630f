"""Station units in the PyBullet world: every type has bodies beside its cell; physics cells move there."""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pybullet as p
import pytest

from fctwin.robots.messages import Serve
from fctwin.sim.fleet_host import FleetHost
from fctwin.sim.scene import load_scene

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "scenes" / "stations_tiny.toml"


def test_every_station_type_has_bodies_in_the_headless_world():
    scene = load_scene(TINY)
    host = FleetHost(scene)  # headless: a DIRECT world
    world = host.world
    height, width = scene.grid.shape
    for s in scene.stations:
        ids = world.station_bodies[s.station_id]
        if s.unit == "human":
            assert ids == []  # the operator table and operator are its furniture
            continue
        assert ids, s.unit
        for body in ids:
            (x, y, _), _ = p.getBasePositionAndOrientation(body, physicsClientId=world.client_id)
            lo, hi = p.getAABB(body, physicsClientId=world.client_id)
            # Beside the floor, never on it: x outside [0, width] (stations sit on the west/east edges).
            assert hi[0] < 0.0 or lo[0] > width * scene.cell_size_m, (s.unit, lo, hi)
    host.close()


def test_physics_cell_loaded_into_the_world_moves_its_arm():
    """What `fctwin run --gui --physics stations` does per arm station, here in a DIRECT world."""
    scene = load_scene(TINY)
    host = FleetHost(scene, station_fidelity="physics")
    vulcan = next(u for u in host.stations if u.unit_type == "vulcan")
    spec = next(s for s in scene.stations if s.unit == "vulcan")
    _, origin = host.world.add_station_model(spec.station_id, spec.cell, "vulcan", bodies=False)
    vulcan.attach_world(host.world.client_id, origin)
    host.floor.carried[vulcan.cell] = ("T", 0)
    vulcan.handle(Serve(1, vulcan.unit_id, 1, vulcan.kind, 0, 3, 1), 0.0)
    cell = vulcan._physics_cell()
    assert cell.pc.cid == host.world.client_id  # the arm is a body of the world
    base, _ = p.getBasePositionAndOrientation(cell.arm.body, physicsClientId=host.world.client_id)
    assert np.allclose(np.asarray(base)[:2], np.asarray(origin)[:2] + [-0.25, 0.0], atol=0.01)
    q0 = cell.arm.q()
    t = 0.0
    while vulcan.units_served < 1 and t < 120:
        t += 1.0
        vulcan.step(t, 1.0)
    assert vulcan.units_served == 1
    assert np.max(np.abs(cell.arm.q() - q0)) > 0.05  # the arm moved through the pick
    host.close()


GUI_STORY = """
    import numpy as np, pybullet as p
    from fctwin.robots.messages import Serve
    from fctwin.sim.fleet_host import FleetHost
    host = FleetHost("scenes/stations_tiny.toml", gui=True, station_fidelity="physics")
    cid = host.world.client_id
    arms = [u for u in host.stations if u.unit_type in ("vulcan", "bluejay", "sequoia")]
    assert all(u.client_id == cid for u in arms), "physics cells are not in the GUI world"
    bj = next(u for u in arms if u.unit_type == "bluejay")
    cell = bj._physics_cell()  # built in the GUI client, beside its station
    q0 = [st.arm.q() for st in cell.arms]
    p.configureDebugVisualizer(p.COV_ENABLE_RENDERING, 0, physicsClientId=cid)  # Mesa: render once below
    for _ in range(400):
        cell.step()
    p.configureDebugVisualizer(p.COV_ENABLE_RENDERING, 1, physicsClientId=cid)
    moved = sum(float(np.max(np.abs(st.arm.q() - q))) > 0.05 for st, q in zip(cell.arms, q0))
    img = p.getCameraImage(160, 120, physicsClientId=cid)
    print("bodies", p.getNumBodies(physicsClientId=cid), "arms moved", moved, "image", img[0], img[1])
    host.close()
"""


@pytest.mark.gui
def test_station_cells_render_in_the_gui_world_under_xvfb():
    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run not installed: apt-get install xvfb to run the GUI test")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        ["xvfb-run", "-a", sys.executable, "-c", textwrap.dedent(GUI_STORY)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("bodies"))
    _, n_bodies, _, _, moved, _, w, h = line.split()
    assert int(moved) >= 1 and (w, h) == ("160", "120"), line  # an arm moved; the GUI world rendered
