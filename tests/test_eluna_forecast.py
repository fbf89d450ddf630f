"""Eluna's forecasts and their scores: the skill computation on series with a known answer, the
fluid model's mechanics, hot-spot precision/recall, the dock schedule in the digest, and the
agent's service bound (it holds back when a plan costs cycle time)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from fctwin.controller.eluna import Forecaster
from fctwin.controller.eluna.agent import ElunaAgent
from fctwin.controller.eluna.forecast import (
    HOT_BLEND,
    PICK_SHARE_MAX,
    fit_blend,
    pick_share,
    precision_recall,
    skill_score,
)


def test_skill_score_has_the_known_answers_on_a_synthetic_series():
    t = np.arange(200, dtype=np.float64)
    actual = 10.0 + 5.0 * np.sin(t / 7.0)
    persistence = np.roll(actual, 15)  # the value 15 steps earlier
    err = persistence - actual
    assert skill_score(actual, persistence, actual) == pytest.approx(1.0)  # perfect
    assert skill_score(persistence, persistence, actual) == pytest.approx(0.0)  # persistence itself
    # half of persistence's error everywhere: SSE a quarter, skill 0.75
    assert skill_score(actual + 0.5 * err, persistence, actual) == pytest.approx(0.75)
    # twice its error: SSE four times, skill -3
    assert skill_score(actual + 2.0 * err, persistence, actual) == pytest.approx(-3.0)
    assert skill_score(actual, actual, actual) is None  # nothing to beat


def test_the_blend_weight_recovers_a_known_mixture():
    rng = np.random.default_rng(0)
    model = rng.normal(size=500)
    persistence = rng.normal(size=500)
    actual = 0.3 * model + 0.7 * persistence
    assert fit_blend(model, persistence, actual) == pytest.approx(0.3)
    assert fit_blend(model, persistence, persistence - (model - persistence)) == 0.0  # clipped


def test_precision_and_recall_count_hits():
    p, r = precision_recall([1, 1, 0, 0, 1], [1, 0, 1, 0, 1])
    assert p == pytest.approx(2 / 3) and r == pytest.approx(2 / 3)
    assert precision_recall([0, 0], [0, 1]) == (None, 0.0)


def test_fluid_grows_beyond_the_margin_and_drains_no_faster_than_spare_capacity():
    # inflow 12/min at capacity 10: +2 a minute
    assert Forecaster.fluid(0.0, [12.0] * 5, 10.0, 0.0, 10.0)[-1] == pytest.approx(10.0)
    # within the noise margin the work stays where it is
    assert Forecaster.fluid(7.0, [10.5] * 5, 10.0, 0.0, 10.0, margin=1.0)[-1] == pytest.approx(7.0)
    # a large backlog drains at capacity minus inflow (1/min), not by the time constant
    path = Forecaster.fluid(100.0, [9.0] * 10, 10.0, 5.0, 2.0)
    assert path[-1] == pytest.approx(90.0)
    # a small excess over the level decays with the time constant
    path = Forecaster.fluid(6.0, [0.0] * 10, 10.0, 5.0, 10.0)
    assert path[-1] == pytest.approx(5.0 + np.exp(-1.0), rel=1e-6)


def _digest(minute: int, open_lines: float, arrived: float, served: float) -> dict:
    return {
        "minute": minute,
        "t_s": 60.0 * minute,
        "open_lines": open_lines,
        "open_cartons": 0,
        "lines_arrived": arrived,
        "cartons_arrived": 0,
        "backlog_lines": 0,
        "cycle_mean_s": 60.0 + open_lines,
        "stations": [
            {"id": "P1", "kind": "pick", "associates": 1, "open_lines": open_lines, "lines_served": served}
        ],
        "congestion_waiting": [[0] * 4 for _ in range(4)],
    }


def test_the_forecaster_scores_itself_against_persistence_out_of_the_box():
    """A queue that only ever returns to 10 after a random kick: forecasting the level beats
    persistence, and the run's own skill says so (and is computed on matured forecasts only)."""
    rng = np.random.default_rng(1)
    fc = Forecaster(capacity=lambda dg: 20.0, blend={})
    w = 10.0
    for m in range(1, 241):
        w = 10.0 + 0.5 * (w - 10.0) + rng.normal(0, 3)
        fc.observe(_digest(m, max(0.0, w), 10.0, 10.0))
    sk = fc.skill(from_minute=60)
    assert sk["open_lines"][30]["n"] == 240 - 30 - 60 + 1
    assert sk["open_lines"][30]["skill"] > 0.3
    assert set(fc.hot_spot_scores()) == {15, 30}


def test_dock_schedule_counts_the_waves_ahead():
    from fctwin.sim.eluna.manager import dock_ahead, dock_schedule
    from fctwin.sim.scene import load_scene

    scene = load_scene(Path(__file__).resolve().parents[1] / "scenes" / "eluna_inbound_wave.toml")
    sched = dock_schedule(scene, None)
    assert len(sched) == 90
    wave = scene.spec.inbound.waves[0]
    start = wave.at_h * 3600.0 + scene.spec.docks.transfer_to_stow_s
    ahead = dock_ahead(sched, start - 60.0 * 30)
    assert ahead["15"] == 0 and ahead["60"] > 0
    ahead = dock_ahead(sched, start - 1.0)  # the whole 60-minute wave is due in the next hour
    assert ahead["60"] == 90 and 0 < ahead["15"] < ahead["30"] < 90


