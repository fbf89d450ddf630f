"""`fctwin scenes`: list the shipped scenes; `fctwin scenes copy NAME [DIR]` writes one out to edit."""

from __future__ import annotations

import json


def add_parser(sub) -> None:
    p = sub.add_parser(
        "scenes", help="list the shipped scenes, or copy one to start your own", description=__doc__
    )
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    c = actions.add_parser("copy", help="write a shipped scene to a folder (or a .toml path) to edit it")
    c.add_argument("name", help="shipped scene name (see `fctwin scenes`)")
    c.add_argument("dest", nargs="?", default=".", help="folder or file path (default: the current folder)")
    p.set_defaults(func=scenes_command)


def scenes_command(args) -> int:
    from fctwin.sim.cli import UsageError
    from fctwin.sim.scene.catalog import copy_scene, shipped_scenes

    if getattr(args, "action", None) == "copy":
        try:
            target = copy_scene(args.name, args.dest)
        except (FileNotFoundError, FileExistsError, NotADirectoryError) as exc:
            raise UsageError(str(exc)) from None
        except OSError as exc:
            raise UsageError(f"cannot write {args.dest}: {exc.strerror}") from None
        print(f"wrote {target}")
        return 0
    scenes = shipped_scenes()
    if args.json:
        print(
            json.dumps(
                [{"name": s.name, "kind": s.kind, "description": s.description} for s in scenes], indent=2
            )
        )
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="shipped scenes (fctwin run NAME, fctwin scenes copy NAME DIR)")
    table.add_column("name")
    table.add_column("kind")
    table.add_column("description")
    for s in scenes:
        table.add_row(s.name, s.kind, s.description)
    Console().print(table)
    return 0
