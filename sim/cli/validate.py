"""`fctwin validate SCENE`: check a scene file and print a summary."""

from __future__ import annotations

import sys

from fctwin.sim.cli.args import scene_file
from fctwin.sim.cli.overrides import add_set_option, overrides_of


def add_parser(sub) -> None:
    p = sub.add_parser("validate", help="check a scene file and print a summary", description=__doc__)
    p.add_argument("scene", type=scene_file, help="scene file (TOML) or shipped scene name")
    p.add_argument("--map", action="store_true", help="also print the layout as an ASCII map")
    add_set_option(p)
    p.set_defaults(func=validate_command)


def validate_command(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from fctwin.sim.scene import SceneError, load_scene
    from fctwin.sim.scene.layout import to_ascii

    try:
        scene = load_scene(args.scene, overrides=overrides_of(args))
    except SceneError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    table = Table(title=f"{args.scene}: valid")
    table.add_column("field")
    table.add_column("value", justify="right")
    for k, v in scene.summary().items():
        table.add_row(k, f"{v:,}" if isinstance(v, int) else str(v))
    Console().print(table)
    if args.map:
        print(to_ascii(scene.grid))
    return 0
