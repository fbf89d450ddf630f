"""A stower lent to pick through the charging wave (`fctwin.controller.eluna.charging_lend`, scene
``[agent] charging_lend``): the trigger on what the floor shows, the lookahead's veto, the hold
while the wave shows and the way home after it, the recommendation's words and the sign it is
scored on."""

import pytest
from test_eluna import _lead_digest, _wave_agent
from test_eluna_service_move import _Probe  # the run's p95 probe, faked as the service move's test does

from fctwin.controller.eluna import charging_lend
from fctwin.controller.eluna.actions import MoveAssociates

STAFF = {"P1": 1, "P2": 1, "S1": 1, "S2": 1, "S3": 1}
LEND = [MoveAssociates("S3", "P1", 1)]
NOTHING = {"units_picked": 500, "units_stowed": 150, "open_pick_units": 300, "open_stow_units": 60,
           "cycle_p95_s": 1500.0, "cycle_p95_all_s": 2400.0, "orders_seen": 250, "labour_h": 2.5}  # fmt: skip


def _digest(board, *, waiting_pad, pick_lines=40, pods_at=None, stow_pods=None):
    """A floor in the charging wave when ``waiting_pad`` >= 4 (the pads): 40 open lines at each pick
    station with pods queued (people-bound), S1 and S2 with a pod queued, S3 without."""
    pods = {"P1": 3, "P2": 2, "S1": 1, "S2": 1} if pods_at is None else pods_at
    dg = _lead_digest(90, board, pick_lines=pick_lines, cartons=2, pods_at={**pods, **(stow_pods or {})})
    dg.update(open_lines=2 * pick_lines, backlog_lines=0, open_cartons=6)
    dg["fleet"] = {"pads": 4, "waiting_pad": waiting_pad, "usable": 16, "usable_idle": 0}
    return dg


class _Future:
    """A lookahead stub: the lend keeps the units (a J gain far below ``min_gain``: the ordinary
    rule never takes it), ``lend_units`` its units picked."""

    def __init__(self, lend_units=500):
        self.calls: list[str] = []
        self.lend_units = lend_units

    def evaluate(self, plans, horizon_s, key):
        self.calls.append(key)
        out = []
        for p in plans:
            r = dict(NOTHING)
            if p == LEND:
                r.update(units_picked=self.lend_units, open_pick_units=292, cycle_p95_all_s=2350.0)
            out.append(r)
        return out


def _agent(lookahead, on=True):
    agent, board, levers, d = _wave_agent(dict(STAFF), pool=len(STAFF))
    agent.lookahead = lookahead
    agent.last_forecast = {"open_cartons": {15: 6.0, 30: 6.0, 60: 6.0}}
    agent.charging_lend = on  # the scene's `[agent] charging_lend = true` (off by default)
    # the pad queue played forward: 20 units waiting, one leaving every ~4 minutes
    agent.forecaster.pad_queue_path = lambda dg, cap_min: [max(0.0, 20.0 - 0.27 * k) for k in range(cap_min)]
    return agent, board, levers, d


def test_the_lend_fires_on_the_charging_wave_not_on_a_quiet_floor():
    """Units queue for the pads, pick is pressed with pods queued for its people, S3 stands without
    a pod: one plan, S3's stower to the open pick station with the fewest people and the most pods
    queued. Not when no unit waits for a pad, not when pick is quiet, not when no pod waits for a
    picker, not when every stower has a pod, and not with the option off."""
    agent, board, *_ = _agent(_Future())
    assert agent.candidates(_digest(board, waiting_pad=20))[0] == LEND
    assert agent._wave_plans == [LEND]
    for dg in (
        _digest(board, waiting_pad=2),  # fewer waiting than pads: no wave
        _digest(board, waiting_pad=20, pick_lines=2),  # pick quiet
        _digest(board, waiting_pad=20, pods_at={"P1": 1, "P2": 1, "S1": 1, "S2": 1}),  # pickers wait for pods
        _digest(board, waiting_pad=20, stow_pods={"S3": 2}),  # every stower has a pod
    ):
        agent.candidates(dg)
        assert agent._wave_plans == [], dg
    agent, board, *_ = _agent(_Future(), on=False)
    agent.candidates(_digest(board, waiting_pad=20))
    assert agent._wave_plans == []


def test_the_lend_is_taken_without_proof_and_vetoed_only_on_a_clear_loss_of_units():
    """The lend's J gain is nil, so the ordinary rule would refuse it; the rule takes it on the
    first sample (no second one), says what it predicts and over how long (the pad queue is
    projected under the 4 pads after 61 minutes: scored over 70, the next decision), and holds the
    person (``wave_lent``). Its units 6% below doing nothing's on the sample: vetoed, nothing
    recommended."""
    la = _Future()
    agent, board, *_ = _agent(la)
    recs = agent._decide(_digest(board, waiting_pad=20))
    assert len(recs) == 1 and recs[0].applied, recs
    rec = recs[0]
    assert rec.action["actions"] == [{"source": "S3", "target": "P1", "n": 1, "kind": "move_associates"}]
    assert la.calls == ["eluna.90"]  # no second sample
    assert rec.horizon_s == 70 * 60.0
    assert "charging wave: held at pick until the wave clears" in rec.text, rec.text
    assert "order cycle p95 over the next 70 min lower than without the lend" in rec.text, rec.text
    assert rec.predicted["charging_lend"]["horizon_min"] == 70
    assert agent.lent == [("S3", "P1")] and agent.wave_lent == [("S3", "P1")]

    agent, board, *_ = _agent(_Future(lend_units=460))  # 610 units against 650: -6%
    assert agent._decide(_digest(board, waiting_pad=20)) == []
    agent, board, *_ = _agent(_Future(lend_units=480))  # -3%: inside the noise, taken
    assert len(agent._decide(_digest(board, waiting_pad=20))) == 1


