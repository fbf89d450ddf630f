"""``fctwin calibrate [SCENE] [--trials N] [--seed S] [--jobs J] [--only TYPES] (--out PATH |
--write-shipped)``: fit the fast station models from physics.

``--only vulcan`` (or ``vulcan,sequoia``, ...) runs only those station types, so the CPU goes where a
figure is in doubt (e.g. more Vulcan trials at new seeds, pooled with `benchmarks/stations.py --pool`).
Such a partial table is written with ``--out`` only: it cannot replace the shipped one.

The shipped table (``robots/data/station_models.json``) is what every fast run samples from, so it is
written only when asked for by name (``--write-shipped``); a calibration run otherwise needs ``--out``.
Either output is checked (a file name, its folder exists and is writable, an existing file is
writable) before any physics runs: a bad path must not cost minutes of simulation and then fail.
"""

from __future__ import annotations

import os
from pathlib import Path

from fctwin.robots.data import DEFAULT_MODELS_PATH
from fctwin.sim.cli import args as types
from fctwin.sim.cli.args import scene_file


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "calibrate", help="run station physics and write the fitted cycle-time models"
    )
    parser.add_argument(
        "scene", nargs="?", type=scene_file, help="scene file whose SKU catalogue the trials draw from"
    )
    parser.add_argument(
        "--trials",
        type=types.number(low=1, high=10_000, integer=True),
        default=20,
        help="physics trials per station type (default 20)",
    )
    parser.add_argument("--seed", type=types.seed, default=0)
    parser.add_argument(
        "--jobs",
        type=types.number(low=1, high=64, integer=True),
        default=1,
        help="processes for the physics (Vulcan pods, Blue Jay arm counts); the same table for any value",
    )
    parser.add_argument(
        "--only",
        type=station_types,
        default=None,
        metavar="TYPES",
        help="comma-separated station types to run (vulcan, bluejay, sequoia; default all); needs --out",
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--out",
        type=types.output_file,  # checked now, not after minutes of physics
        help="output JSON (a new table; the shipped one is only written with --write-shipped)",
    )
    where.add_argument(
        "--write-shipped",
        action="store_true",
        help=f"overwrite the shipped table that fast runs use ({DEFAULT_MODELS_PATH.name})",
    )
    parser.set_defaults(func=run)


def station_types(text: str) -> tuple[str, ...]:
    """``--only``: a comma-separated list of station types, each named once."""
    import argparse

    from fctwin.robots.calibration import STATION_TYPES

    names = [t.strip() for t in text.split(",")]
    bad = [t for t in names if t not in STATION_TYPES]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"unknown station type {bad[0]!r} (choose from {', '.join(STATION_TYPES)})"
        )
    return tuple(dict.fromkeys(names))


def output_path(args) -> Path:
    """The checked output path; raises UsageError naming the option when it cannot be written."""
    from fctwin.sim.cli import UsageError

    if args.write_shipped:
        if getattr(args, "only", None) is not None:
            raise UsageError("--only makes a partial table: write it with --out, not --write-shipped")
        path = DEFAULT_MODELS_PATH
        try:
            types.output_file(str(path))
        except Exception as exc:  # argparse.ArgumentTypeError: same wording as for --out
            raise UsageError(f"--write-shipped: {exc}") from None
        option = "--write-shipped"
    else:
        path = Path(args.out)
        option = "--out"
        if path.resolve() == DEFAULT_MODELS_PATH.resolve():
            raise UsageError(f"--out {path} is the shipped table; say --write-shipped to overwrite it")
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageError(f"{option}: cannot overwrite {path} (not writable)")
    return path


def run(args) -> int:
    from fctwin.sim.cli import UsageError  # robots/ imports sim/ only here, at run time

    if args.trials < 1:
        raise UsageError("--trials must be >= 1")
    path = output_path(args)  # before the scene is loaded and before any physics
    sizes = masses = fill = None
    if args.scene:
        from fctwin.sim.scene import SceneError, load_scene

        try:
            scene = load_scene(args.scene)
        except (SceneError, OSError) as exc:
            raise UsageError(str(exc)) from exc
        sizes, masses = scene.skus.size_m, scene.skus.mass_kg
        fill = scene.spec.pods.initial_fill_frac  # Sequoia's rack as full as the scene's storage
    from fctwin.robots.calibration import calibrate, write_models

    table = calibrate(
        trials=args.trials,
        seed=args.seed,
        sku_sizes_m=sizes,
        sku_mass_kg=masses,
        jobs=args.jobs,
        rack_fill_frac=fill,
        only=args.only,
    )
    try:
        path = write_models(table, path)
    except OSError as exc:  # the folder went away during the physics
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    print(f"wrote {path}")
    for unit, kinds in table["models"].items():
        for kind, classes in kinds.items():
            for cls, e in classes.items():
                cycle = e["cycle_s"].get("mean", e["cycle_s"].get("value", float("nan")))
                move = (
                    f"  + tote move {e['tote_move_s']['mean']:.1f} s per line" if "tote_move_s" in e else ""
                )
                print(
                    f"{unit:8s} {kind:5s} {cls:7s} success {e['success_rate']:.2f}  cycle {cycle:.1f} s{move}"
                )
    if "vulcan_summary" in table:
        _print_vulcan(table["vulcan_summary"])
    if "bluejay_arms_units_per_h" in table:
        curve = table["bluejay_arms_units_per_h"]
        print("bluejay cell units/h by arms: " + ", ".join(f"{k}: {u:.0f}" for k, u in sorted(curve.items())))
    return 0


def _print_vulcan(v: dict) -> None:
    print(
        f"vulcan stow: {v['robot_stows_per_h']:.0f} robot stows per arm-hour"
        f" ({v['stow_units_per_h']:.0f} units through the arm), success {v['stow_success_rate']:.0%},"
        f" to people {v['to_person_share']:.0%}; pick success {v.get('pick_success_rate', float('nan')):.0%}"
        f" (first grasp held {v.get('pick_first_grasp_held_rate', float('nan')):.0%})"
    )
    ci = v.get("intervals_95", {})
    for key, e in ci.items():
        if isinstance(e, dict):
            pct = key != "robot_stows_per_h"
            fmt = (lambda x: f"{x:.0%}") if pct else (lambda x: f"{x:.0f}")
            print(
                f"  {key:18s} {fmt(e['estimate'])} (95% {fmt(e['low'])}-{fmt(e['high'])}, {ci['pods']} pods)"
                f"  public {fmt(e['public'][0])}-{fmt(e['public'][1])}: {e['verdict']}"
            )
    checks = v.get("pick_checks")
    if checks:
        w = checks["weight_check"]
        print(
            f"  pick with an item on top {checks['stacked']['success']}/{checks['stacked']['picks']},"
            f" without {checks['not_stacked']['success']}/{checks['not_stacked']['picks']};"
            f" multi-picks {checks['multi_picks']} ({checks['dragged_where']}); weight check flags"
            f" {w['flagged_multi_picks']} of them, {w['false_alarms']} false alarms"
        )
