"""Eluna: levers with their delays, the digest and forecasts, the fork lookahead, the modes.

Short runs of the shipped Eluna scenes (link local, no PyBullet bodies). The stories: a lever
takes effect when the people arrive; a fork that changes nothing continues with the parent's event
log; advise never changes the event log; auto is deterministic per seed; the agent never proposes
an infeasible action; bad labour plans fail validation with the field path.
"""

from __future__ import annotations

import copy
import hashlib
import re
import sqlite3
from pathlib import Path

import pytest

from fctwin.controller.eluna import (
    POOL,
    BreakPlan,
    ElunaAgent,
    LabourBoard,
    LabourConfig,
    Levers,
    MoveAssociates,
    Outage,
    RateModel,
    SetChargeThreshold,
)
from fctwin.robots.checker import CheckerFloor
from fctwin.robots.human import HumanStation
from fctwin.robots.messages import Serve, Staff
from fctwin.sim.run import RunOptions, run_fc
from fctwin.sim.scene import SceneError, scene_from_dict

ROOT = Path(__file__).resolve().parents[1]
SCENES = ROOT / "scenes"


def run(scene: str, tmp_path, *, hours=0.5, agent=None, seed=3, **overrides):
    opts = RunOptions(
        hours=hours,
        seed=seed,
        link="local",
        world=False,
        runs_dir=tmp_path,
        record_poses=False,
        agent=agent,
        overrides=overrides,
        cpu="off",
    )
    return run_fc(SCENES / f"{scene}.toml", opts)


def log_hash(db_path: Path) -> tuple[str, int]:
    db = sqlite3.connect(db_path)
    digest = hashlib.sha256()
    n = 0
    for row in db.execute("SELECT t_s, kind, subject, a, b, c FROM events ORDER BY id"):
        digest.update(repr(row).encode())
        n += 1
    db.close()
    return digest.hexdigest()[:16], n


class FakeDispatcher:
    def __init__(self):
        self.told: list[tuple[str, int, float]] = []

    def set_station_staff(self, sid, n, speed, reopen_s=None):
        self.told.append((sid, n, speed))


def board(**kw) -> LabourBoard:
    cfg = dict(
        staffing={"P1": 1, "P2": 1, "S1": 1},
        kinds={"P1": "pick", "P2": "pick", "S1": "stow"},
        pool=4,
        walk_s=120.0,
        open_s=180.0,
        max_per_station=3,
    )
    cfg.update(kw)
    return LabourBoard(LabourConfig(**cfg))


# ------------------------------------------------------------------ levers


def test_rate_model_has_diminishing_returns():
    rate = RateModel(coupling=0.35)
    speeds = [rate.speed(n) for n in range(5)]
    assert speeds[0] == 0.0 and speeds[1] == 1.0
    gains = [b - a for a, b in zip(speeds[1:], speeds[2:], strict=False)]
    assert all(g > 0 for g in gains) and gains == sorted(gains, reverse=True)
    assert speeds[4] < 1 / 0.35


def test_human_station_follows_its_staffing():
    floor = CheckerFloor()
    floor.carried[(2, 0)] = ("T-1", 0)

    def duration(staff: Staff | None) -> float:
        st = HumanStation(unit_id="P1", floor=floor, cell=(2, 0))
        st.reset(seed=5)
        if staff is not None:
            assert st.handle(staff, 0.0)[0].kind == "ack"
        st.handle(Serve(1, "P1", 1, "pick", 0, 3, 2), 0.0)
        st.step(1.0, 1.0)
        return st.busy_until_s

    one = duration(None)
    two = duration(Staff(7, "P1", 2, RateModel().speed(2)))
    assert two == pytest.approx(one / RateModel().speed(2), rel=1e-9)
    st = HumanStation(unit_id="P1", floor=floor, cell=(2, 0))
    st.reset(seed=5)
    st.handle(Staff(7, "P1", 0, 0.0), 0.0)
    st.handle(Serve(8, "P1", 1, "pick", 0, 3, 2), 0.0)
    assert st.step(100.0, 1.0) == [] and st.queue_length() == 1  # nobody there: nothing served


def test_a_move_takes_effect_when_the_people_arrive():
    b = board()
    d = FakeDispatcher()
    b.start(d)
    assert b.move(0.0, "S1", "P1", 1, d) == 120.0
    assert d.told == [("S1", 0, 0.0)]  # they leave at once
    b.advance(119.0, d)
    assert b.staffed["P1"] == 1
    b.advance(120.0, d)
    assert b.staffed["P1"] == 2 and d.told[-1] == ("P1", 2, RateModel().speed(2))
    # S1 is closed now: opening it needs the set-up time as well
    assert b.move(200.0, POOL, "S1", 1, d) == 200.0 + 120.0 + 180.0
    # paid time: everyone at stations or walking (the one floater left in the pool is not paid)
    assert b.paid_s == pytest.approx(119.0 * 3 + 1.0 * 3)


def test_breaks_and_outages_follow_the_plan():
    b = board(breaks=(BreakPlan(60.0, 600.0, 1),), outages=(Outage("P2", 100.0, 300.0),))
    d = FakeDispatcher()
    b.start(d)
    b.advance(60.0, d)
    assert sum(b.staffed.values()) == 2  # one on break
    b.advance(100.0, d)
    assert b.staffed["P2"] == 0 and "P2" in b.down_until
    assert b.infeasible(POOL, "P2", 1) == "P2 is out of service"
    b.advance(400.0, d)
    assert "P2" not in b.down_until
    assert b.staffed["P2"] == 0 and [m.station for m in b.moving] == ["P2"]  # walking back
    b.advance(400.0 + b.config.walk_s, d)
    assert b.staffed["P2"] == 1  # the plan holds: back at the repaired station
    b.advance(660.0, d)
    assert sum(b.staffed.values()) + b.floaters == 4


def test_levers_refuse_what_cannot_be_done():
    b = board(staffing={"P1": 1, "P2": 0, "S1": 3}, pool=4)
    levers = Levers(d=None, board=b)
    assert "has 0" in levers.infeasible(MoveAssociates("P2", "P1", 1))  # people from a closed station
    assert "exceed" in levers.infeasible(MoveAssociates("P1", "S1", 1))
    assert "not a person-worked" in levers.infeasible(MoveAssociates("V1", "P1", 1))
    assert "at least one" in levers.infeasible(MoveAssociates("S1", "P1", 0))
    assert levers.infeasible(MoveAssociates("S1", "P2", 2)) is None
    assert levers.infeasible(SetChargeThreshold(1.5)) is not None