@pytest.mark.parametrize(
    ("plan", "ok"),
    [
        ({}, True),
        ({"cycle_p95_s": 206.0}, True),  # +2% + 5 s allowed (noise of one sampled future)
        ({"cycle_p95_s": 220.0}, False),  # +10%: the old bound let releases cost p95
        ({"units_picked": 980}, False),  # -2% units
        ({"open_pick_units": 80}, False),  # pick work left behind
    ],
)
def test_the_agent_holds_back_a_plan_that_costs_service(plan, ok):
    nothing = {"units_picked": 1000, "units_stowed": 0, "open_pick_units": 50, "cycle_p95_s": 200.0}
    assert ElunaAgent.keeps_service({**nothing, **plan}, nothing) is ok


def test_a_release_sees_the_planned_peak_still_to_come():
    from types import SimpleNamespace

    plan = lambda t_s: 2.0 if 3600.0 <= t_s < 3 * 3600.0 else 1.0  # noqa: E731  (a promotion)
    me = SimpleNamespace(forecaster=SimpleNamespace(plan_rate=plan), shift_end_s=4 * 3600.0)
    assert ElunaAgent._planned_peak(me, 600.0) == pytest.approx(2.0)  # before the promotion
    assert ElunaAgent._planned_peak(me, 3 * 3600.0 + 60.0) == pytest.approx(1.0)  # after it


def test_open_lines_by_stock_availability():
    """Each open pick line counts once, by where its SKU's stock is: free on a pod (or reserved
    on its trip), at the dock (a carton at a stow station, not yet stowed), on order, or nowhere."""
    from types import SimpleNamespace

    from fctwin.controller.eluna.digest import lines_by_stock
    from fctwin.controller.records import Line

    free = {1: 5, 2: 0, 3: 0, 4: 0}  # SKU -> free units on pods
    line = lambda sku, oid=1: Line(order_id=oid, sku=sku, units=1, t_s=0.0)  # noqa: E731
    picked, riding = line(1), line(2)
    pick_trip = SimpleNamespace(
        kind="pick", lines=[picked, riding], served={id(picked)}
    )  # one line already picked
    carton_on_trip = SimpleNamespace(kind="stow", lines=[line(3, 900)], served=set())
    stations = [
        SimpleNamespace(kind="pick", pending=[line(1), line(2), line(3), line(4)], queue=[pick_trip]),
        SimpleNamespace(kind="stow", pending=[line(2, 901)], queue=[]),
    ]
    d = SimpleNamespace(
        book=SimpleNamespace(sku_free=lambda sku: free[sku]),
        stations=stations,
        trips=[],
        units=[
            SimpleNamespace(trip=pick_trip),
            SimpleNamespace(trip=carton_on_trip),
            SimpleNamespace(trip=None),
        ],
        backlog=[7],
        orders={
            7: SimpleNamespace(
                order=SimpleNamespace(
                    lines=[SimpleNamespace(sku=4, units=1), SimpleNamespace(sku=1, units=2)]
                )
            )
        },
        backorders={4: [(0, line(4))]},
        sku_inbound=[0, 0, 12, 12, 0],
    )
    got = lines_by_stock(d)
    # on a pod: the riding line (reserved), pending SKU 1, the backlog's SKU 1
    # at the dock: pending SKU 2 (a carton at S's input), SKU 3 (a carton on a stow trip)
    # nowhere: pending SKU 4, the backlog's SKU 4, the backorder of SKU 4
    assert got == {"on_pod": 3, "at_dock": 2, "on_order": 0, "none": 3, "backordered": 1, "total": 8}
    d.sku_inbound = [0, 0, 12, 12, 24]  # a purchase order for SKU 4
    assert lines_by_stock(d)["on_order"] == 3 and lines_by_stock(d)["none"] == 0


def test_the_digest_knows_the_staffing_changes_ahead():
    """People walking back from a repair, back from a break, and the plan's breaks to come are on
    the digest's `staff_ahead`; an outage not yet begun is not (nobody knows it is coming)."""
    from fctwin.controller.eluna import BreakPlan, LabourBoard, LabourConfig, Outage
    from fctwin.controller.eluna.digest import staff_ahead

    class Told:
        def set_station_staff(self, sid, n, speed, reopen_s=None):
            pass

    cfg = LabourConfig(
        staffing={"P1": 1, "P2": 2, "S1": 1},
        kinds={"P1": "pick", "P2": "pick", "S1": "stow"},
        pool=5,
        walk_s=120.0,
        breaks=(BreakPlan(1800.0, 600.0, 1),),
        outages=(Outage("P1", 600.0, 900.0), Outage("S1", 5000.0, 60.0)),
    )
    b = LabourBoard(cfg)
    d = Told()
    b.start(d)
    b.advance(700.0, d)  # P1 is down until 1500 s
    rows = staff_ahead(b, 700.0)
    assert [1500.0 + 120.0, "P1", 1] in rows  # its person walks back once it is repaired
    assert [1800.0, "P2", -1] in rows and [2400.0, "P2", 1] in rows  # the plan's break (most-staffed)
    assert all(r[1] != "S1" for r in rows)  # S1's outage at 5000 s is not known
    assert rows == sorted(rows, key=lambda r: (r[0], r[1]))


