"""The floor levers beyond staffing (docs/eluna.md, levers table): order release and station weights,
closed cells and one-way aisles through the planner, pre-positioning pods, Sequoia decant as a role;
validated in scenes, feasibility-checked, in the event log when applied; the agent's candidates on
them; the operator's Accept applying a recommendation; recommendations on the PUB socket."""

from __future__ import annotations

import copy
import hashlib
import json
import sqlite3
import time
import tomllib
from pathlib import Path

import pytest

from fctwin.controller.eluna import ElunaAgent
from fctwin.controller.eluna.actions import Levers, as_dict, from_dict
from fctwin.controller.eluna.floor_actions import (
    ClearOneWay,
    CloseCells,
    OpenCells,
    PrepositionPods,
    SetOneWay,
    SetOrderRelease,
)
from fctwin.robots.checker import CheckerFloor
from fctwin.robots.messages import Serve, Staff
from fctwin.robots.sequoia import DECANT_PER_UNIT_S, SequoiaStation
from fctwin.sim.run import RunOptions, run_fc
from fctwin.sim.scene import SceneError, scene_from_dict

ROOT = Path(__file__).resolve().parents[1]
SCENES = ROOT / "scenes"


class Hook:
    """A run's viewer: calls ``fn(frame, dispatcher)`` after every tick (only reads, unless told)."""

    def __init__(self, fn):
        self.fn = fn

    def on_tick(self, frame, d):
        self.fn(frame, d)

    def on_minute(self, row):
        pass

    def on_end(self):
        pass


def run(
    scene: str, tmp_path, *, hours=0.15, seed=3, agent=None, hook=None, advice=None, publisher=None, **ov
):
    opts = RunOptions(
        hours=hours, seed=seed, link="local", world=False, runs_dir=tmp_path, record_poses=False,
        agent=agent, overrides=ov, cpu="off", viewer=Hook(hook) if hook else None, advice=advice,
        publisher=publisher,
    )  # fmt: skip
    return run_fc(SCENES / f"{scene}.toml", opts)


def events(db_path, *kinds) -> list[tuple]:
    db = sqlite3.connect(db_path)
    q = "SELECT t_s, kind, subject, a, b, c FROM events"
    if kinds:
        q += f" WHERE kind IN ({','.join('?' * len(kinds))})"
    rows = db.execute(q + " ORDER BY id", kinds).fetchall()
    db.close()
    return rows


def log_hash(db_path) -> str:
    h = hashlib.sha256()
    for row in events(db_path):
        h.update(repr(row).encode())
    return h.hexdigest()[:16]


# ------------------------------------------------------------------ validation


@pytest.fixture
def small_dict():
    return copy.deepcopy(tomllib.loads((SCENES / "fc_small.toml").read_text()))


@pytest.mark.parametrize(
    ("levers", "path", "says"),
    [
        ({"release": [{"station_weights": {"S1": 1.0}}]}, "levers.release[0].station_weights.S1", "no pick"),
        ({"release": [{"orders_per_min": -1}]}, "levers.release[0].orders_per_min", ""),
        ({"closures": [{"cells": [[0, 0]]}]}, "levers.closures[0].cells[0]", "wall"),
        ({"closures": [{"cells": [[3, 4]]}]}, "levers.closures[0].cells[0]", "storage"),
        ({"closures": [{"cells": [[99, 4]]}]}, "levers.closures[0].cells[0]", "off the"),
        ({"one_way": [{"row": 0, "cols": [0, 5], "direction": "E"}]}, "levers.one_way[0]", "wall"),
        ({"one_way": [{"row": 8, "cols": [2, 9], "direction": "N"}]}, "levers.one_way[0]", "E or W"),
        ({"one_way": [{"row": 8, "direction": "E"}]}, "levers.one_way[0]", "cols"),
        ({"preposition": [{"station": "S1", "at_h": 0.1}]}, "levers.preposition[0].station", "no pick"),
    ],
)
def test_scene_levers_are_validated_with_their_field_path(small_dict, levers, path, says):
    small_dict["levers"] = levers
    with pytest.raises(SceneError) as info:
        scene_from_dict(small_dict, source="s.toml")
    hits = [m for p, m in info.value.problems if p == path]
    assert hits, info.value.problems
    assert says in hits[0]


