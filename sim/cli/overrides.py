"""``--set FIELD=VALUE`` for every subcommand that loads a scene: the syntax validation errors print."""

from __future__ import annotations

import argparse
from typing import Any


def assignment(text: str) -> tuple[str, Any]:
    from fctwin.sim.scene.overrides import OverrideError, parse_assignment

    try:
        return parse_assignment(text)
    except OverrideError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_set_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        dest="overrides",
        metavar="FIELD=VALUE",
        action="append",
        type=assignment,
        default=[],
        help="change one field of the scene, e.g. --set fleet[0].count=20 --set orders.rate_per_h=700"
        " (validated like the file; repeatable)",
    )


def overrides_of(args: argparse.Namespace) -> dict[str, Any]:
    return dict(getattr(args, "overrides", None) or [])
