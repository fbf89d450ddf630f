"""The end of the shift (`[agent] shift_end`, controller/eluna/shift_end.py): the last horizon ends at
the shift's end and weighs the work open then whole; lends look only as far ahead as the shift
lasts; a way back to the plan in the last horizon must pay for itself. Off, nothing changes."""

from __future__ import annotations

from test_eluna import _lead_digest, _pressed_pick_digest, _wave_agent

from fctwin.controller.eluna import POOL, MoveAssociates
from fctwin.controller.eluna.shift_end import horizon_to_end_s, horizons_within

SHIFT_END_S = 4 * 3600.0


class _LastHalfHour:
    """A lookahead stub near the end of the shift: a floater called in works 20 units of the pick
    backlog (20 units less open at the horizon) for a third of a labour hour. It finishes old orders
    doing nothing leaves open: the p95 of the finished orders rises (900 -> 1,100 s), the p95 of
    every order the horizon saw, the open ones at their age, falls (1,500 -> 1,400 s)."""

    def __init__(self):
        self.calls: list[tuple[float, str]] = []

    def evaluate(self, plans, horizon_s, key):
        self.calls.append((horizon_s, key))
        nothing = {"units_picked": 300, "units_stowed": 100, "open_pick_units": 200, "open_stow_units": 24,
                   "cycle_p95_s": 900.0, "cycle_p95_all_s": 1500.0, "labour_h": 2.0}  # fmt: skip
        call_in = dict(nothing, units_picked=320, open_pick_units=180, labour_h=2.0 + 1.0 / 3.0,
                       cycle_p95_s=1100.0, cycle_p95_all_s=1400.0)  # fmt: skip
        return [dict(nothing) if not p else dict(call_in) for p in plans]


def _call_in_agent(minute, *, on):
    agent, board, levers, _ = _wave_agent({"P1": 1, "P2": 1, "S1": 1, "S2": 1}, pool=5)
    agent.shift_end_s = SHIFT_END_S
    agent.shift_end = on  # the scene's `[agent] shift_end`
    agent.lookahead = _LastHalfHour()
    agent.last_forecast = {}
    agent.labour_price = lambda: 90.0  # units a labour hour is worth (the run's so far)
    call_in = [MoveAssociates(POOL, "P1", 1)]
    agent.candidates = lambda dg: [list(call_in)]
    return agent, {"minute": minute, "t_s": 60.0 * minute}


def test_the_last_horizon_ends_at_the_shift_end_and_weighs_the_work_open_then_whole():
    """20 minutes before the end a floater would work 20 units of the pick backlog for a third of
    a labour hour (30 units at the run's price). Weighed as inside the shift (0.5 of the 20 units
    left open less) the call-in is worth 20 + 10 - 30 = 0: refused, and the lookahead runs 30
    minutes, past the end. With the option the horizon ends at the shift's end and the work left
    open then is carried into the next shift whole: 20 + 20 - 30 = 10 > 2% of 400 units, taken;
    its order-cycle guard reads every order's p95 (the open ones at their age: they go to the next
    shift with it), which the call-in lowers, not the finished orders' (+200 s, refused). Far from
    the end, the same plan is judged as without the option; at the end, no decision."""
    agent, dg = _call_in_agent(220, on=False)
    assert agent._decide(dg) == []
    assert {h for h, _ in agent.lookahead.calls} == {30 * 60.0}

    agent, dg = _call_in_agent(220, on=True)
    recs = agent._decide(dg)
    assert len(recs) == 1 and recs[0].applied and recs[0].horizon_s == 20 * 60.0, recs
    assert {h for h, _ in agent.lookahead.calls} == {20 * 60.0}
    assert recs[0].predicted["objective"] > 0 and recs[0].predicted["cycle_p95_s"] == -100.0

    agent, dg = _call_in_agent(120, on=True)
    assert agent._decide(dg) == []
    assert {h for h, _ in agent.lookahead.calls} == {30 * 60.0}

    agent, dg = _call_in_agent(240, on=True)
    assert agent._decide(dg) == [] and agent.lookahead.calls == []


def test_the_horizon_and_the_forecasts_stop_at_the_shift_end():
    assert horizon_to_end_s(13200.0, 1800.0, SHIFT_END_S) == 1200.0
    assert horizon_to_end_s(9000.0, 1800.0, SHIFT_END_S) == 1800.0
    assert horizon_to_end_s(SHIFT_END_S - 30.0, 1800.0, SHIFT_END_S) == 0.0
    assert horizons_within(9000.0, SHIFT_END_S, (30, 60)) == (30, 60)
    assert horizons_within(12000.0, SHIFT_END_S, (30, 60)) == (30,)
    assert horizons_within(13200.0, SHIFT_END_S, (30, 60)) == ()


def test_a_stower_is_lent_for_the_last_minutes_when_stow_is_needed_only_after_the_end():
    """Pick pressed with pods waiting, 20 minutes left; the forecast holds a carton pile an hour
    ahead that would press stow without one of its people. Without the option no stower is lent
    (stow needs them an hour ahead); with it, an hour ahead is after the shift: the stower goes to
    pick while the work now leaves stow quiet."""
    agent, board, _, _ = _wave_agent({"P1": 1, "P2": 1, "S1": 1, "S2": 1, "S3": 1}, pool=6)
    agent.shift_end_s = SHIFT_END_S
    dg = _pressed_pick_digest(board, cartons=3)
    dg.update(minute=220, t_s=13200.0)
    agent.last_forecast = {"open_cartons": {15: 3.0, 30: 4.0, 60: 40.0}}

    def lends(plans):
        return [a for p in plans for a in p if isinstance(a, MoveAssociates) and a.source.startswith("S")]

    assert not lends(agent.candidates(dg))
    agent.shift_end = True
    assert lends(agent.candidates(dg))