def test_sequoia_decant_is_validated(small_dict):
    small_dict["labour"] = {"sequoia_decant": True}
    with pytest.raises(SceneError) as info:
        scene_from_dict(small_dict, source="s.toml")
    assert info.value.problems == [("labour.sequoia_decant", "no Sequoia stow station in this scene")]
    raw = tomllib.loads((SCENES / "fc_stations.toml").read_text())
    raw["labour"] = {"staffing": {"SQ3": 2}}
    with pytest.raises(SceneError) as info:  # a Sequoia port is person-worked only with the role on
        scene_from_dict(raw, source="s.toml")
    assert info.value.problems[0][0] == "labour.staffing.SQ3"
    raw["labour"]["sequoia_decant"] = True
    scene_from_dict(raw, source="s.toml")


def test_a_closure_that_cuts_the_floor_is_a_scene_error_at_start(tmp_path):
    # column 9 from wall to wall splits fc_small into a west and an east half
    with pytest.raises(SceneError) as info:
        run(
            "fc_small",
            tmp_path,
            hours=0.02,
            **{"levers.closures": [{"cells": [[r, 9] for r in range(1, 22)]}]},
        )
    assert info.value.problems[0][0] == "levers.closures[0].cells"
    assert "off the floor" in info.value.problems[0][1]
    with pytest.raises(SceneError) as info:  # P1's queue
        run("fc_small", tmp_path, hours=0.02, **{"levers.closures": [{"cells": [[4, 1]]}]})
    assert info.value.problems == [("levers.closures[0].cells", "cell (4, 1) is a station's queue cell")]


# ------------------------------------------------------------------ actions and feasibility


def test_floor_actions_round_trip_as_data():
    for a in (
        SetOrderRelease(2.5, (("P1", 1.0), ("P2", 0.5))),
        SetOrderRelease(None, None),
        CloseCells(((11, 4), (11, 5))),
        OpenCells(((11, 4),)),
        SetOneWay("E", ((8, 2), (8, 3))),
        ClearOneWay(3),
        PrepositionPods("P1", 3),
    ):
        data = json.loads(json.dumps(as_dict(a)))
        assert from_dict(data) == a


def test_the_floor_levers_refuse_what_cannot_be_done(tmp_path):
    """Never people or orders for a closed station, never a wall or a failed unit's cell, never
    pods for a closed station, never a one-way rule over walls."""
    seen = {}

    def probe(frame, d):
        if seen or frame.step < 20 or not any(d.grid[u.cell] == 0 for u in d.units):
            return
        lv = Levers(d, None)
        seen["wall"] = lv.infeasible(CloseCells(((0, 0),)))
        seen["storage"] = lv.infeasible(CloseCells(((3, 4),)))
        seen["queue"] = lv.infeasible(CloseCells((d.stations[0].queue_cells[0],)))
        seen["closed_weights"] = lv.infeasible(SetOrderRelease(None, (("P3", 1.0),)))
        seen["zero_weights"] = lv.infeasible(SetOrderRelease(None, (("P1", 0), ("P2", 0))))
        seen["closed_pods"] = lv.infeasible(PrepositionPods("P3", 2))
        seen["one_way_wall"] = lv.infeasible(SetOneWay("E", ((0, 1), (0, 2))))
        seen["ok_close"] = lv.infeasible(CloseCells(((11, 12), (11, 13))))
        seen["ok_weights"] = lv.infeasible(SetOrderRelease(3.0, (("P1", 1.0), ("P2", 0.5))))
        k = next(i for i, u in enumerate(d.units) if d.grid[u.cell] == 0)  # one in an aisle
        d.units[k].failed = True  # for this probe only (restored below)
        try:
            seen["failed"] = lv.infeasible(CloseCells((d.units[k].cell,)))
        finally:
            d.units[k].failed = False

    run("eluna_misstaffed", tmp_path, hours=0.02, hook=probe)  # P3 and P4 are closed there
    assert "wall" in seen["wall"] and "storage" in seen["storage"] and "queue cell" in seen["queue"]
    assert "closed" in seen["closed_weights"] and "closed" in seen["closed_pods"]
    assert "every open pick station" in seen["zero_weights"]
    assert "wall" in seen["one_way_wall"] and "failed unit" in seen["failed"]
    assert seen["ok_close"] is None and seen["ok_weights"] is None


