"""The agent's candidates on the floor levers are what a shift manager would propose
(docs/eluna_s17_levers17.md): pre-positioning brings the pods the station will ask for, station
weights follow the staffing back to even, traffic rules go where units block each other in the
aisles (not where they queue at a station), and a floor-lever plan, which changes no labour, is
judged for service as a service move is. Unit stories on a dispatcher or a digest: no simulation."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import fctwin
from fctwin.controller.eluna import floor_candidates, service_move
from fctwin.controller.eluna.actions import MoveAssociates
from fctwin.controller.eluna.floor_actions import ClearOneWay, PrepositionPods, SetOneWay, SetOrderRelease
from fctwin.controller.records import Line

# ------------------------------------------------------------------ pre-positioning


@pytest.fixture
def dispatcher():
    from fctwin.controller.dispatcher import Dispatcher
    from fctwin.sim.run import floorplan_from_scene

    plan, config = floorplan_from_scene(fctwin.load_scene("fc_small_peak"))
    return Dispatcher(plan, config)


def _far_sku(d, station) -> tuple[int, set[int]]:
    """A SKU every pod of which stands far from ``station`` (so moving it nearer is worth a trip)."""
    dist = station.distance
    cells = d.book.pod_cell
    for sku in range(len(d.sku_demand_open)):
        holders = set(d.book.pods_of_sku[sku])
        if holders and min(dist[cells[p]] for p in holders) > 20:
            return sku, holders
    raise AssertionError("no SKU stored only far from the station")


def test_pre_positioning_brings_what_the_station_itself_will_ask_for(dispatcher):
    """P1's own waiting line outranks a bigger demand waiting at P2: the pods moved next to P1
    hold P1's SKU. (Before: the floor-wide open demand ranked P2's SKU first.)"""
    from fctwin.controller.preposition import choose_moves

    d = dispatcher
    p1, p2 = [s for s in d.stations if s.kind == "pick"][:2]
    mine, holders = _far_sku(d, p1)
    other = next(k for k in range(len(d.sku_demand_open)) if k != mine and d.book.pods_of_sku[k])
    p1.pending.append(Line(order_id=1, sku=mine, units=1, t_s=0.0))
    p2.pending.extend(Line(order_id=2 + k, sku=other, units=3, t_s=0.0) for k in range(5))
    d.sku_demand_open[mine] += 1
    d.sku_demand_open[other] += 15
    moves = choose_moves(d, p1.station_id, 1, None)
    assert moves and moves[0][0] in holders


def test_pre_positioning_leaves_the_shared_slotting_estimate_alone(dispatcher):
    """The ranking is computed on the side: the slotting policies' estimate keeps its prior."""
    from fctwin.controller.preposition import choose_moves
    from fctwin.controller.slotting.estimates import estimate_for

    d = dispatcher
    p1 = next(s for s in d.stations if s.kind == "pick")
    mine, _ = _far_sku(d, p1)
    p1.pending.append(Line(order_id=1, sku=mine, units=1, t_s=0.0))
    prior = estimate_for(d).prior.copy()
    choose_moves(d, p1.station_id, 2, None)
    assert np.array_equal(estimate_for(d).prior, prior)


# ------------------------------------------------------------------ station weights


def _release_agent(weights: dict, staffing: dict):
    gate = SimpleNamespace(weights=weights, orders_per_min=None)
    d = SimpleNamespace(policies=SimpleNamespace(order_assignment=gate), units=[object()] * 10)
    agent = SimpleNamespace(
        levers=SimpleNamespace(d=d),
        speed=lambda n: float(n) ** 0.9,
        service_s=dict.fromkeys(staffing, 10.0),
    )
    dg = {
        "stations": [{"id": k, "kind": "pick", "associates": n} for k, n in staffing.items()],
        "backlog_lines": 0,
        "backlog_orders": 0,
        "open_lines": 10,
        "lines_arrived": 5,
        "congestion_waiting": [[0, 0], [0, 0]],
    }
    return agent, dg


def test_weights_follow_uneven_staffing_and_go_when_it_is_even_again():
    agent, dg = _release_agent({}, {"P1": 2, "P2": 1})
    (plan,) = floor_candidates.release_plans(agent, dg)
    assert dict(plan[0].weights)["P2"] < dict(plan[0].weights)["P1"] == 1.0
    # the person is back: the weights set for the old staffing are taken off
    agent, dg = _release_agent({"P1": 1.0, "P2": 0.54}, {"P1": 1, "P2": 1})
    assert floor_candidates.release_plans(agent, dg) == [[SetOrderRelease(None, ())]]
    # even and no weights: nothing to do
    agent, dg = _release_agent({}, {"P1": 1, "P2": 1})
    assert floor_candidates.release_plans(agent, dg) == []


# ------------------------------------------------------------------ traffic rules


