"""The model path's order-cycle p95 (`[agent] model_p95`, controller/eluna/cycle_tail.py): each pick
station's queue played FIFO over the fluid projection, so a plan that slows one station shows the
tail its orders make, which a mean cycle over the floor does not (docs/eluna_s15_modelp95.md)."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import numpy as np
import pytest

from fctwin.controller.eluna import ElunaAgent, Forecaster
from fctwin.controller.eluna.actions import POOL, Levers, MoveAssociates
from fctwin.controller.eluna.cycle_tail import order_cycle_p95_s
from fctwin.controller.eluna.labour import LabourBoard, LabourConfig
from fctwin.sim.scene import SceneError, scene_from_dict

SCENES = Path(__file__).resolve().parents[1] / "scenes"
PICKS = ("P1", "P2", "P3", "P4")


class _Quiet:
    units: list = []
    stow_unit_cap = None

    def set_station_staff(self, *a, **kw):
        pass


def _floor(m: int) -> dict:
    """Four pick stations, two pickers each (3 lines a minute a picker at the plan's rate), 10
    lines in a minute and out, 10 lines at each station; no stow work, no drive-unit block."""
    return {
        "minute": m,
        "t_s": 60.0 * m,
        "open_lines": 40,
        "open_cartons": 0,
        "lines_arrived": 10.0,
        "cartons_arrived": 0,
        "backlog_lines": 0,
        "cycle_mean_s": 240.0,
        "dock_ahead": {},
        "stations": [
            {
                "id": sid,
                "kind": "pick",
                "associates": 2,
                "open_lines": 10,
                "lines_served": 2.5,
                "queued_pods": 2,
            }
            for sid in PICKS
        ],
    }


def _agent(model_p95: str) -> tuple[ElunaAgent, dict]:
    staffing = {sid: 2 for sid in PICKS}
    board = LabourBoard(LabourConfig(staffing=staffing, kinds=dict.fromkeys(PICKS, "pick"), pool=12))
    fc = Forecaster(capacity=lambda dg: 24.0, station_rate=lambda sid, n: 3.0 * n, blend={})
    for m in range(1, 61):
        fc.observe(_floor(m))
    agent = ElunaAgent(
        mode="advise",
        levers=Levers(_Quiet(), board),
        service_s=dict.fromkeys(PICKS, 20.0),
        forecaster=fc,
        lookahead=None,
    )
    agent.units_per = {"pick": 1.0, "stow": 12.0}
    agent.model_p95 = model_p95
    agent.lines_per_order = 1.5
    return agent, _floor(61)


def test_the_projected_p95_rises_when_a_plan_takes_a_picker_off_a_station_with_a_queue():
    """One of P1's two pickers to the pool: the floor still serves its 10 lines a minute (21 a
    minute of pickers at the plan's rate, above the inflow), so the fluid model's open lines and
    units barely move, but P1 keeps a queue as long as its peers' (least-loaded assignment) at half
    the rate: its orders, a quarter of them, wait twice as long, and the p95 is theirs. The service
    guard refuses the release on that p95; without the p95 it had nothing to refuse it on."""
    agent, dg = _agent("done")
    release = [MoveAssociates("P1", POOL, 1)]
    r0, r1 = agent.project(dg, [[], release])
    assert r1["units_picked"] >= 0.995 * r0["units_picked"]  # the fluid model sees no cost
    assert r0["cycle_p95_s"] is not None and r1["cycle_p95_s"] is not None
    assert r1["cycle_p95_s"] > 1.3 * r0["cycle_p95_s"]
    assert not agent.keeps_service(r1, r0, releases=True)
    # a picker moved between two stations with the same queue: P1 slower, P2 faster; the p95 rises
    _, r2 = agent.project(dg, [[], [MoveAssociates("P1", "P2", 1)]])
    assert r2["cycle_p95_s"] > 1.3 * r0["cycle_p95_s"]
    off, _ = _agent("off")
    assert all(r["cycle_p95_s"] is None for r in off.project(dg, [[], release]))


def test_a_picker_arriving_after_the_walk_shortens_the_tail_from_then_on():
    """A floater to P1: its orders wait less once the person is there; the p95 falls or holds."""
    agent, dg = _agent("all")
    r0, r1 = agent.project(dg, [[], [MoveAssociates(POOL, "P1", 1)]])
    assert r1["cycle_p95_s"] <= r0["cycle_p95_s"]


def test_the_tail_is_the_slow_stations_not_the_mean():
    """Four stations with 8 lines each, one at half the rate: a quarter of the orders wait there,
    so the p95 is that station's wait (8 + 1.5 lines at 1 a minute), not the mean's."""
    h = 30
    q = np.full((4, h + 1), 8.0)
    mu = np.full((4, h), 2.0)
    even = order_cycle_p95_s(
        arrivals=np.full(h, 8.0),
        station_q=q,
        station_mu=mu,
        backlog=np.zeros(h + 1),
        lines_per_order=1.5,
        base_s=60,
    )
    mu[0] = 1.0
    slow = order_cycle_p95_s(
        arrivals=np.full(h, 8.0),
        station_q=q,
        station_mu=mu,
        backlog=np.zeros(h + 1),
        lines_per_order=1.5,
        base_s=60,
    )
    assert even == pytest.approx(60 + 60 * 9.5 / 2.0, abs=1.0)
    assert slow == pytest.approx(60 + 60 * 9.5 / 1.0, abs=1.0)


@pytest.mark.parametrize("value", ["on", True, 1])
def test_the_field_is_validated(value):
    raw = tomllib.loads((SCENES / "eluna_balanced.toml").read_text())
    raw["agent"]["model_p95"] = value
    with pytest.raises(SceneError) as info:
        scene_from_dict(copy.deepcopy(raw), source="s.toml")
    assert any(p == "agent.model_p95" for p, _ in info.value.problems), info.value.problems
    for ok in ("off", "done", "all"):
        raw["agent"]["model_p95"] = ok
        assert scene_from_dict(copy.deepcopy(raw), source="s.toml").spec.agent.model_p95 == ok


def _one_picker_floor(m: int) -> dict:
    """Four pick stations, one picker each (3 lines a minute at the plan's rate), 5 lines in a
    minute and out, 3 lines at each station."""
    dg = _floor(m)
    dg.update(lines_arrived=5.0, open_lines=12, cycle_mean_s=144.0)
    for s in dg["stations"]:
        s.update(associates=1, open_lines=3, lines_served=1.25)
    return dg


def test_a_station_closed_on_a_floor_that_still_keeps_up_loads_the_others_queues():
    """P1's only picker to the pool: the three left still serve more than the 5 lines a minute, so
    the fluid floor holds its 12 open lines and its units, and a station's own rate is unchanged;
    but the load on each rises (M/M/1: ``rho / (1 - rho)`` held at a station), and with it every
    order's wait (eluna_port_strike seed 12, 11:00: one of four pickers lent to stow, the floor's
    cycle 71 s -> 339 s within 20 minutes). Without the load's queue the p95 barely moved."""
    board = LabourBoard(
        LabourConfig(staffing=dict.fromkeys(PICKS, 1), kinds=dict.fromkeys(PICKS, "pick"), pool=8)
    )
    fc = Forecaster(capacity=lambda dg: 12.0, station_rate=lambda sid, n: 3.0 * n, blend={})
    for m in range(1, 61):
        fc.observe(_one_picker_floor(m))
    agent = ElunaAgent(
        mode="advise",
        levers=Levers(_Quiet(), board),
        service_s=dict.fromkeys(PICKS, 20.0),
        forecaster=fc,
        lookahead=None,
    )
    agent.units_per = {"pick": 1.0, "stow": 12.0}
    agent.model_p95 = "done"
    agent.lines_per_order = 1.5
    r0, r1 = agent.project(_one_picker_floor(61), [[], [MoveAssociates("P1", POOL, 1)]])
    assert (r1["units_picked"], r1["open_pick_units"]) == (r0["units_picked"], r0["open_pick_units"])
    assert r1["cycle_p95_s"] > 1.5 * r0["cycle_p95_s"]


def test_a_way_home_is_not_held_back_by_the_p95_the_lend_bought():
    """A picker lent from P2 to P1 and now due home: the projection of the way home shows P1's p95
    rise (one of two leaves P1's queue), as a lend off P1 would. The lend is refused on it; the way
    home restores the plan's staffing and is judged without it (eluna_battery seed 14: two stowers
    held at pick to the end of the shift, 108 units open against 14)."""
    agent, dg = _agent("done")
    away, home = [MoveAssociates("P1", "P3", 1)], [MoveAssociates("P1", "P2", 1)]
    agent.lent = [("P2", "P1")]  # (home, where they are)
    r0, r_away, r_home = agent.project(dg, [[], away, home])
    assert r_home["cycle_p95_s"] > 1.02 * r0["cycle_p95_s"] + 5.0
    assert not agent._keeps(agent._judged(r_away, away), r0, away)
    assert agent._keeps(agent._judged(r_home, home), r0, home)