# ------------------------------------------------------------------ levers in a run


def test_closed_cells_empty_and_stay_empty_and_one_way_steers_the_planner(tmp_path):
    """Cells closed while units stand in them: those units leave, nobody enters afterwards, no
    collision. A one-way rule (E) on row 8, which the default highways run W: moves go east."""
    state = {"closed": None, "inside": None, "entered": [], "left_by": None, "prev": {}, "moves": [0, 0]}

    def watch(frame, d):
        pos = {u.unit_id: (u.row, u.col) for u in frame.units}
        prev = state["prev"]
        for uid, p in pos.items():
            q = prev.get(uid)
            if q is not None and q != p and p[0] == 8 and q[0] == 8:
                state["moves"][0 if p[1] > q[1] else 1] += 1
        if state["closed"] is None and frame.t_s > 120:
            inside = {uid: p for uid, p in pos.items() if p[0] == 11 and 4 <= p[1] <= 38}
            if inside:
                cols = sorted({p[1] for p in inside.values()})
                cells = [(11, c) for c in range(max(4, cols[0] - 2), min(38, cols[-1] + 2) + 1)]
                try:
                    d.close_cells(cells)  # the lever's entry point, between two ticks
                except ValueError as exc:  # a unit deep inside could not get out: next tick
                    assert "could not get out" in str(exc)
                    state["prev"] = pos
                    return
                state["closed"] = set(cells)
                state["inside"] = set(inside)
                state["closed_step"] = frame.step
        elif state["closed"] is not None:
            for uid, p in pos.items():
                if p in state["closed"] and prev.get(uid) not in state["closed"]:
                    state["entered"].append((frame.step, uid, p))
            if state["left_by"] is None and not any(pos[u] in state["closed"] for u in state["inside"]):
                state["left_by"] = frame.step
        state["prev"] = pos

    res = run(
        "fc_small", tmp_path, hours=0.2, hook=watch,
        **{"levers.one_way": [{"row": 8, "cols": [2, 40], "direction": "E"}]},
    )  # fmt: skip
    assert state["closed"] is not None, "no unit ever stood in row 11"
    assert state["entered"] == []
    assert state["left_by"] is not None and state["left_by"] - state["closed_step"] <= 40
    east, west = state["moves"]
    assert east > 3 * max(1, west), state["moves"]
    assert res.kpis["collisions"] == 0
    closed = events(res.db_path, "cell_closed", "one_way")
    assert closed[0][1] == "one_way" and closed[0][2] == "E"
    assert {(r[3], r[4]) for r in closed if r[1] == "cell_closed"} == state["closed"]


