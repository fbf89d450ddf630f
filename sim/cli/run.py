"""`fctwin run [SCENE]`: run a scene headless (default) or in the PyBullet GUI."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from fctwin.sim.cli import args as types
from fctwin.sim.cli.args import scene_file
from fctwin.sim.cli.overrides import add_set_option, overrides_of


def _cpu_choice(text: str) -> str | int:
    from fctwin.sim.affinity import parse_cpu_choice

    try:
        return parse_cpu_choice(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="run a scene and report KPIs", description=__doc__)
    p.add_argument(
        "scene",
        nargs="?",
        default=None,
        type=scene_file,
        help="scene file or shipped scene name (default: fc_small; `fctwin scenes` lists them)",
    )
    p.add_argument("--hours", type=types.hours, help="simulated hours (default: the scene's run_hours)")
    p.add_argument("--seed", type=types.seed, help="seed root (default: the scene's seed)")
    p.add_argument("--gui", action="store_true", help="open the PyBullet GUI (realtime, needs a display)")
    p.add_argument("--realtime", action="store_true", help="pace the run to the wall clock")
    p.add_argument(
        "--speedup", type=types.speedup, default=10.0, help="realtime speed-up factor (default 10)"
    )
    p.add_argument(
        "--planner", type=types.planner, help="override the scene's planner (e.g. pibt, reservation)"
    )
    p.add_argument(
        "--runs-dir", type=types.runs_dir, default="runs", help="where run databases go (default: ./runs)"
    )
    p.add_argument(
        "--record-poses",
        choices=("auto", "on", "off"),
        default="auto",
        help="store unit poses for replay (default on; delta-encoded above 100 units)",
    )
    p.add_argument(
        "--pose-every",
        type=types.number(low=1, high=3600, integer=True),
        metavar="N",
        help="record every N-th step's poses (default 1, and 2 for fleets over 100 units)",
    )
    p.add_argument("--link", choices=("zmq", "local"), default="zmq", help=argparse.SUPPRESS)
    p.add_argument(
        "--cpu",
        type=_cpu_choice,
        default="auto",
        help="fast runs: keep the dispatcher and its fleet host on one CPU, which on VMs makes their"
        " lockstep hand-overs several times cheaper: auto (the current CPU, default), off, or a CPU number",
    )
    p.add_argument("--physics", choices=("none", "stations"), default="none", help="run stations in physics")
    p.add_argument(
        "--agent",
        choices=("off", "advise", "auto", "reactive"),
        default=None,
        help="who manages the floor (default: the scene's [agent] mode, off): advise recommends, auto"
        " applies (docs/eluna.md); headless agent runs use the in-process fleet host for the lookahead",
    )
    p.add_argument(
        "--pub",
        type=types.endpoint,
        help="publish the agent's recommendations on a PUB socket bound here (docs/protocol.md)",
    )
    p.add_argument("--json", action="store_true", help="print the KPIs as JSON on stdout")
    p.add_argument(
        "--view",
        action="store_true",
        help="serve the browser console while the run goes on (any browser, no display)",
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="--view: address to serve on (0.0.0.0 for other machines)"
    )
    p.add_argument("--port", type=int, default=8080, help="--view: port (default 8080; 0 picks a free one)")
    p.add_argument(
        "--view-exit",
        action="store_true",
        help="--view: stop serving when the run ends (default: keep serving the replay)",
    )
    add_set_option(p)
    p.set_defaults(func=run_command)


def run_command(args) -> int:
    from fctwin.sim.cli import UsageError
    from fctwin.sim.run import RunOptions, run_fc
    from fctwin.sim.scene import SceneError
    from fctwin.sim.scene.catalog import resolve_scene

    scene = args.scene if args.scene is not None else resolve_scene(None)
    opts = RunOptions(
        hours=args.hours,
        seed=args.seed,
        gui=args.gui,
        realtime=args.realtime or args.gui,
        speedup=args.speedup,
        planner=args.planner,
        runs_dir=Path(args.runs_dir),
        record_poses={"auto": None, "on": True, "off": False}[args.record_poses],
        pose_every=args.pose_every,
        link=args.link,
        cpu=args.cpu,
        station_fidelity="physics" if args.physics == "stations" else "fast",
        overrides=overrides_of(args),
        agent=args.agent,
        command_line=["fctwin", *sys.argv[1:]],
    )
    if args.agent in ("advise", "auto") and not (args.gui or args.realtime):
        # the agent's lookahead forks the run: the fleet host in-process, without PyBullet bodies
        opts = replace(opts, link="local", world=False)
    try:
        from fctwin.sim.scene import load_scene

        sc = load_scene(scene, seed=args.seed, run_hours=args.hours, overrides=overrides_of(args))
    except SceneError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    from fctwin.sim.cli.render import kpi_table, progress_bar, stdout_reserved

    with stdout_reserved(args.json) as emit:
        if args.gui:  # importing PyBullet prints its banner on file descriptor 1
            from fctwin.sim.world import DisplayUnavailable, require_display

            try:
                require_display()
            except DisplayUnavailable as exc:
                raise UsageError(str(exc)) from None
        session = _live_session(args, sc, opts) if args.view else None
        publisher = _publisher(args.pub) if args.pub else None
        try:
            with progress_bar(sc.run_s, enabled=not args.json) as update:
                # The scene is read once: seed, hours and overrides are in `sc` already.
                once = replace(opts, seed=None, hours=None, overrides={}, publisher=publisher)
                result = run_fc(sc, once, progress=update)
        finally:
            if publisher is not None:
                publisher.close()
        if args.json:
            emit(json.dumps({"run_id": result.run_id, "db": str(result.db_path), **result.kpis}, indent=2))
    if not args.json:
        kpi_table(result.kpis, title=f"{sc.name}: run {result.run_id}")
        print_eluna(result)
        print(f"run database: {result.db_path}")
    if session is not None:
        if session.console is not None and not args.view_exit:
            print(
                f"run finished; the console still serves it at {session.console.url} (Ctrl-C to stop)",
                file=sys.stderr,
            )
            session.console.wait()
        session.close()
    return 0


def _publisher(endpoint: str):
    from fctwin.network.publisher import RecommendationPublisher
    from fctwin.network.security import InsecureBindError
    from fctwin.sim.cli import UsageError

    try:
        return RecommendationPublisher(endpoint)
    except InsecureBindError as exc:
        raise UsageError(f"--pub: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - zmq.ZMQError: address in use, bad endpoint
        raise UsageError(f"--pub {endpoint}: cannot bind ({exc})") from None


def _live_session(args, sc, opts):
    """The live console: its hooks go into ``opts``; it comes up while the run starts."""
    import importlib.util

    from fctwin.sim.cli import UsageError

    if importlib.util.find_spec("viser") is None:  # imported by the session's own thread
        raise UsageError("--view needs viser: pip install 'fctwin[console]'")
    from fctwin.sim.console.live import LiveSession
    from fctwin.sim.runstore import new_run_id

    opts.run_id = opts.run_id or new_run_id(sc.name, sc.seed)
    # A fast run (fc_small: an hour in about 1.5 s) may be over before a page has loaded; the
    # console then shows its replay. To watch one as it goes, pace it.
    hint = "" if opts.realtime else "  (fast run; to watch it as it goes: --realtime --speedup 60)"
    session = LiveSession(
        sc,
        runs_dir=opts.runs_dir,
        run_id=opts.run_id,
        host=args.host,
        port=args.port,
        on_ready=lambda url: print(f"fctwin console: {url}{hint}", file=sys.stderr, flush=True),
    )
    opts.viewer = session.feed
    opts.advice = session.advice
    return session


def print_eluna(result, *, limit: int = 12) -> None:
    """The floor manager's lines of the summary: efficiency, forecast skill, recommendations."""
    import sqlite3

    el = result.kpis.get("eluna") or {}
    if not el:
        return
    at30 = (el.get("forecast_skill") or {}).get("open_lines", {})
    # (a live result keys the horizons by int, a run store read back by their JSON text)
    skill = (at30.get(30) or at30.get("30") or {}).get("skill")
    print(
        f"floor manager: {el.get('mode')}; {el.get('units_per_labour_h')} units per labour hour "
        f"({el.get('labour_h')} labour h), {el.get('units_per_h')} units/h; "
        f"forecast skill at 30 min (open lines): {skill}"
    )
    for sh in el.get("shifts") or ():  # the scene's shift plan: each shift's own figures
        print(
            f"  shift {sh['shift']} ({sh['start_h']:g}-{sh['end_h']:g} h): {sh['labour_h']} labour h,"
            f" {sh['units']} units, {sh['units_per_labour_h']} units per labour hour"
        )
    try:
        db = sqlite3.connect(result.db_path)
        try:
            rows = db.execute("SELECT text, applied FROM recommendations ORDER BY id").fetchall()
        finally:
            db.close()
    except sqlite3.Error:  # a run store from before the table (`fctwin runs ID` reads old ones too)
        rows = []
    if not rows:
        return
    share = el.get("sign_as_predicted_share")
    print(
        f"recommendations: {len(rows)} ({sum(a for _, a in rows)} applied)"
        + (f"; realised effect with the predicted sign: {share:.0%}" if share is not None else "")
    )
    for text, applied in rows[:limit]:
        print(f"  {'applied ' if applied else 'advised '} {text}")
    if len(rows) > limit:
        print(f"  ... {len(rows) - limit} more in the run database (table recommendations)")
