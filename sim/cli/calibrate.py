"""``fctwin calibrate [SCENE] [--trials N] [--out PATH]``: fit the fast station models from physics."""

from __future__ import annotations

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
        "--out",
        type=types.output_file,  # checked now, not after a minute of physics
        default=str(DEFAULT_MODELS_PATH),
        help="output JSON (default: the shipped table)",
    )
    parser.set_defaults(func=run)


def run(args) -> int:
    from fctwin.sim.cli import UsageError  # robots/ imports sim/ only here, at run time

    if args.trials < 1:
        raise UsageError("--trials must be >= 1")
    sizes = masses = None
    if args.scene:
        from fctwin.sim.scene import SceneError, load_scene

        try:
            scene = load_scene(args.scene)
        except (SceneError, OSError) as exc:
            raise UsageError(str(exc)) from exc
        sizes, masses = scene.skus.size_m, scene.skus.mass_kg
    from fctwin.robots.calibration import calibrate, write_models

    table = calibrate(trials=args.trials, seed=args.seed, sku_sizes_m=sizes, sku_mass_kg=masses)
    path = write_models(table, args.out)
    print(f"wrote {path}")
    for unit, kinds in table["models"].items():
        for kind, classes in kinds.items():
            for cls, e in classes.items():
                print(
                    f"{unit:8s} {kind:5s} {cls:7s} success {e['success_rate']:.2f}"
                    f"  cycle {e['cycle_s']['mean']:.1f} s"
                )
    v = table["vulcan_summary"]
    print(
        f"vulcan stow: {v['stow_units_per_h']:.0f} units/h, success {v['stow_success_rate']:.0%},"
        f" to people {v['to_person_share']:.0%} (public: 224-300 units/h, ~85%, ~25%)"
    )
    curve = table["bluejay_arms_units_per_h"]
    print("bluejay cell units/h by arms: " + ", ".join(f"{k}: {u:.0f}" for k, u in sorted(curve.items())))
    return 0
