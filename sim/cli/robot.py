"""`fctwin robot`: the reference hardware client, as a process (see `fctwin.network.robot_client`).

    fctwin robot --type titan --id T-07 --connect tcp://10.0.0.5:5555 [--keys KEYS] [--scene S]

Starts at the unit's cell in ``--scene`` (or ``--cell ROW,COL``, or where ``--state-file`` says
it was) and runs until the dispatcher says ``bye`` (the run is over: exit 0) or SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fctwin.network import protocol as p
from fctwin.sim.cli import args as types
from fctwin.sim.cli.args import scene_file

SUPPORTED_TYPES = ("titan",)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("robot", help="reference hardware client for one drive unit")
    parser.add_argument("--type", default="titan", help="unit type (only titan so far)")
    parser.add_argument(
        "--id", type=types.client_id, required=True, help="robot id (the scene's unit id, e.g. T-07)"
    )
    parser.add_argument(
        "--connect", type=types.endpoint, required=True, help="dispatcher endpoint, e.g. tcp://HOST:PORT"
    )
    parser.add_argument("--keys", help="key directory from `fctwin keys generate` (CURVE)")
    parser.add_argument(
        "--scene", type=scene_file, help="scene file: start at this unit's cell and use its step time"
    )
    parser.add_argument("--cell", help="start cell ROW,COL (default: from --scene, else 0,0)")
    parser.add_argument(
        "--heading", type=int, choices=range(4), default=0, help="0 east, 1 south, 2 west, 3 north"
    )
    parser.add_argument(
        "--step-s",
        type=types.number(low=0.001, high=3600),
        help="simulated seconds per motion step (default: scene's, else 1)",
    )
    parser.add_argument(
        "--speedup", type=types.speedup, default=1.0, help="realtime factor (wall s = sim s / speedup)"
    )
    parser.add_argument(
        "--heartbeat-s",
        type=types.number(low=0.01, high=3600),
        default=p.HEARTBEAT_INTERVAL_S,
        help="heartbeat interval",
    )
    parser.add_argument(
        "--duration-s",
        type=types.seconds,
        help="exit after this many seconds (default: until bye or a signal)",
    )
    parser.add_argument(
        "--state-file",
        help="keep pose, pod and battery in this file and start from it (a restarted robot reports "
        "where it is, as a real one reads back its localisation)",
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from fctwin.sim.cli import UsageError

    if args.type not in SUPPORTED_TYPES:
        raise UsageError(f"--type {args.type!r}: supported: {', '.join(SUPPORTED_TYPES)}")
    if args.connect.startswith("tcp://") and args.connect.endswith(":*"):
        raise UsageError("--connect: give the dispatcher's port, not '*'")
    if args.keys:
        secret = Path(args.keys) / "clients" / f"{args.id}.key_secret"
        if not secret.is_file():
            raise UsageError(f"--keys: {secret} not found (made by `fctwin keys generate --ids {args.id}`)")
    cell, heading, step_s = (0, 0), args.heading, args.step_s
    codes = None
    if args.scene:
        from fctwin.sim.scene import load_scene

        scene = load_scene(args.scene)
        unit = next((u for u in scene.units if u.unit_id == args.id), None)
        if unit is None:
            raise UsageError(f"no unit {args.id!r} in {args.scene}")
        cell, heading = unit.cell, unit.heading
        step_s = step_s or scene.step_s
        from fctwin.network.robot_client import grid_codes

        codes = grid_codes(scene.grid)
    if args.cell:
        try:
            row, col = (int(v) for v in args.cell.split(","))
        except ValueError:
            raise UsageError("--cell takes ROW,COL") from None
        if row < 0 or col < 0:
            raise UsageError(f"--cell {args.cell}: row and column are >= 0")
        cell = (row, col)
    from fctwin.network.robot_client import run_robot_process

    return run_robot_process(
        endpoint=args.connect,
        client_id=args.id,
        cell=cell,
        heading=heading,
        step_s=step_s or 1.0,
        realtime_factor=args.speedup,
        heartbeat_interval_s=args.heartbeat_s,
        key_dir=args.keys,
        duration_s=args.duration_s,
        codes=codes,
        state_file=args.state_file,
    )
