"""A free service move (`fctwin.controller.eluna.service_move`, scene ``[agent] service_moves``):
which plans qualify, the p95 margin, the decision on two sampled futures, the recommendation's
words and the sign it is scored on."""

import numpy as np
import pytest
from test_eluna import _wave_agent

from fctwin.controller.eluna import service_move
from fctwin.controller.eluna.actions import POOL, MoveAssociates, SetChargeThreshold
from fctwin.controller.eluna.agent import ElunaAgent

LEND = [MoveAssociates("S1", "P1", 1)]
FLOATER = [MoveAssociates(POOL, "P2", 1)]


def test_only_moves_of_people_already_paid_qualify():
    assert service_move.qualifies(LEND)
    assert service_move.qualifies([MoveAssociates("S1", "P1", 1), MoveAssociates("S2", "P2", 1)])
    assert service_move.qualifies([MoveAssociates("P1", "P2", 1)])  # within a kind: paid too
    assert not service_move.qualifies(FLOATER)  # a floater called in
    assert not service_move.qualifies(LEND + FLOATER)  # a lend with a floater beside it
    assert not service_move.qualifies([MoveAssociates("S1", POOL, 1)])  # a release
    assert not service_move.qualifies([SetChargeThreshold(0.7)])
    assert not service_move.qualifies([])


def test_the_margin_is_one_samples_noise_of_a_p95():
    """The relative standard deviation of the p95 of n cycle times with an exponential tail, from
    the order-statistic formula, against a simulation of it: n = 250 orders (a 30-minute horizon on
    the Eluna floors) gives ~9%, 100 gives ~14.5%; with a base under the tail (every order takes at
    least some seconds) the noise is smaller, so the margin errs on the safe side; too few orders
    for a p95: no service claim."""
    assert service_move.p95_noise_rel(250) == pytest.approx(0.092, abs=0.001)
    assert service_move.p95_noise_rel(100) == pytest.approx(0.1455, abs=0.001)
    assert service_move.p95_noise_rel(service_move.MIN_ORDERS - 1) == float("inf")
    rng = np.random.default_rng(7)
    for n in (100, 250, 600):
        p95 = np.percentile(rng.exponential(300.0, size=(4000, n)), 95, axis=1)
        sim = p95.std() / p95.mean()
        assert sim == pytest.approx(service_move.p95_noise_rel(n), rel=0.12), (n, sim)
        based = np.percentile(120.0 + rng.exponential(300.0, size=(4000, n)), 95, axis=1)
        assert based.std() / based.mean() < service_move.p95_noise_rel(n)
    r0 = {"cycle_p95_all_s": 2400.0, "orders_seen": 250}
    assert service_move.p95_margin_s(r0) == pytest.approx(2400.0 * 0.092, rel=0.01)
    # without the open orders' count, the finished ones'
    assert service_move.p95_margin_s({"cycle_p95_all_s": 2400.0, "orders_done": 100}) == pytest.approx(
        2400.0 * 0.1455, rel=0.01
    )


NOTHING = {"units_picked": 1000, "units_stowed": 500, "open_pick_units": 300, "open_stow_units": 100,
           "cycle_p95_s": 1500.0, "cycle_p95_all_s": 2400.0, "orders_seen": 250, "labour_h": 8.0}  # fmt: skip


class _ServiceFuture:
    """A lookahead stub where the lend keeps the units (no J gain worth ``min_gain``), moves ten
    units of pick work to stow work and takes 300 s off the all-orders p95 (the margin at 250
    orders: ~221 s), while the finished orders' p95 rises (old orders finish inside the horizon).
    A floater takes more off it. ``confirm_p95_all_s``: the lend's all-orders p95 on the second
    sample."""

    def __init__(self, confirm_p95_all_s=2100.0):
        self.calls: list[str] = []
        self.confirm_p95_all_s = confirm_p95_all_s

    def evaluate(self, plans, horizon_s, key):
        self.calls.append(key)
        out = []
        for p in plans:
            r = dict(NOTHING)
            if p == LEND:
                r.update(open_pick_units=290, open_stow_units=110, cycle_p95_s=1600.0, cycle_p95_all_s=2100.0)
                if key.endswith("confirm"):
                    r["cycle_p95_all_s"] = self.confirm_p95_all_s
            elif p == FLOATER:
                r.update(open_pick_units=280, cycle_p95_all_s=1800.0, labour_h=8.5)
            out.append(r)
        return out


