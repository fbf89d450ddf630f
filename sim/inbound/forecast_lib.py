"""Forecasting with well-kept libraries: statsforecast (local, per-series models) and mlforecast + LightGBM
(one global model learnt across all SKUs and regions), scored on demand with promotions and regional
seasonality.

Optional dependencies (``pip install fctwin[forecast]``): statsforecast, mlforecast, lightgbm. Imported
lazily, so the simulation never needs them.

The simulation's own forecasters (forecast.py) stay hand-written and vectorised: they update every stock point
x SKU once per simulated day, which a per-series library fit cannot do at that speed. Where the method is the
same (Croston, SBA, TSB with fixed smoothing weights) tests/test_inbound_forecast_lib.py pins them to
statsforecast; Holt-Winters in statsforecast optimises its weights (ETS), a different method, so it is the
local model here.

``python -m sim.inbound.forecast_lib`` prints the table of docs/inbound.md.
"""

from __future__ import annotations

import argparse
import datetime as dt

import numpy as np

from .demand import DemandModel
from .scene import InboundScene, load_scene, with_changes

__all__ = ["regional_panel", "evaluate_global_vs_local", "forecast_markdown"]

H = 28  # forecast horizon, days (one replenishment cycle)
N_WINDOWS = 4


def regional_panel(scene: InboundScene, *, seed: int, n_skus: int = 120, days: int = 420):
    """Daily demand per region (the scene's regions + an Asian region peaking on 11.11) and SKU, with the
    promotion calendar.

    Returns a pandas DataFrame with columns unique_id ("region|sku"), ds, y, promo (0/1, known in advance: the
    seller plans promotions), region (int), and the mean daily rate of the SKU (static).
    """
    import pandas as pd

    sc = with_changes(scene, {"catalogue.n_skus": n_skus, "warmup_days": 0, "days": days})
    ss = np.random.SeedSequence(seed, spawn_key=(0,))
    dm = DemandModel(sc, np.random.default_rng(np.random.SeedSequence(ss.entropy, spawn_key=(0, 0))))
    rng = np.random.default_rng(np.random.SeedSequence(ss.entropy, spawn_key=(0, 11)))
    cfg = sc.crossborder
    R = len(sc.regions)
    asia_w = np.exp(cfg.asia_regional_sigma * rng.standard_normal(n_skus))
    asia_base = dm.rate_units_per_day * cfg.asia_demand_share * asia_w / asia_w.mean()
    k = sc.demand.dispersion_k
    ys = np.zeros((days, R + 1, n_skus))
    promo = np.zeros((days, n_skus))
    for t in range(days):
        mean = dm.mean(t)
        ys[t, :R] = dm.draw(mean).sum(axis=1)
        promo[t] = dm._promo_until > t
        date = sc.start_date + dt.timedelta(days=t)
        doy = date.timetuple().tm_yday
        season = 1 + cfg.asia_yearly_amplitude * np.cos(2 * np.pi * (doy - cfg.asia_peak_day_of_year) / 365)
        wk = 1.0 + 0.15 * (date.weekday() >= 5)  # Asian weekend peak: a different weekly shape
        m = asia_base * season * wk * np.where(promo[t] > 0, sc.demand.promo_lift, 1.0)
        if k is not None:
            m = m * rng.gamma(k, 1.0 / k, size=n_skus)
        ys[t, R] = rng.poisson(m)
    dates = pd.date_range(sc.start_date, periods=days, freq="D")
    frames = []
    for r in range(R + 1):
        for s in range(n_skus):
            frames.append(
                pd.DataFrame(
                    {
                        "unique_id": f"{r}|{s:04d}",
                        "ds": dates,
                        "y": ys[:, r, s],
                        "promo": promo[:, s],
                        "region": r,
                    }
                )
            )
    df = pd.concat(frames, ignore_index=True)
    return df


