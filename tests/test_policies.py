"""Dispatch policies: the registry, scenes naming them, alternatives that change behaviour, entry points.

That the defaults reproduce today's dispatcher bit for bit is tests/test_event_log_hashes.py.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import sys
import textwrap
from dataclasses import fields
from pathlib import Path

import pytest

from fctwin.controller.floorplan import DispatchConfig
from fctwin.controller.planning import PLANNERS
from fctwin.controller.policies import (
    DEFAULTS,
    FAMILIES,
    GROUP,
    PolicyError,
    make_policy,
    policy_class,
    policy_names,
)
from fctwin.controller.policies.registry import BUILTIN
from fctwin.sim.run import RunOptions, run_fc
from fctwin.sim.scene import SceneError, load_scene
from fctwin.sim.scene.schema import Dispatch

ROOT = Path(__file__).resolve().parents[1]


def _events(db_path: Path) -> list[tuple]:
    db = sqlite3.connect(db_path)
    rows = db.execute("SELECT t_s, kind, subject, a, b, c FROM events ORDER BY id").fetchall()
    db.close()
    return rows


def _digest(rows) -> str:
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]


def _run(path: Path, tmp_path: Path, name: str, hours: float = 0.2) -> list[tuple]:
    opts = RunOptions(hours=hours, seed=7, link="local", runs_dir=tmp_path, run_id=name, record_poses=False)
    return _events(run_fc(path, opts).db_path)


# ---------------------------------------------------------------- registry


def test_every_family_has_its_default_and_an_alternative_under_the_documented_names():
    assert set(FAMILIES) == set(BUILTIN) == set(DEFAULTS)
    assert BUILTIN["planner"] is PLANNERS  # the planners' registry is the planner family
    expected = {
        "order_assignment": {"least_loaded", "round_robin"},
        "pod_selection": {"most_lines", "nearest"},
        "unit_allocation": {"nearest", "most_charged"},
        "pod_storage": {"nearest_free", "home"},
        "stow_assignment": {"shortest_queue", "round_robin"},
        "charging": {"opportunity", "low_battery"},
        "parking": {"under_pod", "in_place"},
        "planner": set(PLANNERS),
    }
    for family, names in expected.items():
        assert set(policy_names(family)) >= names
        assert DEFAULTS[family] in names
        for name in names:
            cls = policy_class(family, name)
            assert all(callable(getattr(cls, m, None)) for m in FAMILIES[family]), (family, name)


def test_the_config_and_the_scene_default_to_the_registry_defaults():
    config = DispatchConfig()
    scene = Dispatch()
    for family, name in DEFAULTS.items():
        assert getattr(config, family) == name == getattr(scene, family)
    assert {f.name for f in fields(DispatchConfig)} >= set(FAMILIES)


def test_unknown_names_and_parameters_are_refused_with_the_known_names():
    with pytest.raises(PolicyError, match="unknown parking policy 'sofa'; known: in_place, under_pod"):
        make_policy("parking", "sofa")
    with pytest.raises(PolicyError, match="no policy family 'lunch'"):
        policy_names("lunch")
    with pytest.raises(PolicyError, match="bad parameters"):
        make_policy("order_assignment", "least_loaded", {"speed": 2})


# ---------------------------------------------------------------- scenes


@pytest.mark.parametrize("family", [f for f in FAMILIES])
def test_an_unknown_policy_in_a_scene_names_the_field_and_the_known_ones(
    family, small_scene_dict, write_scene
):
    raw = small_scene_dict
    raw["dispatch"][family] = "telepathy"
    with pytest.raises(SceneError) as err:
        load_scene(write_scene(raw))
    text = str(err.value)
    assert f"dispatch.{family}" in text and "'telepathy'" in text
    assert all(name in text for name in BUILTIN[family]), text


def test_pod_return_is_still_accepted_as_the_old_name_of_pod_storage(small_scene_dict, write_scene):
    raw = small_scene_dict
    raw["dispatch"].pop("pod_storage", None)
    raw["dispatch"]["pod_return"] = "home"
    assert load_scene(write_scene(raw)).spec.dispatch.pod_storage == "home"
    raw["dispatch"]["pod_storage"] = "nearest_free"
    with pytest.raises(SceneError, match="old name of pod_storage"):
        load_scene(write_scene(raw))


def test_parameters_a_policy_does_not_take_are_a_scene_error(small_scene_dict, write_scene):
    raw = small_scene_dict
    raw["dispatch"]["params"] = {"pod_storage": {"radius": 3}}
    with pytest.raises(SceneError, match=r"dispatch\.params\.pod_storage"):
        load_scene(write_scene(raw))
    raw["dispatch"]["planner"] = "reservation"
    raw["dispatch"]["params"] = {"planner": {"horizon_steps": 100}}  # the planners take parameters
    scene = load_scene(write_scene(raw))
    assert scene.spec.dispatch.params == {"planner": {"horizon_steps": 100}}
    from fctwin.controller.dispatcher import Dispatcher
    from fctwin.sim.run import floorplan_from_scene

    assert Dispatcher(*floorplan_from_scene(scene)).planner.horizon_steps == 100
    raw["dispatch"]["params"] = {"planner": {"horizon": 100}}
    with pytest.raises(SceneError, match=r"dispatch\.params\.planner.*horizon"):
        load_scene(write_scene(raw))
    raw["dispatch"]["params"] = {"snacks": {"x": 1}}
    with pytest.raises(SceneError, match=r"dispatch\.params\.snacks.*no policy family"):
        load_scene(write_scene(raw))


# ---------------------------------------------------------------- alternatives change behaviour


@pytest.mark.slow
def test_round_robin_order_assignment_differs_from_least_loaded(tmp_path):
    base = load_scene(ROOT / "scenes" / "fc_small.toml")
    assert base.spec.dispatch.order_assignment == "least_loaded"
    default = _run(ROOT / "scenes" / "fc_small.toml", tmp_path, "least_loaded")
    opts = RunOptions(
        hours=0.2,
        seed=7,
        link="local",
        runs_dir=tmp_path,
        run_id="round_robin",
        record_poses=False,
        overrides={"dispatch.order_assignment": "round_robin"},
    )
    rr = _events(run_fc(ROOT / "scenes" / "fc_small.toml", opts).db_path)
    assigned = [(e[3], e[2]) for e in rr if e[1] == "order_assigned"]
    picks = [s.station_id for s in base.stations if s.kind == "pick"]  # in the dispatcher's order
    assert assigned and all(station == picks[oid % len(picks)] for oid, station in assigned)
    assert _digest(rr) != _digest(default)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("family", "name"),
    [
        ("pod_selection", "nearest"),
        ("unit_allocation", "most_charged"),
        ("pod_storage", "home"),
        ("parking", "in_place"),
    ],
)
def test_each_alternative_changes_the_event_log(family, name, small_scene_dict, write_scene, tmp_path):
    default = _run(write_scene(small_scene_dict), tmp_path, "default")
    small_scene_dict["dispatch"][family] = name
    other = _run(write_scene(small_scene_dict), tmp_path, name)
    assert any(e[1] == "trip_done" for e in other)  # it still works the floor
    assert _digest(other) != _digest(default)


@pytest.mark.slow
def test_round_robin_stow_assignment_spreads_cartons_over_the_stow_stations(tmp_path):
    opts = RunOptions(
        hours=0.2,
        seed=11,
        link="local",
        runs_dir=tmp_path,
        run_id="stow_rr",
        record_poses=False,
        overrides={"dispatch.stow_assignment": "round_robin"},
    )
    path = ROOT / "scenes" / "fc_stations.toml"
    rows = _events(run_fc(path, opts).db_path)
    stow = [s.station_id for s in load_scene(path).stations if s.kind == "stow"]
    ready = [(e[3], e[2]) for e in rows if e[1] == "carton_ready"]
    assert len(stow) >= 2 and ready
    # the run's cartons name no station (sim/demand.py), so every one follows the policy
    assert all(station == stow[cid % len(stow)] for cid, station in ready)


# ---------------------------------------------------------------- entry points, end to end


def _docs_example() -> tuple[str, dict]:
    """The Python block and the scene's params of docs/policies.md's complete example."""
    text = (ROOT / "docs" / "policies.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    assert "class FewestOrders(OrderAssignment)" in code
    assert 'order_assignment = "fewest_orders"' in text and "prefer = 1" in text
    return code, {"prefer": 1}


def _install(site: Path, dist: str, module: str, code: str, entry_points: str) -> None:
    """A minimal installed distribution: a module and a dist-info with entry_points.txt."""
    (site / f"{module}.py").write_text(code)
    info = site / f"{dist}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))


@pytest.fixture
def site(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    yield site
    for name in [m for m in sys.modules if m.startswith(("my_fc_policies", "broken_fc"))]:
        del sys.modules[name]


def test_a_policy_registered_by_entry_point_is_named_by_a_scene_and_used_by_the_run(
    site, small_scene_dict, write_scene, tmp_path
):
    code, params = _docs_example()
    _install(
        site,
        "my_fc_policies",
        "my_fc_policies",
        code,
        f"""\
        [{GROUP}]
        order_assignment.fewest_orders = my_fc_policies:FewestOrders
        """,
    )
    assert "fewest_orders" in policy_names("order_assignment")
    raw = small_scene_dict
    raw["dispatch"]["order_assignment"] = "fewest_orders"
    raw["dispatch"]["params"] = {"order_assignment": params}
    path = write_scene(raw)
    assert load_scene(path).spec.dispatch.order_assignment == "fewest_orders"
    rows = _run(path, tmp_path, "plugin", hours=0.1)

    import my_fc_policies

    assigned = [(e[3], e[2]) for e in rows if e[1] == "order_assigned"]
    assert assigned and assigned == my_fc_policies.DECISIONS
    # with prefer = 1 the very first order goes to the second pick station (all are empty then)
    picks = sorted({station for _, station in assigned})
    assert len(picks) >= 2 and assigned[0][1] == picks[1]


def test_a_broken_entry_point_is_an_error_that_names_it(site, small_scene_dict, write_scene):
    _install(
        site,
        "broken_fc",
        "broken_fc_policies",
        "raise ImportError('missing dependency: numpyy')\n",
        f"""\
        [{GROUP}]
        parking.hammock = broken_fc_policies:Hammock
        """,
    )
    with pytest.raises(PolicyError, match=r"entry point 'parking.hammock'.*failed to load.*numpyy"):
        policy_class("parking", "hammock")
    raw = small_scene_dict
    raw["dispatch"]["parking"] = "hammock"
    with pytest.raises(SceneError, match=r"dispatch\.parking.*parking\.hammock"):
        load_scene(write_scene(raw))
    # the built-ins keep working beside it (entry points are read only for names not built in)
    assert policy_class("parking", "under_pod").__name__ == "UnderPod"


def test_a_misnamed_or_incomplete_entry_point_is_an_error_too(site):
    (site / "broken_fc_shapes.py").write_text("class NotAPolicy:\n    pass\n")
    _install(
        site,
        "broken_fc",
        "broken_fc_unused",
        "",
        f"""\
        [{GROUP}]
        charging.nothing = broken_fc_shapes:NotAPolicy
        """,
    )
    with pytest.raises(PolicyError, match=r"'charging.nothing'.*is not a charging policy.*charger_for"):
        policy_class("charging", "nothing")
    info = site / "broken_fc_names-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken_fc_names\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{GROUP}]\nfastest = broken_fc_shapes:NotAPolicy\n")
    with pytest.raises(PolicyError, match=r"entry point 'fastest'.*'<family>.<policy name>'"):
        policy_names("charging")


def test_low_battery_charging_leaves_an_idle_unit_at_half_charge_alone(small_scene_dict, write_scene):
    from dataclasses import replace

    from fctwin.controller.dispatcher import Dispatcher
    from fctwin.sim.run import floorplan_from_scene

    plan, config = floorplan_from_scene(load_scene(write_scene(small_scene_dict)))
    for name, goes in (("opportunity", True), ("low_battery", False)):
        d = Dispatcher(plan, replace(config, charging=name))
        u = d.units[0]
        u.mode, u.battery_frac = 0, 0.4  # idle, above the low-battery level, below 0.5
        assert u.battery_frac > d.low_battery[0]
        assert (u.battery_frac <= d.policies.charging.threshold) is goes
        assert (d.policies.charging.charger_for(d, 0, u) is not None) is goes