def _floor(minute, *, p2_staff, ahead, open_lines=200.0, backlog=150):
    return {
        "minute": minute,
        "t_s": 60.0 * minute,
        "open_lines": open_lines,
        "open_cartons": 0,
        "lines_arrived": 10.0,
        "cartons_arrived": 0,
        "backlog_lines": backlog,
        "cycle_mean_s": 900.0,
        "stations": [
            {"id": "P1", "kind": "pick", "associates": 1, "open_lines": 13, "lines_served": 6},
            {"id": "P2", "kind": "pick", "associates": p2_staff, "open_lines": 4, "lines_served": 0},
        ],
        "staff_ahead": ahead,
        "congestion_waiting": [[0] * 4 for _ in range(4)],
    }


def test_a_known_repair_drains_the_forecast_backlog_and_refills_the_station():
    """P2 is down (no associates) while P1 serves 6 lines a minute against 10 arriving. Told that
    P2's person is back in 5 minutes, the forecaster drains the backlog from then on, forecasts a
    shorter wait, and P2's queue back at its saturated share; not told, P2 keeps what it holds."""

    def rate(sid, n):
        return 6.0 * n

    out = {}
    for told in (False, True):
        fc = Forecaster(capacity=lambda dg: 6.0, station_rate=rate, blend={})
        for m in range(1, 61):
            ahead = [[60.0 * m + 300.0, "P2", 1]] if told and m == 60 else []
            out[told] = fc.observe(_floor(m, p2_staff=0, ahead=ahead))
    assert out[True]["open_lines"][30] < out[False]["open_lines"][30] - 50
    assert out[True]["cycle"][30] < out[False]["cycle"][30]
    assert out[False]["queue:P2"][30] == pytest.approx(4.0)  # closed: keeps its lines
    assert out[True]["queue:P2"][30] > 10.0  # reopened into a saturated floor: fills to its share


def test_hot_spots_follow_the_pick_stations_open_then():
    """Units stand blocked in the queue of the pick station in area 0; area 5 has none. The wait
    per open line is learned from the run; told that P1's person leaves in 10 minutes (a planned
    break), the forecast cools area 0 where persistence keeps it hot; told nothing, it stays hot."""
    waits = np.zeros((4, 4))
    waits[0, 0] = 40.0  # seconds blocked a minute: hot (>= 30)
    waits[1, 1] = 3.0

    def digest(m, ahead):
        dg = _floor(m, p2_staff=1, ahead=ahead, open_lines=20.0, backlog=0)
        dg["stations"] = [
            {"id": "P1", "kind": "pick", "associates": 1, "open_lines": 10, "lines_served": 6, "area": [0, 0]}
        ]
        dg["congestion_wait_s"] = waits.tolist()
        return dg

    for told in (False, True):
        fc = Forecaster(capacity=lambda dg: 6.0, station_rate=lambda sid, n: 6.0 * n, blend={})
        for m in range(1, 91):
            ahead = [[60.0 * m + 600.0, "P1", -1]] if told else []
            fc.observe(digest(m, ahead))
        pred, pers, actual, _ = fc.hot_scored[30][-1]
        assert pers[0] and actual[0] and not pers[5]
        assert bool(pred[0]) == (not told)  # closed by then: its queue's traffic is gone
        assert not pred[5]
        # the forecast before the call is kept beside it: the blend of model and wait now, called
        # at `hot_call_s`, is the boolean forecast scored
        (model, now5), act, made = fc.hot_raw[30][-1]
        assert made == fc.hot_scored[30][-1][3] and (act == actual).all()
        expect = HOT_BLEND * model + (1.0 - HOT_BLEND) * now5
        assert ((expect >= fc.hot_call_s) == pred).all()


def test_capacity_the_staffing_does_not_explain_stays():
    """A robotic pick station (no associates, no person-worked rate) serves 10 lines a minute
    against 10 arriving: the known staffing says nothing of it, so the forecast keeps the floor's
    measured capacity instead of collapsing to the staffing's (zero)."""
    fc = Forecaster(capacity=lambda dg: 0.0, station_rate=lambda sid, n: 0.0, blend={})
    for m in range(1, 91):
        dg = _digest(m, 20.0, 10.0, 10.0)
        dg["stations"][0].update(id="R1", associates=0)
        out = fc.observe(dg)
    assert out["open_lines"][30] == pytest.approx(20.0, abs=5.0)


RATES = {
    "charge_per_min": 0.03,
    "moving_drain_per_min": 0.005,
    "idle_drain_per_min": 0.0005,
    "drain_per_min": 0.003,
}