class _TidyWayHome:
    """A lookahead stub: the lent stower's way home changes nothing over the horizon."""

    def __init__(self):
        self.calls = []

    def evaluate(self, plans, horizon_s, key):
        self.calls.append((horizon_s, key))
        nothing = {"units_picked": 300, "units_stowed": 100, "open_pick_units": 20, "open_stow_units": 24,
                   "cycle_p95_s": 300.0, "labour_h": 2.5}  # fmt: skip
        return [dict(nothing) for _ in plans]


def test_in_the_last_horizon_a_way_home_must_pay_for_itself():
    """A stower lent to pick, pick quiet without them: the way home is due (tidying up the plan).
    Inside the shift it is taken whenever it keeps service; in the shift's last horizon, where it
    buys nothing (the same future as doing nothing), it is not."""

    def agent_at(minute, on):
        agent, board, levers, d = _wave_agent({"P1": 1, "P2": 1, "S1": 1, "S2": 1, "S3": 1}, pool=5)
        agent.shift_end_s = SHIFT_END_S
        agent.shift_end = on
        lend = [MoveAssociates("S1", "P1", 1)]
        levers.apply(lend[0], 600.0)
        agent._note_lending(lend)
        board.advance(900.0, d)
        agent.lookahead = _TidyWayHome()
        agent.last_forecast = {"open_cartons": {15: 3.0, 30: 4.0, 60: 5.0}}
        agent.labour_price = lambda: 160.0
        quiet = _lead_digest(minute, board, pick_lines=2, cartons=2, pods_at={"P1": 1})
        quiet.update(open_lines=4, backlog_lines=0, open_cartons=3)
        quiet["unit_states"] = {"idle": 30, "pick_trip": 8, "stow_trip": 2, "charging": 0, "failed": 0}
        return agent, quiet

    home = [MoveAssociates("P1", "S1", 1)]
    for minute, on in ((220, False), (120, True)):
        agent, dg = agent_at(minute, on)
        recs = agent._decide(dg)
        assert recs and recs[0].action["actions"] == [
            {"source": "P1", "target": "S1", "n": 1, "kind": "move_associates"}
        ], (minute, on, recs)
    agent, dg = agent_at(220, True)
    assert home in agent.candidates(dg)
    assert agent._decide(dg) == []


class _HomeBeforeTheEnd:
    """A lookahead stub: the lent stower's way home stows 3 cartons more (36 units) by the end and
    picks 5 units fewer; the pick orders wait longer (the p95 of every order the horizon saw +200 s)."""

    def __init__(self):
        self.calls = []

    def evaluate(self, plans, horizon_s, key):
        self.calls.append((horizon_s, key))
        nothing = {"units_picked": 300, "units_stowed": 100, "open_pick_units": 20, "open_stow_units": 84,
                   "cycle_p95_s": 300.0, "cycle_p95_all_s": 400.0, "labour_h": 2.5}  # fmt: skip
        home = dict(nothing, units_picked=295, units_stowed=136, open_pick_units=25, open_stow_units=48,
                    cycle_p95_all_s=600.0)  # fmt: skip
        return [dict(nothing) if not p else dict(home) for p in plans]


def test_a_way_home_before_the_end_is_judged_on_all_the_work_left_for_the_next_shift():
    """In the shift's last horizon a lent stower's way home that clears 3 cartons and leaves 5 pick
    units more is taken: all the work open at the end goes to the next shift alike (31 units less);
    the pick orders' longer wait (every order's p95 +200 s) does not hold the stower at pick while
    the cartons pile up."""
    agent, board, levers, d = _wave_agent({"P1": 1, "P2": 1, "S1": 1, "S2": 1, "S3": 1}, pool=5)
    agent.shift_end_s = SHIFT_END_S
    agent.shift_end = True
    levers.apply(MoveAssociates("S1", "P1", 1), 600.0)
    agent._note_lending([MoveAssociates("S1", "P1", 1)])
    board.advance(900.0, d)
    agent.lookahead = _HomeBeforeTheEnd()
    agent.last_forecast = {"open_cartons": {15: 7.0, 30: 7.0, 60: 7.0}}
    agent.labour_price = lambda: 160.0
    dg = _lead_digest(210, board, pick_lines=2, cartons=2, pods_at={"P1": 1})
    dg.update(open_lines=4, backlog_lines=0, open_cartons=7)
    dg["unit_states"] = {"idle": 30, "pick_trip": 8, "stow_trip": 2, "charging": 0, "failed": 0}
    assert [MoveAssociates("P1", "S1", 1)] in agent.candidates(dg)
    recs = agent._decide(dg)
    assert recs and recs[0].action["actions"] == [
        {"source": "P1", "target": "S1", "n": 1, "kind": "move_associates"}
    ], recs