# ------------------------------------------------------------------ validation


@pytest.fixture
def eluna_dict():
    import tomllib

    raw = tomllib.loads((SCENES / "eluna_balanced.toml").read_text())
    raw["fleet"][0]["count"] = 12
    return copy.deepcopy(raw)


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda r: r["labour"].update(staffing={"P9": 1}), "labour.staffing.P9"),
        (lambda r: r["labour"].update(staffing={"P1": 3}, pool=2), "labour.pool"),
        (lambda r: r["labour"].update(staffing={"P1": 5}), "labour.staffing.P1"),
        (
            lambda r: r["labour"].update(outages=[{"station": "Q1", "at_h": 1, "minutes": 5}]),
            "labour.outages[0].station",
        ),
        (lambda r: r["labour"].update(walk_s=-1), "labour.walk_s"),
        (lambda r: r["agent"].update(mode="autopilot"), "agent.mode"),
        (lambda r: r["agent"].update(starved="often"), "agent.starved"),
        (lambda r: r["agent"].update(paid_first="sometimes"), "agent.paid_first"),
        (lambda r: r["agent"].update(charging_wave="sometimes"), "agent.charging_wave"),
        (lambda r: r["agent"].update(p95_open_orders="sometimes"), "agent.p95_open_orders"),
        (lambda r: r["agent"].update(carton_quantum="sometimes"), "agent.carton_quantum"),
        (lambda r: r["agent"].update(service_moves="sometimes"), "agent.service_moves"),
        (lambda r: r["agent"].update(lend_until_dock="sometimes"), "agent.lend_until_dock"),
        (lambda r: r["agent"].update(outage_peak="sometimes"), "agent.outage_peak"),
        (lambda r: r["agent"].update(charging_lend="sometimes"), "agent.charging_lend"),
        (lambda r: r["agent"].update(p95_target_s=0), "agent.p95_target_s"),
        (lambda r: r["agent"].update(p95_target_s=-600), "agent.p95_target_s"),
        (lambda r: r["agent"].update(p95_target_s="ten minutes"), "agent.p95_target_s"),
        (lambda r: r["agent"].update(p95_target_s=True), "agent.p95_target_s"),
        (lambda r: r["fleet"][0].update(initial_battery_frac=1.5), "fleet[0].initial_battery_frac"),
        (
            lambda r: r["inbound"].update(waves=[{"at_h": 1, "minutes": 0, "cartons": 5}]),
            "inbound.waves[0].minutes",
        ),
    ],
)
def test_labour_and_agent_levers_are_validated(eluna_dict, change, path):
    change(eluna_dict)
    with pytest.raises(SceneError) as info:
        scene_from_dict(eluna_dict, source="s.toml")
    assert any(p == path for p, _ in info.value.problems), info.value.problems
    assert f"s.toml: {path}:" in str(info.value)


# ------------------------------------------------------------------ the run


def test_digest_and_forecasts_every_minute_in_the_run_store(tmp_path):
    res = run("eluna_balanced", tmp_path, hours=0.25)
    db = sqlite3.connect(res.db_path)
    rows = db.execute("SELECT minute, data FROM digest_minute ORDER BY minute").fetchall()
    db.close()
    assert [m for m, _ in rows] == list(range(1, 16))  # like the KPI rows, the last minute included
    import json

    dg = json.loads(rows[-1][1])
    assert {s["id"] for s in dg["stations"]} == {"P1", "P2", "P3", "P4", "S1", "S2", "S3", "S4"}
    assert set(dg["forecast"]["open_lines"]) == {"15", "30", "60"}
    assert sum(dg["battery_hist"]) == 40 and sum(dg["unit_states"].values()) == 40
    assert set(dg["dock_ahead"]) == {"1", "15", "30", "60"} and dg["dock_expected_per_h"] == 36.0
    by_stock = dg["lines_by_stock"]  # every open line once (also those on a unit still fetching its pod)
    assert by_stock["total"] >= dg["open_lines"] > 0 and by_stock["on_pod"] > 0
    assert res.kpis["eluna"]["mode"] == "off" and res.kpis["eluna"]["labour_h"] > 0


def test_a_fork_that_changes_nothing_continues_with_the_same_event_log(tmp_path, monkeypatch):
    import fctwin.sim.eluna.manager as mgr
    from fctwin.sim.eluna.lookahead import ForkLookahead

    got = {}
    on_minute = mgr.FloorManager.on_minute
    build = mgr.FloorManager.build.__func__

    def keep_host(cls, loop, *, mode, host=None, lookahead_ok=False):
        m = build(cls, loop, mode=mode, host=host, lookahead_ok=lookahead_ok)
        m.host = host
        return m

    def fork_at_minute_5(self, minute, t_s):
        out = on_minute(self, minute, t_s)
        if minute == 5:
            got["flushed"] = self.loop.store.db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
            la = ForkLookahead(self.loop, self.host, self.levers)
            got["child"] = la.evaluate([[]], 300.0, key=None)[0]["events"]
        return out

    monkeypatch.setattr(mgr.FloorManager, "build", classmethod(keep_host))
    monkeypatch.setattr(mgr.FloorManager, "on_minute", fork_at_minute_5)
    res = run("eluna_balanced", tmp_path, hours=0.25)
    db = sqlite3.connect(res.db_path)
    parent = db.execute(
        "SELECT t_s, kind, subject, a, b, c FROM events WHERE id > ? ORDER BY id", (got["flushed"],)
    ).fetchall()
    db.close()
    child = [(t, k, s, a, b, float(c)) for t, k, s, a, b, c in got["child"]]
    assert len(child) > 100
    assert parent[: len(child)] == child


def test_advise_never_changes_the_event_log(tmp_path):
    kw = {"agent.horizon_min": 10, "agent.period_min": 10}
    off = run("eluna_misstaffed", tmp_path, agent="off", hours=0.75, **kw)
    advise = run("eluna_misstaffed", tmp_path, agent="advise", hours=0.75, **kw)
    assert log_hash(advise.db_path) == log_hash(off.db_path)
    assert advise.kpis["eluna"]["recommendations"] >= 1 and advise.kpis["eluna"]["actions_applied"] == 0
    db = sqlite3.connect(advise.db_path)
    text, applied = db.execute("SELECT text, applied FROM recommendations ORDER BY id").fetchone()
    db.close()
    assert text.startswith("[08:") and "move 1 associate from" in text and "predicted over 10 min" in text
    assert applied == 0


