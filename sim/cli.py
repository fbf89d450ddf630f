"""The `fctwin` command line: one small module per subcommand, registered here.

Each subcommand module exposes ``add_parser(subparsers)`` (which sets ``func`` on its parser via
``set_defaults``); ``func(args) -> int`` returns the exit code. Modules are imported lazily so
`fctwin --help` stays fast and a broken optional part cannot break the others.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> module providing add_parser(subparsers)
SUBCOMMANDS: dict[str, str] = {
    "run": "sim.commands.run",
    "validate": "sim.commands.validate",
    "runs": "sim.commands.runs",
    "inbound": "sim.inbound.cli",
    "calibrate": "robots.calibrate_cli",
    "serve": "network.serve_cli",
    "robot": "network.robot_cli",
    "keys": "network.keys_cli",
}


from sim.errors import UsageError  # noqa: E402  (one class, whether run as sim.cli or __main__)

__all__ = ["UsageError", "main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fctwin",
        description="Digital twin of a robotic fulfillment center and its inbound flow.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module_name in SUBCOMMANDS.values():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and module_name.startswith(exc.name):
                continue  # that part of fctwin is not built yet
            raise
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"fctwin {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; everything up to the last completed minute is in the run store", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
