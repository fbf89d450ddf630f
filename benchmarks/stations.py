"""Station physics speed (simulated seconds per wall second) and the shipped fitted cycle-time table.

    python benchmarks/stations.py [--vulcan-stows 10] [--bluejay-s 20] [--sequoia-cycles 6]
    python benchmarks/stations.py --sequoia-sweep      # no physics: the Sequoia comparison only

Every station runs its own PyBullet DIRECT client at 240 Hz on one core. Vulcan: stows from the
calibration item mix into a half-full pod. Blue Jay: 1 and 4 arms, random task mix under workspace
reservation. Sequoia: tote store and retrieve cycles on the gantry rack. The table printed after
is `robots/data/station_models.json` as shipped (not refitted here; `fctwin calibrate` does that).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from fctwin.robots.data import load_station_models
from fctwin.robots.data.item_mix import sample_items

ROOT = Path(__file__).resolve().parents[1]


def bench_vulcan(stows: int) -> tuple[float, float]:
    """(simulated s, wall s) of ``stows`` stow attempts (physics steps only; fixed times excluded)."""
    from fctwin.robots.physics.vulcan_cell import VulcanCell

    rng = np.random.default_rng(0)
    cell = VulcanCell()
    cell.load_pod(rng, fill_frac=0.5)
    sizes_m, mass_kg = sample_items(rng, stows)
    cell.pc.steps = 0
    t0 = time.perf_counter()
    for size, mass in zip(sizes_m, mass_kg, strict=True):
        cell.stow(tuple(size), float(mass))
    wall = time.perf_counter() - t0
    sim = cell.pc.t_s
    cell.close()
    return sim, wall


def bench_bluejay(arms: int, sim_s: float) -> tuple[float, float]:
    from fctwin.robots.physics.bluejay_cell import BlueJayCell

    cell = BlueJayCell(arms=arms, seed=0)
    t0 = time.perf_counter()
    cell.run(sim_s)
    wall = time.perf_counter() - t0
    cell.close()
    return sim_s, wall


def bench_sequoia(cycles: int) -> tuple[float, float]:
    from fctwin.robots.physics.sequoia_rack import SequoiaRack

    rack = SequoiaRack()
    steps0 = rack.pc.steps
    t0 = time.perf_counter()
    slots = [rack.store()[1] for _ in range(cycles)]
    for slot in slots:
        rack.retrieve(slot)
    wall = time.perf_counter() - t0
    sim = (rack.pc.steps - steps0) / 240.0
    rack.close()
    return sim, wall


def print_table(models: dict) -> None:
    print("\nfitted cycle-time table (robots/data/station_models.json)")
    print(f"{'unit':8s} {'kind':5s} {'class':7s} {'trials':>6s} {'success':>8s} {'mean s':>8s} {'cv':>6s}")
    for unit, kinds in models["models"].items():
        for kind, classes in kinds.items():
            for cls, e in classes.items():
                c = e["cycle_s"]
                print(
                    f"{unit:8s} {kind:5s} {cls:7s} {e['trials']:6d} {e['success_rate']:8.2f}"
                    f" {c['mean']:8.2f} {c['cv']:6.2f}"
                )
    curve = models.get("bluejay_arms_units_per_h", {})
    if curve:
        print(
            "Blue Jay cell units/h by arms: " + ", ".join(f"{k}: {v:.0f}" for k, v in sorted(curve.items()))
        )
        print(
            "Blue Jay units/h per arm: "
            + ", ".join(f"{k}: {v / int(k):.0f}" for k, v in sorted(curve.items()))
            + " (public: no rate published)"
        )
        if "1" in curve and "3" in curve:
            three = 3 * curve["1"]
            print(
                f"three 1-arm cells {three:,.0f} units/h vs one 3-arm cell {curve['3']:,.0f} units/h:"
                f" {curve['3'] / three - 1:+.0%} (public: one cell does the work of three stations)"
            )
    v = models.get("vulcan_summary")
    if v:
        print(
            f"Vulcan stow: robot stows {v.get('robot_stows_per_h', float('nan')):.0f} per arm-hour"
            f" (public 224 in production, target 300); units through the arm {v['stow_units_per_h']:.0f}/h;"
            f" success {v['stow_success_rate']:.0%} of attempts (public ~85%); to people"
            f" {v['to_person_share']:.0%} (public: about a quarter)"
        )
        if "pick_success_rate" in v:
            print(
                f"Vulcan pick: success {v['pick_success_rate']:.0%} of {v['pick_attempted']} attempts"
                f" (public 91% over 12,000)"
            )


HUMAN_STOW_S = 3600.0 / 243.0  # a person stowing into pods: 243 units/h (public, Mar 2025)
HUMAN_PICK_S = 10.0  # a person picking from a pod: the human station's default (RAWSim-O: 10 s per item)
HUMAN_PER_POD_S = 2.0  # per pod visit at a human station (the default)


def sequoia_sweep(models: dict) -> None:
    """Sequoia against the public "up to 75% faster" storage and "up to 25% faster" order processing.

    Storage time per unit = decant time per unit (a person moves units from the carton into a tote,
    assumed) + the measured gantry store cycle shared by a tote of 12 units. Pick time per unit =
    the person's pick from a presented tote (assumed) + the measured retrieve cycle shared by the
    line's units. Both non-physics times are swept, since neither is published.
    """
    cyc = models["sequoia_cycle_s"]
    store_s, retrieve_s = cyc["store_mean"], cyc["retrieve_mean"]
    print(
        f"\nSequoia (gantry cycles measured in physics: store {store_s:.1f} s, retrieve {retrieve_s:.1f} s)"
    )
    print(f"storage time per unit vs a person stowing into pods ({HUMAN_STOW_S:.1f} s, 243 units/h):")
    print(f"{'decant s/unit':>14s} {'Sequoia s/unit':>15s} {'faster by':>10s}   (public: up to 75%)")
    for decant_s in (1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 8.0):
        per_unit = decant_s + store_s / 12
        print(f"{decant_s:14.1f} {per_unit:15.2f} {1 - per_unit / HUMAN_STOW_S:10.0%}")
    print("order processing (pick) time per unit vs a person picking from pods (10 s + 2 s per pod visit):")
    print(
        f"{'pick s/unit':>12s} {'units/line':>10s} {'Sequoia s/unit':>15s}"
        f" {'person s/unit':>14s} {'faster by':>10s}   (public: up to 25%)"
    )
    for pick_s in (3.0, 4.0, 5.0, 6.0, 8.0):
        for units in (1, 2, 4):
            seq = pick_s + retrieve_s / units
            person = HUMAN_PICK_S + HUMAN_PER_POD_S / units
            print(f"{pick_s:12.1f} {units:10d} {seq:15.2f} {person:14.2f} {1 - seq / person:10.0%}")


def pool_tables(paths) -> None:
    """Each table's Vulcan headline figures with their pod-resampled 95% intervals, then all pooled."""
    import json

    from fctwin.robots.calibration import pooled_intervals

    tables = [json.loads(Path(p).read_text(encoding="utf-8")) for p in paths]
    rows = [(p, t["vulcan_summary"]["intervals_95"]) for p, t in zip(paths, tables, strict=True)]
    rows.append(("pooled", pooled_intervals(tables)))
    for name, iv in rows:
        print(f"{name}: {iv['trials']} trials, {iv['pods']} pods")
        for k in ("robot_stows_per_h", "stow_success_rate", "to_person_share", "pick_success_rate"):
            f = iv[k]
            fmt = (lambda x: f"{x:.0f}") if k == "robot_stows_per_h" else (lambda x: f"{x:.1%}")
            print(
                f"  {k:18s} {fmt(f['estimate']):>6s} ({fmt(f['low'])}-{fmt(f['high'])})"
                f"  public {fmt(f['public'][0])}-{fmt(f['public'][1])}: {f['verdict']}"
                f" (trials to decide: {f['trials_to_decide']})"
            )
    reasons: dict[str, int] = {}
    for t in tables:
        for why, n in t["vulcan_summary"].get("pick_failure_reasons", {}).items():
            reasons[why] = reasons.get(why, 0) + n
    attempted = sum(t["vulcan_summary"]["pick_attempted"] for t in tables)
    failed = ", ".join(f"{k} {n}" for k, n in reasons.items() if not k.startswith("refused"))
    refused = sum(n for k, n in reasons.items() if k.startswith("refused"))
    print(f"pooled pick failures over {attempted} attempts: {failed} (and {refused} refused, not attempted)")
    print_pick_checks([t for t in tables if "pick_attempts" in t["vulcan_summary"]])


