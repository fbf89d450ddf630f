"""``fctwin inbound SCENE --compare-models``: the five cross-border models side by side
(sim/inbound/xborder.py).

Every model runs on the same replications (common random numbers); the table shows means and 95 % t-intervals,
then, per disruption template the scene can host, the paired change against no disruption.
"""

from __future__ import annotations

import json
import math
import sys

from fctwin.sim.inbound.disruptions import TEMPLATES

__all__ = ["run_compare_models"]


def _clean(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    return x


def run_compare_models(args, scene) -> int:
    from rich.console import Console
    from rich.table import Table

    from fctwin.sim.cli import UsageError
    from fctwin.sim.inbound.xb_params import MODELS
    from fctwin.sim.inbound.xb_studies import COMPARE_METRICS, _fmt, applicable_templates, compare_models

    if args.reps < 1:
        raise UsageError("--reps: must be >= 1")
    names = None
    if args.disruption:
        names = [n.strip() for arg in args.disruption for n in arg.split(",") if n.strip()]
        ok, skipped = applicable_templates(scene)
        for n in names:
            if n not in TEMPLATES:
                raise UsageError(
                    f"--disruption {n!r}: --compare-models takes templates ({', '.join(TEMPLATES)})"
                )
            if n not in ok:
                raise UsageError(f"--disruption {n!r}: cannot act on this scene: {skipped.get(n)}")
    seed = scene.seed if args.seed is None else args.seed
    err = Console(stderr=True)
    res = compare_models(
        scene, seed=seed, reps=args.reps, disruptions=names, progress=lambda what: err.print(f"done: {what}")
    )
    if args.json:
        json.dump(
            _clean({"scene": str(args.scene), "seed": seed, "reps": args.reps, **res}), sys.stdout, indent=1
        )
        sys.stdout.write("\n")
        return 0
    con = Console()
    table = Table(
        title=f"{scene.name}: five cross-border models, {args.reps} reps, seed {seed} (mean [95 % CI])"
    )
    table.add_column("KPI")
    for m in MODELS:
        table.add_column(m, justify="right")
    for key, label, fmt in COMPARE_METRICS:
        table.add_row(label, *(_fmt(res["kpis"][m][key], fmt) for m in MODELS))
    con.print(table)
    for name, rows in res["disruptions"].items():
        t = Table(title=f"{name}: paired change vs no disruption (same seeds)")
        t.add_column("KPI")
        for m in MODELS:
            t.add_column(m, justify="right")
        for key, label, fmt in (
            ("fill_rate_delta", "fill rate", "{:+.4f}"),
            ("door_to_customer_p95_d_delta", "door-to-customer p95 d", "{:+.1f}"),
            ("total_cost_usd_delta", "total cost $", "{:+,.0f}"),
            ("profit_usd_delta", "seller profit $", "{:+,.0f}"),
        ):
            t.add_row(label, *(_fmt(rows[m][key], fmt) for m in MODELS))
        con.print(t)
    for name, why in res["skipped"].items():
        con.print(f"not run: {name}: {why}")
    return 0