def test_order_release_weights_and_hold(tmp_path):
    """Weight 0 sends no new orders to P2; a release rate of 0 holds every order in the backlog."""
    res = run(
        "fc_small", tmp_path, hours=0.2,
        **{"levers.release": [
            {"at_h": 0.03, "station_weights": {"P1": 2.0, "P2": 0.0}},
            {"at_h": 0.12, "orders_per_min": 0.0},
        ]},
    )  # fmt: skip
    log = events(res.db_path, "order_release", "order_assigned")
    rel = [r for r in log if r[1] == "order_release"]
    assert [(r[2], r[5]) for r in rel] == [("P1=2,P2=0", -1.0), ("P1=2,P2=0", 0.0)]
    t_w, t_hold = rel[0][0], rel[1][0]
    after_w = [r[2] for r in log if r[1] == "order_assigned" and t_w < r[0] <= t_hold]
    assert after_w and "P2" not in after_w and after_w.count("P1") >= 2
    assert not [r for r in log if r[1] == "order_assigned" and r[0] > t_hold + 1]
    assert res.kpis["orders_completed"] > 0


def test_pre_positioning_brings_the_most_wanted_pods_next_to_the_station(tmp_path):
    reached = set()
    target = {}

    def watch(frame, d):
        if not target:
            for t in d.trips + [u.trip for u in d.units if u.trip is not None]:
                if t.kind == "move" and t.return_cell is not None:
                    target[t.pod] = t.return_cell
        for pod, cell in target.items():
            if d.book.pod_cell[pod] == cell:
                reached.add(pod)

    res = run(
        "fc_small", tmp_path, hours=0.15, hook=watch,
        **{"levers.preposition": [{"station": "P3", "at_h": 0.05, "pods": 3}]},
    )  # fmt: skip
    moved = events(res.db_path, "preposition")
    assert 1 <= len(moved) <= 3 and all(r[2] == "P3" for r in moved)
    assert reached and reached <= {r[4] for r in moved}


def test_a_sequoia_port_follows_its_decant_staffing():
    floor = CheckerFloor()
    floor.carried[(2, 0)] = ("T-1", 0)

    def duration(staff):
        st = SequoiaStation(unit_id="SQ3", floor=floor, cell=(2, 0), kind="stow")
        st.reset(seed=5)
        if staff is not None:
            assert st.handle(staff, 0.0)[0].kind == "ack"
        st.handle(Serve(1, "SQ3", 1, "stow", 0, 3, 2), 0.0)
        st.step(1.0, 1.0)
        return st.busy_until_s, st

    one, _ = duration(None)
    two, _ = duration(Staff(7, "SQ3", 2, 1.48))
    # More people shorten the people's share (two units decanted), not the tote move of the line
    people_s = 2 * DECANT_PER_UNIT_S
    assert two == pytest.approx(one - people_s + people_s / 1.48, rel=1e-9)
    _, st = duration(Staff(7, "SQ3", 0, 0.0))
    assert st.queue_length() == 1  # nobody decanting: the line waits
    assert "staff" in st.spec.accepted_commands


def test_sequoia_decant_is_a_role_on_the_labour_board(tmp_path, monkeypatch):
    """fc_stations with the role on and SQ3 unstaffed: the port decants nothing until someone is
    moved there from the pool (walk plus set-up), then it works; the moves are in the event log."""
    from fctwin.controller.eluna import MoveAssociates
    from fctwin.sim.eluna.manager import FloorManager

    managers = []
    build = FloorManager.build

    def keep(loop, **kw):
        managers.append(build(loop, **kw))
        return managers[-1]

    monkeypatch.setattr(FloorManager, "build", staticmethod(keep))
    moved = {}

    def move_later(frame, d):
        if frame.t_s >= 300 and not moved:
            board = managers[0].board
            assert board.config.kinds["SQ3"] == "stow" and board.staffed["SQ3"] == 0
            moved["due"] = managers[0].levers.apply(MoveAssociates("pool", "SQ3", 1), frame.t_s)

    res = run(
        "fc_stations", tmp_path, hours=0.3, seed=11, hook=move_later,
        **{"labour.sequoia_decant": True, "labour.staffing": {"SQ3": 0}, "labour.pool": 7},
    )  # fmt: skip
    staff = [r for r in events(res.db_path, "staff") if r[2] == "SQ3"]
    assert staff[0][3] == 0  # closed at the start
    arrive = [r for r in staff if r[3] == 1]
    assert arrive and arrive[0][0] >= moved["due"] - 3.0  # people arrive after walk + set-up
    assert moved["due"] >= 300 + 120 + 180
    stowed = [r for r in events(res.db_path, "carton_stowed") if r[2] == "SQ3"]
    assert all(r[0] >= arrive[0][0] for r in stowed)


