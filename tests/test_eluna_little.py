"""The forecaster's unsaturated level by Little's law (``Forecaster.little_level``,
docs/eluna_s17_fcast17.md): the open lines a floor keeps are its arrivals times the time a line stays
open, so the level moves with the inflow ahead; it is learned once the floor has filled from empty.
Off (the default) the forecasts are the ones before it, bit for bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fctwin.controller.eluna import Forecaster

ROOT = Path(__file__).resolve().parents[1]


def _digest(minute: int, open_lines: float, arrived: float, served: float, n_pick: int = 3) -> dict:
    """A small floor of ``n_pick`` open pick stations sharing the open lines evenly, nothing waiting
    unassigned (an unsaturated floor)."""
    return {
        "minute": minute,
        "t_s": 60.0 * minute,
        "open_lines": open_lines,
        "open_cartons": 0,
        "lines_arrived": arrived,
        "cartons_arrived": 0,
        "backlog_lines": 0,
        "cycle_mean_s": 60.0 + 5.0 * open_lines,
        "stations": [
            {
                "id": f"P{i}",
                "kind": "pick",
                "associates": 1,
                "open_lines": open_lines / n_pick,
                "lines_served": served / n_pick,
            }
            for i in range(1, n_pick + 1)
        ],
        "congestion_waiting": [[0] * 4 for _ in range(4)],
    }


def _doubling_plan(t_s: float) -> float:
    return 2.0 if t_s >= 6000.0 else 1.0  # the plan doubles the orders from minute 100 (known ahead)


def _steady_forecaster(little: bool) -> Forecaster:
    """90 minutes of a floor where 8 lines arrive a minute and each stays open 2 minutes (16 open),
    served as they arrive, with capacity to spare (40 lines a minute): the level is 16 lines."""
    fc = Forecaster(plan_rate=_doubling_plan, capacity=lambda dg: 40.0, blend={})
    fc.little_level = little
    for m in range(1, 91):
        fc.observe(_digest(m, 16.0, 8.0, 8.0))
    return fc


def test_the_level_follows_the_inflow_ahead_by_littles_law():
    """The plan doubles the orders at minute 100, well within capacity: by Little's law a line still
    stays open 2 minutes, so the floor keeps twice the open lines (32). With the level learned as a
    number (off) the forecast 30 minutes ahead stays at 16; with ``little_level`` it rises towards
    32, and the level the model pulls to at each minute ahead is the learned one times the inflow
    then over the arrivals it was learned at."""
    on, off = _steady_forecaster(True), _steady_forecaster(False)
    dg = _digest(91, 16.0, 8.0, 8.0)
    inflow = [8.0 * _doubling_plan(60.0 * (91 + k)) for k in range(1, 61)]
    levels = on._little_level(on._level["open_lines"].v, inflow)
    assert levels[0] == pytest.approx(16.0, rel=1e-6)  # the inflow now: the level as learned
    assert levels[-1] == pytest.approx(32.0, rel=1e-6)  # twice the inflow: twice the open lines
    f_on, f_off = on.observe(dg)["open_lines"][30], off.observe(dg)["open_lines"][30]
    assert f_off == pytest.approx(16.0, abs=0.5)
    # 21 minutes at the doubled inflow, pulled towards 32 with the 10-minute time constant
    assert f_on == pytest.approx(32.0 - 16.0 * np.exp(-21 / 10.0), abs=1.0)


def _filling(little: bool, minutes: int = 40) -> Forecaster:
    """A floor filling from empty: 8 lines arrive a minute, none served for 4 minutes while the first
    pods travel, then served as they arrive, the open lines levelling at 16 from minute 8."""
    fc = Forecaster(capacity=lambda dg: 40.0, blend={})
    fc.little_level = little
    w = 0.0
    for m in range(1, minutes + 1):
        served = 0.0 if m <= 4 else (8.0 + min(w - 16.0, 8.0) if m <= 8 else 8.0)
        w = max(w + 8.0 - served, 0.0)
        fc.observe(_digest(m, w, 8.0, served))
    return fc


def test_the_level_is_learned_once_the_floor_has_filled():
    """Learned from the first minute, the 30-minute mean still carries the empty floor 30 minutes
    later; learned once the floor serves what arrives (``fill_window_min`` minutes of it), it is the
    filled floor's 16 lines."""
    on, off = _filling(True), _filling(False)
    assert on._filled
    assert on.unsaturated_level() == pytest.approx(16.0, abs=0.5)
    assert off.unsaturated_level() < 14.5


