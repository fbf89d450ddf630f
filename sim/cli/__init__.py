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
    "run": "fctwin.sim.cli.run",
    "validate": "fctwin.sim.cli.validate",
    "scenes": "fctwin.sim.cli.scenes",
    "runs": "fctwin.sim.cli.runs",
    "inbound": "fctwin.sim.cli.inbound",
    "calibrate": "fctwin.sim.cli.calibrate",
    "serve": "fctwin.sim.cli.serve",
    "robot": "fctwin.sim.cli.robot",
    "keys": "fctwin.sim.cli.keys",
    "view": "fctwin.sim.cli.view",
    "report": "fctwin.sim.cli.report",
    "export": "fctwin.sim.cli.export",
}


from fctwin.sim.errors import UsageError  # noqa: E402  (one class, whether run as sim.cli or __main__)

__all__ = ["UsageError", "main", "build_parser"]


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or with ``only`` (a known subcommand) just that subcommand's part.

    Building every subcommand imports every module behind them (the inbound model pulls in
    scipy.stats: about 1 s); `main` builds only the one asked for, so `fctwin run` starts at once.
    """
    parser = argparse.ArgumentParser(
        prog="fctwin",
        description="Digital twin of a robotic fulfillment center and its inbound flow.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, module_name in SUBCOMMANDS.items():
        if only is not None and name != only:
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and module_name.startswith(exc.name):
                continue  # that part of fctwin is not built yet
            raise
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # The top-level parser has no options of its own but --help, so the first word that is not an
    # option names the subcommand; anything else (top-level help, a typo) gets the full parser.
    command = None
    for arg in argv:
        if not arg.startswith("-"):
            command = arg
            break
        if arg in ("-h", "--help"):
            break
    parser = build_parser(only=command if command in SUBCOMMANDS else None)
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
