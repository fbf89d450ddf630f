"""The stow release (controller/eluna/stow_release.py): one stower to the pool when the drive units,
not the people, set the stow rate. Hand-made floors for the rules; short runs for the modes."""

from __future__ import annotations

import copy
import hashlib
import sqlite3
from pathlib import Path
from types import SimpleNamespace

from fctwin.controller.eluna import (
    POOL,
    ElunaAgent,
    LabourBoard,
    LabourConfig,
    Levers,
    MoveAssociates,
    stow_release,
)
from fctwin.controller.eluna.stow_release import stow_release_plans
from fctwin.sim.run import RunOptions, run_fc

ROOT = Path(__file__).resolve().parents[1]


class _Quiet:
    units = []
    stow_unit_cap = None

    def set_station_staff(self, *a, **kw):
        pass


def _agent(staffing, *, cartons_per_h=36.0, dock_peak_h=0.0, down=()):
    kinds = {sid: ("pick" if sid.startswith("P") else "stow") for sid in staffing}
    board = LabourBoard(LabourConfig(staffing=dict(staffing), kinds=kinds, pool=sum(staffing.values()) + 1))
    for sid in down:
        board.down_until[sid] = 1e9
    levers = Levers(_Quiet(), board)
    service = {sid: (12.5 if sid.startswith("P") else 180.0) for sid in staffing}
    agent = ElunaAgent(
        mode="auto",
        levers=levers,
        service_s=service,
        forecaster=SimpleNamespace(plan_rate=lambda t_s: 1.0),
        lookahead=None,
    )
    agent.last_forecast = {"open_cartons": {15: 4.0, 30: 4.0, 60: 4.0}}
    dg = _digest(board, minute=60, pods_at={})
    for minute in range(60):  # an hour of cartons arriving at the planned stream's rate
        obs = {**dg, "minute": minute, "cartons_arrived": cartons_per_h / 60.0}
        agent._observe_rates({**obs, "dock_expected_per_h": cartons_per_h, "dock_peak_h": dock_peak_h})
    return agent, board


def _digest(board, *, minute, pods_at, cartons=4):
    stations = [
        {
            "id": sid,
            "kind": "pick" if sid.startswith("P") else "stow",
            "associates": n,
            "open_lines": 3 if sid.startswith("P") else 1,
            "pending": 0 if sid.startswith("P") else 1,
            "queued_pods": pods_at.get(sid, 0),
            "pods_on_way": 0,
            "units_served": 0,
            "lines_served": 0,
        }
        for sid, n in board.staffed.items()
    ]
    return {
        "minute": minute,
        "t_s": 60.0 * minute,
        "stations": stations,
        "open_lines": 12,
        "open_cartons": cartons,
        "backlog_lines": 0,
        "lines_arrived": 9,
        "cartons_arrived": 0.6,
        "battery_hist": [0, 0, 0, 0, 40],
        "unit_states": {"idle": 15, "pick_trip": 20, "stow_trip": 5, "charging": 0, "failed": 0},
    }


FLOOR = {"P1": 1, "P2": 1, "P3": 1, "P4": 1, "S1": 1, "S2": 1, "S3": 1, "S4": 1}


def _feasible(agent, plan, t_s):
    b = copy.deepcopy(agent.levers.board)
    for a in plan:
        assert b.infeasible(a.source, a.target, a.n) is None, a
        b.move(t_s, a.source, a.target, a.n, _Quiet())
    return True


def test_a_stower_goes_to_the_pool_when_pods_not_people_set_the_stow_rate():
    """Four stow stations, 36 cartons an hour, no pod waiting at any stow station: one stower to the
    pool (three stations at 20 cartons an hour each cover 36 at under 65% busy), feasible, and among
    the agent's candidates when the hook is installed; never a second (two would not cover it)."""
    agent, board = _agent(FLOOR)
    dg = _digest(board, minute=60, pods_at={"P1": 3, "P2": 3})
    plans = stow_release_plans(agent, dg)
    assert len(plans) == 1 and len(plans[0]) == 1
    move = plans[0][0]
    assert isinstance(move, MoveAssociates) and move.target == POOL and move.source.startswith("S")
    assert _feasible(agent, plans[0], dg["t_s"])
    agent.candidate_hooks.append(stow_release_plans)
    assert plans[0] in agent.candidates(dg)
    # after that release: three stow stations left, two would not cover the stream
    board.move(dg["t_s"], move.source, POOL, 1, _Quiet())
    assert stow_release_plans(agent, _digest(board, minute=70, pods_at={})) == []


def test_no_stow_release_when_people_are_the_bottleneck_or_work_is_ahead():
    """Not when pods queue for people at a stow station; not when a wave on the dock schedule makes
    the busiest hour ahead more than the stations left can take; not before half an hour of run;
    not when the stow forecast an hour ahead needs every stower."""
    agent, board = _agent(FLOOR)
    assert stow_release_plans(agent, _digest(board, minute=60, pods_at={"S2": 3})) == []
    assert stow_release_plans(agent, _digest(board, minute=20, pods_at={})) == []
    wave, wboard = _agent(FLOOR, dock_peak_h=60.0)  # 36/h plus a 60-carton trailer's hour ahead
    assert stow_release_plans(wave, _digest(wboard, minute=60, pods_at={})) == []
    agent.last_forecast = {"open_cartons": {15: 10.0, 30: 30.0, 60: 60.0}}
    assert stow_release_plans(agent, _digest(board, minute=60, pods_at={})) == []


