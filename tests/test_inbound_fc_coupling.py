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
