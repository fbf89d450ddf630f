"""The agent without a twin to fork (hardware in the loop): ``[agent] lookahead = "model"`` makes a
headless run take the path `fctwin serve` takes, and that path judges the same candidate plans by
the fluid model's projection of the objective J (docs/eluna.md, "Modes")."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import pytest

from fctwin.controller.eluna import ElunaAgent
from fctwin.controller.eluna.actions import POOL, Levers, MoveAssociates
from fctwin.controller.eluna.labour import LabourBoard, LabourConfig
from fctwin.sim.scene import SceneError, scene_from_dict

SCENES = Path(__file__).resolve().parents[1] / "scenes"


@pytest.mark.parametrize("value", ["forks", True, False, 1])
def test_the_lookahead_field_is_validated(value):
    raw = tomllib.loads((SCENES / "eluna_balanced.toml").read_text())
    raw["agent"]["lookahead"] = value
    with pytest.raises(SceneError) as info:
        scene_from_dict(copy.deepcopy(raw), source="s.toml")
    assert any(p == "agent.lookahead" for p, _ in info.value.problems), info.value.problems
    assert "fork" in str(info.value) and "model" in str(info.value)
    for ok in ("fork", "model"):
        raw["agent"]["lookahead"] = ok
        assert scene_from_dict(copy.deepcopy(raw), source="s.toml").spec.agent.lookahead == ok


class _Quiet:
    units: list = []
    stow_unit_cap = None

    def set_station_staff(self, *a, **kw):
        pass


class _Projection:
    """A forecaster whose fluid projection clears ``per_person`` lines over the horizon for every
    person a plan sends to P2, and nothing for one sent to P1 (P1's pods do not come): records
    the staffing changes it was asked about."""

    def __init__(self, per_person: float):
        self.per_person = per_person
        self.asked: list[list] = []
        self.plan_rate = lambda t_s: 1.0

    def project(self, dg, changes, minutes):
        self.asked.append(list(changes))
        to_p2 = sum(n for _, sid, n in changes if sid == "P2" and n > 0)
        left = max(0.0, 200.0 - self.per_person * to_p2)
        return {
            "open_lines": [left] * minutes,
            "open_cartons": [4.0] * minutes,
            "lines_in": [10.0] * minutes,
            "cartons_in": [0.5] * minutes,
            "staff": [],
        }


def _agent(per_person: float):
    staffing = {"P1": 1, "P2": 1, "S1": 1, "S2": 1}
    kinds = {sid: ("pick" if sid.startswith("P") else "stow") for sid in staffing}
    board = LabourBoard(LabourConfig(staffing=staffing, kinds=kinds, pool=6))
    service = {"P1": 12.5, "P2": 12.5, "S1": 180.0, "S2": 180.0}
    fc = _Projection(per_person)
    agent = ElunaAgent(
        mode="advise", levers=Levers(_Quiet(), board), service_s=service, forecaster=fc, lookahead=None
    )
    agent.units_per = {"pick": 1.2, "stow": 12.0}
    agent.shift_end_s = 5400.0  # half an hour after the horizon: a floater is paid for it alone
    agent.last_forecast = {}
    agent._cum = {"units_picked": 600, "units_stowed": 120}
    board.paid_s = 4 * 3600.0  # 180 units per labour hour so far
    dg = {"minute": 60, "t_s": 3600.0, "open_lines": 200, "open_cartons": 4, "stations": []}
    return agent, fc, dg


def test_the_model_choice_takes_the_plan_with_the_higher_projected_objective():
    """Two candidate moves of a floater, to P1 and to P2: the fluid projection clears 120 lines
    with the one to P2 and none with the one to P1, so P2's is chosen (not the first on the list,
    which the fluid path used to take), with its projected gain; the plan's staffing change
    reaches the projection at the walk's end."""
    agent, fc, dg = _agent(per_person=120.0)
    to_p1, to_p2 = [MoveAssociates(POOL, "P1", 1)], [MoveAssociates(POOL, "P2", 1)]
    plan, predicted, evidence = agent._model_choice(dg, [to_p1, to_p2])
    assert plan == to_p2
    # J = units done - 0.5 * open units - price * labour: 120 lines more done and 120 fewer open,
    # at 1.2 units a line, less the floater's price over the rest of the shift
    price = agent.labour_price() * (agent.shift_end_s - dg["t_s"]) / agent.horizon_s
    assert predicted["objective"] == pytest.approx(1.5 * 120 * 1.2 - price * 0.5, abs=0.02)
    assert "model" in evidence and "lookahead" not in evidence
    assert fc.asked[0] == [] and fc.asked[2] == [(3600.0 + agent.levers.board.config.walk_s, "P2", 1)]


def test_the_model_choice_does_nothing_when_no_plan_pays_for_its_labour():
    """A floater that clears 5 lines is not worth the rest of the shift's labour: no plan."""
    agent, _, dg = _agent(per_person=5.0)
    plan, _, _ = agent._model_choice(dg, [[MoveAssociates(POOL, "P2", 1)]])
    assert plan is None


