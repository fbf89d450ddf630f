"""The FC run and the inbound network feed each other: dock arrivals in, stow capacity back."""

import pytest

from fctwin.sim.inbound.coupling import dock_arrivals, fc_capacity_from_run
from fctwin.sim.runstore import RunStore


def test_capacity_read_from_an_fc_run_database(tmp_path):
    store = RunStore(tmp_path / "r1" / "run.sqlite")
    store.write_summary({"units_stowed_per_h": 180.0, "stow_station_utilisation": 0.5})
    store.close()
    assert fc_capacity_from_run(tmp_path / "r1", hours_per_day=20.0) == pytest.approx(180.0 / 0.5 * 20.0)


def test_capacity_from_a_run_without_stows_is_refused(tmp_path):
    store = RunStore(tmp_path / "run.sqlite")
    store.write_summary({"units_stowed_per_h": 0.0, "stow_station_utilisation": 0.0})
    store.close()
    with pytest.raises(ValueError, match="stowed nothing"):
        fc_capacity_from_run(tmp_path / "run.sqlite")
    with pytest.raises(ValueError, match="no FC run database"):
        fc_capacity_from_run(tmp_path / "missing")


def test_dock_arrivals_map_onto_fc_skus_and_are_sorted():
    arrivals = dock_arrivals("scenes/inbound_default.toml", start_day=60, days=3.0, seed=7, n_fc_skus=50)
    assert arrivals, "three days at the dock should see trailers"
    assert all(0 <= a.sku < 50 and a.cartons > 0 for a in arrivals)
    assert [a.t_s for a in arrivals] == sorted(a.t_s for a in arrivals)


# ------------------------------------------------------------------ a port strike's wave at the dock

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
SCENES = ROOT / "scenes"


def test_a_port_strike_holds_the_vessel_and_releases_it_later():
    """Against the same network, seed and draws without it, the strike delays the vessel bound for
    the coupled FC's region: its units are the released backlog; the same seed gives the same."""
    from fctwin.sim.inbound.coupling import strike_release

    kw = dict(port="USLAX", strike_days=3.0, seed=7, n_fc_skus=1000)
    rel = strike_release(SCENES / "inbound_default.toml", **kw)
    assert rel.shipments and rel.units > 1000 and rel.mean_delay_d > 1.0
    assert rel.release_day > rel.strike_start_day + 1.0  # held at least until the port reopened
    assert all(0 <= k < 1000 for k in rel.units_by_sku)
    assert strike_release(SCENES / "inbound_default.toml", **kw) == rel
    longer = strike_release(SCENES / "inbound_default.toml", **{**kw, "strike_days": 6.0})
    # a longer strike releases the vessel about as much later, and holds at least as much
    assert longer.release_day == pytest.approx(rel.release_day + 3.0, abs=0.5)
    assert longer.units >= rel.units
    with pytest.raises(ValueError, match="no destination sea port 'CNYTN'"):
        strike_release(SCENES / "inbound_default.toml", **{**kw, "port": "CNYTN"})


def _strike_scene(**wave):
    import tomllib

    from fctwin.sim.scene import scene_from_dict

    raw = tomllib.loads((SCENES / "eluna_port_strike.toml").read_text())
    raw["inbound"]["strike_wave"].update(wave)
    return scene_from_dict(raw, source="strike.toml", base_dir=SCENES)


@pytest.mark.parametrize(
    ("wave", "path", "says"),
    [
        ({"port": "USNYC"}, "inbound.strike_wave.port", "no destination sea port 'USNYC'"),
        ({"scenario": "missing.toml"}, "inbound.strike_wave.scenario", "no inbound-network scene"),
        ({"scenario": "fc_small.toml"}, "inbound.strike_wave.scenario", "fc_small.toml"),
        ({"share": 0.0}, "inbound.strike_wave.share", ""),
        ({"strike_days": -1.0}, "inbound.strike_wave.strike_days", ""),
        ({"minutes": 0}, "inbound.strike_wave.minutes", ""),
    ],
)
def test_the_strike_wave_is_validated_with_the_field_path(wave, path, says):
    from fctwin.sim.scene import SceneError

    with pytest.raises(SceneError) as err:
        _strike_scene(**wave)
    assert any(p == path and says in m for p, m in err.value.problems), err.value.problems


def test_the_strike_wave_reaches_the_dock_schedule_deterministically_per_seed():
    from fctwin.sim.eluna.manager import dock_ahead, dock_schedule
    from fctwin.sim.run.inbound import dock_waves
    from fctwin.sim.scene import SceneError, load_scene

    scene = load_scene(SCENES / "eluna_port_strike.toml", seed=3)
    (wave,) = dock_waves(scene)
    assert wave.skus is not None and len(wave.skus) == wave.cartons > 50
    assert dock_waves(load_scene(SCENES / "eluna_port_strike.toml", seed=3)) == [wave]
    sched = dock_schedule(scene, None, [wave])
    start = wave.at_h * 3600.0 + scene.spec.docks.transfer_to_stow_s
    assert len(sched) == wave.cartons and dock_ahead(sched, start - 1.0)["60"] == wave.cartons
    # a strike when no vessel calls holds nothing: a clear error naming the field, no wave
    with pytest.raises(SceneError, match="inbound.strike_wave: .*delayed no shipment"):
        dock_waves(_strike_scene(start_day=0.0, strike_days=0.05))