def _local(df):
    """statsforecast per series: AutoETS (weekly season) for smooth series, TSB for intermittent (ADI > 1.32
    in the training part), seasonal naive as the scale."""
    from statsforecast import StatsForecast
    from statsforecast.models import TSB, AutoETS, SeasonalNaive

    sf = StatsForecast(
        models=[AutoETS(season_length=7, model="ZNA"), TSB(alpha_d=0.1, alpha_p=0.05), SeasonalNaive(7)],
        freq="D",
        n_jobs=1,
    )
    cv = sf.cross_validation(df=df[["unique_id", "ds", "y"]], h=H, n_windows=N_WINDOWS, step_size=H)
    return cv


def _global(df, seed: int):
    """mlforecast + LightGBM, one model over every SKU and region: lags, rolling means, calendar, the
    promotion flag (known ahead) and the region as features; Tweedie loss for count data."""
    import lightgbm as lgb
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import RollingMean

    model = lgb.LGBMRegressor(
        n_estimators=300,
        learning_rate=0.05,
        num_leaves=31,
        min_child_samples=40,
        objective="tweedie",
        random_state=seed,
        n_jobs=1,
        verbose=-1,
    )
    mlf = MLForecast(
        models={"lgbm": model},
        freq="D",
        lags=[7, 14, 28],
        lag_transforms={7: [RollingMean(window_size=7), RollingMean(window_size=28)]},
        date_features=["dayofweek", "dayofyear"],
        num_threads=1,
    )
    cv = mlf.cross_validation(
        df=df[["unique_id", "ds", "y", "promo", "region"]],
        n_windows=N_WINDOWS,
        h=H,
        step_size=H,
        static_features=["region"],
    )
    return cv


def evaluate_global_vs_local(
    scene: InboundScene, *, seed: int = 2025, n_skus: int = 120, days: int = 420
) -> dict:
    """WAPE and MASE of the global model against the local models over ``N_WINDOWS`` rolling 28-day windows:
    all series, promotion days, no-promotion days, and each region's top-20 SKUs by volume; then what each
    forecast does to a 28-day order-up-to decision (order = forecast + 1.65 sqrt(forecast)): fill, stock."""
    df = regional_panel(scene, seed=seed, n_skus=n_skus, days=days)
    loc = _local(df)
    glo = _global(df, seed)
    m = loc.merge(glo[["unique_id", "ds", "lgbm"]], on=["unique_id", "ds"]).merge(
        df[["unique_id", "ds", "promo", "region"]], on=["unique_id", "ds"]
    )
    # local choice per series, as forecast.Auto: TSB where demand occurs on fewer than 1/1.32 of training days
    first_cut = m["cutoff"].min()
    train = df[df["ds"] <= first_cut]
    share = train.groupby("unique_id")["y"].apply(lambda y: float((y > 0).mean()))
    inter = m["unique_id"].map(share) < 1 / 1.32
    m["local"] = np.where(inter, m["TSB"], m["AutoETS"]).clip(min=0)
    m["lgbm"] = m["lgbm"].clip(lower=0)

    # MASE scale: in-sample mean absolute weekly-seasonal-naive error per series (training part)
    def _snaive_mae(y) -> float:
        v = y.to_numpy()
        return float(np.abs(v[7:] - v[:-7]).mean())

    scale = train.groupby("unique_id")["y"].apply(_snaive_mae)
    m["scale"] = m["unique_id"].map(scale).clip(lower=1e-3)
    vol = df.groupby(["region", "unique_id"])["y"].sum().reset_index()
    top = set(vol.sort_values("y", ascending=False).groupby("region").head(20)["unique_id"])
    n_regions = int(df["region"].max()) + 1
    segments = {
        "all series": np.ones(len(m), bool),
        "promotion days": m["promo"].to_numpy() > 0,
        "no-promotion days": m["promo"].to_numpy() == 0,
        "top-20 SKUs per region": m["unique_id"].isin(top).to_numpy(),
    }
    for r in range(n_regions):
        name = "asia" if r == n_regions - 1 else scene.regions[r].id
        segments[f"top-20 SKUs, region {name}"] = (m["unique_id"].isin(top) & (m["region"] == r)).to_numpy()
    out = {"segments": {}, "n_series": int(df["unique_id"].nunique()), "windows": N_WINDOWS, "h": H}
    y = m["y"].to_numpy()
    for seg, mask in segments.items():
        row = {}
        for col in ("local", "lgbm", "SeasonalNaive"):
            e = np.abs(y[mask] - m[col].to_numpy()[mask])
            row[col] = {
                "wape": float(e.sum() / max(y[mask].sum(), 1e-9)),
                "mase": float((e / m["scale"].to_numpy()[mask]).mean()),
            }
        row["wape_gain"] = 1 - row["lgbm"]["wape"] / row["local"]["wape"]
        row["mase_gain"] = 1 - row["lgbm"]["mase"] / row["local"]["mase"]
        out["segments"][seg] = row
    # the decision: one order per series and window covers the 28 days
    g = m.groupby(["unique_id", "cutoff"])
    agg = g.agg(y=("y", "sum"), local=("local", "sum"), lgbm=("lgbm", "sum"))
    inv = {}
    for col in ("local", "lgbm"):
        stock = agg[col] + 1.65 * np.sqrt(agg[col])
        short = np.maximum(agg["y"] - stock, 0)
        inv[col] = {
            "fill_rate": float(1 - short.sum() / agg["y"].sum()),
            "stockout_windows_share": float((short > 0).mean()),
            "avg_stock_units": float(np.maximum(stock - agg["y"] / 2, 0).mean()),
            "leftover_units": float(np.maximum(stock - agg["y"], 0).sum()),
        }
    out["decision"] = inv
    return out