# ------------------------------------------------------------------ the agent on the floor levers


def test_the_agent_proposes_feasible_floor_plans_and_advise_changes_nothing(tmp_path, monkeypatch):
    seen = []
    candidates = ElunaAgent.candidates

    def checked(self, dg):
        plans = candidates(self, dg)
        for plan in plans:
            for a in plan:
                assert self.levers.infeasible(a) is None, a
            if any(hasattr(a, "describe") for a in plan):
                seen.append(plan)
        return plans

    monkeypatch.setattr(ElunaAgent, "candidates", checked)
    kw = {
        "agent.horizon_min": 5, "agent.period_min": 5,
        "agent.floor_levers": ["release", "traffic", "preposition"],
        "labour.staffing": {"P1": 3, "P2": 1, "P3": 1, "P4": 1}, "labour.pool": 11,
    }  # fmt: skip
    off = run("eluna_balanced", tmp_path, hours=0.34, agent="off", **kw)
    advise = run("eluna_balanced", tmp_path, hours=0.34, agent="advise", **kw)
    assert seen and any(isinstance(p[0], SetOrderRelease) for p in seen)
    assert log_hash(advise.db_path) == log_hash(off.db_path)


# ------------------------------------------------------------------ Accept applies, Reject is recorded


def test_accept_applies_the_recommendation_with_its_delays_and_reject_is_recorded(tmp_path):
    from fctwin.sim.advice import AdviceInbox, read_recommendations

    inbox = AdviceInbox()
    said = []

    def decide(frame, d):
        n = len(said)
        if n < 2 and inbox.handler.__name__ == "handle":
            db = sqlite3.connect(tmp_path / "acc" / "run.sqlite")
            ids = [r[0] for r in db.execute("SELECT rec_id FROM recommendations ORDER BY id")]
            db.close()
            if len(ids) > n:
                # reject the first, accept the next: once a plan is applied the agent may see
                # nothing more to recommend in the 45 minutes
                inbox.submit(ids[n], accepted=(n == 1))
                said.append(ids[n])

    opts = RunOptions(
        hours=0.75, seed=3, link="local", world=False, runs_dir=tmp_path, run_id="acc", record_poses=False,
        agent="advise", cpu="off", viewer=Hook(decide), advice=inbox,
        overrides={"agent.horizon_min": 10, "agent.period_min": 5},
    )  # fmt: skip
    res = run_fc(SCENES / "eluna_misstaffed.toml", opts)
    assert len(said) == 2, said  # one rejected, one accepted
    recs = {r["rec_id"]: r for r in read_recommendations(res.db_path)}
    first = recs[said[1]]
    assert first["decision"] == "accept" and first["decision_outcome"].startswith("applied")
    log = events(res.db_path)
    k = next(i for i, r in enumerate(log) if r[1] == "rec_accepted")
    t_acc = log[k][0]
    moves = first["action"]["actions"]
    # the people leave at once (their station's staffing drops) and arrive after the walk
    staff_after = [r for r in log[k:] if r[1] == "staff"]
    assert staff_after and staff_after[0][0] <= t_acc + 5
    targets = {m["target"] for m in moves}
    arrivals = [r for r in staff_after if r[2] in targets]
    assert arrivals and min(r[0] for r in arrivals) >= t_acc + 120.0 - 5
    assert recs[said[0]]["decision"] == "reject" and recs[said[0]]["decision_outcome"] == "rejected"
    assert any(r[1] == "rec_rejected" and r[3] == said[0] for r in log)


