"""Studies of the five cross-border models: side by side, the per-SKU chooser, the seller assistant, the
profit panel.

``python -m sim.inbound.xb_studies --reps 5`` prints the markdown tables of docs/inbound.md. Every comparison
runs the variants on the same replications (common random numbers) and reports 95 % t-intervals of means and
of paired differences.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from .chooser import CostChooser
from .disruptions import TEMPLATES, template
from .kpis import _ci
from .scene import InboundScene, disruption_target_errors, load_scene, with_changes
from .xb_params import MODELS
from .xborder import COST_KEYS, XBResult, simulate_models, xb_kpis

__all__ = [
    "compare_models",
    "chooser_gain",
    "assistant_effect",
    "profit_panel",
    "sku_classes",
    "applicable_templates",
    "COMPARE_METRICS",
]

CHOOSER_Z = 2.33  # the chooser also sets the service factor (99 % cycle service) of the points it uses

COMPARE_METRICS = [
    ("door_to_customer_p50_d", "door-to-customer p50 d", "{:.1f}"),
    ("door_to_customer_p95_d", "door-to-customer p95 d", "{:.1f}"),
    ("order_to_delivery_p50_d", "order-to-delivery p50 d", "{:.1f}"),
    ("order_to_delivery_p95_d", "order-to-delivery p95 d", "{:.1f}"),
    ("landed_cost_usd_per_unit", "landed cost $/unit", "{:.2f}"),
    ("fill_rate", "fill rate", "{:.3f}"),
    ("conversion_loss_share", "demand lost to slow promise", "{:.3f}"),
    ("stockout_days_per_sku", "stock-out days / SKU", "{:.1f}"),
    ("days_of_inventory", "days of inventory", "{:.1f}"),
    ("working_capital_usd", "working capital $", "{:,.0f}"),
    ("lost_margin_usd", "lost margin $", "{:,.0f}"),
    ("total_cost_usd", "total cost $ (landed + lost margin)", "{:,.0f}"),
    ("profit_usd", "seller profit $ (revenue - product - landed)", "{:,.0f}"),
]


def applicable_templates(scene: InboundScene) -> tuple[list[str], dict[str, str]]:
    """Templates whose targets exist in the scene, and the reason each other one is skipped."""
    ok, skipped = [], {}
    for name in TEMPLATES:
        if name == "regime":
            skipped[name] = "random regime model: not wired into the cross-border models"
            continue
        errs = [
            e
            for i, sp in enumerate(template(name, 0))
            for e in disruption_target_errors(scene, sp, f"{i}", any_tag=True)
        ]
        if errs:
            skipped[name] = errs[0]
        else:
            ok.append(name)
    return ok, skipped


def _fmt(c: dict, fmt: str) -> str:
    if not np.isfinite(c["mean"]):
        return "-"
    if not np.isfinite(c["lo"]):
        return fmt.format(c["mean"])
    return f"{fmt.format(c['mean'])} [{fmt.format(c['lo'])}, {fmt.format(c['hi'])}]"


def _runs(scene, seed, reps, **kw) -> list[XBResult]:
    return [simulate_models(scene, seed=seed, rep=r, **kw) for r in range(reps)]


def compare_models(
    scene: InboundScene, *, seed: int, reps: int, disruptions: list[str] | None = None, progress=None
) -> dict:
    """Every model on the same demand (common random numbers): KPIs with 95 % CIs, and under each applicable
    disruption template the paired change of fill rate, p95 door-to-customer and total cost."""
    names, skipped = applicable_templates(scene)
    if disruptions is not None:
        names = [n for n in names if n in disruptions]
    start = scene.disruption_start_day
    base: dict[str, list[dict]] = {}
    for m in MODELS:
        base[m] = [xb_kpis(r) for r in _runs(scene, seed, reps, model=m)]
        if progress:
            progress(m)
    out = {
        "kpis": {m: {k: _ci(np.array([x[k] for x in base[m]])) for k in base[m][0]} for m in MODELS},
        "disruptions": {},
        "skipped": skipped,
    }
    for name in names:
        specs = template(name, start)
        out["disruptions"][name] = {}
        for m in MODELS:
            dis = [xb_kpis(r) for r in _runs(scene, seed, reps, model=m, disruptions=specs)]
            row = {}
            for k in (
                "fill_rate",
                "door_to_customer_p95_d",
                "order_to_delivery_p95_d",
                "total_cost_usd",
                "profit_usd",
            ):
                row[k] = _ci(np.array([d[k] for d in dis]))
                row[k + "_delta"] = _ci(np.array([d[k] - b[k] for d, b in zip(dis, base[m], strict=True)]))
            out["disruptions"][name][m] = row
        if progress:
            progress(name)
    return out


def compare_markdown(res: dict, reps: int) -> str:
    lines = [
        f"| metric | {' | '.join(MODELS)} |",
        "|---|" + "---|" * len(MODELS),
    ]
    for key, label, fmt in COMPARE_METRICS:
        lines.append(f"| {label} | " + " | ".join(_fmt(res["kpis"][m][key], fmt) for m in MODELS) + " |")
    for name, rows in res["disruptions"].items():
        lines += [
            "",
            f"Under `{name}` (starts on the scene's disruption_start_day; paired change vs no disruption, "
            f"same seeds, {reps} reps):",
            "",
            f"| metric | {' | '.join(MODELS)} |",
            "|---|" + "---|" * len(MODELS),
        ]
        for key, label, fmt in (
            ("fill_rate_delta", "fill rate change", "{:+.4f}"),
            ("door_to_customer_p95_d_delta", "door-to-customer p95 change d", "{:+.1f}"),
            ("total_cost_usd_delta", "total cost change $", "{:+,.0f}"),
            ("profit_usd_delta", "seller profit change $", "{:+,.0f}"),
        ):
            lines.append(f"| {label} | " + " | ".join(_fmt(rows[m][key], fmt) for m in MODELS) + " |")
    for name, why in res["skipped"].items():
        lines.append(f"\n`{name}` not run on this scene: {why}")
    return "\n".join(lines)


def sku_classes(res: XBResult) -> dict[str, np.ndarray]:
    """SKU classes: size tier x velocity (A: top 20 % of SKUs by demand rate, B: next 30 %, C: the rest)."""
    a = res.attrs
    order = np.argsort(-a.rate_units_per_day, kind="stable")
    vel = np.empty(order.size, dtype="<U1")
    n = order.size
    vel[order[: int(0.2 * n)]] = "A"
    vel[order[int(0.2 * n) : int(0.5 * n)]] = "B"
    vel[order[int(0.5 * n) :]] = "C"
    tiers = np.array(["small", "large", "bulky"])[a.size_tier]
    out = {"all": np.ones(n, bool)}
    for t in ("small", "large", "bulky"):
        for v in "ABC":
            m = (tiers == t) & (vel == v)
            if m.any():
                out[f"{t}/{v}"] = m
    return out


def chooser_gain(scene: InboundScene, *, seed: int, reps: int, progress=None) -> dict:
    """The chooser against every single-model baseline on the same replications, per SKU class: paired change
    in total cost (landed + lost margin) and in fill rate."""
    chooser_runs = []
    assign_counts = []
    for r in range(reps):
        ch = CostChooser(service_z=CHOOSER_Z)
        res = simulate_models(scene, seed=seed, rep=r, chooser=ch)
        chooser_runs.append(res)
        assign_counts.append(
            {
                "first": [np.bincount(ch.history[0][1][k], minlength=len(MODELS)) for k in range(2)],
                "last": [np.bincount(res.assign[k], minlength=len(MODELS)) for k in range(2)],
                "changes": res.assign_changes,
            }
        )
    if progress:
        progress("chooser")
    classes = sku_classes(chooser_runs[0])
    out = {"classes": {c: int(m.sum()) for c, m in classes.items()}, "vs": {}, "assign": assign_counts}
    ck = {c: [xb_kpis(r, m) for r in chooser_runs] for c, m in classes.items()}
    out["chooser"] = {c: {k: _ci(np.array([x[k] for x in v])) for k in v[0]} for c, v in ck.items()}
    for mname in MODELS:
        runs = _runs(scene, seed, reps, model=mname)
        rows = {}
        for c, m in classes.items():
            bk = [xb_kpis(r, m) for r in runs]
            cost_b = np.array([x["total_cost_usd"] for x in bk])
            cost_c = np.array([x["total_cost_usd"] for x in ck[c]])
            rows[c] = {
                "cost_base": _ci(cost_b),
                "cost_rel": _ci((cost_c - cost_b) / cost_b),
                "fill_base": _ci(np.array([x["fill_rate"] for x in bk])),
                "fill_delta": _ci(
                    np.array([x["fill_rate"] for x in ck[c]]) - np.array([x["fill_rate"] for x in bk])
                ),
                "served_delta": _ci(
                    np.array([x["served_share"] for x in ck[c]]) - np.array([x["served_share"] for x in bk])
                ),
            }
        out["vs"][mname] = rows
        if progress:
            progress(mname)
    return out


def chooser_markdown(res: dict) -> str:
    lines = [
        "Total cost (landed + lost margin), paired relative change chooser vs baseline, 95 % CI; "
        "fill-rate change "
        "(availability) below it:",
        "",
        "| SKU class (n) | " + " | ".join(f"vs {m}" for m in MODELS) + " |",
        "|---|" + "---|" * len(MODELS),
    ]
    for c, n in res["classes"].items():
        cells = []
        for m in MODELS:
            r = res["vs"][m][c]
            cr, fd = r["cost_rel"], r["fill_delta"]
            cells.append(
                f"{cr['mean'] * 100:+.1f} % [{cr['lo'] * 100:+.1f}, {cr['hi'] * 100:+.1f}]; "
                f"fill {fd['mean']:+.3f} [{fd['lo']:+.3f}, {fd['hi']:+.3f}]"
            )
        lines.append(f"| {c} ({n}) | " + " | ".join(cells) + " |")
    a = res["assign"][0]
    lines += [
        "",
        "Assignment, replication 0 (SKUs per model " + ", ".join(MODELS) + "): US market at the start "
        f"{a['first'][0].tolist()}, at the end {a['last'][0].tolist()}; Asian market at the start "
        f"{a['first'][1].tolist()}, at the end {a['last'][1].tolist()}; {a['changes']} SKU-market switches.",
    ]
    return "\n".join(lines)


def assistant_effect(scene: InboundScene, *, seed: int, reps: int) -> dict:
    """FBA cross-border for every SKU, with and without the seller assistant, same replications."""
    rows = {"off": [], "on": []}
    actions = []
    for r in range(reps):
        off = simulate_models(scene, seed=seed, rep=r, model="fba_crossborder")
        on = simulate_models(scene, seed=seed, rep=r, model="fba_crossborder", assistant=True)
        for key, res in (("off", off), ("on", on)):
            k = xb_kpis(res)
            k["margin_usd"] = k["revenue_usd"] * 0 + _contribution(res)
            rows[key].append(k)
        actions.append(on.actions)
    out = {}
    for k in (
        "aged_surcharge_usd",
        "cost.assistant_actions",
        "cost.storage",
        "lost_margin_usd",
        "margin_usd",
        "fill_rate",
        "total_cost_usd",
    ):
        off = np.array([x[k] for x in rows["off"]])
        on = np.array([x[k] for x in rows["on"]])
        out[k] = {"off": _ci(off), "on": _ci(on), "delta": _ci(on - off)}
    out["actions"] = {k: float(np.mean([a[k] for a in actions])) for k in actions[0]}
    return out


def _contribution(res: XBResult) -> float:
    """Revenue - declared (product) value of units sold - every cost but lost margin: the seller's margin."""
    sold = res.sales_mks.sum(axis=(0, 1))
    landed = res.costs_mcs[:, : len(COST_KEYS) - 1].sum()
    return float(res.revenue_s.sum() - sold @ res.attrs.customs_value_usd - landed)