def _fleet_digest(
    minute, *, free_pct, charging_pct, usable, usable_idle, pick_trip, battery_mean, open_lines=20.0
):
    n_free = sum(c for _, c in free_pct)
    n_chg = sum(c for _, c in charging_pct)
    dg = _digest(minute, open_lines, 10.0, 10.0)
    dg["unit_states"] = {
        "idle": n_free - pick_trip,
        "pick_trip": pick_trip,
        "stow_trip": 0,
        "charging": n_chg,
        "failed": 0,
    }
    dg["battery_mean"] = battery_mean
    dg["fleet"] = {
        "usable": usable,
        "usable_idle": usable_idle,
        "waiting_pad": n_free - usable,
        "charging": n_chg,
        "on_pad": n_chg,
        "pads": 4,
        "threshold": 0.2,
        "low": 0.2,
        "charge_to": 0.95,
        "free_pct": free_pct,
        "charging_pct": charging_pct,
    }
    return dg


def _fleet_history(fc, minutes=90):
    """A steady floor where 17 free units are all at work (16 on pick trips, 10 lines a minute in
    and out) and 4 units charge; the fleet's charge follows the energy balance of the rates (the
    forecaster learns a unit at work drains 0.004 a minute)."""
    mean = 0.6
    for m in range(1, minutes + 1):
        mean += (0.03 * 4 - 0.004 * 17) / 21
        fc.observe(
            _fleet_digest(
                m,
                free_pct=[[60, 17]],
                charging_pct=[[50, 4]],
                usable=17,
                usable_idle=1,
                pick_trip=16,
                battery_mean=mean,
            )
        )
    return mean


def test_the_fleet_path_plays_the_charging_rules_forward():
    fc = Forecaster(capacity=lambda dg: 20.0, blend={}, fleet_rates=RATES)
    fc._drain.v = 0.004
    dg = _fleet_digest(
        1,
        free_pct=[[22, 10], [90, 7]],  # 10 units 2 points above their low level
        charging_pct=[[93, 4]],  # every pad taken, by units almost full
        usable=17,
        usable_idle=0,
        pick_trip=16,
        battery_mean=0.5,
    )
    path = fc.fleet_path(dg, 60)
    # minute 1: the pads' units are full (0.96 >= 0.95) and free; the 4 freed pads go to units at
    # or below their low level (none yet)
    assert path[0] == 21
    # the 10 low units reach 0.2 after 5 minutes of work: they stop, 4 take the free pads
    assert path[5] == 11
    # a pad's unit is back after (0.95 - 0.2) / 0.03 = 25 minutes, and the next 4 take its pad
    assert path[40] == 15
    assert min(path) == 11 and max(path) == 21


def _wave_digest(minute, *, free_pct, charging_pct):
    usable = sum(c for p, c in free_pct if p > 20)
    return _fleet_digest(
        minute,
        free_pct=free_pct,
        charging_pct=charging_pct,
        usable=usable,
        usable_idle=0,
        pick_trip=min(usable, 16),
        battery_mean=0.5,
    )


def test_the_pad_queue_is_played_forward_and_a_charging_bound_floor_is_judged_over_the_wave():
    """12 units wait for the 4 pads (their units half charged: free in 15 minutes, then every 25),
    17 at work with 100 minutes of charge: the queue is 12, 8 from minute 15, 4 from 40, gone at 65,
    so the agent judges its plans over 70 minutes (the decision period above 65). The same floor
    with the 17 about to stop too: the queue outlasts the cap (120). Not charging-bound, the
    ordinary 30 minutes: fewer units waiting than pads, or a queue the pads clear within the
    horizon (6 waiting, the pads' units full: 2 left after a minute, none after 26). Never past the
    end of the shift (40 minutes left of 4 hours)."""
    fc = Forecaster(capacity=lambda dg: 20.0, blend={}, fleet_rates=RATES)
    fc._drain.v = 0.004
    agent = ElunaAgent(
        mode="auto", levers=None, service_s={}, forecaster=fc, lookahead=None, shift_end_s=4 * 3600.0
    )
    wave = _wave_digest(60, free_pct=[[20, 12], [60, 17]], charging_pct=[[50, 4]])
    assert agent.lookahead_horizon_s(wave) == 30 * 60.0  # the option is off by default
    agent.charging_wave = True  # the scene's `[agent] charging_wave = true`
    queue = fc.pad_queue_path(wave, 120)
    assert queue[:14] == [12] * 14 and queue[14] == 8 and queue[41] == 4 and queue[59] == 4 and queue[66] == 0
    assert agent.lookahead_horizon_s(wave) == 70 * 60.0
    longer = _wave_digest(60, free_pct=[[20, 12], [21, 17]], charging_pct=[[50, 4]])
    assert min(fc.pad_queue_path(longer, 120)) > 4
    assert agent.lookahead_horizon_s(longer) == 120 * 60.0
    assert agent.lookahead_horizon_s(
        _wave_digest(200, free_pct=[[20, 12], [21, 17]], charging_pct=[[50, 4]])
    ) == (40 * 60.0)
    few = _wave_digest(60, free_pct=[[20, 3], [60, 17]], charging_pct=[[50, 4]])
    assert agent.lookahead_horizon_s(few) == 30 * 60.0
    cleared = _wave_digest(60, free_pct=[[20, 6], [60, 17]], charging_pct=[[93, 4]])
    assert fc.pad_queue_path(cleared, 120)[0] == 2 and fc.pad_queue_path(cleared, 120)[29] == 0
    assert agent.lookahead_horizon_s(cleared) == 30 * 60.0
    no_fleet = dict(wave)
    del no_fleet["fleet"]
    assert agent.lookahead_horizon_s(no_fleet) == 30 * 60.0