def _agent(lookahead, on=True):
    agent, board, levers, _ = _wave_agent({"P1": 1, "P2": 1, "S1": 1, "S2": 1, "S3": 1}, pool=5)
    agent.lookahead = lookahead
    agent.last_forecast = {}
    agent.service_moves = on  # the scene's `[agent] service_moves = true` (off by default)
    agent.candidates = lambda dg: [list(FLOATER), list(LEND)]
    return agent, {"minute": 90, "t_s": 5400.0}


def test_a_lend_that_shortens_the_order_cycle_on_both_samples_is_taken_as_a_service_move():
    """No plan wins on efficiency (the lend's J gain is nil; the floater's is not worth its
    labour). With the option, the lend is recommended as a service move after the second sample,
    says so ("p95 -12% at no labour cost") and is remembered as lent (its way home is the agent's);
    the floater, though it cuts the p95 more, never qualifies. Without the option: nothing."""
    la = _ServiceFuture()
    agent, dg = _agent(la)
    recs = agent._decide(dg)
    assert len(recs) == 1 and recs[0].applied, recs
    rec = recs[0]
    assert rec.action["actions"] == [{"source": "S1", "target": "P1", "n": 1, "kind": "move_associates"}]
    assert "service move: order cycle p95 -12% at no labour cost" in rec.text, rec.text
    assert "p95 of the orders finished +100 s" in rec.text, rec.text  # not a second "order cycle p95"
    assert rec.predicted["service_move"]["delta_s"] == -300.0
    assert la.calls == ["eluna.90", "eluna.90.confirm"]
    assert agent.lent == [("S1", "P1")]

    la = _ServiceFuture()
    agent, dg = _agent(la, on=False)
    assert agent._decide(dg) == [] and la.calls == ["eluna.90"]


def test_a_lend_inside_the_margin_on_one_sample_is_not_taken():
    """The same lend with the second sample's p95 only 100 s down (the margin is ~221 s): refused;
    at 230 s down it passes."""
    agent, dg = _agent(_ServiceFuture(confirm_p95_all_s=2300.0))
    assert agent._decide(dg) == []
    agent, dg = _agent(_ServiceFuture(confirm_p95_all_s=2170.0))
    assert len(agent._decide(dg)) == 1


def test_a_service_move_must_keep_efficiency():
    """Fewer units than 99.5% of doing nothing's, or more open work in all: no service move,
    whatever the p95."""
    kept = lambda r, r0: ElunaAgent._units_kept(r, r0, 0.0)  # noqa: E731
    lend = dict(NOTHING, open_pick_units=290, open_stow_units=110, cycle_p95_all_s=2100.0)
    assert service_move.passes(lend, NOTHING, kept)
    assert not service_move.passes(dict(lend, units_picked=990), NOTHING, kept)
    assert not service_move.passes(dict(lend, open_stow_units=140), NOTHING, kept)  # 30 units more open
    assert not service_move.passes(dict(lend, open_pick_units=330, open_stow_units=60), NOTHING, kept)
    assert not service_move.passes(dict(lend, cycle_p95_all_s=2200.0), NOTHING, kept)  # inside the margin


class _Probe:
    def __init__(self, p95_s):
        self.p95_s = p95_s

    def mark(self):
        return 0

    def p95_since(self, mark):
        return self.p95_s


@pytest.mark.parametrize("real_p95_s, sign", [(2000.0, True), (2500.0, False)])
def test_a_service_move_is_scored_on_the_p95_it_predicted(real_p95_s, sign):
    """The realised sign of a service move is its p95's: the floor's all-orders p95 over the
    horizon against the run's own future without it. Here the floor also did more units than that
    future, which judged on J (a predicted gain of zero) would count as the wrong sign."""
    agent, dg = _agent(_ServiceFuture())
    agent.service_probe = _Probe(real_p95_s)
    (rec,) = agent._decide(dg)
    rec._counterfactual = dict(NOTHING, cycle_p95_all_s=2300.0)
    assert rec.predicted["objective"] <= 0
    agent._cum["units_picked"] += 1200
    agent._cum["units_stowed"] += 500
    agent._score_matured(dg["t_s"] + rec.horizon_s, (290, 110))
    assert rec.realised["effect"] > 0  # on J the floor did better than its own future
    assert rec.realised["sign_as_predicted"] is sign
    assert rec.realised["service_move"] == {"cycle_p95_all_s": real_p95_s, "nothing_cycle_p95_all_s": 2300.0}