def test_auto_is_deterministic_per_seed_and_acts(tmp_path):
    kw = {"agent.horizon_min": 10, "agent.period_min": 10}
    a = run("eluna_misstaffed", tmp_path, agent="auto", hours=0.75, **kw)
    b = run("eluna_misstaffed", tmp_path, agent="auto", hours=0.75, **kw)
    off = run("eluna_misstaffed", tmp_path, agent="off", hours=0.75, **kw)
    assert log_hash(a.db_path) == log_hash(b.db_path)
    assert a.kpis["eluna"]["actions_applied"] >= 1
    assert log_hash(a.db_path) != log_hash(off.db_path)
    # the lookahead's forked children wrote nothing to the run store (no minute past the run's end)
    db = sqlite3.connect(a.db_path)
    assert db.execute("SELECT max(minute), count(*) FROM digest_minute").fetchone() == (45, 45)
    assert db.execute("SELECT count(*) FROM kpi_minute").fetchone()[0] == 45
    db.close()


def test_the_agent_never_proposes_an_infeasible_action(tmp_path, monkeypatch):
    """Every candidate plan, applied action by action to a copy of the board, is feasible; the
    outage's station is never a target while down, a closed station never a source."""
    seen = []
    candidates = ElunaAgent.candidates

    def checked(self, dg):
        plans = candidates(self, dg)
        for plan in plans:
            b = copy.deepcopy(self.levers.board)
            for action in plan:
                if isinstance(action, MoveAssociates):
                    assert b.infeasible(action.source, action.target, action.n) is None, (
                        action,
                        dg["minute"],
                    )
                    b.move(dg["t_s"], action.source, action.target, action.n, FakeDispatcher())
                else:
                    assert self.levers.infeasible(action) is None
            seen.append(plan)
        return plans

    monkeypatch.setattr(ElunaAgent, "candidates", checked)
    run(
        "eluna_outage",
        tmp_path,
        hours=1.5,
        agent="advise",
        **{"agent.horizon_min": 5, "agent.lookahead": "model"},
    )
    assert seen  # it had something to propose


def test_the_reactive_shift_lead_moves_people_on_a_misstaffed_floor(tmp_path):
    res = run("eluna_misstaffed", tmp_path, agent="reactive", hours=1.5)
    assert res.kpis["eluna"]["actions_applied"] >= 1
    db = sqlite3.connect(res.db_path)
    kinds = {k for (k,) in db.execute("SELECT kind FROM events")}
    db.close()
    assert "staff" in kinds
    # the lead's actions read as the agent's do, with the clock (not a dataclass repr)
    db = sqlite3.connect(res.db_path)
    texts = [t for (t,) in db.execute("SELECT text FROM recommendations")]
    db.close()
    said = re.compile(r"\[\d\d:\d\d\] shift lead: (move|call|release|set) ")
    assert texts and all(said.match(t) for t in texts), texts


def test_the_shift_leads_actions_are_described_in_words():
    from fctwin.controller.eluna.actions import POOL, MoveAssociates, SetChargeThreshold
    from fctwin.controller.eluna.shiftlead import describe

    kinds = {"P1": "pick", "S1": "stow"}
    assert (
        describe(MoveAssociates("S1", POOL, 1), kinds)
        == "release 1 associate from stow S1 to the pool (off the floor)"
    )
    assert describe(MoveAssociates(POOL, "P1", 2), kinds) == "call 2 associates from the pool to pick P1"
    assert describe(MoveAssociates("S1", "P1", 1), kinds) == "move 1 associate from stow S1 to pick P1"
    assert describe(SetChargeThreshold(0.7), kinds) == "set the opportunity-charging threshold to 70%"


def test_cli_summary_shows_the_recommendations(tmp_path):
    import subprocess
    import sys

    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "fctwin.sim.cli",
            "run",
            "eluna_misstaffed",
            "--hours",
            "0.75",
            "--agent",
            "advise",
            "--set",
            "agent.horizon_min=5",
            "--runs-dir",
            str(tmp_path),
            "--cpu",
            "off",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "floor manager: advise" in res.stdout
    assert "recommendations: " in res.stdout and "advised  [08:" in res.stdout


def _lead_floor(staffing, pool):
    from fctwin.controller.eluna.actions import Levers
    from fctwin.controller.eluna.labour import LabourBoard, LabourConfig

    kinds = {sid: ("pick" if sid.startswith("P") else "stow") for sid in staffing}
    board = LabourBoard(LabourConfig(staffing=dict(staffing), kinds=kinds, pool=pool))

    class Quiet:
        units = []

        def set_station_staff(self, *a, **kw):
            pass

    return board, Levers(Quiet(), board), Quiet()


def _lead_digest(minute, board, *, pick_lines, cartons, pods_at):
    """A digest as the shift lead reads it: open lines per pick station, cartons per stow station,
    pods queued per station (``pods_at``), no unassigned orders, a charged fleet."""
    stations = []
    for sid, n in board.staffed.items():
        pick = sid.startswith("P")
        stations.append(
            {
                "id": sid,
                "kind": "pick" if pick else "stow",
                "associates": n,
                "open_lines": pick_lines if pick else cartons,
                "queued_pods": pods_at.get(sid, 0),
            }
        )
    return {"minute": minute, "t_s": 60.0 * minute, "stations": stations, "backlog_lines": 0,
            "battery_hist": [0, 0, 0, 0, 40]}  # fmt: skip