def test_units_leaving_for_chargers_raise_the_forecast_backlog():
    """The same floor, the same history: when the free units are about to reach their low level
    (and the pads are taken), the forecast of open lines 30 minutes ahead rises well above now;
    with the same units well charged it stays near now (the battery wave's mechanism)."""

    def forecast(free_pct):
        fc = Forecaster(capacity=lambda dg: 20.0, blend={}, fleet_rates=RATES)
        mean = _fleet_history(fc)
        dg = _fleet_digest(
            91,
            free_pct=free_pct,
            charging_pct=[[50, 4]],
            usable=17,
            usable_idle=1,
            pick_trip=16,
            battery_mean=mean,
        )
        return fc.observe(dg)["open_lines"][30], fc

    low, fc_low = forecast([[21, 12], [60, 5]])  # 12 units reach 0.2 within a few minutes
    high, _ = forecast([[60, 17]])
    assert fc_low._last_usable[29] < 10  # they wait for the 4 pads
    assert low > 20.0 + 60.0  # lines pile up: about half the pick trips are gone
    assert abs(high - 20.0) < 10.0
    assert fc_low._drain.v == pytest.approx(0.004, rel=0.05)  # learned from the energy balance


def test_units_back_from_the_pads_lower_the_forecast_backlog():
    """A floor short of units (8 free, all at work, 9 waiting for a pad, 200 lines open): when the
    4 charging units are nearly full they are back in a minute and the next ones follow, so the
    forecast backlog falls below the one where the pads' units have just started."""

    def forecast(charging_pct):
        fc = Forecaster(capacity=lambda dg: 20.0, blend={}, fleet_rates=RATES)
        mean = _fleet_history(fc)
        dg = _fleet_digest(
            91,
            free_pct=[[15, 9], [60, 8]],
            charging_pct=charging_pct,
            usable=8,
            usable_idle=0,
            pick_trip=8,
            battery_mean=mean,
            open_lines=200.0,
        )
        return fc.observe(dg)["open_lines"][30]

    assert forecast([[94, 4]]) < forecast([[21, 4]]) - 20.0


def test_the_window_hot_spot_event_is_hot_at_some_minute_near_t_plus_h():
    """Area 0 is blocked 60 s a minute from minute 40 to 60 only. The window event for a forecast
    made at minute 15 (h = 30: minutes 38-52) is hot there and nowhere else; one made at minute 0
    (minutes 23-37) is not; persistence (hot now) calls neither."""
    fc = Forecaster(capacity=lambda dg: 20.0, blend={})
    for m in range(1, 90):
        dg = _digest(m, 10.0, 10.0, 10.0)
        wait = np.zeros(16)
        if 40 <= m <= 60:
            wait[0] = 60.0
        dg["congestion_wait_s"] = wait.reshape(4, 4).tolist()
        fc.observe(dg)
    rows = {made: (pred, pers, act) for pred, pers, act, made in fc.hot_win_scored[30]}
    assert rows[15][2][0] and not rows[15][2][1:].any()
    assert not rows[1][2].any()
    assert not rows[15][1].any()
    # the 30-minute level of area 0 reaches 25 s after 13 hot minutes: called from minute 52
    assert not rows[51][0][0] and rows[52][0][0] and not rows[52][0][1:].any()
    assert fc.hot_spot_scores(window=True)[30]["n"] == 16 * len(fc.hot_win_scored[30])


def test_the_open_lines_level_follows_the_idle_drive_units():
    """A floor whose pick lines wait longer for a unit when none stands idle (what a stow wave does
    to it): 60 minutes with 6 units idle and 10 lines open, then 30 with none idle and 30 open. Held
    short, the forecast 30 minutes ahead stays near the short level; with units idle again it falls
    back to the spare level; with the mechanism off both read the one level of every minute."""

    def run(fleet_level: bool):
        fc = Forecaster(capacity=lambda dg: 20.0, blend={}, fleet_rates=RATES)
        fc.fleet_level = fleet_level
        fc._drain.v = 0.0005
        for m in range(1, 91):
            idle, lines = (6, 10.0) if m <= 60 else (0, 30.0)
            dg = _fleet_digest(
                m,
                free_pct=[[90, 26]],
                charging_pct=[],
                usable=26,
                usable_idle=idle,
                pick_trip=20,
                battery_mean=0.9,
                open_lines=lines,
            )
            dg["stations"][0]["lines_served"] = 14.0  # busy minutes serve more than arrives
            fc.observe(dg)
        out = {}
        for idle in (0, 6):
            f = copy.deepcopy(fc)
            dg = _fleet_digest(
                91,
                free_pct=[[90, 26]],
                charging_pct=[],
                usable=26,
                usable_idle=idle,
                pick_trip=20,
                battery_mean=0.9,
                open_lines=30.0,
            )
            out[idle] = f.observe(dg)["open_lines"][30]
        return out

    on, off = run(True), run(False)
    assert on[0] > 25.0  # still short: the short level (30)
    assert on[6] < 18.0  # units idle again: back towards the spare level (10)
    assert abs(off[0] - off[6]) < 1.0  # without the mechanism the idle units change nothing
    assert on[6] < off[6] - 3.0