def test_the_generator_waits_for_half_an_hour_without_pods_waiting_for_stowers():
    """`StowRelease` proposes only while the 30-minute mean of pods queued behind the face at the
    open stow stations stays under `MAX_PODS_WAITING`: after a spell of pods waiting (two behind
    the face at S1 and S2), nothing until enough quiet minutes have passed."""
    from fctwin.controller.eluna.stow_release import StowRelease

    agent, board = _agent(FLOOR)
    gen = StowRelease()
    assert gen(agent, _digest(board, minute=60, pods_at={})) == []  # nothing seen yet
    for minute in range(30):
        gen.observe(agent, _digest(board, minute=minute, pods_at={"S1": 3, "S2": 3}))
    assert gen(agent, _digest(board, minute=60, pods_at={})) == []
    for minute in range(30, 90):
        gen.observe(agent, _digest(board, minute=minute, pods_at={"S1": 1, "S3": 1}))
    assert (
        gen(agent, _digest(board, minute=90, pods_at={}))
        == stow_release_plans(agent, _digest(board, minute=90, pods_at={}))
        != []
    )


def test_the_stow_release_guard_keeps_pick_service_and_what_the_stations_left_can_clear():
    """The guard judges only the generator's own plans: pick as the agent's service guard (units,
    open pick work, p95), stow by what the three stations left clear in `CLEAR_MIN` minutes (3 x
    20 cartons an hour x 12 units: 240 units in 20 minutes), not by cartons stowed in the horizon."""
    from fctwin.controller.eluna.stow_release import StowRelease

    agent, board = _agent(FLOOR)
    gen = StowRelease(12.0)
    gen.pods_waiting = 0.0
    plan = gen(agent, _digest(board, minute=60, pods_at={}))[0]
    r0 = {"units_picked": 300, "units_stowed": 200, "open_pick_units": 50, "open_stow_units": 60}
    r0["cycle_p95_s"] = 200
    assert gen.guard(agent, [MoveAssociates("P1", POOL, 1)], r0, r0) is None  # not its plan
    assert gen.guard(agent, plan, {**r0, "units_stowed": 150, "open_stow_units": 110}, r0) is True
    assert gen.guard(agent, plan, {**r0, "open_stow_units": 250}, r0) is False
    assert gen.guard(agent, plan, {**r0, "units_picked": 290}, r0) is False
    assert gen.guard(agent, plan, {**r0, "cycle_p95_s": 230}, r0) is False
    assert gen.guard(agent, plan, {**r0, "open_pick_units": 70}, r0) is False


def test_a_stow_release_never_takes_from_a_closed_or_down_station_nor_the_last_two():
    """Closed (0 people) and down stations are never the source; two open stow stations stay; a
    second person at a station goes before a station's only one."""
    agent, board = _agent({"P1": 1, "P2": 1, "S1": 0, "S2": 1, "S3": 1, "S4": 1}, down=("S4",))
    assert stow_release_plans(agent, _digest(board, minute=60, pods_at={})) == []  # S2, S3 left
    agent, board = _agent({"P1": 1, "P2": 1, "S1": 0, "S2": 2, "S3": 1, "S4": 1}, cartons_per_h=20.0)
    plans = stow_release_plans(agent, _digest(board, minute=60, pods_at={}))
    assert plans == [[MoveAssociates("S2", POOL, 1)]]
    assert _feasible(agent, plans[0], 3600.0)


def _hash(db_path):
    db = sqlite3.connect(db_path)
    h = hashlib.sha256()
    for row in db.execute("SELECT t_s, kind, subject, a, b, c FROM events ORDER BY id"):
        h.update(repr(row).encode())
    db.close()
    return h.hexdigest()


def test_advise_with_the_stow_release_leaves_the_event_log_unchanged(tmp_path, monkeypatch):
    """In a run (balanced floor, evidence time shortened so it acts within the short run): the
    hook proposes, advise changes nothing in the event log, and auto is deterministic per seed."""
    monkeypatch.setattr(stow_release, "MIN_EVIDENCE_S", 0.0)
    proposed = []
    real = stow_release.stow_release_plans

    def spy(agent, dg):
        plans = real(agent, dg)
        proposed.extend(plans)
        return plans

    monkeypatch.setattr(stow_release, "stow_release_plans", spy)

    kw = {"agent.horizon_min": 10, "agent.period_min": 10, "agent.stow_release": True}

    def run(agent):
        opts = RunOptions(
            hours=0.5, seed=5, link="local", world=False, runs_dir=tmp_path, record_poses=False, agent=agent,
            overrides=kw, cpu="off",
        )  # fmt: skip
        return run_fc(ROOT / "scenes" / "eluna_balanced.toml", opts)

    off = run("off")
    advise = run("advise")
    assert proposed, "the stow release was never proposed"
    assert _hash(advise.db_path) == _hash(off.db_path)
    a, b = run("auto"), run("auto")
    assert _hash(a.db_path) == _hash(b.db_path)


def test_the_scene_switch_is_validated():
    """``[agent] stow_release`` is a boolean; anything else names the field."""
    import tomllib

    import pytest

    from fctwin.sim.scene import SceneError, scene_from_dict

    raw = tomllib.loads((ROOT / "scenes" / "eluna_balanced.toml").read_text())
    raw["agent"]["stow_release"] = "sometimes"
    with pytest.raises(SceneError) as info:
        scene_from_dict(raw, source="s.toml")
    assert "s.toml: agent.stow_release:" in str(info.value)
    raw["agent"]["stow_release"] = True
    assert scene_from_dict(raw, source="s.toml").spec.agent.stow_release is True
    del raw["agent"]["stow_release"]
    assert scene_from_dict(raw, source="s.toml").spec.agent.stow_release is False  # off by default