def assistant_markdown(res: dict) -> str:
    lines = ["| metric | no assistant | assistant | paired change |", "|---|---|---|---|"]
    for k, label, fmt in (
        ("aged_surcharge_usd", "aged-inventory surcharge $", "{:,.0f}"),
        ("cost.assistant_actions", "cost of the actions $ (discounts, transfers, removals)", "{:,.0f}"),
        ("cost.storage", "storage $", "{:,.0f}"),
        ("lost_margin_usd", "lost margin $", "{:,.0f}"),
        ("fill_rate", "fill rate", "{:.4f}"),
        ("margin_usd", "seller margin $ (revenue - product - all costs)", "{:,.0f}"),
    ):
        r = res[k]
        lines.append(
            f"| {label} | {_fmt(r['off'], fmt)} | {_fmt(r['on'], fmt)} "
            f"| {_fmt(r['delta'], '{:+,.4f}' if 'fill' in k else '{:+,.0f}')} |"
        )
    a = res["actions"]
    lines.append(
        f"\nActions per run (mean): stop replenishing {a['stop_replenishing']:.0f} SKU-alerts, discount "
        f"{a['discount']:.0f} units, move to AWD {a['move_to_awd']:.0f} units, "
        f"remove {a['remove']:.0f} units."
    )
    return "\n".join(lines)