def test_the_shift_lead_covers_pick_not_a_stow_queue_that_waits_for_robots():
    """Baseline (b) on the floor with stow work: a long carton queue where no pod waits for a
    person is not a reason to move anyone (people there wait for robots); a long pick queue with
    pods waiting is, after two checks, and a stower with slack covers it when nobody floats; a
    person lent away from pick comes back when pick is hot again. Rules 1-3 alone: rule 5 (a quiet
    kind sends one home) has its own test below; at the frozen stow ``lo`` of 18 minutes (session
    22) the stow side here, with no arrivals in the digest, is quiet enough for it to fire beside
    the way back."""
    import dataclasses

    from fctwin.controller.eluna.shiftlead import FROZEN, ShiftLead

    service = {"P1": 12.5, "P2": 12.5, "S1": 180.0, "S2": 180.0}
    board, levers, d = _lead_floor({"P1": 1, "P2": 1, "S1": 1, "S2": 1}, pool=4)
    rules = dataclasses.replace(FROZEN, release_load=None)
    lead = ShiftLead(rules, service_s=service, speed=board.config.rate.speed, plan_charge_frac=0.5)
    # 20 cartons per stow station (an hour of work each) but no pod queued there: nothing
    for minute in (10, 20, 30):
        dg = _lead_digest(minute, board, pick_lines=4, cartons=20, pods_at={"P1": 3, "P2": 3})
        assert lead.decide(dg, levers) == []
    # pick: 30 lines per station (6+ minutes of work), pods waiting; stow quiet: one stower lent
    got = []
    for minute in (40, 50):
        dg = _lead_digest(minute, board, pick_lines=30, cartons=1, pods_at={"P1": 4, "P2": 4})
        got = lead.decide(dg, levers)
    assert len(got) == 1 and got[0].source in ("S1", "S2") and got[0].target in ("P1", "P2"), got
    for a in got:
        levers.apply(a, 3000.0)
    board.advance(3200.0, d)
    # the lent stower goes back to plan once pick is quiet for two checks
    back = []
    for minute in (60, 70):
        dg = _lead_digest(minute, board, pick_lines=2, cartons=2, pods_at={"P1": 1})
        back = lead.decide(dg, levers)
    assert len(back) == 1 and back[0].target in ("S1", "S2"), back


def test_the_shift_leads_release_sends_one_home_from_a_quiet_kind_and_not_from_a_busy_one():
    """Rule 5 (ELUNA.md's "close one when utilisation stays below a floor"): a stow side quiet for two
    checks, whose arriving cartons the rest would serve under ``release_load``, sends one stower to the
    pool (from the station with the most people), then waits ``release_gap_min``; with more cartons
    arriving, with a hot kind, or with the rule off (None), nobody goes home."""
    import dataclasses

    from fctwin.controller.eluna.actions import POOL
    from fctwin.controller.eluna.shiftlead import FROZEN, ShiftLead

    assert FROZEN.release_load is None or 0 < FROZEN.release_load < 1
    service = {"P1": 12.5, "P2": 12.5, "S1": 180.0, "S2": 180.0}
    rules = dataclasses.replace(FROZEN, release_load=0.6, release_gap_min=60)

    def run(rules, cartons_per_min, pick_lines=2, pods=None, minutes=(10, 20, 30, 40)):
        board, levers, _ = _lead_floor({"P1": 1, "P2": 1, "S1": 1, "S2": 2}, pool=5)
        lead = ShiftLead(rules, service_s=service, speed=board.config.rate.speed, plan_charge_frac=0.5)
        out = []
        for minute in minutes:
            dg = _lead_digest(minute, board, pick_lines=pick_lines, cartons=0, pods_at=pods or {})
            dg.update(lines_arrived=3.0, cartons_arrived=cartons_per_min)  # pick: 0.63 of one picker
            out.append(lead.decide(dg, levers))
        return out

    got = run(rules, cartons_per_min=0.3)  # 18 cartons an hour: 0.36 of the two stowers left
    assert got[0] == [], got  # one quiet check is not two
    assert len(got[1]) == 1 and (got[1][0].source, got[1][0].target, got[1][0].n) == ("S2", POOL, 1)
    assert got[2] == [] and got[3] == [], got  # the gap between two releases
    assert all(a == [] for a in run(rules, cartons_per_min=0.6))  # 0.72 of the rest: stays
    assert all(a == [] for a in run(dataclasses.replace(rules, release_load=None), cartons_per_min=0.3))
    # pick hot (long queues, pods waiting): cover it first, never send anyone home
    hot = run(rules, cartons_per_min=0.3, pick_lines=30, pods={"P1": 4, "P2": 4})
    assert all(a.target != POOL for acts in hot for a in acts), hot


def test_the_agent_weighs_pick_before_a_waiting_dock_and_proposes_the_drive_split():
    """A pressed pick floor beside a long carton queue (20 minutes of stow work per stower, which
    can wait): the agent's candidates move people to pick, none to stow; with no idle drive unit
    and 12 units on stow trips, a cap on stow trips is among them; with idle units it is not."""
    from fctwin.controller.eluna.actions import MoveAssociates, SetDriveSplit

    board, levers, _ = _lead_floor({"P1": 1, "P2": 1, "S1": 1, "S2": 1}, pool=5)
    levers.d.stow_unit_cap = None
    levers.d.units = [None] * 40  # the fleet the cap is checked against
    service = {"P1": 12.5, "P2": 12.5, "S1": 180.0, "S2": 180.0}
    from types import SimpleNamespace

    flat = SimpleNamespace(plan_rate=lambda t_s: 1.0)  # a flat demand plan
    agent = ElunaAgent(mode="advise", levers=levers, service_s=service, forecaster=flat, lookahead=None)
    agent.last_forecast = {}

    def digest(idle):
        dg = _lead_digest(60, board, pick_lines=12, cartons=7, pods_at={"P1": 4, "P2": 4})
        dg.update(open_lines=24 + 40, backlog_lines=40, open_cartons=14)
        dg["unit_states"] = {
            "idle": idle,
            "pick_trip": 28 - idle,
            "stow_trip": 12,
            "charging": 0,
            "failed": 0,
        }
        return dg

    plans = agent.candidates(digest(idle=0))
    moves = [a for p in plans for a in p if isinstance(a, MoveAssociates)]
    assert moves and all(a.target in ("P1", "P2") for a in moves), plans
    assert [SetDriveSplit(8)] in plans, plans
    assert not any(isinstance(a, SetDriveSplit) for p in agent.candidates(digest(idle=10)) for a in p)


def test_a_release_must_leave_stations_that_keep_up_with_arriving_work():
    """No release without seeing what the stations serve; none that leaves too few open stations
    for the work arriving (at the rate they were seen to serve when work waited); one that does."""
    from types import SimpleNamespace

    board, levers, _ = _lead_floor({"P1": 1, "P2": 1, "P3": 1, "S1": 1, "S2": 1}, pool=5)
    service = {"P1": 12.5, "P2": 12.5, "P3": 12.5, "S1": 180.0, "S2": 180.0}
    flat = SimpleNamespace(plan_rate=lambda t_s: 1.0)
    agent = ElunaAgent(mode="advise", levers=levers, service_s=service, forecaster=flat, lookahead=None)
    after = {"P1": 0, "P2": 1, "P3": 1, "S1": 1, "S2": 1}  # P1's picker released
    assert not agent.release_keeps_up(after, "pick")  # nothing seen yet
    for minute in range(60):
        dg = _lead_digest(minute, board, pick_lines=3, cartons=0, pods_at={})
        for st in dg["stations"]:
            st["lines_served"] = 3 if st["kind"] == "pick" else 0
        dg.update(lines_arrived=4, cartons_arrived=0)
        agent._observe_rates(dg)
    assert agent.release_keeps_up(after, "pick")  # 4 lines/min against 2 stations x 3 x 0.85
    for _ in range(120):
        agent._observe_rates({**dg, "lines_arrived": 6})
    assert not agent.release_keeps_up(after, "pick")  # 6 lines/min: two stations cannot keep up