def _stow_floor(m: int, queued_pods: int, served: float, dock: dict | None = None, cartons: int = 3) -> dict:
    """Two stow stations, one stower each (the plan: 1 carton a minute a stower), ``cartons`` at each
    and ``queued_pods`` pods at each face, each serving ``served`` cartons a minute."""
    return {
        "minute": m,
        "t_s": 60.0 * m,
        "open_lines": 0,
        "open_cartons": 2 * cartons,
        "lines_arrived": 0,
        "cartons_arrived": 2.0 * served,
        "backlog_lines": 0,
        "cycle_mean_s": None,
        "dock_ahead": dock or {},
        "stations": [
            {
                "id": sid,
                "kind": "stow",
                "associates": 1,
                "open_lines": cartons,
                "lines_served": served,
                "queued_pods": queued_pods,
            }
            for sid in ("S1", "S2")
        ],
    }


def _stow_forecast(queued_pods: int, served: float, seen_rates: bool = True) -> tuple[Forecaster, dict]:
    """40 minutes of the floor above, 20 quiet ones (a carton at each station, the stream 0.4 a
    minute), then a wave on the dock schedule: 60 cartons within 30 minutes."""

    def per_min(dg):
        return sum(float(s["associates"]) for s in dg["stations"] if s["kind"] == "stow")

    fc = Forecaster(stow_capacity=per_min, station_rate=lambda sid, n: 1.0 * n, blend={})
    fc.seen_rates = seen_rates
    for m in range(1, 41):
        fc.observe(_stow_floor(m, queued_pods, served))
    for m in range(41, 61):
        fc.observe(_stow_floor(m, 0, 0.2, cartons=1))
    out = fc.observe(_stow_floor(61, 0, 0.2, {"1": 2.0, "15": 30.0, "30": 60.0, "60": 60.0}, cartons=1))
    return fc, out


def test_a_wave_is_served_at_the_rate_stowers_were_seen_to_serve_with_work():
    """Stowers with work (cartons and a pod at the face) serve 95% of the plan's rate, above the
    plan's share the forecaster otherwise counts on (75%). Twenty quiet minutes later (the recent
    service says nothing), told a wave of 60 cartons is due within 30 minutes, the forecast serves
    it at the seen rate (shrunk a little towards the plan's share): about 17 cartons open at 30
    minutes against 25 at the plan's share (the version before)."""
    fc, out = _stow_forecast(queued_pods=1, served=0.95)
    assert 0.85 < fc.realised("stow") < 0.95  # 80 station-minutes seen against 30 of prior
    assert fc.realised("pick") == fc.capacity_share  # pick keeps the plan's share
    # the wave's 2 a minute and the stream's 0.4 (less the schedule seen in it) for 30 minutes,
    # against the 2 stations at the seen share of their 1 a minute each
    unscheduled = 0.4 - 2.0 / 15
    mu = 2 * fc.realised("stow")
    assert out["open_cartons"][30] == pytest.approx(2.0 + 30 * (2.0 + unscheduled - mu), abs=1.0)
    _, before = _stow_forecast(queued_pods=1, served=0.95, seen_rates=False)
    assert before["open_cartons"][30] > out["open_cartons"][30] + 5.0
    assert before["open_cartons"][60] > out["open_cartons"][60]


def test_a_low_rate_seen_at_a_low_load_and_stations_waiting_for_pods_leave_the_plans_share():
    """Stowers with work serving half the plan's rate at this load do not lower the capacity a
    wave is served at (a wave's pods queue and the stowers serve faster); stations with cartons but
    no pod at the face (waiting for pods, not for their people) say nothing of the stowers at all,
    however fast: in both the forecast is the version before."""
    for queued_pods, served in ((1, 0.5), (0, 0.95)):
        fc, out = _stow_forecast(queued_pods, served)
        assert fc.realised("stow") == fc.capacity_share
        _, before = _stow_forecast(queued_pods, served, seen_rates=False)
        assert out["open_cartons"] == pytest.approx(before["open_cartons"])


