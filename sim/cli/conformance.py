"""`fctwin conformance --bind ENDPOINT --id ROBOT_ID`: check a robot client against the protocol.

    fctwin conformance --bind tcp://127.0.0.1:5599 --id T-07 &
    my_robot_client --connect tcp://127.0.0.1:5599 --id T-07      # the client under test
    fctwin robot --id T-07 --cell 3,4 --connect tcp://127.0.0.1:5599   # or the reference one

Plays the dispatcher: waits for the client's hello, then drives it through the checklist of
docs/protocol.md section 14 (registration, sequence numbers, heartbeats, telemetry, motion, lift,
refusals, idempotent command ids, set-down, stop/resume, bad frames, watchdog, reconnection,
unknown_client, bye) and prints PASS/FAIL/SKIP per item. Exit code 0 only if every item passed.
The client needs free floor around it (see `fctwin.network.conformance`).
"""

from __future__ import annotations

import argparse
import json
import sys

from fctwin.network import protocol as p


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "conformance", help="drive a robot client through the protocol checklist (plays the dispatcher)"
    )
    parser.add_argument(
        "--bind", required=True, help="endpoint the client connects to, e.g. tcp://127.0.0.1:5599"
    )
    parser.add_argument("--id", required=True, help="the client's id (= its unit id)")
    parser.add_argument("--pod", type=int, default=0, help="pod id the client lifts on its start cell")
    parser.add_argument(
        "--heartbeat-s", type=float, default=p.HEARTBEAT_INTERVAL_S, help="announced interval"
    )
    parser.add_argument("--watchdog-s", type=float, default=p.WATCHDOG_S, help="announced watchdog")
    parser.add_argument("--step-s", type=float, default=1.0, help="announced simulated seconds per step")
    parser.add_argument("--speedup", type=float, default=1.0, help="announced realtime factor")
    parser.add_argument("--timeout-s", type=float, default=15.0, help="wall seconds one item may take")
    parser.add_argument("--connect-timeout-s", type=float, default=60.0, help="wait this long for the hello")
    parser.add_argument("--insecure", action="store_true", help="allow binding beyond loopback without keys")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from fctwin.network.conformance import Conformance, ConformanceOptions, format_report
    from fctwin.network.security import InsecureBindError
    from fctwin.sim.cli import UsageError

    opts = ConformanceOptions(
        bind=args.bind,
        client_id=args.id,
        pod_id=args.pod,
        heartbeat_interval_s=args.heartbeat_s,
        watchdog_s=args.watchdog_s,
        step_s=args.step_s,
        realtime_factor=args.speedup,
        timeout_s=args.timeout_s,
        connect_timeout_s=args.connect_timeout_s,
        insecure=args.insecure,
    )
    log = None if args.json else (lambda line: print(line, file=sys.stderr, flush=True))
    try:
        items = Conformance(opts, log=log).run()
    except InsecureBindError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps([it.__dict__ for it in items], indent=2))
    else:
        print(format_report(items))
    return 0 if all(it.status == "PASS" for it in items) else 1