def profit_panel(res: XBResult, model: str) -> list[dict]:
    """Per SKU: revenue, product value, every cost source and lost margin, profit; for one model's run."""
    a = res.attrs
    sold = res.sales_mks.sum(axis=(0, 1))
    rows = []
    for s in range(a.price_usd.size):
        c = res.costs_mcs[:, :, s].sum(axis=0)
        row = {"sku": s, "model": model, "units_sold": int(sold[s]), "revenue_usd": float(res.revenue_s[s])}
        row["product_usd"] = float(sold[s] * a.customs_value_usd[s])
        for i, k in enumerate(COST_KEYS):
            row[k + "_usd"] = float(c[i])
        row["profit_usd"] = row["revenue_usd"] - row["product_usd"] - float(c[:-1].sum())
        rows.append(row)
    return rows


def profit_markdown(panels: dict[str, list[dict]]) -> str:
    keys = ["revenue_usd", "product_usd"] + [k + "_usd" for k in COST_KEYS] + ["profit_usd"]
    lines = ["| $ per year | " + " | ".join(panels) + " |", "|---|" + "---|" * len(panels)]
    for k in keys:
        lines.append(
            f"| {k[:-4]} | " + " | ".join(f"{sum(r[k] for r in p):,.0f}" for p in panels.values()) + " |"
        )
    return "\n".join(lines)