def _starving_digest(minute, board, *, pods_at, on_way=None, served=None, open_lines=80):
    """Stow stations holding cartons with no pod queued or coming and nothing served (starved),
    pick stations with ``pods_at`` pods queued and ``open_lines`` on the floor (80: pick pressed)."""
    dg = _lead_digest(minute, board, pick_lines=6, cartons=8, pods_at=pods_at)
    for st in dg["stations"]:
        st["pending"] = 8 if st["kind"] == "stow" else 2
        st["pods_on_way"] = (on_way or {}).get(st["id"], 0)
        st["units_served"] = (served or {}).get(st["id"], 0 if st["kind"] == "stow" else 5)
        st["lines_served"] = 0 if st["kind"] == "stow" else 3
    dg.update(open_lines=open_lines, open_cartons=16, lines_arrived=4, cartons_arrived=0.5, units_picked=5,
              units_stowed=0, unit_states={"idle": 20, "pick_trip": 20, "stow_trip": 0, "charging": 0,
                                           "failed": 0})  # fmt: skip
    return dg


def _starving_agent(park=False):
    from types import SimpleNamespace

    board, levers, d = _lead_floor({"P1": 1, "P2": 1, "S1": 1, "S2": 1}, pool=4)
    levers.d.stow_unit_cap = None
    levers.d.units = [None] * 40
    service = {"P1": 12.5, "P2": 12.5, "S1": 180.0, "S2": 180.0}
    flat = SimpleNamespace(plan_rate=lambda t_s: 1.0)
    agent = ElunaAgent(mode="auto", levers=levers, service_s=service, forecaster=flat, lookahead=None)
    agent.last_forecast = {}
    agent.starved_mode = "park" if park else "lend"
    return agent, board, levers, d


def test_people_at_a_starved_station_are_lent_where_pods_wait_for_people_and_come_back():
    """Stow stations with cartons but no pod coming for ten minutes (people waiting for robots, not
    for work): the agent lends a stower to the pressed pick side's station where pods queue (not to
    one that keeps up), keeping one stow
    station open, and sends nobody to the pool (parking is off by default); with pods on the way
    it is not starved and nothing is proposed; once pods queue at the open stow station again the
    lent stower is called back."""
    from fctwin.controller.eluna.actions import POOL, MoveAssociates

    agent, board, levers, d = _starving_agent()
    for minute in range(1, 10):
        agent._observe_rates(_starving_digest(minute, board, pods_at={"P1": 4}))
    dg = _starving_digest(10, board, pods_at={"P1": 4})
    agent._observe_rates(dg)
    assert agent.starved_stations() == ["S1", "S2"]
    agent.starved_mode = "off"  # the default: nothing done about it
    assert agent._idle_plans(dg, dict(board.staffed)) == []
    agent.starved_mode = "lend"
    plans = agent.candidates(dg)
    idle = agent._idle
    assert idle == [[MoveAssociates("S1", "P1", 1)]], idle  # S2 (the keeper) stays open
    assert idle[0] in plans and not any(a.target == POOL for p in plans for a in p if hasattr(a, "target"))
    # pods queued at a pick side that keeps up (12 open lines for 2 pickers) need nobody
    quiet = _starving_digest(10, board, pods_at={"P1": 4}, open_lines=12)
    assert agent._idle_plans(quiet, dict(board.staffed)) == []

    # a stow station with a pod on its way is fed, not starved: S2 alone is, and with S1 open its
    # person may go; with pods on the way to both, nobody is starved and nothing is proposed
    other, board2, _, _ = _starving_agent()
    for minute in range(1, 12):
        other._observe_rates(_starving_digest(minute, board2, pods_at={"P1": 4}, on_way={"S1": 1}))
    assert other.starved_stations() == ["S2"]
    dg2 = _starving_digest(12, board2, pods_at={"P1": 4})
    assert other._idle_plans(dg2, dict(board2.staffed)) == [[MoveAssociates("S2", "P1", 1)]]
    fed_both, board3, _, _ = _starving_agent()
    for minute in range(1, 12):
        fed_both._observe_rates(
            _starving_digest(minute, board3, pods_at={"P1": 4}, on_way={"S1": 1, "S2": 1})
        )
    assert fed_both.starved_stations() == []
    assert fed_both._idle_plans(_starving_digest(12, board3, pods_at={"P1": 4}), dict(board3.staffed)) == []

    # applied (auto): remembered, and called back once pods queue at the open stow station
    for a in idle[0]:
        levers.apply(a, 600.0)
    agent._note_parking(idle[0])
    board.advance(900.0, d)
    assert board.staffed["P1"] == 2 and board.staffed["S1"] == 0
    fed = _starving_digest(20, board, pods_at={"S2": 3}, served={"S2": 12})
    agent._observe_rates(fed)
    assert agent._recall_plans(fed) == [[MoveAssociates("P1", "S1", 1)]]
    agent.candidates(fed)
    agent._note_parking(agent._recall[0])
    assert agent.parked == []


def test_parking_starved_people_in_the_pool_when_the_scene_allows_it():
    """With ``starved = "park"``, a starved stower nobody needs (no station where pods wait for people)
    goes to the pool, and comes back from it when pods reach stow again."""
    from fctwin.controller.eluna.actions import POOL, MoveAssociates

    agent, board, levers, d = _starving_agent(park=True)
    for minute in range(1, 11):
        dg = _starving_digest(minute, board, pods_at={})
        agent._observe_rates(dg)
    agent.candidates(dg)
    assert agent._idle == [[MoveAssociates("S1", POOL, 1)]], agent._idle
    levers.apply(agent._idle[0][0], 600.0)
    agent._note_parking(agent._idle[0])
    board.advance(900.0, d)
    fed = _starving_digest(20, board, pods_at={"S2": 2}, served={"S2": 12})
    agent._observe_rates(fed)
    assert agent._recall_plans(fed) == [[MoveAssociates(POOL, "S1", 1)]]