# ------------------------------------------------------------------ recommendations on the PUB socket


def test_recommendations_reach_a_pub_subscriber_over_loopback(tmp_path):
    import zmq

    from fctwin.network import protocol as p
    from fctwin.network.publisher import RecommendationPublisher

    ctx = zmq.Context()
    pub = RecommendationPublisher("tcp://127.0.0.1:*", context=ctx)
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.linger = 0
    sub.connect(pub.endpoint)
    time.sleep(0.5)  # the slow-joiner: let the subscription reach the publisher
    try:
        res = run(
            "eluna_misstaffed", tmp_path, hours=0.75, agent="advise", publisher=pub,
            **{"agent.horizon_min": 10, "agent.period_min": 10},
        )  # fmt: skip
        got = []
        while sub.poll(2000):
            got.append(p.decode(sub.recv(), allowed_types=p.PUB_TYPES))
    finally:
        sub.close()
        pub.close()
        ctx.term()
    assert got, "no recommendation published"
    env = got[0]
    assert env.type == p.RECOMMENDATION and env.sender == "dispatcher"
    body = env.body
    assert body.run_id == res.run_id and body.mode == "advise" and not body.applied
    db = sqlite3.connect(res.db_path)
    first = db.execute("SELECT rec_id, text FROM recommendations ORDER BY id").fetchone()
    db.close()
    assert (body.rec_id, body.text) == first
    assert body.actions and json.loads(body.actions[0].params_json)
    assert "objective" in body.predicted


def test_a_bad_recommendation_is_refused_on_receipt():
    import msgspec

    from fctwin.network import protocol as p

    good = p.Recommendation(rec_id=1, run_id="r", t_s=1.0, kind="k", text="t", mode="advise", applied=False)
    ok = p.decode(p.encode(p.RECOMMENDATION, good, sender="dispatcher", seq=1))
    assert ok.body == good
    for bad in (
        {"actions": [{"kind": "x", "params_json": "[1, 2]"}]},
        {"actions": [{"kind": "x", "params_json": "{nope"}]},
        {"mode": "sometimes"},
        {"rec_id": 0},
    ):
        body = {**msgspec.to_builtins(good), **bad}
        frame = msgspec.msgpack.encode(
            {"v": 1, "type": "recommendation", "sender": "dispatcher", "seq": 1, "t_sim_s": 0.0,
             "t_wall_s": 0.0, "body": body}
        )  # fmt: skip
        with pytest.raises(p.ProtocolError) as info:
            p.decode(frame, allowed_types=p.PUB_TYPES)
        assert info.value.code == p.ErrorCode.SCHEMA


def test_auto_rolls_floor_plans_forward_in_its_forks_and_is_deterministic(tmp_path, monkeypatch):
    """The floor plans go through the same fork lookahead (each applied in a child, which raises
    in the parent if applying fails) and auto mode stays deterministic per seed."""
    from fctwin.sim.eluna.lookahead import ForkLookahead

    rolled = []
    evaluate = ForkLookahead.evaluate

    def spy(self, plans, horizon_s, key):
        rolled.extend(a.kind for plan in plans for a in plan)
        return evaluate(self, plans, horizon_s, key)

    monkeypatch.setattr(ForkLookahead, "evaluate", spy)
    kw = {
        "agent.horizon_min": 5, "agent.period_min": 5,
        "agent.floor_levers": ["release", "traffic", "preposition"],
        "labour.staffing": {"P1": 3, "P2": 1, "P3": 1, "P4": 1}, "labour.pool": 11,
    }  # fmt: skip
    a = run("eluna_balanced", tmp_path, hours=0.34, agent="auto", **kw)
    b = run("eluna_balanced", tmp_path, hours=0.34, agent="auto", **kw)
    assert "order_release" in rolled
    assert log_hash(a.db_path) == log_hash(b.db_path)
    assert a.kpis["collisions"] == 0


