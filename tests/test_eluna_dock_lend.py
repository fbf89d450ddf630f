"""A stower lent to pick until a known trailer (`[agent] lend_until_dock`, controller/eluna/dock_lend.py)."""

from __future__ import annotations

from test_eluna import _pressed_pick_digest, _wave_agent

from fctwin.controller.eluna import MoveAssociates
from fctwin.controller.eluna.dock_lend import clear_horizons, due_within

FLOOR = {"P1": 1, "P2": 1, "S1": 1, "S2": 1, "S3": 1}


def _stow_lends(plans):
    return [a for p in plans for a in p if isinstance(a, MoveAssociates) and a.source.startswith("S")]


def _trailer_digest(board, *, due_in_min):
    """Pick pressed, stow quiet; a 60-carton trailer on the dock schedule ``due_in_min`` ahead (None:
    nothing scheduled). The stow stations were seen to serve 0.3 cartons a minute, which no trailer
    of 60 passes with a stower fewer (the rule without the option)."""
    dg = _pressed_pick_digest(board, cartons=3)
    ahead = {str(m): (60 if due_in_min is not None and due_in_min <= m else 0) for m in (1, 15, 30, 60)}
    dg.update(dock_ahead=ahead, dock_peak_h=0 if due_in_min is None else 60, dock_expected_per_h=30.0)
    dg.update(lines_arrived=4, cartons_arrived=0.5)
    return dg


def _agent(on: bool):
    agent, board, levers, d = _wave_agent(FLOOR, pool=6)
    agent.lend_until_dock = on
    agent._busy = {"stow": (60, 0.3), "pick": (60, 3.0)}
    agent._arriving = {"pick": 4.0, "stow": 0.5}
    return agent, board, levers, d


def test_the_dock_schedule_helpers():
    ahead = {"1": 0, "15": 0, "30": 12, "60": 60}
    assert not due_within(ahead, 15) and due_within(ahead, 30)
    assert clear_horizons(ahead, (30, 60)) == ()
    assert clear_horizons({"1": 0, "15": 0, "30": 0, "60": 5}, (30, 60)) == (30,)
    assert clear_horizons({}, (30, 60)) == (30, 60)


def test_a_stower_is_lent_before_a_trailer_only_with_the_option_and_not_into_it():
    """A trailer 90 minutes ahead: without the option no stower is lent to pick (the stations left
    cannot serve the trailer's hour); with it one is (the person will be home before it). With the
    trailer 45 minutes ahead the forecast an hour ahead holds it: the lend is still allowed, checked
    on the stow work before it. With the trailer 20 minutes ahead, none (it is inside the horizon)."""
    for due_min, on, lends in ((90, False, False), (90, True, True), (45, True, True), (20, True, False)):
        agent, board, _, _ = _agent(on)
        # the trailer is in the 60-minute forecast when it lands within the hour
        agent.last_forecast = {"open_cartons": {15: 3.0, 30: 4.0, 60: 60.0 if due_min <= 60 else 5.0}}
        dg = _trailer_digest(board, due_in_min=due_min)
        agent._observe_rates(dg)
        agent._busy = {"stow": (60, 0.3), "pick": (60, 3.0)}  # what _observe_rates' digest did not show
        got = bool(_stow_lends(agent.candidates(dg)))
        assert got == lends, (due_min, on, agent.candidates(dg))


