"""`fctwin validate SCENE`: check a scene file (an FC floor or an inbound network) and print a summary."""

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


def _read(path) -> dict:
    """The scene file parsed once (TOML); raises `SceneError` naming the file."""
    import tomllib

    from fctwin.sim.scene import SceneError
    from fctwin.sim.textfile import TextFileError, read_text_file

    source = str(path)
    try:
        return tomllib.loads(read_text_file(path))
    except FileNotFoundError:
        raise SceneError(source, [("", "no such scene file")]) from None
    except TextFileError as exc:
        raise SceneError(source, [("", str(exc))]) from None
    except tomllib.TOMLDecodeError as exc:
        raise SceneError(source, [("", f"not valid TOML: {exc}")]) from None
    except RecursionError:
        raise SceneError(source, [("", "not valid TOML: nested too deeply")]) from None


def is_inbound(raw: dict) -> bool:
    """An inbound-network scene (`fctwin inbound`) rather than an FC floor (`fctwin run`)."""
    return "layout" not in raw and any(k in raw for k in ("lanes", "ports", "catalogue", "origin"))


def validate_command(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from fctwin.sim.cli import UsageError
    from fctwin.sim.inbound.scene import SceneError as InboundSceneError
    from fctwin.sim.scene import SceneError, scene_from_dict
    from fctwin.sim.scene.layout import to_ascii
    from fctwin.sim.scene.loader import with_overrides

    try:
        raw = _read(args.scene)
        raw = with_overrides(raw, str(args.scene), overrides=overrides_of(args))
        if is_inbound(raw):
            summary = _inbound_summary(raw, str(args.scene))
            grid = None
        else:
            scene = scene_from_dict(raw, source=str(args.scene), base_dir=args.scene.parent)
            summary, grid = scene.summary(), scene.grid
    except (SceneError, InboundSceneError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if args.map and grid is None:
        raise UsageError("--map: an inbound-network scene has no floor layout")
    table = Table(title=f"{args.scene}: valid")
    table.add_column("field")
    table.add_column("value", justify="right")
    for k, v in summary.items():
        table.add_row(k, f"{v:,}" if isinstance(v, int) else str(v))
    Console().print(table)
    if args.map:
        print(to_ascii(grid))
    return 0


def _inbound_summary(raw: dict, source: str) -> dict:
    from fctwin.sim.inbound.scene import scene_from_dict

    sc = scene_from_dict(raw, source)
    return {
        "kind": "inbound network (fctwin inbound)",
        "name": sc.name,
        "days": sc.days,
        "warm-up days": sc.warmup_days,
        "SKUs": sc.catalogue.n_skus,
        "regions": ", ".join(r.id for r in sc.regions),
        "lanes": len(sc.lanes),
        "ports": len(sc.ports),
        "FCs": len(sc.fcs),
        "flow": sc.network.flow,
        "policy": sc.policy.name,
        "disruptions": ", ".join(d.name or d.kind for d in sc.disruptions) or "-",
    }