def _wave_agent(staffing, pool):
    from types import SimpleNamespace

    board, levers, d = _lead_floor(staffing, pool=pool)
    levers.d.stow_unit_cap = None
    levers.d.units = [None] * 40
    service = {sid: (12.5 if sid.startswith("P") else 180.0) for sid in staffing}
    flat = SimpleNamespace(plan_rate=lambda t_s: 1.0)
    agent = ElunaAgent(mode="auto", levers=levers, service_s=service, forecaster=flat, lookahead=None)
    return agent, board, levers, d


def _pressed_pick_digest(board, *, cartons):
    dg = _lead_digest(60, board, pick_lines=12, cartons=2, pods_at={"P1": 4, "P2": 4})
    dg.update(open_lines=24 + 40, backlog_lines=40, open_cartons=cartons)
    dg["unit_states"] = {"idle": 10, "pick_trip": 25, "stow_trip": 5, "charging": 0, "failed": 0}
    return dg


def test_no_stower_is_lent_when_a_wave_on_the_dock_schedule_will_need_them():
    """Pick pressed, stow quiet now: a stower may be lent to pick when stow stays quiet an hour
    ahead; when the forecast an hour ahead holds a trailer from the dock schedule (stow pressed
    without them), no plan moves a stower to pick (the floater still may go)."""
    agent, board, levers, _ = _wave_agent({"P1": 1, "P2": 1, "S1": 1, "S2": 1, "S3": 1}, pool=6)
    dg = _pressed_pick_digest(board, cartons=3)

    def lends(plans):
        return [a for p in plans for a in p if isinstance(a, MoveAssociates) and a.source.startswith("S")]

    agent.last_forecast = {"open_cartons": {15: 3.0, 30: 4.0, 60: 5.0}}
    assert lends(agent.candidates(dg)), "a stower with slack an hour ahead is a candidate"
    # a 40-carton trailer lands within the hour: 2 stowers would carry 60 minutes of work each
    agent.last_forecast = {"open_cartons": {15: 3.0, 30: 4.0, 60: 40.0}}
    plans = agent.candidates(dg)
    assert not lends(plans), plans
    assert any(a.source == POOL and a.target.startswith("P") for p in plans for a in p), plans


def test_lent_people_go_home_when_home_needs_them_or_the_lend_is_over():
    """A stower the agent lent to pick is remembered; the way back is proposed (first) when stow
    is pressed an hour ahead or pick keeps up without them, and not while pick still needs them and
    stow is quiet; once applied the lend is forgotten."""
    agent, board, levers, d = _wave_agent({"P1": 1, "P2": 1, "S1": 1, "S2": 1, "S3": 1}, pool=5)
    lend = [MoveAssociates("S1", "P1", 1)]
    levers.apply(lend[0], 600.0)
    agent._note_lending(lend)
    board.advance(900.0, d)
    assert agent.lent == [("S1", "P1")] and board.staffed["P1"] == 2

    agent.last_forecast = {"open_cartons": {15: 3.0, 30: 4.0, 60: 5.0}}
    pressed = _pressed_pick_digest(board, cartons=3)
    pressed["open_lines"] = 24 + 60
    # pick still pressed, stow quiet an hour ahead: they stay
    assert agent._return_plans(pressed, dict(board.staffed), agent.kind_work(pressed, (30, 60))) == []
    # a trailer ahead: stow needs its person back
    agent.last_forecast = {"open_cartons": {15: 3.0, 30: 20.0, 60: 40.0}}
    plans = agent.candidates(pressed)
    assert plans[0] == [MoveAssociates("P1", "S1", 1)], plans
    assert agent._return_needed == [plans[0]]  # needed at home: judged on all work, not pick alone
    # or pick keeps up without them (a handful of lines)
    agent.last_forecast = {"open_cartons": {15: 3.0, 30: 4.0, 60: 5.0}}
    quiet = _lead_digest(70, board, pick_lines=2, cartons=2, pods_at={"P1": 1})
    quiet.update(open_lines=4, backlog_lines=0, open_cartons=3)
    quiet["unit_states"] = {"idle": 30, "pick_trip": 8, "stow_trip": 2, "charging": 0, "failed": 0}
    plans = agent.candidates(quiet)
    assert plans[0] == [MoveAssociates("P1", "S1", 1)], plans
    assert agent._return_needed == []  # tidying up: the bet's guard (no cost to the order cycle)
    agent._note_lending(plans[0])
    assert agent.lent == []


def _lent_to_pick_agent(staffing, lent, *, lines_per_min, seen_per_station):
    """Stow pressed an hour ahead with stowers lent to pick (``lent``: (home, at) per person), the
    pick side seen to serve ``seen_per_station`` lines a station-minute, ``lines_per_min`` arriving."""
    agent, board, levers, d = _wave_agent(staffing, pool=sum(staffing.values()))
    agent.lent = list(lent)
    agent._busy = {"pick": (60, seen_per_station)}
    agent._arriving = {"pick": lines_per_min, "stow": 0.6}
    agent.last_forecast = {"open_cartons": {15: 10.0, 30: 20.0, 60: 40.0}}
    dg = _lead_digest(60, board, pick_lines=2, cartons=5, pods_at={})
    dg.update(open_lines=8, backlog_lines=0, open_cartons=10)
    return agent, board, dg


def test_the_lent_person_whose_leaving_costs_pick_least_goes_home_first():
    """Four stowers lent to the four pick stations (two alone at P3 and P4, which they opened, two
    beside the plan's pickers at P1 and P2); stow is pressed an hour ahead. The first way home is
    one of the doubled stations' people (one of two takes ~0.5 of a person's pace with them), not
    P3's, whose leaving closes the station: eluna_misstaffed seed 16 sent P3's home at 09:10."""
    staffing = {"P1": 2, "P2": 2, "P3": 1, "P4": 1, "S1": 0, "S2": 0, "S3": 1, "S4": 1}
    lent = [("S1", "P3"), ("S1", "P4"), ("S2", "P1"), ("S2", "P2")]
    agent, board, dg = _lent_to_pick_agent(staffing, lent, lines_per_min=9.3, seen_per_station=4.0)
    plans = agent._return_plans(dg, dict(board.staffed), agent.kind_work(dg, (30, 60)))
    assert plans, "stow is pressed an hour ahead: a way home is due"
    first = plans[-1] if len(plans) > 1 else plans[0]
    assert len(first) == 1 and first[0].source in ("P1", "P2"), plans
    assert plans[0][0].source in ("P1", "P2"), plans  # the merged plan starts with them too
    assert first in agent._return_needed


