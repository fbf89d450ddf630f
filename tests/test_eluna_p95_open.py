"""The lookahead's order-cycle p95 with the orders still open at the horizon (`[agent]
p95_open_orders`): a plan that clears an old backlog may not look worse than leaving it open."""

from __future__ import annotations

from eluna_short_run import run_misstaffed_briefly

from fctwin.sim.eluna.lookahead import cycle_p95_s


def test_clearing_an_old_backlog_never_raises_the_p95_that_counts_open_orders():
    # The same 40 orders under both plans (common random numbers): 36 young ones finish in 60 s
    # either way; doing nothing leaves the 4 oldest (arrived 20 minutes before the horizon's end)
    # open, the plan finishes them after 19 minutes.
    young = [60.0] * 36
    nothing_done, nothing_open = young, [1200.0] * 4
    plan_done, plan_open = young + [1140.0] * 4, []
    # finished orders alone: the plan that cleared the backlog shows the far higher p95
    assert cycle_p95_s(plan_done) > 10 * cycle_p95_s(nothing_done)
    # open orders at their age: every order is done no later under the plan, and so is the p95
    assert cycle_p95_s(plan_done, plan_open) <= cycle_p95_s(nothing_done, nothing_open)
    assert cycle_p95_s(nothing_done, nothing_open) > cycle_p95_s(nothing_done)
    assert cycle_p95_s([], []) is None and cycle_p95_s([], [30.0]) == 30.0


def _first_lookahead(tmp_path, monkeypatch, **overrides):
    """Run the mis-staffed floor (pick backlog from the start) to its first decision and return
    every lookahead result the agent got there."""
    from fctwin.controller.eluna import ElunaAgent

    got = []
    decide = ElunaAgent._decide

    def spy(self, dg):
        la = self.lookahead
        evaluate = la.evaluate

        def keep(plans, horizon_s, key):
            out = evaluate(plans, horizon_s, key)
            got.append((la.p95_open_orders, out))
            return out

        la.evaluate = keep
        try:
            return decide(self, dg)
        finally:
            del la.evaluate

    monkeypatch.setattr(ElunaAgent, "_decide", spy)
    run_misstaffed_briefly(tmp_path, **overrides)
    monkeypatch.undo()  # the next run spies on the agent's own `_decide`, not on this spy
    assert got
    return got[0]


def test_the_scene_field_reaches_the_fork_children(tmp_path, monkeypatch):
    # At 08:10 on the mis-staffed floor the pick backlog of the first ten minutes is still open
    # at the horizon under doing nothing: counted at its age, doing nothing's p95 is higher than
    # over the orders it finished, on the same sampled future (same decision, same key).
    flag_off, off = _first_lookahead(tmp_path / "off", monkeypatch)
    flag_on, on = _first_lookahead(tmp_path / "on", monkeypatch, **{"agent.p95_open_orders": True})
    assert (flag_off, flag_on) == (False, True)
    assert on[0]["units_picked"] == off[0]["units_picked"]  # the same future: only the measure moved
    assert on[0]["cycle_p95_s"] > off[0]["cycle_p95_s"]
