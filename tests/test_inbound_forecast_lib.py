"""The simulation's vectorised Croston, SBA and TSB are the same methods as statsforecast's (fixed smoothing
weights): one-step forecasts agree; the library comparison (global vs local) runs end to end on a tiny
panel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fctwin.sim.inbound.forecast import make_forecaster
from fctwin.sim.inbound.scene import load_scene

sf_models = pytest.importorskip("statsforecast.models")
ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("croston", lambda: sf_models.CrostonClassic()),
        ("sba", lambda: sf_models.CrostonSBA()),
        ("tsb", lambda: sf_models.TSB(alpha_d=0.1, alpha_p=0.05)),
    ],
)
def test_intermittent_forecasters_agree_with_statsforecast(ours, theirs):
    rng = np.random.default_rng(11)
    for _ in range(3):
        y = (rng.random(250) < 0.3) * rng.poisson(3, 250).astype(float)
        y[0] = 0.0
        f = make_forecaster(ours, (1, 1))
        for v in y:
            f.update(np.array([[v]]))
        expected = float(theirs().forecast(y=y, h=1)["mean"][0])
        assert float(f.next_day()[0, 0]) == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_global_vs_local_runs_on_a_tiny_panel():
    pytest.importorskip("mlforecast")
    from fctwin.sim.inbound.forecast_lib import evaluate_global_vs_local, forecast_markdown

    res = evaluate_global_vs_local(load_scene(ROOT / "scenes" / "inbound_default.toml"), n_skus=8, days=200)
    seg = res["segments"]["all series"]
    assert 0 < seg["lgbm"]["wape"] < 2 and 0 < seg["local"]["wape"] < 2
    assert "promotion days" in res["segments"]
    assert "| all series |" in forecast_markdown(res)