def print_pick_checks(tables) -> None:
    """The pick's multi-pick and weight-check figures and the stack-share sweep, pooled over tables
    that recorded them (`fctwin.robots.calibration.pick_checks`; tables since issue 22's fifth round)."""
    from fctwin.robots.calibration import pick_checks, stack_sweep

    if not tables:
        print("no table recorded the pick checks (calibrated before they were kept)")
        return
    c = pick_checks([a for t in tables for a in t["vulcan_summary"]["pick_attempts"]])
    w = c["weight_check"]
    st, ns = c["stacked"], c["not_stacked"]
    print(f"pick checks pooled over {len(tables)} table(s) ({st['picks'] + ns['picks']} attempts):")
    print(
        f"  with an item lying on top: {st['success']}/{st['picks']} succeed"
        f" ({st['success'] / max(1, st['picks']):.1%}); without: {ns['success']}/{ns['picks']}"
        f" ({ns['success'] / max(1, ns['picks']):.1%}); share of attempts with one"
        f" {st['picks'] / max(1, st['picks'] + ns['picks']):.1%} (drawn with p = stack_share 0.12)"
    )
    print(
        f"  multi-picks {c['multi_picks']} ({c['multi_pick_from_stacked']} from a stacked bin);"
        f" where the dragged items ended: {c['dragged_where']}"
    )
    print(
        f"  weight check (wrist F/T at the carry pose vs catalogue mass): flags {w['flagged_multi_picks']}"
        f" of {c['multi_picks']} multi-picks ({w['flagged_riding']} of {w['multi_picks_riding']} with the"
        f" item riding on the tool), {w['false_alarms']} false alarms over {w['weighed']} weighed picks;"
        f" reading error on clean picks: median {w['clean_error_frac_median']:+.1%},"
        f" 5-95% {w['clean_error_frac_p5_p95'][0]:+.1%} to {w['clean_error_frac_p5_p95'][1]:+.1%}"
    )
    print("  pick success if this share of picks had an item on top (measured rates mixed; public 86-96%):")
    for share, success in stack_sweep(c):
        print(f"    {share:5.0%}  {success:.1%}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vulcan-stows", type=int, default=10)
    ap.add_argument("--bluejay-s", type=float, default=20.0)
    ap.add_argument("--sequoia-cycles", type=int, default=6)
    ap.add_argument("--sequoia-sweep", action="store_true", help="only the Sequoia comparison (no physics)")
    ap.add_argument(
        "--pool",
        nargs="+",
        metavar="TABLE",
        help="only the Vulcan figures with 95%% intervals of these calibration tables (each, and pooled)",
    )
    args = ap.parse_args()
    if args.pool:
        pool_tables(args.pool)
        return 0
    if args.sequoia_sweep:
        sequoia_sweep(load_station_models())
        return 0
    rows = [
        ("vulcan (1 arm, stow)", *bench_vulcan(args.vulcan_stows)),
        ("bluejay (1 arm)", *bench_bluejay(1, args.bluejay_s)),
        ("bluejay (4 arms)", *bench_bluejay(4, args.bluejay_s)),
        ("sequoia (gantry)", *bench_sequoia(args.sequoia_cycles)),
    ]
    print(f"{'station physics':22s} {'sim s':>8s} {'wall s':>8s} {'sim s / wall s':>15s}")
    for name, sim, wall in rows:
        print(f"{name:22s} {sim:8.1f} {wall:8.1f} {sim / wall:15.2f}")
    models = load_station_models()
    print_table(models)
    sequoia_sweep(models)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