def test_cli_pub_refuses_a_plaintext_bind_beyond_loopback(tmp_path):
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "fctwin.sim.cli", "run", "fc_small", "--hours", "0.01", "--agent", "advise",
         "--pub", "tcp://0.0.0.0:5999", "--runs-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert out.returncode == 2, out.stderr[-2000:]
    assert "--pub" in out.stderr and "Traceback" not in out.stderr


def test_a_decision_on_the_last_minute_writes_nothing_of_its_forks_into_the_run_store(tmp_path):
    """The lookahead's children run past the end of the run; none of their minutes, events or
    recommendations may reach the run's database (they once did when a decision fell on the
    run's last minute)."""
    res = run(
        "eluna_misstaffed", tmp_path, hours=0.5, agent="advise",
        **{"agent.horizon_min": 10, "agent.period_min": 10},
    )  # fmt: skip
    db = sqlite3.connect(res.db_path)
    minutes = [m for (m,) in db.execute("SELECT minute FROM kpi_minute")]
    last_event = db.execute("SELECT MAX(t_s) FROM events").fetchone()[0]
    recs = db.execute("SELECT rec_id, t_s FROM recommendations").fetchall()
    digests = db.execute("SELECT COUNT(*) FROM digest_minute").fetchone()[0]
    db.close()
    assert sorted(minutes) == list(range(1, 31))
    assert last_event <= 1800.0 + 1e-6
    assert len({r for r, _ in recs}) == len(recs) and all(t <= 1800.0 for _, t in recs)
    assert any(t == 1800.0 for _, t in recs), recs  # the agent did decide on the last minute
    assert digests == 30


def test_the_planner_stays_conflict_free_with_run_time_closures_and_one_way_guidance():
    """PIBT on a shelf floor, lifelong: at step 60 a stretch of aisle closes where units stand and
    two rows become one-way (`set_move_cost_overlay`); every step passes the independent checker,
    no unit enters a closed cell, the units inside leave, and units keep reaching goals."""
    import numpy as np

    from fctwin.controller.planning import FleetArrays, GridMaps
    from fctwin.controller.planning.pibt import PIBTPlanner
    from fctwin.controller.planning.validate import check_step
    from fctwin.controller.traffic import one_way_overlay, segment

    H, W = 13, 24
    pu = np.ones((H, W), bool)
    for r in (2, 3, 5, 6, 8, 9):  # shelf rows with gaps every 6 columns
        pu[r, 1:-1] = True
        pu[r, [c for c in range(1, W - 1) if c % 6 != 0]] = False
    pl = pu.copy()
    rng = np.random.default_rng(4)
    free = np.argwhere(pu)
    n = 24
    pos = free[rng.choice(len(free), n, replace=False)].astype(np.int32)
    fleet = FleetArrays(
        pos=pos, heading=np.zeros(n, np.int8), goal=free[rng.integers(0, len(free), n)].astype(np.int32),
        loaded=np.zeros(n, bool), active=np.ones(n, bool),
    )  # fmt: skip
    planner = PIBTPlanner()
    grid = GridMaps(pu.copy(), pl.copy())
    planner.reset(grid, n, seed=1)
    closed: set = set()
    inside: set = set()
    reached = 0
    act = np.empty(n, np.int8)
    for step in range(400):
        if step >= 60 and not closed:
            # close row 4 (or 7), cols 3-14, once every unit inside can step out (the rule the
            # dispatcher's `closure_problem` applies: the planner never moves a unit into a closed cell)
            for row in (4, 7):
                cells = {(row, c) for c in range(3, 15)}
                here = [tuple(p) for p in fleet.pos.tolist() if tuple(p) in cells]
                exits = [
                    any(
                        0 <= p[0] + dr < H and 0 <= p[1] + dc < W and pu[p[0] + dr, p[1] + dc]
                        and (p[0] + dr, p[1] + dc) not in cells
                        for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0))
                    )
                    for p in here
                ]  # fmt: skip
                if here and all(exits):
                    closed = cells
                    inside = set(here)
                    break
            for cell in closed:
                grid.passable_unloaded[cell] = grid.passable_loaded[cell] = False
        if step == 60:
            rules = [segment(1, None, (1, 22), "E"), segment(10, None, (1, 22), "W")]
            planner.set_move_cost_overlay(one_way_overlay((H, W), rules))
        for i, (g, p) in enumerate(zip(fleet.goal.tolist(), fleet.pos.tolist(), strict=True)):
            if g == p or tuple(g) in closed:  # a new errand, never into a closed cell
                if g == p:
                    reached += bool(closed)
                ok = [c for c in free.tolist() if tuple(c) not in closed]
                fleet.goal[i] = ok[int(rng.integers(0, len(ok)))]
        planner.step(grid, fleet, act)
        before = {i for i, p in enumerate(fleet.pos.tolist()) if tuple(p) in closed}
        fleet.pos, fleet.heading = check_step(
            grid.passable_unloaded, grid.passable_loaded, fleet.pos, fleet.heading, fleet.loaded,
            fleet.active, act,
        )  # fmt: skip
        after = {i for i, p in enumerate(fleet.pos.tolist()) if tuple(p) in closed}
        assert after <= before  # nobody enters
    assert not any(tuple(p) in closed for p in fleet.pos.tolist())  # the ones inside got out
    assert reached > 50
    assert closed and inside  # the closure happened with units inside