def forecast_markdown(res: dict) -> str:
    lines = [
        f"{res['n_series']} series (SKU x region), {res['windows']} rolling windows of {res['h']} days; "
        "local = statsforecast AutoETS (smooth) / TSB (intermittent), global = mlforecast + LightGBM.",
        "",
        "| segment | WAPE local | WAPE global | WAPE gain | MASE local | MASE global | MASE gain "
        "| WAPE seasonal naive |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for seg, r in res["segments"].items():
        lines.append(
            f"| {seg} | {r['local']['wape']:.3f} | {r['lgbm']['wape']:.3f} | {r['wape_gain'] * 100:+.1f} % | "
            f"{r['local']['mase']:.3f} | {r['lgbm']['mase']:.3f} | {r['mase_gain'] * 100:+.1f} % | "
            f"{r['SeasonalNaive']['wape']:.3f} |"
        )
    d = res["decision"]
    lines += [
        "",
        "One order-up-to decision per series and window (stock = forecast + 1.65 sqrt(forecast)):",
        "",
        "| forecast | fill rate | windows with a stock-out | average stock, units | units left over |",
        "|---|---|---|---|---|",
    ]
    for col, name in (("local", "local"), ("lgbm", "global")):
        x = d[col]
        lines.append(
            f"| {name} | {x['fill_rate']:.4f} | {x['stockout_windows_share']:.3f} "
            f"| {x['avg_stock_units']:.1f} | "
            f"{x['leftover_units']:,.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    from pathlib import Path

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seed", type=int, default=2025)
    p.add_argument("--skus", type=int, default=120)
    p.add_argument("--days", type=int, default=420)
    p.add_argument(
        "--scene", default=str(Path(__file__).resolve().parents[2] / "scenes" / "inbound_default.toml")
    )
    args = p.parse_args(argv)
    res = evaluate_global_vs_local(load_scene(args.scene), seed=args.seed, n_skus=args.skus, days=args.days)
    print(forecast_markdown(res))


if __name__ == "__main__":
    main()
