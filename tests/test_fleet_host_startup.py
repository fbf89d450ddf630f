"""The fleet host's start-up leaves out the dispatcher's checks (issue 21: start-up < 5 s).

The fleet host rebuilds the run's scene from `Scene.as_data`; the run's process has checked its
dispatch settings already, and the fleet host runs no dispatcher, so it does not import the policy
registry (and with it the planner's kernels). The scene it builds is the same.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from fctwin.sim.scene import SceneError, load_scene, scene_from_data
from fctwin.sim.scene.catalog import resolve_scene


def test_without_dispatch_checks_the_scene_is_the_same():
    scene = load_scene(resolve_scene("fc_small_peak"))
    a = scene_from_data(scene.as_data())
    b = scene_from_data(scene.as_data(), dispatch_checks=False)
    assert np.array_equal(a.grid, b.grid)
    assert np.array_equal(a.pods.home_cells, b.pods.home_cells)
    assert np.array_equal(a.pods.slot_sku, b.pods.slot_sku)
    assert np.array_equal(a.pods.slot_units, b.pods.slot_units)
    assert a.units == b.units
    assert a.stations == b.stations


def test_a_bad_policy_is_still_an_error_by_default_and_only_skipped_when_asked():
    data = load_scene(resolve_scene("fc_small_peak")).as_data()
    raw = dict(data["raw"])
    raw["dispatch"] = {**raw.get("dispatch", {}), "parking": "no_such_parking"}
    bad = {**data, "raw": raw}
    with pytest.raises(SceneError, match="dispatch.parking"):
        scene_from_data(bad)
    assert scene_from_data(bad, dispatch_checks=False).units  # the fleet host's way: built


def test_the_fleet_host_built_from_data_imports_no_policy_or_planner():
    code = (
        "import sys\n"
        "from fctwin.sim.scene import load_scene\n"
        "from fctwin.sim.scene.catalog import resolve_scene\n"
        "data = load_scene(resolve_scene('fc_small_peak')).as_data()\n"
        "for m in [m for m in sys.modules if m.startswith('fctwin.controller.p')]:\n"
        "    del sys.modules[m]\n"
        "from fctwin.sim.fleet_host import FleetHost\n"
        "FleetHost(data, world=False)\n"
        "print(sorted(m for m in sys.modules if m.startswith(('fctwin.controller.policies',"
        " 'fctwin.controller.planning'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