def test_a_way_home_that_closes_a_pick_station_is_checked_against_the_pick_work_ahead():
    """Stowers lent alone to P3 and P4: going home closes the station. Taken when the three pick
    stations left serve the lines arriving (15% to spare at the rate pick stations were seen to
    serve), not when they fall short: pick's backlog would grow past the 30-minute lookahead."""
    staffing = {"P1": 1, "P2": 1, "P3": 1, "P4": 1, "S1": 0, "S2": 0, "S3": 1, "S4": 1}
    lent = [("S1", "P3"), ("S2", "P4")]
    agent, board, dg = _lent_to_pick_agent(staffing, lent, lines_per_min=9.3, seen_per_station=3.0)
    # 3 stations x 3 lines a minute x 0.85 = 7.65 < 9.3 arriving: no way home closes a station
    assert agent._return_plans(dg, dict(board.staffed), agent.kind_work(dg, (30, 60))) == []
    agent._arriving["pick"] = 5.0  # 7.65 >= 5.0: pick keeps up with one station fewer
    plans = agent._return_plans(dg, dict(board.staffed), agent.kind_work(dg, (30, 60)))
    assert plans and plans[-1] == [MoveAssociates("P3", "S1", 1)], plans


def test_the_dock_schedules_busiest_hour_ahead_and_releases_against_it():
    """`dock_peak_hour` counts the busiest 60 minutes of the dock schedule still to come; a stow
    release that keeps up with today's cartons does not when a trailer is on the schedule."""
    import numpy as np

    from fctwin.sim.eluna.manager import dock_peak_hour

    sched = np.array([100.0, 200.0] + [5000.0 + 30.0 * k for k in range(60)] + [9000.0])
    assert dock_peak_hour(sched, 0.0, 14400.0) == 60
    assert dock_peak_hour(sched, 6000.0, 14400.0) == 27  # the trailer's rest, due after 6000 s
    assert dock_peak_hour(sched, 9500.0, 14400.0) == 0
    assert dock_peak_hour(sched, 0.0, 1000.0) == 2  # nothing after the shift's end counts
    # `dock_landed`: the schedule's cartons due in the minute ending at t (the digest's
    # `cartons_arrived` covers the same minute); each carton counted in exactly one minute
    from fctwin.sim.eluna.manager import dock_landed

    assert dock_landed(sched, 60.0) == 0 and dock_landed(sched, 120.0) == 1 and dock_landed(sched, 240.0) == 1
    assert dock_landed(sched, 5040.0) == 2  # 5,000 and 5,030 s
    assert sum(dock_landed(sched, 60.0 * m) for m in range(1, 241)) == sched.size

    agent, board, levers, _ = _wave_agent({"P1": 1, "P2": 1, "S1": 1, "S2": 1, "S3": 1}, pool=5)
    dg = _lead_digest(0, board, pick_lines=3, cartons=2, pods_at={})
    for minute in range(60):
        dg = {**dg, "minute": minute, "t_s": 60.0 * minute}
        for st in dg["stations"]:
            st["lines_served"] = 3 if st["kind"] == "pick" else 0.3
        dg.update(lines_arrived=4, cartons_arrived=0.5, dock_expected_per_h=30.0, dock_peak_h=0)
        agent._observe_rates(dg)
    after = {"P1": 1, "P2": 1, "S1": 0, "S2": 1, "S3": 1}
    assert agent.release_keeps_up(after, "stow")  # 0.5 cartons/min against 2 x 0.3 x 0.85
    agent._observe_rates({**dg, "dock_peak_h": 60})
    assert not agent.release_keeps_up(after, "stow")  # 0.5 + 1.0 a minute in the trailer's hour


class _SameFuture:
    """A lookahead stub: every plan gets the same sampled future (nothing changes anything)."""

    def evaluate(self, plans, horizon_s, key):
        r = {"units_picked": 300, "units_stowed": 100, "open_pick_units": 40, "open_stow_units": 30}
        return [dict(r, cycle_p95_s=200.0, labour_h=4.0) for _ in plans]


def test_the_charging_threshold_is_raised_when_the_fleet_runs_low_and_given_back_to_the_plan():
    """Over 30% of the fleet below 40% charge with the plan's threshold: raising it is a candidate
    (a bet: it must beat doing nothing); once raised, nothing while the fleet is still low or
    inside the hysteresis band, and back to the plan once under 15% is low. The way back is taken
    whenever it keeps service, with no gain (a lookahead where no plan changes anything), as a lent
    person goes home; the raise is not taken without a gain."""
    from fctwin.controller.eluna.charging import back_to_plan_plans, low_share, raise_plans

    agent, board, levers, _ = _wave_agent({"P1": 1, "P2": 1, "S1": 1, "S2": 1}, pool=4)
    agent.charge_frac = agent._charge_frac_now = 0.5
    agent.last_forecast = {}
    agent.lookahead = _SameFuture()
    levers.d.set_charge_threshold = lambda frac: setattr(levers.d, "charge_threshold", frac)

    def digest(minute, hist, threshold):
        dg = _lead_digest(minute, board, pick_lines=2, cartons=2, pods_at={"P1": 1})
        dg.update(open_lines=4, open_cartons=4, battery_hist=hist, fleet={"threshold": threshold})
        dg["unit_states"] = {"idle": 20, "pick_trip": 10, "stow_trip": 4, "charging": 6, "failed": 0}
        return dg

    low, band, recovered = [8, 10, 10, 6, 6], [2, 6, 12, 10, 10], [1, 3, 12, 12, 12]
    assert low_share({"battery_hist": low}) == 0.45 and low_share({"battery_hist": recovered}) == 0.1
    assert raise_plans(digest(10, low, 0.5), plan_frac=0.5, now_frac=0.5) == [[SetChargeThreshold(0.7)]]
    assert raise_plans(digest(10, band, 0.5), plan_frac=0.5, now_frac=0.5) == []
    assert [SetChargeThreshold(0.7)] in agent.candidates(digest(10, low, 0.5))
    assert agent._decide(digest(10, low, 0.5)) == []  # a bet with no gain is not taken
    # raised (by an applied plan or an operator's accept: the digest says what is in force)
    for hist in (low, band):
        plans = agent.candidates(digest(20, hist, 0.7))
        assert not any(isinstance(a, SetChargeThreshold) for p in plans for a in p), (hist, plans)
        assert back_to_plan_plans(digest(20, hist, 0.7), plan_frac=0.5, now_frac=0.7) == []
    dg = digest(30, recovered, 0.7)
    assert [SetChargeThreshold(0.5)] in agent.candidates(dg)
    recs = agent._decide(dg)
    assert (
        len(recs) == 1
        and recs[0].applied
        and recs[0].action["actions"] == [{"frac": 0.5, "kind": "charge_threshold"}]
    ), recs
    assert levers.d.charge_threshold == 0.5 and agent._charge_frac_now == 0.5