def _traffic_agent(rules_by_agent=()):
    from fctwin.controller.floorplan import AISLE, STORAGE, WALL

    grid = np.full((8, 8), AISLE, dtype=np.int8)
    grid[0, :] = grid[-1, :] = grid[:, 0] = grid[:, -1] = WALL
    grid[2, 2:6] = STORAGE
    one_way = {rid: object() for rid in rules_by_agent}
    d = SimpleNamespace(grid=grid, one_way=one_way, lever_rules_by_agent=set(rules_by_agent), units=[])
    return SimpleNamespace(levers=SimpleNamespace(d=d))


def _traffic_digest(wait_s: list[list[float]], station_areas) -> dict:
    return {
        "congestion_wait_s": wait_s,
        "congestion_waiting": [[0] * len(wait_s)] * len(wait_s),
        "stations": [
            {"id": f"P{k}", "kind": "pick", "associates": 1, "area": list(a)}
            for k, a in enumerate(station_areas)
        ],
    }


def test_one_way_rules_go_where_units_block_each_other_not_where_they_queue():
    agent = _traffic_agent()
    # the only hot area holds an open station: its wait is the station's queue
    queue = _traffic_digest([[90.0, 0.0], [0.0, 0.0]], [(0, 0)])
    assert floor_candidates.traffic_plans(agent, queue) == []
    # an aisle area as hot: its rows made one-way, alternating
    jam = _traffic_digest([[90.0, 0.0], [0.0, 40.0]], [(0, 0)])
    (plan,) = floor_candidates.traffic_plans(agent, jam)
    assert plan and all(isinstance(a, SetOneWay) for a in plan)
    assert all(4 <= r < 8 and 4 <= c < 8 for a in plan for r, c in a.cells)
    assert [a.direction for a in plan][:2] == ["E", "W"]


def test_the_agent_lifts_its_one_way_rules_once_no_aisle_area_is_hot():
    agent = _traffic_agent(rules_by_agent=(3,))
    quiet = _traffic_digest([[90.0, 0.0], [0.0, 5.0]], [(0, 0)])
    assert floor_candidates.traffic_plans(agent, quiet) == [[ClearOneWay(3)]]


# ------------------------------------------------------------------ judged for service


def _result(p95_s: float, units: int = 600) -> dict:
    return {
        "units_picked": units,
        "units_stowed": 0,
        "open_pick_units": 50,
        "open_stow_units": 0,
        "cycle_p95_all_s": p95_s,
        "orders_seen": 300,
    }


def test_a_floor_plan_is_judged_for_service_and_a_move_only_when_asked():
    def kept(r, r0):
        return r["units_picked"] >= 0.995 * r0["units_picked"]

    floor = [SetOrderRelease(None, (("P1", 1.0), ("P2", 0.5)))]
    move = [MoveAssociates("S1", "P1", 1)]
    results = [_result(400.0), _result(300.0), _result(250.0)]  # nothing, floor, move
    assert service_move.choose([floor, move], results, kept, service_move.floor_qualifies) == 0
    assert service_move.choose([floor, move], results, kept) == 1
    # within one sample's noise of the p95 (~9% at 300 orders): not taken
    assert (
        service_move.choose([floor], [_result(400.0), _result(380.0)], kept, service_move.floor_qualifies)
        is None
    )
    # a floor plan that loses units is not taken for service
    assert (
        service_move.choose(
            [floor], [_result(400.0), _result(300.0, 580)], kept, service_move.floor_qualifies
        )
        is None
    )
    assert service_move.floor_qualifies([PrepositionPods("P1", 2)])
    assert not service_move.floor_qualifies(floor + move)


class _ConfirmedError(Exception):
    """Raised by the fake lookahead when the agent asks to confirm a plan on a second sample."""


def test_the_agent_takes_floor_plans_to_the_service_test_only_with_floor_service():
    from fctwin.controller.eluna.agent import ElunaAgent

    floor = [SetOrderRelease(None, (("P1", 1.0), ("P2", 0.5)))]

    def confirm(plans, horizon_s, key):
        raise _ConfirmedError(plans[1])

    agent = SimpleNamespace(
        service_moves=False,
        floor_service=False,
        lookahead=SimpleNamespace(evaluate=confirm),
        _units_kept=ElunaAgent._units_kept,
    )
    results = [_result(400.0), _result(300.0)]
    dg = {"minute": 60}
    assert ElunaAgent._service_move(agent, dg, [floor], results, [0.0, 0.0], 1800.0, 0.0) == []
    agent.floor_service = True
    with pytest.raises(_ConfirmedError) as got:
        ElunaAgent._service_move(agent, dg, [floor], results, [0.0, 0.0], 1800.0, 0.0)
    assert got.value.args[0] == floor
    # service moves of people stay their own option
    move = [MoveAssociates("S1", "P1", 1)]
    assert ElunaAgent._service_move(agent, dg, [move], results, [0.0, 0.0], 1800.0, 0.0) == []