def save_profit_plot(panels: dict[str, list[dict]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4.5))
    names = list(panels)
    bottom = np.zeros(len(names))
    for i, k in enumerate(["product"] + list(COST_KEYS)):
        vals = np.array(
            [
                sum(r[k + "_usd"] for r in panels[n]) / max(sum(r["units_sold"] for r in panels[n]), 1)
                for n in names
            ]
        )
        ax.bar(names, vals, bottom=bottom, label=k, color=plt.cm.tab20(i))
        bottom += vals
    price = [
        sum(r["revenue_usd"] for r in panels[n]) / max(sum(r["units_sold"] for r in panels[n]), 1)
        for n in names
    ]
    ax.plot(names, price, "k_", markersize=30, label="revenue")
    ax.set_ylabel("$ per unit sold")
    ax.set_title("Profit panel: cost sources per unit sold, by model")
    ax.legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    plt.setp(ax.get_xticklabels(), rotation=15, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--seed", type=int, default=2025)
    p.add_argument(
        "--scene", default=str(Path(__file__).resolve().parents[2] / "scenes" / "inbound_default.toml")
    )
    p.add_argument("--out", default="runs/xb_studies")
    p.add_argument("--only", choices=["compare", "chooser", "assistant", "profit"], action="append")
    args = p.parse_args(argv)
    scene = load_scene(args.scene)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    todo = args.only or ["compare", "chooser", "assistant", "profit"]
    print(
        f"Cross-border studies: {scene.name}, {args.reps} replications (seed root {args.seed}), "
        "95 % intervals.\n"
    )
    if "compare" in todo:
        print("### The five models side by side\n")
        print(compare_markdown(compare_models(scene, seed=args.seed, reps=args.reps), args.reps) + "\n")
    if "chooser" in todo:
        print("### Per-SKU chooser vs every single-model baseline\n")
        print(chooser_markdown(chooser_gain(scene, seed=args.seed, reps=args.reps)) + "\n")
    if "assistant" in todo:
        print("### Seller assistant (fba_crossborder for every SKU)\n")
        print(assistant_markdown(assistant_effect(scene, seed=args.seed, reps=args.reps)) + "\n")
        slow = with_changes(
            scene,
            {"origin.seller_review_d": 91, "crossborder.fading_share": 0.4},
            source="quarterly lots, 40 % fading SKUs",
        )
        print("Same, with quarterly lots (origin.seller_review_d = 91) and 40 % of SKUs fading:\n")
        print(assistant_markdown(assistant_effect(slow, seed=args.seed, reps=args.reps)) + "\n")
    if "profit" in todo:
        panels = {m: profit_panel(simulate_models(scene, seed=args.seed, model=m), m) for m in MODELS}
        ch = simulate_models(scene, seed=args.seed, chooser=CostChooser(service_z=CHOOSER_Z))
        panels["chooser"] = profit_panel(ch, "chooser")
        print("### Profit panel (replication 0, all SKUs)\n")
        print(profit_markdown(panels) + "\n")
        png = save_profit_plot(panels, out / "profit_panel.png")
        import csv

        with open(out / "profit_panel.csv", "w", newline="") as fh:
            rows = [r for p in panels.values() for r in p]
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        print(f"Per-SKU panel: {out / 'profit_panel.csv'}; plot: {png}\n")


if __name__ == "__main__":
    main()