def test_the_lent_stower_is_held_while_the_wave_shows_and_goes_home_after_it_or_when_stow_needs_them():
    """Pick quiet without the person (a handful of lines): during the wave they stay; once no unit
    waits for a pad they go home (the ordinary way home); stow pressed an hour ahead sends them home
    even during the wave. A lend the rule did not make is not held."""
    agent, board, levers, d = _agent(_Future())
    agent._decide(_digest(board, waiting_pad=20))
    board.advance(90 * 60.0 + 600.0, d)
    assert board.staffed["P1"] == 2 and agent.wave_lent == [("S3", "P1")]
    home = [MoveAssociates("P1", "S3", 1)]

    quiet_wave = _digest(board, waiting_pad=12, pick_lines=2)
    assert home not in agent.candidates(quiet_wave), "held while units queue for the pads"
    quiet_after = _digest(board, waiting_pad=0, pick_lines=2)
    assert agent.candidates(quiet_after)[0] == home
    assert agent._return_needed == []  # tidying up after the wave: the bet's guard
    agent.last_forecast = {"open_cartons": {15: 6.0, 30: 20.0, 60: 40.0}}  # stow pressed an hour ahead
    assert agent.candidates(quiet_wave)[0] == home
    assert agent._return_needed == [home]
    agent._note_lending(home)
    assert agent.lent == [] and agent.wave_lent == []

    agent.last_forecast = {"open_cartons": {15: 6.0, 30: 6.0, 60: 6.0}}
    agent.lent = [("S3", "P1")]  # lent by the ordinary rule: not held
    assert agent.candidates(quiet_wave)[0] == home


@pytest.mark.parametrize("real_p95_s, sign", [(2000.0, True), (2500.0, False)])
def test_the_lend_is_scored_on_the_order_cycle_it_predicted(real_p95_s, sign):
    """After the wave's horizon the lend's sign is the floor's all-orders p95 against the run's own
    future without it, not J (whose predicted gain is nil)."""
    agent, board, *_ = _agent(_Future())
    agent.service_probe = _Probe(real_p95_s)
    (rec,) = agent._decide(_digest(board, waiting_pad=20))
    rec._counterfactual = dict(NOTHING, cycle_p95_all_s=2300.0)
    agent._cum["units_picked"] += 1000
    agent._score_matured(rec.t_s + rec.horizon_s, (290, 70))
    assert rec.realised["sign_as_predicted"] is sign
    assert rec.realised["charging_lend"] == {"cycle_p95_all_s": real_p95_s, "nothing_cycle_p95_all_s": 2300.0}


def test_the_scoring_horizon_follows_the_projected_pad_queue():
    queue = [20.0 - 0.27 * k for k in range(120)]
    # under the 4 pads after 61 minutes: scored to the next decision
    assert charging_lend.score_horizon_min(queue, 4, 30, 10) == 70
    assert charging_lend.score_horizon_min([3.0] * 120, 4, 30, 10) == 30  # gone now: the ordinary horizon
    assert charging_lend.score_horizon_min([30.0] * 200, 4, 30, 10) == charging_lend.SCORE_CAP_MIN
    assert charging_lend.score_horizon_min(None, 4, 30, 10) == 30


# eluna_battery 1.5 h seed 13, the agent in auto mode, on main before the option (fb7105b): the
# option off must leave this event log as it was; on, the lend is made inside the 1.5 hours (the wave
# shows from minute ~60) and the log moves.
BATTERY_AUTO_LOG = ("a1969373a8def640", 8432)


@pytest.mark.slow
@pytest.mark.parametrize("on", [False, True])
def test_the_option_off_leaves_the_agents_event_log_as_it_was(on, tmp_path):
    from pathlib import Path

    from test_event_log_hashes import event_log_hash

    from fctwin.sim.run import RunOptions, run_fc

    opts = RunOptions(
        hours=1.5,
        seed=13,
        link="local",
        world=False,
        runs_dir=tmp_path,
        record_poses=False,
        agent="auto",
        cpu="off",
        overrides={"agent.charging_lend": True} if on else {},
    )
    res = run_fc(Path(__file__).resolve().parents[1] / "scenes" / "eluna_battery.toml", opts)
    if on:
        import sqlite3

        db = sqlite3.connect(res.db_path)
        texts = [t for (t,) in db.execute("SELECT text FROM recommendations WHERE applied = 1")]
        db.close()
        assert any("charging wave: held at pick" in t for t in texts), texts
        assert event_log_hash(res.db_path) != BATTERY_AUTO_LOG
    else:
        assert event_log_hash(res.db_path) == BATTERY_AUTO_LOG
