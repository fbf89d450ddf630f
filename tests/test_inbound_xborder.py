"""The five cross-border models: determinism, common random numbers, de minimis, disruptions acting where
goods are, the chooser re-deciding ahead of a rule change, the seller assistant, the --compare-models
command."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from fctwin.sim.cli import main
from fctwin.sim.inbound.chooser import CostChooser
from fctwin.sim.inbound.disruptions import template
from fctwin.sim.inbound.scene import SceneError, load_scene, with_changes
from fctwin.sim.inbound.xb_params import MODELS
from fctwin.sim.inbound.xborder import COST_KEYS, simulate_models, xb_kpis

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "scenes" / "inbound_default.toml"
DUTIES = COST_KEYS.index("duties")


def _small(**changes):
    base = {"catalogue.n_skus": 40, "warmup_days": 20, "days": 60}
    base.update(changes)
    return with_changes(load_scene(DEFAULT), base, source="small")


def test_same_seed_same_results_and_common_demand():
    sc = _small()
    runs = {m: simulate_models(sc, seed=5, model=m) for m in MODELS}
    again = simulate_models(sc, seed=5, model="fba_crossborder")
    assert np.array_equal(again.costs_mcs, runs["fba_crossborder"].costs_mcs)
    assert np.array_equal(again.hist_o2d, runs["fba_crossborder"].hist_o2d)
    # every model sees the same demand (common random numbers); sales never exceed it
    for m in MODELS:
        assert np.array_equal(runs[m].demand_ks, runs["direct_ship"].demand_ks)
        assert (runs[m].sales_mks.sum(axis=0) <= runs[m].demand_ks).all()
        k = xb_kpis(runs[m])
        assert 0 <= k["fill_rate"] <= 1
        assert np.isfinite(k["landed_cost_usd_per_unit"])


def test_de_minimis_end_makes_us_parcels_dutiable():
    """Parcels of China origin entered duty-free until 2 May 2025 (EO 14256); from then on they pay duties."""
    before = _small(**{"start_date": dt.date(2025, 1, 1), "crossborder.asia_demand_share": 0.0})
    after = _small(**{"start_date": dt.date(2025, 6, 1), "crossborder.asia_demand_share": 0.0})
    r0 = simulate_models(before, seed=1, model="direct_ship")
    r1 = simulate_models(after, seed=1, model="direct_ship")
    assert r0.costs_mcs[:, DUTIES].sum() == 0.0
    assert r1.costs_mcs[:, DUTIES].sum() > 0.0


def test_ocean_disruption_leaves_parcels_alone_and_hurts_ocean_models():
    sc = _small(days=150, warmup_days=30, disruption_start_day=10)
    specs = template("lalb_congestion_2021", 10)
    for m in ("direct_ship", "global_warehouse"):
        a = simulate_models(sc, seed=3, model=m)
        b = simulate_models(sc, seed=3, model=m, disruptions=specs)
        assert np.array_equal(a.sales_mks, b.sales_mks)
    a = xb_kpis(simulate_models(sc, seed=3, model="fba_crossborder"))
    b = xb_kpis(simulate_models(sc, seed=3, model="fba_crossborder", disruptions=specs))
    assert b["fill_rate"] < a["fill_rate"]
    assert b["door_to_customer_p95_d"] >= a["door_to_customer_p95_d"]


def test_chooser_moves_us_parcels_off_direct_ship_before_de_minimis_ends():
    sc = _small(**{"start_date": dt.date(2025, 1, 1), "warmup_days": 90, "days": 150})
    ch = CostChooser()
    res = simulate_models(sc, seed=2, chooser=ch)
    first, last = ch.history[0][1], res.assign
    parcel = [MODELS.index(m) for m in ("direct_ship", "global_warehouse", "asia_warehouse")]
    n_first = np.isin(first[0], parcel).sum()
    n_last = np.isin(last[0], parcel).sum()
    assert n_first > n_last
    # the switch is decided before 2 May 2025 (model day 90 + 121), one lead time ahead
    day_switch = next(d for d, a in ch.history if np.isin(a[0], parcel).sum() < n_first)
    assert day_switch < 90 + 121
    assert ((res.assign >= 0) & (res.assign < len(MODELS))).all()


def test_assistant_avoids_aged_surcharges():
    sc = _small(
        **{
            "days": 330,
            "warmup_days": 30,
            "origin.seller_review_d": 91,
            "crossborder.fading_share": 0.5,
            "catalogue.n_skus": 60,
        }
    )
    off = simulate_models(sc, seed=4, model="fba_crossborder")
    on = simulate_models(sc, seed=4, model="fba_crossborder", assistant=True)
    aged = COST_KEYS.index("aged_surcharge")
    assert off.costs_mcs[:, aged].sum() > 0
    assert on.costs_mcs[:, aged].sum() < off.costs_mcs[:, aged].sum()
    assert on.actions["stop_replenishing"] > 0


def test_crossborder_section_is_validated(tmp_path):
    text = DEFAULT.read_text() + "\n[crossborder]\nasia_demand_share = -1\n"
    p = tmp_path / "scene.toml"
    p.write_text(text)
    with pytest.raises(SceneError, match="crossborder.asia_demand_share"):
        load_scene(p)


def test_compare_models_cli(tmp_path, capsys):
    text = (
        DEFAULT.read_text()
        .replace("n_skus = 300", "n_skus = 30")
        .replace("warmup_days = 90", "warmup_days = 20")
    )
    p = tmp_path / "small.toml"
    p.write_text(text)
    rc = main(
        [
            "inbound",
            str(p),
            "--compare-models",
            "--reps",
            "2",
            "--days",
            "40",
            "--json",
            "--disruption",
            "yantian_2021",
        ]
    )
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["kpis"]) == set(MODELS)
    assert out["kpis"]["fba_crossborder"]["fill_rate"]["n"] == 2
    assert "yantian_2021" in out["disruptions"]
    assert main(["inbound", str(p), "--compare-models", "--disruption", "red_sea_diversion"]) == 2
    assert "cannot act on this scene" in capsys.readouterr().err