@pytest.mark.parametrize(("lookahead", "forks"), [("fork", True), ("model", False)])
def test_the_model_setting_makes_a_headless_run_take_the_serve_path(tmp_path, monkeypatch, lookahead, forks):
    """A headless run that could fork: with ``lookahead = "model"`` its agent has no lookahead,
    as under `fctwin serve`, and decides through `ElunaAgent._model_choice`; with "fork" it forks."""
    from fctwin.sim.run import RunOptions, run_fc

    calls = []
    real = ElunaAgent._model_choice

    def spy(self, dg, cands):
        calls.append(self.lookahead)
        return real(self, dg, cands)

    monkeypatch.setattr(ElunaAgent, "_model_choice", spy)
    built = []
    from fctwin.sim.eluna.manager import FloorManager

    build = FloorManager.build.__func__

    def keep(cls, loop, **kw):
        m = build(cls, loop, **kw)
        built.append((kw.get("lookahead_ok"), m.agent.lookahead))
        return m

    monkeypatch.setattr(FloorManager, "build", classmethod(keep))
    opts = RunOptions(
        hours=0.35,
        seed=3,
        runs_dir=tmp_path,
        link="local",
        world=False,
        record_poses=False,
        cpu="off",
        agent="advise",
        overrides={"agent.lookahead": lookahead, "agent.horizon_min": 5, "agent.period_min": 5},
    )
    run_fc(SCENES / "eluna_misstaffed.toml", opts)
    ((ok, la),) = built
    assert ok  # the run could have forked
    assert (la is not None) == forks
    assert bool(calls) == (not forks) and all(c is None for c in calls)


def test_the_model_counts_the_labour_a_release_saves_once_the_person_is_off_the_floor():
    """A release that leaves the projected work as it is saves the released person's labour over
    the horizon after their walk off the floor (walking is paid): that is its whole gain."""
    agent, _, dg = _agent(per_person=0.0)
    release = [MoveAssociates("P1", POOL, 1)]
    plan, predicted, _ = agent._model_choice(dg, [release])
    assert plan == release
    walk_h = agent.levers.board.config.walk_s / 3600.0
    assert predicted["objective"] == pytest.approx(agent.labour_price() * (0.5 - walk_h), abs=0.02)
    assert predicted["throughput_units"] == 0


def test_the_model_path_does_not_lend_against_a_move_made_within_the_horizon():
    """A stower lent to P2 pays in the projection; but a picker went to stow 10 minutes ago (an
    applied move, recorded in auto): the lend the other way waits until that move's horizon has
    passed (the projection of a lend cannot see it come back: eluna_port_strike seed 12 walked
    a person between P1 and S1 four times in an hour). A way back is exempt, and so is a lend
    after the horizon."""
    agent, _, dg = _agent(per_person=120.0)
    agent.mode = "auto"
    to_stow = [MoveAssociates("P1", "S2", 1)]
    agent._recommend({**dg, "t_s": dg["t_s"] - 600.0}, to_stow, {"objective": 1.0}, {})
    assert agent._crossed == [(dg["t_s"] - 600.0, "pick", "stow")]
    lend = [MoveAssociates("S1", "P2", 1)]
    plan, _, _ = agent._model_choice(dg, [lend])
    assert plan is None
    agent._recall = [lend]  # the way back of an earlier lend
    plan, _, _ = agent._model_choice(dg, [lend])
    assert plan == lend
    agent._recall = []
    plan, _, _ = agent._model_choice({**dg, "t_s": dg["t_s"] + agent.horizon_s}, [lend])
    assert plan == lend


def _charging(waiting_pad: int, idle: int) -> dict:
    return {"usable": 16, "usable_idle": idle, "waiting_pad": waiting_pad, "charging": 4, "pads": 4}


def test_the_model_path_holds_a_picker_added_while_the_drive_units_are_at_the_pads():
    """A stower lent to P2 and a floater called to P2 both pay in the projection; but 20 drive
    units wait for 4 pads and none is idle: the person would serve the pods that do not come
    (eluna_battery seeds 11-20: every first lend, made so, projected +10 to +53 pick units,
    realised +0 pick and -22 stow against the static plan). Held with ``model_charging_hold``;
    taken with a unit idle, with fewer units waiting than pads, or with the option off. A way
    home to pick is exempt."""
    agent, _, dg = _agent(per_person=120.0)
    agent.model_charging_hold = True
    lend, call = [MoveAssociates("S1", "P2", 1)], [MoveAssociates(POOL, "P2", 1)]
    bound = {**dg, "fleet": _charging(waiting_pad=20, idle=0)}
    for plan in (lend, call):
        assert agent._model_choice(bound, [plan])[0] is None
    assert agent._model_choice({**dg, "fleet": _charging(waiting_pad=20, idle=1)}, [lend])[0] == lend
    assert agent._model_choice({**dg, "fleet": _charging(waiting_pad=3, idle=0)}, [lend])[0] == lend
    agent.lent = [("P2", "S1")]  # P2's picker was lent to S1: S1 -> P2 is their way home
    assert agent._model_choice(bound, [[MoveAssociates("S1", "P2", 1)]])[0] == lend
    agent.lent = []
    agent.model_charging_hold = False
    assert agent._model_choice(bound, [lend])[0] == lend


def test_the_charging_hold_field_is_validated():
    """On by default; a bool; a string is refused with its field path."""
    raw = tomllib.loads((SCENES / "eluna_balanced.toml").read_text())
    assert scene_from_dict(copy.deepcopy(raw), source="s.toml").spec.agent.model_charging_hold is True
    raw["agent"]["model_charging_hold"] = "yes please"
    with pytest.raises(SceneError) as info:
        scene_from_dict(copy.deepcopy(raw), source="s.toml")
    assert any(p == "agent.model_charging_hold" for p, _ in info.value.problems), info.value.problems
