"""The three scenario studies of docs/inbound.md, on common random numbers, with 95 % intervals over seeds.

Run: cd /work/main && /work/venv/bin/python -m sim.inbound.studies [--reps 8] > /tmp/studies.md
Nothing here knows the seed article's numbers: effects come from tariffs, pooling and lead times in the
scenes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .disruptions import template
from .kpis import flatten, paired, run_kpis, summarize
from .network import simulate
from .scene import load_scene, with_changes

ROOT = Path(__file__).resolve().parents[2]


def _runs(scene, reps, seed, **kw):
    return [flatten(run_kpis(simulate(scene, seed=seed, rep=r, history_skus=0, **kw))) for r in range(reps)]


def _fmt(ci, pct=False, digits=3):
    f = (lambda x: f"{100 * x:+.1f} %") if pct else (lambda x: f"{x:,.{digits}f}")
    return f"{f(ci['mean'])} [{f(ci['lo'])}, {f(ci['hi'])}]"


def _table(title, variants, metrics, base):
    print(f"\n### {title}\n")
    print("| metric | " + " | ".join(variants) + " |")
    print("|---|" + "---|" * len(variants))
    summ = {v: summarize(r) for v, r in variants.items()}
    for key, label, digits in metrics:
        print(f"| {label} | " + " | ".join(_fmt(summ[v][key], digits=digits) for v in variants) + " |")
    print(f"\nPaired relative change vs `{base}` (same seeds):\n")
    print("| metric | " + " | ".join(v for v in variants if v != base) + " |")
    print("|---|" + "---|" * (len(variants) - 1))
    for key, label, _ in metrics:
        cells = []
        for v in variants:
            if v == base:
                continue
            p = paired(variants[base], variants[v])[key]
            cells.append(_fmt({"mean": p["rel_mean"], "lo": p["rel_lo"], "hi": p["rel_hi"]}, pct=True))
        print(f"| {label} | " + " | ".join(cells) + " |")


METRICS = [
    ("total.storage_cost_usd", "storage cost $ / year", 0),
    ("total.fill_rate", "fill rate", 4),
    ("total.in_stock_rate", "in-stock rate", 4),
    ("total.stockout_days_per_sku", "stockout days / SKU", 2),
    ("total.inventory_turns", "inventory turns", 2),
    ("total.days_of_supply", "days of supply", 1),
    ("total.landed_cost_usd_per_unit", "landed cost $ / unit", 3),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=8)
    ap.add_argument("--seed", type=int, default=2025)
    args = ap.parse_args()
    default = load_scene(ROOT / "scenes" / "inbound_default.toml")
    two = load_scene(ROOT / "scenes" / "inbound_two_coasts.toml")
    R, s = args.reps, args.seed
    print(f"Scenario studies, {R} replications each (seed root {s}), 95 % t-intervals.")
    # (a) where the long-lead buffer sits
    flows = {f: _runs(with_changes(default, {"network.flow": f}), R, s) for f in ("awd", "hub", "direct")}
    _table(
        "(a) source-hub pooling (hub) vs AWD reservoir (awd) vs straight to FCs (direct)",
        flows,
        METRICS,
        "awd",
    )
    # (b) multi-channel pooling
    pool = {
        "pooled": _runs(default, R, s),
        "separate": _runs(with_changes(default, {"network.pool_channels": False}), R, s),
    }
    _table("(b) multi-channel pooling vs separate inventories (flow awd)", pool, METRICS, "separate")
    # (c) disruptions with and without resilience
    met_c = [
        ("total.fill_rate", "fill rate", 4),
        ("total.in_stock_rate", "in-stock rate", 4),
        ("total.stockout_days_per_sku", "stockout days / SKU", 2),
        ("total.time_to_recover_d", "time to recover d", 1),
        ("total.lost_margin_usd", "lost margin $", 0),
        ("total.cost.expedite_premium_usd", "expedite premium $", 0),
        ("total.landed_cost_usd_per_unit", "landed cost $ / unit", 3),
        ("regions.east.fill_rate", "fill rate, East region", 4),
    ]
    for name in ("us_east_gulf_strike_2024", "red_sea_diversion"):
        dis = template(name, two.disruption_start_day)
        var = {"no disruption": _runs(two, R, s)}
        for pol in ("base_stock", "dual_mode", "resilient"):
            var[f"{name}: {pol}"] = _runs(two, R, s, disruptions=dis, policy=pol)
        _table(f"(c) {name}, two-coasts scene", var, met_c, f"{name}: base_stock")


if __name__ == "__main__":
    main()
