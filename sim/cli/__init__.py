"""The `fctwin` command line: one small module per subcommand, registered here.

Each subcommand module exposes ``add_parser(subparsers)`` (which sets ``func`` on its parser via
``set_defaults``); ``func(args) -> int`` returns the exit code. Modules are imported lazily so
`fctwin --help` stays fast and a broken optional part cannot break the others.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading

# subcommand -> module providing add_parser(subparsers)
SUBCOMMANDS: dict[str, str] = {
    "run": "fctwin.sim.cli.run",
    "sweep": "fctwin.sim.cli.sweep",
    "validate": "fctwin.sim.cli.validate",
    "scenes": "fctwin.sim.cli.scenes",
    "runs": "fctwin.sim.cli.runs",
    "inbound": "fctwin.sim.cli.inbound",
    "calibrate": "fctwin.sim.cli.calibrate",
    "serve": "fctwin.sim.cli.serve",
    "robot": "fctwin.sim.cli.robot",
    "keys": "fctwin.sim.cli.keys",
    "conformance": "fctwin.sim.cli.conformance",
}


from fctwin.sim.errors import RunInterrupted, Terminated, UsageError  # noqa: E402  (one class, whether run as sim.cli or __main__)

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


def _raise_terminated(signum, frame) -> None:
    raise Terminated(signal.Signals(signum).name)


def _known_error(exc: BaseException) -> str | None:
    """The one-line message for an error that is the input's or the machine's fault, else None.

    These end with exit code 2 and no traceback: a bad scene, a fleet host that died, a full disk,
    a run store that cannot be written. Anything else is a bug and keeps its traceback.
    """
    import errno
    import sqlite3

    from fctwin.sim.scene import SceneError

    if isinstance(exc, SceneError):
        return str(exc)
    for module, name in (
        ("fctwin.sim.inbound.scene", "SceneError"),
        ("fctwin.network.fleet_link", "FleetLinkError"),
        ("fctwin.sim.journal", "ResumeError"),
        ("fctwin.sim.runstore", "RunStoreError"),
    ):
        cls = getattr(sys.modules.get(module), name, None)
        if cls is not None and isinstance(exc, cls):
            return str(exc)
    zmq_error = getattr(sys.modules.get("zmq"), "ZMQError", None)
    if zmq_error is not None and isinstance(exc, zmq_error):  # address in use, unreachable, ...
        return f"network: {exc}"
    if isinstance(exc, sqlite3.OperationalError) and "disk" in str(exc).lower():
        return f"run store: {exc} (what was committed before is kept)"
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    return None


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
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (a service manager, `kill`) ends a run like Ctrl-C: the run store keeps the run
        # marked interrupted, the fleet host and the link's temp folder are cleaned up.
        signal.signal(signal.SIGTERM, _raise_terminated)
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, _raise_terminated)
    try:
        parser = build_parser(only=command if command in SUBCOMMANDS else None)
        args = parser.parse_args(argv)
        try:
            return int(args.func(args) or 0)
        except UsageError as exc:
            print(f"fctwin {args.command}: error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt as exc:
            if isinstance(exc, RunInterrupted):
                why = str(exc)
            else:
                why = f"terminated ({exc})" if isinstance(exc, Terminated) else "interrupted"
            print(f"fctwin {args.command}: {why}", file=sys.stderr)
            return 130
        except Exception as exc:
            message = _known_error(exc)
            if message is None:
                raise
            print(f"fctwin {args.command}: error: {message}", file=sys.stderr)
            return 2
    except BrokenPipeError:
        # `fctwin runs | head`: the reader is gone, which is not an error of ours. Point stdout at
        # devnull so the interpreter's final flush does not raise again at exit.
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        # Ctrl-C while parsing or importing: nothing started yet.
        print("fctwin: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