def test_a_pick_stations_share_rises_with_its_open_lines_up_to_the_rate_model():
    """The share of its plan rate a pick station serves rises with its open lines (a pod is more
    often at the face), towards the closed loop's asymptote, never above the rate model's plan rate;
    the forecaster reads it at the open lines per open station, each up to its saturated level."""
    qs = [0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 13.0, 50.0, 1e6]
    shares = [pick_share(q) for q in qs]
    assert shares[0] == 0.0
    assert all(b > a for a, b in zip(shares, shares[1:], strict=False))  # rises with the work
    assert all(s <= min(PICK_SHARE_MAX, 1.0) for s in shares)  # bounded by the rate model
    assert shares[-1] == pytest.approx(PICK_SHARE_MAX, abs=1e-5)
    assert pick_share(3.0) < 0.75 < pick_share(13.0)  # below the old constant light, above it full
    fc = Forecaster(station_rate=lambda sid, n: 4.8 * n, blend={})
    dg = _floor(1, p2_staff=1, ahead=[], open_lines=300.0)
    assert fc._pick_share(dg, 300.0) == pytest.approx(pick_share(fc.station_cap_lines + 1.0))  # capped
    assert fc._pick_share(dg, 10.0) == pytest.approx(pick_share(5.0))  # two open stations
    fc.pick_share_rises = False
    assert fc._pick_share(dg, 10.0) == fc.capacity_share


# The station physics of the replay below, written out (not read from the forecaster): a share of
# the plan rate that rises with the open lines per station (balanced floor, docs/eluna_s13_fcast13.md).
def _served_share(q: float) -> float:
    return 0.85 * q / (q + 1.2)


def _rising_floor(seed: int, minutes: int = 300, height: float = 1.0):
    """Three open pick stations (4.8 lines a minute each at the plan's times) that serve the share
    their queue gives (`_served_share`), orders around a plan that rises 35% at minute 150 (known
    ahead) and falls back at 240: a floor that is not saturated, whose queue settles higher."""
    rng = np.random.default_rng(seed)

    def plan(t_s: float) -> float:
        return 1.35 if 150 <= t_s / 60.0 < 240 else 1.0

    w, out = 6.0, []
    for m in range(1, minutes + 1):
        arrived = 8.0 * plan(60.0 * m) + float(rng.normal(0.0, 1.0))
        share = min(height * _served_share(w / 3), 1.0)  # ``height`` x the balanced floor's curve
        served = min(3 * 4.8 * share + float(rng.normal(0.0, 1.0)), w + arrived)
        w += arrived - served
        dg = _digest(m, w, arrived, served)
        dg["stations"] = [
            {"id": f"P{i}", "kind": "pick", "associates": 1, "open_lines": w / 3, "lines_served": served / 3}
            for i in (1, 2, 3)
        ]
        out.append(dg)
    return plan, out


def test_replayed_on_a_floor_whose_stations_speed_up_the_rising_share_beats_the_constant():
    """Replayed over floors whose demand rises while they are not saturated: counting a constant
    75% of the plan rate, the forecaster sees no growth until the inflow passes it (and then grows
    without end); with the share rising with the open lines it forecasts the queue settling where
    the stations serve the inflow. Skill of open lines at 30 minutes, four floors pooled."""
    pairs: dict[bool, list] = {True: [], False: []}
    for seed in range(4):
        plan, series = _rising_floor(seed)
        for rises in (True, False):
            fc = Forecaster(
                plan_rate=plan, capacity=lambda dg: 3 * 4.8, station_rate=lambda sid, n: 4.8 * n, blend={}
            )
            if not rises:
                fc.pick_share_rises = False  # the constant share (the version before); default: rising
            for dg in series:
                fc.observe(dg)
            pairs[rises] += [r[:3] for r in fc.scored[("open_lines", 30)] if r[3] >= 60]
    skill = {k: skill_score(*np.asarray(v).T) for k, v in pairs.items()}
    assert skill[True] > 0.0
    assert skill[True] > skill[False] + 0.2


# ---------------------------------------------------------------- self-calibration (fcast14)


def test_the_online_blend_learns_the_runs_own_mixture_from_the_prior():
    """Pairs whose outcome is 0.4 of the way from persistence to the model: with few pairs the
    weight stays near the fitted prior, with many it is the run's own least-squares weight."""
    rng = np.random.default_rng(3)
    fc = Forecaster(blend={("open_lines", 30): 1.0})
    fc.self_blend = True
    assert fc.online_blend("open_lines", 30) == 1.0  # nothing seen: the prior
    for minute in range(60, 660):  # one matured pair a minute, made 30 minutes before
        now = 20.0 + rng.normal(0.0, 5.0)
        d = rng.normal(0.0, 8.0)
        fc._learn_blend("open_lines", 30, now, now + 0.4 * d + rng.normal(0.0, 1.0), now + d, minute)
        if minute == 64:
            assert fc.online_blend("open_lines", 30) > 0.85  # 5 minutes against the prior's 60
    n = fc.blend_tau_min  # the decayed sums' weight once many minutes are seen
    prior = fc.blend_prior_min
    assert fc.online_blend("open_lines", 30) == pytest.approx((0.4 * n + prior) / (n + prior), abs=0.06)
    fc.blend_prior_min = 0.0
    assert fc.online_blend("open_lines", 30) == pytest.approx(0.4, abs=0.05)
    assert fc.online_blend("cycle", 30) == 1.0  # another target keeps its own prior
    fc.self_blend = False
    assert fc._blend("open_lines", 30, 10.0, 0.0) == 10.0  # off: the fitted weight


def _fast_floor(seed: int, height: float, minutes: int = 300):
    """`_rising_floor`'s three stations serving ``height`` times the balanced floor's curve."""
    return _rising_floor(seed, minutes, height)


