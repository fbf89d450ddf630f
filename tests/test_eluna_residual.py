"""The forecaster's learned correction (`controller/eluna/residual.py`, docs/eluna_s16_fcast16.md):
off, the forecasts are the fluid model's; its features read a floor scaled up alike; its fit is
deterministic and recovers a known weight."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from fctwin.controller.eluna import Forecaster
from fctwin.controller.eluna.residual import FEATURES, ResidualModel, ResidualTracker

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "fit_residual", ROOT / "benchmarks" / "eluna_train" / "fit_residual.py"
)
fit_residual = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fit_residual)


def _floor(n_pick: int, minute: int, lines_per_station: float, *, backlog: int = 0, cycle_s: float = 300.0):
    """A digest of ``n_pick`` open pick stations (one person each) with ``lines_per_station`` open
    lines each, 3 units per station of which one idles, one on a pad: every count per station."""
    q = lines_per_station
    return {
        "minute": minute,
        "t_s": 60.0 * minute,
        "open_lines": n_pick * q,
        "open_cartons": 0,
        "lines_arrived": 2.0 * n_pick,
        "cartons_arrived": 0,
        "backlog_lines": backlog,
        "cycle_mean_s": cycle_s,
        "stations": [
            {"id": f"P{i}", "kind": "pick", "associates": 1, "open_lines": q, "lines_served": 1.8}
            for i in range(n_pick)
        ],
        "fleet": {"usable": 3 * n_pick, "usable_idle": n_pick, "waiting_pad": 0, "on_pad": n_pick},
        "congestion_waiting": [[0] * 4 for _ in range(4)],
    }


def _features(n_pick: int) -> np.ndarray:
    tr = ResidualTracker()
    for m in range(1, 21):
        dg = _floor(n_pick, m, 4.0 + 0.2 * m, backlog=int(m > 15), cycle_s=250.0 + 5 * m)
        now = {"open_lines": float(dg["open_lines"]), "queue:P0": 4.0 + 0.2 * m, "cycle": dg["cycle_mean_s"]}
        tr.observe(dg, now)
    ctx = tr.context(dg, cap_lines=12.0, capacity_per_min=2.4 * n_pick, level_lines=5.0 * n_pick)
    rows = []
    for target, now_v, fc in (
        ("open_lines", now["open_lines"], 1.3 * now["open_lines"]),
        ("queue:P0", 8.0, 9.0),
    ):
        x, _ = tr.features(target, now=now_v, model=fc, fc=fc, ctx=ctx, plan_ahead=0.1, staff_ahead=0.0)
        rows.append(x)
    x, _ = tr.features("cycle", now=350.0, model=400.0, fc=400.0, ctx=ctx, plan_ahead=0.1, staff_ahead=0.0)
    rows.append(x)
    return np.asarray(rows)


def test_a_floor_scaled_up_reads_the_same_features():
    """Twice the stations, with twice the lines, units and arrivals (each per station the same), is
    the same floor to the correction: no feature may carry a raw count of lines, units or stations,
    or the fit would learn which floor it is on and not carry to another."""
    small, big = _features(3), _features(6)
    assert small.shape[1] == len(FEATURES)
    np.testing.assert_allclose(big, small, rtol=1e-12, atol=1e-12)


def _rising_floor(seed: int, minutes: int = 240):
    """Three pick stations whose queue is kicked around a level that rises at minute 120."""
    rng = np.random.default_rng(seed)
    w, out = 6.0, []
    for m in range(1, minutes + 1):
        level = 12.0 if m < 120 else 24.0
        w = max(0.0, level + 0.8 * (w - level) + float(rng.normal(0.0, 2.0)))
        dg = _floor(3, m, w / 3, backlog=int(w > 30), cycle_s=200.0 + 5.0 * w)
        dg["lines_arrived"] = 8.0 + float(rng.normal(0.0, 1.0))
        del dg["fleet"]  # no drive-unit limit on this floor (the fleet path needs the full digest)
        out.append(dg)
    return out


def _replay(**opts) -> tuple[Forecaster, dict]:
    fc = Forecaster(capacity=lambda dg: 14.4, station_rate=lambda sid, n: 4.8 * n)
    for k, v in opts.items():
        setattr(fc, k, v)
    out = {dg["minute"]: fc.observe(dg) for dg in _rising_floor(5)}
    return fc, out


def test_off_the_forecasts_are_the_fluid_models_and_on_they_are_the_fitted_weights():
    """Off (the default) and collecting features, every forecast is today's, bit for bit; on, the
    forecasts move, and each is the shipped model applied to the collected features."""
    base, base_out = _replay()
    collecting, collecting_out = _replay(collect_residual=True)
    on, on_out = _replay(learned_residual=True, collect_residual=True)
    assert collecting_out == base_out and collecting.scored == base.scored
    assert len(collecting.residual_rows) > 0
    model = ResidualModel.load()
    moved = 0
    for target, h, minute, x, fc, now, _ in on.residual_rows:
        kind = "queue" if target.startswith("queue:") else target
        want = model.apply(kind, h, x, now=now, fc=fc)
        assert on_out[minute][target][h] == want
        assert base_out[minute][target][h] == fc  # the features were taken on today's forecast
        moved += abs(want - fc) > 1e-6
    assert moved > len(on.residual_rows) // 2
    assert on.scored != base.scored


def _synthetic_rows(seed: int, weight: float) -> dict:
    """Rows of three floors whose outcome is ``weight`` of the way from now to the forecast."""
    rng = np.random.default_rng(seed)
    n = 600
    floors = np.repeat(np.asarray(["a", "b", "c"]), n // 3)
    now = rng.uniform(10, 50, n)
    fc = now + rng.normal(0, 10, n)
    act = now + weight * (fc - now) + rng.normal(0, 1, n)
    x = rng.normal(0, 1, (n, len(FEATURES)))
    x[:, 0] = 1.0
    return {
        "floor": floors,
        "run": np.char.add(floors, "-1"),
        "kind": np.full(n, "open_lines"),
        "h": np.full(n, 30),
        "minute": np.full(n, 100),
        "fc": fc,
        "now": now,
        "scale": np.full(n, 36.0),
        "act": act,
        "x": x,
    }


def test_the_fit_is_deterministic_and_recovers_a_known_weight():
    """Outcomes 0.6 of the way from persistence to the forecast: the fitted intercept is the weight
    less 1 (-0.4), the other features (noise) near 0, and a second fit is the same to the bit."""
    r = _synthetic_rows(7, 0.6)
    mask = np.ones(len(r["h"]), dtype=bool)
    first = fit_residual.fit_coef(r, mask, lam=0.01)
    again = fit_residual.fit_coef(r, mask, lam=0.01)
    assert json.dumps(first) == json.dumps(again)
    b = first["coef"]["open_lines"]["30"]
    assert b[0] == pytest.approx(-0.4, abs=0.02)
    assert max(abs(v) for v in b[1:]) < 0.05
    model = ResidualModel({("open_lines", 30): np.asarray(b)}, first["used"], first["mean"], first["std"])
    assert model.apply("open_lines", 30, r["x"][0], now=20.0, fc=30.0) == pytest.approx(26.0, abs=0.3)


def test_the_shipped_coefficients_name_known_features_and_bound_the_weight():
    data = json.loads((ROOT / "controller" / "eluna" / "forecast_residual.json").read_text())
    assert data["used"][0] == "one" and set(data["used"]) <= set(FEATURES)
    assert data["w_bounds"][0] >= 0.0
    model = ResidualModel.load()
    x = np.full(len(FEATURES), 1e6)  # far outside every training floor
    assert data["w_bounds"][0] <= model.weight("open_lines", 30, x) <= data["w_bounds"][1]


def test_the_scene_switch_reaches_the_runs_forecaster():
    """``[agent] learned_forecast`` (default off) is what turns the correction on in a run."""
    from fctwin.sim.eluna.manager import forecaster_for
    from fctwin.sim.scene import load_scene

    path = ROOT / "scenes" / "eluna_balanced.toml"
    assert forecaster_for(load_scene(path)).learned_residual is False
    on = load_scene(path, overrides={"agent.learned_forecast": True})
    assert forecaster_for(on).learned_residual is True