def test_the_lent_stower_goes_home_before_the_trailer_whatever_the_lookahead_says():
    """Lent with the option on, pick still pressed and stow quiet before the trailer: the person
    stays while the trailer is 40 minutes away and is sent home once it is due within 15 minutes,
    a way home taken as the lend's commitment (it keeps service whatever the sample)."""
    agent, board, levers, d = _agent(True)
    lend = [MoveAssociates("S1", "P1", 1)]
    levers.apply(lend[0], 600.0)
    agent._note_lending(lend)
    board.advance(900.0, d)
    agent.last_forecast = {"open_cartons": {15: 3.0, 30: 4.0, 60: 60.0}}
    far = _trailer_digest(board, due_in_min=40)
    far["open_lines"] = 24 + 60  # pick still pressed
    agent._observe_rates(far)
    plans = agent.candidates(far)
    assert [MoveAssociates("P1", "S1", 1)] not in plans, plans
    near = _trailer_digest(board, due_in_min=10)
    near["open_lines"] = 24 + 60
    agent._observe_rates(near)
    plans = agent.candidates(near)
    assert plans[0] == [MoveAssociates("P1", "S1", 1)], plans
    assert agent._return_dock == [plans[0]]
    worse = {"units_picked": 100, "units_stowed": 10, "open_pick_units": 90, "open_stow_units": 300}
    nothing = {"units_picked": 300, "units_stowed": 100, "open_pick_units": 40, "open_stow_units": 30}
    assert agent._keeps(worse, nothing, plans[0])


def test_without_the_option_the_trailer_branch_is_the_release_test():
    """Off (the default): the lend with a trailer anywhere ahead needs the stations left to serve its
    hour at their seen rate; a trailer within the hour is never a reason to send anyone home by the
    dock rule (`_return_dock` stays empty)."""
    agent, board, levers, d = _agent(False)
    lend = [MoveAssociates("S1", "P1", 1)]
    levers.apply(lend[0], 600.0)
    agent._note_lending(lend)
    board.advance(900.0, d)
    agent.last_forecast = {"open_cartons": {15: 3.0, 30: 4.0, 60: 5.0}}
    near = _trailer_digest(board, due_in_min=10)
    near["open_lines"] = 24 + 60
    agent._observe_rates(near)
    agent.candidates(near)
    assert agent._return_dock == []


def _outage_floor(on: bool):
    """Three pick stations (P3 down, its person in the pool), two stowers; pick seen to serve 3 lines
    a station-minute, 10 lines a minute arriving in the plan's busiest hour ahead."""
    from fctwin.controller.eluna.labour import LabourConfig, Outage

    agent, _, levers, d = _wave_agent({"P1": 1, "P2": 1, "P3": 1, "S1": 1, "S2": 1}, pool=6)
    board = levers.board
    kinds = dict(board.config.kinds)
    cfg = LabourConfig(
        staffing=dict(board.config.staffing), kinds=kinds, pool=6, outages=(Outage("P3", 0.0, 3600.0),)
    )
    board.__init__(cfg)
    board.advance(60.0, d)
    assert "P3" in board.down_until and board.staffed["P3"] == 0
    agent.outage_peak = on
    agent._busy = {"pick": (60, 3.0), "stow": (60, 0.3)}
    agent._arriving = {"pick": 10.0, "stow": 0.5}
    return agent, board, levers, d


def test_pick_during_an_outage_counts_the_plans_hour_at_the_seen_rate():
    """Two pick stations open at 3 lines a minute each against 10 arriving: an hour leaves 240 lines.
    The forecast sees 20 lines (pick under the gate): without the option nothing is rolled forward;
    with it pick is pressed and a stower lent to pick is among the candidates. A third person at
    pick lowers the number (it depends on the staffing judged), and once the station is back it is
    gone."""
    for on in (False, True):
        agent, board, levers, d = _outage_floor(on)
        agent.last_forecast = {
            "open_lines": {30: 20.0, 60: 20.0},
            "open_cartons": {15: 3.0, 30: 4.0, 60: 5.0},
        }
        dg = _pressed_pick_digest(board, cartons=3)
        dg.update(open_lines=20, backlog_lines=0)
        agent._pick_open_lines = 20.0
        plans = agent.candidates(dg)
        assert bool(_stow_lends(plans)) == on, (on, plans)
    staffed = {sid: board.planned(sid) for sid in board.staffed}
    work = agent.kind_work(dg)
    two = agent._max_pressure({"pick": work["pick"]}, staffed)
    three = agent._max_pressure({"pick": work["pick"]}, {**staffed, "P1": 2})
    assert two >= agent.gate_min and three < two
    board.advance(3700.0, d)  # P3 repaired
    assert "P3" not in board.down_until
    assert agent._pick_plan_work(2.0) == 0.0
