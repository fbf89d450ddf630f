"""``fctwin inbound SCENE``: simulate the cross-border inbound network, print KPIs, save the run store and
plots.

Examples:
  fctwin inbound scenes/inbound_default.toml --days 365 --seed 3
  fctwin inbound scenes/inbound_two_coasts.toml --disruption us_east_gulf_strike_2024 --compare
  base_stock,resilient
  fctwin inbound scenes/inbound_default.toml --policy dual_mode --reps 3 --json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from fctwin.sim.cli import args as types
from fctwin.sim.cli.args import scene_file
from fctwin.sim.inbound.disruptions import TEMPLATES, template
from fctwin.sim.inbound.kpis import flatten, paired, run_kpis, summarize
from fctwin.sim.inbound.policies import POLICIES
from fctwin.sim.inbound.scene import (
    DisruptionSpec,
    InboundScene,
    SceneError,
    disruption_target_errors,
    disruption_window_error,
    load_scene,
    with_changes,
)

__all__ = ["add_parser", "run_inbound", "resolve_disruptions"]

TABLE_METRICS = [
    ("total.fill_rate", "fill rate", "{:.3f}"),
    ("total.in_stock_rate", "in-stock rate", "{:.3f}"),
    ("total.stockout_days_per_sku", "stockout days / SKU", "{:.1f}"),
    ("total.days_of_supply", "days of supply", "{:.1f}"),
    ("total.inventory_turns", "inventory turns", "{:.2f}"),
    ("total.landed_cost_usd_per_unit", "landed cost $/unit", "{:.3f}"),
    ("total.storage_cost_usd", "storage cost $", "{:,.0f}"),
    ("total.cost.freight_air_usd", "air freight $", "{:,.0f}"),
    ("total.cost.expedite_premium_usd", "expedite premium $", "{:,.0f}"),
    ("total.lost_margin_usd", "lost margin $", "{:,.0f}"),
    ("total.door_to_sellable_p50_d", "door-to-sellable p50 d", "{:.1f}"),
    ("total.door_to_sellable_p90_d", "door-to-sellable p90 d", "{:.1f}"),
    ("total.dock_to_stock_p50_d", "dock-to-stock p50 d", "{:.1f}"),
    ("total.time_to_recover_d", "time to recover d", "{:.0f}"),
    ("total.bullwhip_fc", "bullwhip (FC tier)", "{:.2f}"),
]


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "inbound",
        help="simulate the cross-border inbound flow and report KPIs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "scene", type=scene_file, help="inbound scene file (TOML), e.g. scenes/inbound_default.toml"
    )
    p.add_argument(
        "--days",
        type=types.number(low=1, high=3650, integer=True),
        help="days in the KPI window (default: the scene's)",
    )
    p.add_argument("--seed", type=types.seed, help="seed root (default: the scene's)")
    p.add_argument(
        "--reps",
        type=types.number(low=1, high=1000, integer=True),
        default=5,
        help="replications (seed children) for intervals [5]",
    )
    p.add_argument(
        "--disruption",
        action="append",
        default=[],
        metavar="NAME[@DAY]",
        help=f"template ({', '.join(TEMPLATES)}) or a scene [[disruptions]] name; repeatable",
    )
    p.add_argument("--policy", help=f"policy ({', '.join(POLICIES)}); default: the scene's")
    p.add_argument("--compare", metavar="A,B,...", help="run several policies on common random numbers")
    p.add_argument(
        "--compare-models",
        action="store_true",
        help="the five cross-border models side by side on common random numbers, 95 %% CIs, under every "
        "disruption template the scene can host (or those named with --disruption)",
    )
    p.add_argument("--flow", choices=["direct", "awd", "hub"], help="override network.flow")
    p.add_argument("--separate-channels", action="store_true", help="one inventory per channel (no pooling)")
    p.add_argument(
        "--fc-capacity-units-per-day",
        type=types.number(low=0, low_open=True, high=1e9),
        metavar="N",
        help="FC receive/stow capacity measured by FC runs, units/day (all FCs)",
    )
    p.add_argument(
        "--fc-capacity-from",
        metavar="RUN",
        help="take the FC receive/stow capacity from an `fctwin run` database (run dir or run.sqlite)",
    )
    p.add_argument("--runs-dir", type=types.runs_dir, default="runs", help="where run directories go [runs]")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--json", action="store_true", help="KPIs as JSON on stdout")
    p.set_defaults(func=run_inbound)
    return p


def resolve_disruptions(scene: InboundScene, names: list[str]) -> tuple[list[DisruptionSpec], bool]:
    """Disruption specs for the names given (templates or the scene's library), and whether the regime model
    runs.

    Raises ValueError with a message naming the disruption and the problem.
    """
    specs: list[DisruptionSpec] = []
    regime = False
    library = {d.name: d for d in scene.disruptions}
    for raw in (n.strip() for arg in names for n in arg.split(",")):
        if not raw:
            continue
        name, _, day = raw.partition("@")
        try:
            start = float(day) if day else float(scene.disruption_start_day)
        except ValueError:
            raise ValueError(f"--disruption {raw!r}: start day {day!r} is not a number") from None
        if name != "regime" and (not math.isfinite(start) or not -scene.warmup_days <= start < scene.days):
            whose = f"start day {day}" if day else f"the scene's disruption_start_day {start:g}"
            raise ValueError(
                f"--disruption {raw!r}: {whose} is outside the run (day -{scene.warmup_days} to"
                f" {scene.days - 1}); it could never act (give NAME@DAY)"
            )
        if name == "regime":
            if scene.regime is None:
                raise ValueError(f"--disruption regime: scene {scene.name!r} has no [regime] section")
            regime = True
        elif name in library:
            d = library[name]
            if day:
                d = DisruptionSpec.model_validate({**d.model_dump(), "start_day": start})
                errs = disruption_target_errors(scene, d, f"--disruption {raw}")
                if errs:
                    raise ValueError("; ".join(errs))
            why = disruption_window_error(scene, d, f"--disruption {raw!r}")
            if why:
                raise ValueError(why)
            specs.append(d)
        elif name in TEMPLATES:
            for i, sp in enumerate(template(name, start)):
                # A template's port tags are alternatives (customs_surge names both US coasts): it
                # is usable when some port carries one of them.
                errs = disruption_target_errors(scene, sp, f"--disruption {name} [{i}]", any_tag=True)
                if errs:
                    raise ValueError("; ".join(errs))
                specs.append(sp)
        else:
            known = sorted(set(TEMPLATES) | set(library))
            raise ValueError(f"--disruption {name!r}: unknown disruption (known: {', '.join(known)})")
    return specs, regime


def _scene(args) -> InboundScene:
    from fctwin.sim.cli import UsageError

    try:
        scene = load_scene(args.scene)
        changes = {}
        if args.days is not None:
            changes["days"] = args.days
        if args.flow:
            changes["network.flow"] = args.flow
        if args.separate_channels:
            changes["network.pool_channels"] = False
        if getattr(args, "fc_capacity_from", None):
            from fctwin.sim.inbound.coupling import fc_capacity_from_run

            try:
                args.fc_capacity_units_per_day = fc_capacity_from_run(args.fc_capacity_from)
            except ValueError as exc:
                raise UsageError(f"--fc-capacity-from: {exc}") from None
        if args.fc_capacity_units_per_day is not None:
            if args.fc_capacity_units_per_day <= 0:
                raise UsageError("--fc-capacity-units-per-day: must be > 0")
            changes["fcs"] = [
                {**f.model_dump(by_alias=True), "dock_capacity_units_per_day": args.fc_capacity_units_per_day}
                for f in scene.fcs
            ]
        if changes:
            scene = with_changes(scene, changes, source=f"{args.scene} (command-line overrides)")
    except SceneError as exc:
        raise UsageError(str(exc)) from None
    return scene


def _clean(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    return x


def run_inbound(args) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.table import Table

    from fctwin.sim.cli import UsageError
    from fctwin.sim.inbound.network import simulate
    from fctwin.sim.inbound.plots import save_plots
    from fctwin.sim.inbound.store import RunStore, new_run_dir

    scene = _scene(args)
    if getattr(args, "compare_models", False):
        from fctwin.sim.cli.inbound_models import run_compare_models

        return run_compare_models(args, scene)
    policies = (
        [p.strip() for p in args.compare.split(",")] if args.compare else [args.policy or scene.policy.name]
    )
    for p in policies:
        if p not in POLICIES:
            raise UsageError(f"unknown policy {p!r} (known: {', '.join(POLICIES)})")
    if args.reps < 1:
        raise UsageError("--reps: must be >= 1")
    try:
        specs, regime = resolve_disruptions(scene, args.disruption)
    except ValueError as exc:
        raise UsageError(f"{args.scene}: {exc}") from None
    seed = scene.seed if args.seed is None else args.seed
    run_dir = new_run_dir(args.runs_dir, Path(args.scene).stem, seed)
    store = RunStore(run_dir / "inbound.sqlite")
    store.meta(
        scene_path=str(args.scene),
        scene=scene.model_dump(mode="json", by_alias=True),
        seed=seed,
        reps=args.reps,
        policies=policies,
        disruptions=args.disruption,
        argv=sys.argv[1:],
    )
    err = Console(stderr=True)
    flats: dict[str, list[dict[str, float]]] = {}
    first: dict = {}
    # policy -> disruptions that did nothing in every replication (reported, never silently kept)
    inactive: dict[str, set[str]] = {}
    T = scene.warmup_days + scene.days
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("inbound", total=len(policies) * args.reps * T)
        for policy in policies:
            flats[policy] = []
            for rep in range(args.reps):
                bar.update(task, description=f"{policy} rep {rep + 1}/{args.reps}")
                res = simulate(
                    scene,
                    seed=seed,
                    rep=rep,
                    disruptions=specs,
                    policy=policy,
                    regime=regime,
                    progress=lambda _d: bar.advance(task),
                )
                idle = set(res.inactive_disruptions)
                inactive[policy] = idle if rep == 0 else inactive[policy] & idle
                k = run_kpis(res)
                flat = flatten(k)
                flats[policy].append(flat)
                store.replication(policy, rep, res, flat, k["per_sku"])
                if rep == 0:
                    first[policy] = res
                    if policy == policies[0]:
                        store.disruptions(res)
            store.summary(policy, summarize(flats[policy]))
    summaries = {p: summarize(f) for p, f in flats.items()}
    inactive_out = {p: sorted(names) for p, names in inactive.items() if names}
    for p, names in inactive_out.items():
        print(
            f"fctwin inbound: warning: under policy {p}, disruption {', '.join(names)} delayed no shipment:"
            " no shipment of this policy used the lanes or ports it disrupts, so it had no effect",
            file=sys.stderr,
        )
    pairs = {p: paired(flats[policies[0]], flats[p]) for p in policies[1:]}
    pngs = [] if args.no_plots else save_plots(first, run_dir)
    store.meta(plots=[str(p) for p in pngs])
    store.close()
    if args.json:
        out = {
            "scene": str(args.scene),
            "seed": seed,
            "reps": args.reps,
            "days": scene.days,
            "flow": scene.network.flow,
            "pooled_channels": scene.network.pool_channels,
            "disruptions": args.disruption,
            "disruptions_without_effect": inactive_out,
            "run_dir": str(run_dir),
            "plots": [str(p) for p in pngs],
            "kpis": summaries,
            "paired_vs_" + policies[0]: pairs,
        }
        json.dump(_clean(out), sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    con = Console()
    table = Table(
        title=f"{scene.name}: {scene.days} d, flow {scene.network.flow}, "
        f"{'pooled' if scene.network.pool_channels else 'separate'} channels, "
        f"{args.reps} reps (mean [95 % CI])"
        + (f", disruption {', '.join(args.disruption)}" if args.disruption else "")
    )
    table.add_column("KPI")
    for p in policies:
        table.add_column(p, justify="right")
    for key, label, fmt in TABLE_METRICS:
        cells = []
        for p in policies:
            v = summaries[p].get(key)
            if v is None or not math.isfinite(v["mean"]):
                cells.append("-")
            elif math.isfinite(v["lo"]):
                cells.append(f"{fmt.format(v['mean'])} [{fmt.format(v['lo'])}, {fmt.format(v['hi'])}]")
            else:
                cells.append(fmt.format(v["mean"]))
        table.add_row(label, *cells)
    con.print(table)
    for p, d in pairs.items():
        fr, lc = d["total.fill_rate"], d["total.landed_cost_usd_per_unit"]
        con.print(
            f"{p} vs {policies[0]} (paired, same seeds): fill rate {fr['mean']:+.4f} "
            f"[{fr['lo']:+.4f}, {fr['hi']:+.4f}], landed cost/unit {lc['mean']:+.4f} "
            f"[{lc['lo']:+.4f}, {lc['hi']:+.4f}] $"
        )
    con.print(
        f"run store: {run_dir / 'inbound.sqlite'}"
        + (f"; plots: {', '.join(p.name for p in pngs)}" if pngs else "")
    )
    return 0