def test_a_floor_saturated_before_it_fills_keeps_the_level_of_before():
    """Half the work that arrives can be served for 40 minutes (a plan with stations closed), then
    people come and the backlog drains: the floor never filled from empty, and its first minutes
    with nothing waiting are the backlog's tail, far above its level. It keeps the level learned
    from the first minute, as before (not the tail, and not none, which would drain the forecast to
    an empty floor)."""

    def run(little: bool) -> Forecaster:
        fc = Forecaster(capacity=lambda dg: 4.0, blend={})
        fc.little_level = little
        w = 0.0
        for m in range(1, 101):
            served = min(w, 4.0 if m <= 40 else 14.0)  # a line waits a minute or more
            w += 8.0 - served
            dg = _digest(m, w, 8.0, served)
            dg["backlog_lines"] = int(max(w - 24.0, 0.0))  # beyond the dispatch cap the lines wait
            fc.observe(dg)
        return fc

    on, off = run(True), run(False)
    assert on._fill_missed and not on._filled
    assert off.unsaturated_level() > 5.0
    assert on.unsaturated_level() == off.unsaturated_level()


def _wandering_floor(seed: int = 5, minutes: int = 150) -> list[dict]:
    """A floor that fills from empty and then wanders around its level, with bursts of arrivals and
    a plan that rises 30% at minute 100."""
    rng = np.random.default_rng(seed)
    w, out = 0.0, []
    for m in range(1, minutes + 1):
        arrived = float(rng.poisson(9.0 * (1.3 if m >= 100 else 1.0)))
        served = 0.0 if m <= 3 else min(w, float(rng.poisson(13.0)))  # a line waits a minute or more
        w = max(w + arrived - served, 0.0)
        out.append(_digest(m, w, arrived, served))
    return out


# The forecasts of record of `_wandering_floor` at minutes 60, 90, 120 and 150 (open lines 15 / 30 /
# 60 minutes ahead), computed with the forecaster before `little_level` existed (main fb7105b).
BEFORE = {
    60: (8.817592, 9.000021, 8.402135),
    90: (8.368138, 8.896541, 7.185893),
    120: (9.853924, 10.26759, 8.92839),
    150: (14.508876, 13.506771, 16.750979),
}


def _replay(little: bool) -> dict[int, tuple[float, ...]]:
    plan = lambda t_s: 1.3 if t_s >= 6000.0 else 1.0  # noqa: E731
    fc = Forecaster(plan_rate=plan, capacity=lambda dg: 12.0, station_rate=lambda sid, n: 4.0 * n, blend=None)
    fc.little_level = little
    out = {}
    for dg in _wandering_floor():
        fc_now = fc.observe(dg)
        if dg["minute"] in BEFORE:
            out[dg["minute"]] = tuple(fc_now["open_lines"][h] for h in (15, 30, 60))
    return out


def test_off_the_forecasts_are_the_ones_before_and_on_they_move():
    off, on = _replay(False), _replay(True)
    for minute, values in BEFORE.items():
        assert off[minute] == pytest.approx(values, rel=1e-6, abs=1e-6)
    assert any(abs(a - b) > 0.5 for m in BEFORE for a, b in zip(on[m], off[m], strict=True))


def test_the_scene_switch_reaches_the_runs_forecaster():
    """``[agent] little_forecast`` (default on since session 18) is what sets the level in a run:
    a scene that says nothing gets it, ``false`` gives the session-17 forecaster."""
    from fctwin.sim.eluna.manager import forecaster_for
    from fctwin.sim.scene import load_scene

    path = ROOT / "scenes" / "eluna_balanced.toml"
    assert forecaster_for(load_scene(path)).little_level is True
    off = load_scene(path, overrides={"agent.little_forecast": False})
    assert forecaster_for(off).little_level is False
