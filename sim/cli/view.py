"""`fctwin view RUN`: open the browser console on a finished (or running) run: replay with a timeline."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("view", help="replay a run in the browser console", description=__doc__)
    p.add_argument("run", help="run id (or unique prefix), run folder or run.sqlite")
    p.add_argument("--runs-dir", default="runs", help="where run databases are (default: ./runs)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to serve on (default 127.0.0.1; 0.0.0.0 for other machines)",
    )
    p.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")
    p.add_argument("--at", type=float, default=0.0, help="start at this simulated second")
    p.add_argument("--play", action="store_true", help="start playing at once")
    p.set_defaults(func=view_command)


def view_command(args) -> int:
    from fctwin.sim.cli import UsageError
    from fctwin.sim.console.data import RunData, find_run

    try:
        db = find_run(args.run, args.runs_dir)
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    try:
        from fctwin.sim.console.app import Console
    except ImportError as exc:
        raise UsageError(f"the console needs viser: pip install 'fctwin[console]' ({exc})") from None
    data = RunData(db)
    if not len(data.pose_t):
        print("note: this run recorded no poses (it ran with --record-poses off): KPIs only")
    console = Console(data, host=args.host, port=args.port)
    console.seek(args.at)
    console.update_panels(force=True)
    if args.play:
        console.toggle_play()
    print(f"fctwin console: {console.url}  (Ctrl-C to stop)", flush=True)
    console.wait()
    console.close()
    return 0
