"""The service guards and the carton (`[agent] carton_quantum`): a carton is stowed whole, so one
carton finished just after the horizon is not a loss of units the guard should refuse."""

from __future__ import annotations

from eluna_short_run import run_misstaffed_briefly

from fctwin.controller.eluna import ElunaAgent

# doing nothing over a 30-minute horizon of the mis-staffed floor (seed 15, 09:00)
NOTHING = {
    "units_picked": 457,
    "units_stowed": 216,
    "open_pick_units": 22,
    "open_stow_units": 36,
    "cycle_p95_s": 421.9,
}


def test_one_carton_of_stow_after_the_horizon_is_forgiven_and_no_more():
    # a stower released: one carton (12 units) still open at the horizon instead of stowed
    one = dict(NOTHING, units_stowed=204, open_stow_units=48, cycle_p95_s=357.4)
    assert not ElunaAgent.keeps_service(one, NOTHING, releases=True)  # 1.8% of the units: refused
    assert ElunaAgent.keeps_service(one, NOTHING, releases=True, stow_quantum_units=12.0)
    # two cartons short is a slower stow side, not a carton cut by the horizon
    two = dict(one, units_stowed=192, open_stow_units=48)
    assert not ElunaAgent.keeps_service(two, NOTHING, releases=True, stow_quantum_units=12.0)
    # pick units are not counted in cartons: 12 picked units short stay refused
    pick = dict(NOTHING, units_picked=445)  # (open pick work within its own bound)
    assert not ElunaAgent.keeps_service(pick, NOTHING, stow_quantum_units=12.0)


def _quanta(tmp_path, monkeypatch, **overrides) -> set[float]:
    seen = set()
    keeps = ElunaAgent.keeps_service

    def spy(r, r0, releases=False, stow_quantum_units=0.0, **kw):  # kw: the p95 target's ceiling
        seen.add(stow_quantum_units)
        return keeps(r, r0, releases=releases, stow_quantum_units=stow_quantum_units, **kw)

    monkeypatch.setattr(ElunaAgent, "keeps_service", staticmethod(spy))
    run_misstaffed_briefly(tmp_path, **overrides)
    monkeypatch.undo()
    return seen


def test_the_scene_field_gives_the_guard_the_scenes_carton(tmp_path, monkeypatch):
    assert _quanta(tmp_path / "off", monkeypatch, **{"agent.carton_quantum": False}) == {0.0}
    # eluna_misstaffed: 12 units a carton (on by default since session 21)
    assert _quanta(tmp_path / "on", monkeypatch) == {12.0}