def test_a_closure_is_refused_when_a_standing_unit_blocks_the_only_exit():
    """Closing cells around a unit whose only open neighbour holds a unit that cannot move (failed,
    stopped or charging) would trap it there (for ever behind a failed unit): refused with the reason;
    the same closure is fine once the blocking unit can move, or with no unit inside."""
    from types import SimpleNamespace

    import numpy as np

    from fctwin.controller.floorplan import AISLE, WALL
    from fctwin.controller.traffic import closure_problem
    from fctwin.robots.messages import UnitMode

    grid = np.full((3, 7), WALL, np.int8)
    grid[1, :] = AISLE  # one corridor: row 1, columns 0..6

    def unit(uid, **kw):
        return SimpleNamespace(
            unit_id=uid, failed=False, mode=int(UnitMode.MOVING), charging_at=None, pod=-1, **kw
        )

    a, b = unit("A"), unit("B")
    walk = grid == AISLE
    d = SimpleNamespace(
        grid=grid, walk_unloaded=walk, static_loaded=walk.copy(), storage_mask=np.zeros_like(walk),
        pods_mask=np.zeros_like(walk), stations=[], blocked_cells=set(),
        units=[a, b], _cell_owner={(1, 2): 0, (1, 3): 1},
    )  # fmt: skip
    cells = [(1, 0), (1, 1), (1, 2)]  # A at (1, 2): its only open neighbour is (1, 3), where B stands
    assert closure_problem(d, cells) is None  # B is on its way: A follows it out
    for why in ("failed", "stopped", "charging"):
        b.failed, b.mode, b.charging_at = False, int(UnitMode.MOVING), None
        if why == "failed":
            b.failed = True
        elif why == "stopped":
            b.mode = int(UnitMode.STOPPED)
        else:
            b.charging_at = (1, 3)
        msg = closure_problem(d, cells)
        assert msg is not None and "unit A at (1, 2) could not get out" in msg, (why, msg)
    b.failed, b.mode, b.charging_at = False, int(UnitMode.MOVING), None
    d._cell_owner = {(1, 3): 1}  # nobody inside: closing is fine even beside a failed unit
    b.failed = True
    assert closure_problem(d, cells) is None
