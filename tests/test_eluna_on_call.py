"""The people the agent released stay on call (`fctwin.controller.eluna.on_call`, with ``[agent]
release_pace``): called back when a kind turns hot, judged on service and not priced as a hire,
and not released again right after. Hand-made floors (`test_eluna_release_pace`'s quiet floor) and
a lookahead faked per plan; the runs are in docs/eluna_s18_recall18.md."""

from __future__ import annotations

from test_eluna_release_pace import _agent, _digest, _Quiet

from fctwin.controller.eluna import POOL
from fctwin.controller.eluna.actions import from_dict
from fctwin.controller.eluna.labour import Move
from fctwin.controller.eluna.on_call import RECALL_HOLD_MIN

HOT_LINES = 100  # pick: 100 lines at 12.5 s for 4 pickers is 1.3 of the gate's minutes, 0.75


class _Lookahead:
    """Each plan's 30 minutes: a person leaving saves their labour and serves no less (the floor is
    quiet); a person called from the pool to a pick station costs their labour and, while pick is
    ``hot``, serves 25 more units and leaves 25 fewer open with a shorter order cycle."""

    def __init__(self) -> None:
        self.hot = False

    def evaluate(self, plans, horizon_s, key):
        out = []
        for plan in plans:
            r = {
                "units_picked": 600.0,
                "units_stowed": 40.0,
                "open_pick_units": 50.0,
                "open_stow_units": 20.0,
                "labour_h": 4.0,
                "cycle_p95_s": 200.0,
            }
            for a in plan:
                if a.target == POOL:
                    r["labour_h"] -= 0.45 * a.n
                elif a.source == POOL:
                    r["labour_h"] += 0.5 * a.n
                    if self.hot and a.target.startswith("P"):
                        r["units_picked"] += 25.0 * a.n
                        r["open_pick_units"] -= 25.0 * a.n
                        r["cycle_p95_s"] -= 40.0
            out.append(r)
        return out


def _moves(rec) -> list:
    return [from_dict(a) for a in rec.action["actions"]]


def _hot(board, minute: int) -> dict:
    return {**_digest(board, minute), "open_lines": HOT_LINES}


def _released(*, release_pace: bool = True):
    """The quiet floor after an hour; the agent releases one stower (applied) and they reach the pool."""
    agent, board = _agent(60, release_pace=release_pace)
    agent.lookahead = _Lookahead()
    agent._cum = {"units_picked": 1300.0, "units_stowed": 100.0}
    board.advance(3600.0, _Quiet())
    recs = agent._decide(_digest(board, 60))
    assert recs and recs[0].applied, "the quiet floor released nobody"
    assert all(a.target == POOL and a.source.startswith("S") for a in _moves(recs[0])), recs[0].text
    board.advance(3600.0 + 600.0, _Quiet())  # walked off the floor
    return agent, board


def _turn_hot(agent, board, minute: int):
    agent.lookahead.hot = True
    agent.last_forecast = {"open_lines": {30: HOT_LINES, 60: HOT_LINES}, "open_cartons": {30: 4.0, 60: 4.0}}
    return agent._decide(_hot(board, minute))


def test_a_released_person_is_called_back_when_a_kind_turns_hot():
    agent, board = _released()
    assert len(agent.on_call.released) == 1
    picks = sum(n for sid, n in board.staffed.items() if sid.startswith("P"))
    recs = _turn_hot(agent, board, 70)
    assert recs and recs[0].applied, "pick turned hot and the released stower stayed in the pool"
    moves = _moves(recs[0])
    assert all(a.source == POOL and a.target.startswith("P") for a in moves), recs[0].text
    assert agent.on_call.released == []
    assert recs[0]._start["price"] == 0.0, "its realised effect scored at a hire's price"
    # the evidence an operator reads: the confirmation at the price the recall was judged on, where
    # it beats doing nothing (at a hire's price it would read as a loss)
    ev = recs[0].evidence
    assert ev["labour_price"]["plan"] == 0.0 < ev["labour_price"]["lookahead"]
    assert ev["confirm"]["plan"]["objective"] > ev["confirm"]["nothing"]["objective"]
    board.advance(70 * 60.0 + 600.0, _Quiet())
    assert sum(n for sid, n in board.staffed.items() if sid.startswith("P")) == picks + 1