def test_a_needed_way_home_is_judged_on_all_work_a_bet_on_pick_service_too():
    """The all-work guard takes a return that keeps the units and the open work of both kinds at a
    longer order cycle (the bet's guard refuses it), and refuses one that loses units or leaves
    more work open in total."""
    nothing = {"units_picked": 420, "units_stowed": 252, "open_pick_units": 22, "open_stow_units": 492,
               "cycle_p95_s": 195.3}  # fmt: skip
    home = dict(nothing, units_picked=418, open_pick_units=24, cycle_p95_s=237.8)
    assert ElunaAgent.keeps_total_service(home, nothing)
    assert not ElunaAgent.keeps_service(home, nothing)
    assert not ElunaAgent.keeps_total_service(dict(home, units_stowed=240), nothing)
    assert not ElunaAgent.keeps_total_service(dict(home, open_stow_units=540), nothing)


def test_the_people_already_paid_are_lent_together_before_anyone_is_called_in():
    """Pick pressed with pods waiting, stow quiet an hour ahead: beside the greedy plan (floaters
    first) the agent proposes every lend stow can spare, at once and with nobody from the pool; it
    keeps one stower (no kind is left without people), every plan is feasible, and a trailer an
    hour ahead leaves no stower to lend. Without the paid plan the two stowers are not lent together."""
    agent, board, levers, _ = _wave_agent({"P1": 1, "P2": 1, "S1": 1, "S2": 1, "S3": 1}, pool=6)
    dg = _pressed_pick_digest(board, cartons=3)
    agent.last_forecast = {"open_cartons": {15: 3.0, 30: 4.0, 60: 5.0}}
    agent.paid_first = True  # the scene's `[agent] paid_first = true`
    both = [MoveAssociates("S1", "P1", 1), MoveAssociates("S2", "P2", 1)]
    plans = agent.candidates(dg)
    assert both in plans, plans
    assert all(agent.feasible_plan(p, dg["t_s"]) for p in plans)
    agent.paid_first = False
    assert both not in agent.candidates(dg)
    # a 40-carton trailer within the hour: stow cannot spare anyone
    agent.paid_first = True
    agent.last_forecast = {"open_cartons": {15: 3.0, 30: 4.0, 60: 40.0}}
    assert not any(
        isinstance(a, MoveAssociates) and a.source.startswith("S") for p in agent.candidates(dg) for a in p
    )


class _WaveFuture:
    """A lookahead stub for a charging-bound floor: a stower lent to pick works the pick backlog
    down (more units, less open pick work, a few more cartons open) and finishes more of the old
    orders inside the horizon, so the p95 of the finished orders rises while the p95 of every order
    the horizon saw falls. ``lose_on`` keys sample a future where the lend loses units."""

    def __init__(self, lose_on=()):
        self.calls: list[tuple[float, str]] = []
        self.lose_on = set(lose_on)

    def evaluate(self, plans, horizon_s, key):
        self.calls.append((horizon_s, key))
        nothing = {"units_picked": 1000, "units_stowed": 500, "open_pick_units": 300, "open_stow_units": 100,
                   "cycle_p95_s": 1500.0, "cycle_p95_all_s": 2400.0, "labour_h": 8.0}  # fmt: skip
        lend = dict(nothing, units_picked=1080, units_stowed=470, open_pick_units=220, open_stow_units=130,
                    cycle_p95_s=1660.0, cycle_p95_all_s=2200.0)  # fmt: skip
        if key in self.lose_on:
            lend.update(units_picked=990, open_pick_units=330)
        return [dict(nothing) if not p else dict(lend) for p in plans]


def _charging_bound_agent(queue, lookahead):
    from types import SimpleNamespace

    agent, board, levers, _ = _wave_agent({"P1": 1, "P2": 1, "S1": 1, "S2": 1, "S3": 1}, pool=5)
    agent.forecaster = SimpleNamespace(
        plan_rate=lambda t_s: 1.0, pad_queue_path=lambda dg, hmax: queue[:hmax]
    )
    agent.lookahead = lookahead
    agent.last_forecast = {}
    agent.charging_wave = True  # the scene's `[agent] charging_wave = true` (off by default)
    lend = [MoveAssociates("S1", "P1", 1)]
    agent.candidates = lambda dg: [list(lend)]
    dg = {"minute": 90, "t_s": 5400.0, "fleet": {"waiting_pad": 20, "pads": 4}}
    return agent, dg, lend


def test_a_lend_on_a_charging_bound_floor_is_judged_over_the_wave_on_several_futures():
    """20 units wait for 4 pads and the queue lasts 85 minutes: the lend is rolled forward over 90
    minutes, judged on the p95 of every order the horizon saw (the finished ones' p95 rises as old
    orders finish), and recommended only after it wins on three more futures. With a queue the pads
    clear within 30 minutes the same lend is judged as before: refused (the finished orders' p95 is
    +160 s). A future where the lend loses units pulls the mean of the three under the bar: refused."""
    wave_queue = [20] * 40 + [10] * 44 + [0] * 36
    la = _WaveFuture()
    agent, dg, lend = _charging_bound_agent(wave_queue, la)
    recs = agent._decide(dg)
    assert len(recs) == 1 and recs[0].applied and recs[0].horizon_s == 90 * 60.0, recs
    assert {h for h, _ in la.calls} == {90 * 60.0}
    assert [k for _, k in la.calls] == [
        "eluna.90",
        "eluna.90.confirm",
        "eluna.90.confirm2",
        "eluna.90.confirm3",
    ]
    assert agent.lent == [("S1", "P1")]

    la = _WaveFuture()
    agent, dg, _ = _charging_bound_agent([20] * 10 + [0] * 110, la)
    assert agent._decide(dg) == [] and {h for h, _ in la.calls} == {30 * 60.0}

    la = _WaveFuture(lose_on={"eluna.90.confirm2", "eluna.90.confirm3"})
    agent, dg, _ = _charging_bound_agent(wave_queue, la)
    assert agent._decide(dg) == [] and len(la.calls) == 4
