"""The PyBullet window's unit colours follow the units' reported state (checked in DIRECT mode)."""

from __future__ import annotations

from pathlib import Path

import pybullet as p

from fctwin.robots.messages import UnitMode
from fctwin.sim.fleet_host import FleetHost
from fctwin.sim.world.assets import RGBA_UNIT_STATE

ROOT = Path(__file__).resolve().parents[1]


def _colour(host: FleetHost, k: int) -> tuple:
    body = int(host.world.unit_body_ids[k])
    data = p.getVisualShapeData(body, physicsClientId=host.world.client_id)
    return tuple(round(x, 2) for x in data[0][7])


def test_units_take_their_state_colour():
    host = FleetHost(ROOT / "scenes" / "stations_tiny.toml", world=True)
    try:
        host._gui_labels()  # labels are GUI-only (no-ops in DIRECT); colours are tracked from here
        host._gui_colours()
        assert _colour(host, 0) == tuple(round(x, 2) for x in RGBA_UNIT_STATE["idle"])
        host.titans[0].mode = UnitMode.FAILED
        host.titans[1].mode = UnitMode.CHARGING
        host._gui_colours()
        assert _colour(host, 0) == tuple(round(x, 2) for x in RGBA_UNIT_STATE["failed"])
        assert _colour(host, 1) == tuple(round(x, 2) for x in RGBA_UNIT_STATE["charging"])
    finally:
        host.close()