@pytest.mark.parametrize("height,bounds", [(1.2, None), (0.8, (0.7, 1.3))])
def test_the_pick_scale_learns_a_floors_known_height(height, bounds):
    """A floor whose stations serve ``height`` times the balanced curve: the seen scale gets there,
    and the open lines forecast at 30 minutes beats the one counting on the balanced curve. A height
    below 1 is taken only where the bounds let it (by default the scale is one-sided)."""
    pairs: dict[bool, list] = {True: [], False: []}
    scales = []
    for seed in range(3):
        plan, series = _fast_floor(seed, height)
        for on in (True, False):
            fc = Forecaster(
                plan_rate=plan, capacity=lambda dg: 3 * 4.8, station_rate=lambda sid, n: 4.8 * n, blend={}
            )
            fc.self_scale = on
            if bounds:
                fc.scale_bounds = bounds
            for dg in series:
                fc.observe(dg)
            pairs[on] += [r[:3] for r in fc.scored[("open_lines", 30)] if r[3] >= 60]
            if on:
                scales.append(fc.pick_scale())
            else:
                assert fc.pick_scale() == 1.0  # off: the balanced curve
    assert np.mean(scales) == pytest.approx(height, abs=0.06)
    skill = {k: skill_score(*np.asarray(v).T) for k, v in pairs.items()}
    assert skill[True] > skill[False] + 0.05


def test_the_pick_scale_is_one_sided_by_default():
    """A floor slower than the balanced curve (a light floor's few open lines) keeps the curve."""
    plan, series = _fast_floor(0, 0.8)
    fc = Forecaster(plan_rate=plan, capacity=lambda dg: 3 * 4.8, station_rate=lambda sid, n: 4.8 * n)
    fc.self_scale = True
    for dg in series:
        fc.observe(dg)
    assert fc.pick_scale() == 1.0
    assert fc._scale_acc[0] < 0.9 * fc._scale_acc[1]  # it did see the slower floor


def test_the_self_calibration_uses_only_the_past():
    """Two runs equal up to minute 150 and different after: every forecast made up to minute 150
    is the same (no later outcome reaches an earlier forecast through the calibration)."""
    plan, a = _fast_floor(7, 1.2)
    _, b = _fast_floor(8, 0.8)
    b = a[:150] + b[150:]
    outs = []
    for series in (a, b):
        fc = Forecaster(plan_rate=plan, capacity=lambda dg: 3 * 4.8, station_rate=lambda sid, n: 4.8 * n)
        fc.self_blend = fc.self_scale = True
        outs.append([fc.observe(dg) for dg in series])
    assert outs[0][:150] == outs[1][:150]
    assert outs[0][150:] != outs[1][150:]


# ---------------------------------------------------------------- drive units per station (fcast15)


def _two_station_fleet(minute, *, free_pct, usable, pick_trip, battery_mean):
    """Two open pick stations (7 lines a minute each at the plan's times), 10 open lines each, 10
    lines a minute in and out; the fleet as `_fleet_digest` has it."""
    dg = _fleet_digest(
        minute,
        free_pct=free_pct,
        charging_pct=[[50, 4]],
        usable=usable,
        usable_idle=1,
        pick_trip=pick_trip,
        battery_mean=battery_mean,
        open_lines=20.0,
    )
    dg["stations"] = [
        {"id": p, "kind": "pick", "associates": 1, "open_lines": 10.0, "lines_served": 5.0}
        for p in ("P1", "P2")
    ]
    return dg


@pytest.mark.parametrize("curve", [True, False])
def test_units_queued_at_the_stations_are_a_buffer_when_some_leave_for_the_chargers(curve):
    """16 units on pick trips at 2 stations (8 a station, about 3 more than the faces need). When 6
    are about to reach their low level (4 pads, all taken), 5.5 a station are left: with the units
    counted per station (`fleet_units_curve`) the stations keep their service and the forecast stays
    near now, where each unit lost costing what a unit brings (the linear rule, off) forecasts
    lines piling up. When 12 leave (2.5 a station) the faces wait for pods and the lines pile up
    either way."""

    def forecast(free_pct):
        fc = Forecaster(
            capacity=lambda dg: 14.0, station_rate=lambda sid, n: 7.0 * n, blend={}, fleet_rates=RATES
        )
        fc.fleet_units_curve = curve
        mean = 0.6
        for m in range(1, 91):
            mean += (0.03 * 4 - 0.004 * 17) / 21
            fc.observe(_two_station_fleet(m, free_pct=[[60, 17]], usable=17, pick_trip=16, battery_mean=mean))
        dg = _two_station_fleet(91, free_pct=free_pct, usable=17, pick_trip=16, battery_mean=mean)
        return fc.observe(dg)["open_lines"][30], fc

    some, fc = forecast([[21, 6], [60, 11]])
    assert min(fc._last_usable) <= 11  # the 6 do leave (and wait for the pads)
    many, fc = forecast([[21, 12], [60, 5]])
    assert min(fc._last_usable) <= 5
    assert many > 20.0 + 40.0
    if curve:
        assert abs(some - 20.0) < 10.0
    else:
        assert some > 20.0 + 40.0