def test_a_released_person_is_not_called_back_while_the_floor_stays_quiet():
    agent, board = _released()
    agent.lookahead.hot = True  # the lookahead would reward them, but no kind is hot: no plan for it
    assert (
        agent._on_call_recalls(
            _digest(board, 70), agent.kind_work(_digest(board, 70)), dict(board.staffed), board.floaters
        )
        == []
    )
    for rec in agent._decide(_digest(board, 70)):
        assert not any(a.source == POOL for a in _moves(rec)), rec.text
    assert len(agent.on_call.released) == 1


def test_a_recall_is_not_priced_as_a_hire():
    """The same plan from the pool, judged on the labour price for the rest of the shift (a hire),
    loses; as the undoing of the agent's own release it is judged on its service and wins."""
    agent, board = _released()
    agent.lookahead.hot = True
    dg = _hot(board, 70)
    agent.last_forecast = {"open_lines": {30: HOT_LINES, 60: HOT_LINES}, "open_cartons": {30: 4.0, 60: 4.0}}
    cands = agent.candidates(dg)
    assert agent._on_call_plans, "no recall plan on a hot pick side"
    plan = agent._on_call_plans[0]
    r0, rb = agent.lookahead.evaluate([[], plan], 1800.0, "x")
    hire = agent.labour_price() * (agent.shift_end_s - dg["t_s"]) / 1800.0
    assert agent._price_of(plan, hire) == 0.0
    assert agent._gain_of(rb, r0, plan, hire) > agent.min_gain * 640.0
    agent._on_call_plans = []  # the same plan as any call-in from the pool: a hire
    assert plan in cands and agent._gain_of(rb, r0, plan, hire) < 0.0


def test_no_release_right_after_a_recall():
    """Called back at minute 70, the floor quiet again at 80: nobody goes home for `RECALL_HOLD_MIN`
    minutes; after them a release is proposed again."""
    agent, board = _released()
    assert _turn_hot(agent, board, 70)[0].applied
    board.advance(80 * 60.0, _Quiet())
    agent.lookahead.hot = False
    agent.last_forecast = {"open_lines": {30: 12.0, 60: 12.0}, "open_cartons": {30: 4.0, 60: 4.0}}
    later = 70 + RECALL_HOLD_MIN

    def releases(minute: int) -> list:
        return [p for p in agent.candidates(_digest(board, minute)) if all(a.target == POOL for a in p)]

    assert releases(80) == [] and releases(later - 1) == []
    assert releases(later), "no release once the hold is over (the test's floor is not quiet)"


def test_nothing_is_on_call_with_release_pace_off():
    """The default agent (``release_pace`` off) keeps nobody on call: its decisions are unchanged."""
    agent, board = _agent(60, release_pace=False)
    agent.lookahead = _Lookahead()
    agent._cum = {"units_picked": 1300.0, "units_stowed": 100.0}
    board.advance(3600.0, _Quiet())
    agent.on_call.released = ["S1"]
    agent.last_forecast = {"open_lines": {30: HOT_LINES, 60: HOT_LINES}, "open_cartons": {30: 4.0, 60: 4.0}}
    agent.candidates(_hot(board, 60))
    assert agent._on_call_plans == []


def test_no_recall_for_a_break_that_ends_within_the_horizon():
    """Pick is hot only while two of its four pickers are on a break (40 lines: 0.52 of the gate for
    four, 1.04 for two): their return, not a recall, covers it when the break ends inside the
    horizon; a break that outlasts it is covered like any hot kind."""
    agent, board = _released()
    t_s = 70 * 60.0

    def recalls(break_min: float) -> list:
        board.on_break = []
        for sid in ("P1", "P2"):
            board.staffed[sid] = 0
            board.on_break.append(Move(t_s + 60.0 * break_min, sid, 1, "break"))
        agent.last_forecast = {"open_lines": {30: 40.0, 60: 40.0}, "open_cartons": {30: 4.0, 60: 4.0}}
        dg = {**_digest(board, 70), "open_lines": 40}
        return agent._on_call_recalls(dg, agent.kind_work(dg), dict(board.staffed), board.floaters)

    assert recalls(20.0) == []
    assert recalls(45.0), "no recall while half of pick is away for longer than the horizon"
