"""`fctwin serve SCENE --bind tcp://HOST:PORT`: the dispatcher and the simulated building, with
the scene's external units served by robots over the network (hardware in the loop).

    fctwin keys generate --dir keys --ids T-07,T-08
    fctwin serve scenes/hil.toml --bind tcp://0.0.0.0:5555 --keys keys --realtime
    fctwin robot --type titan --id T-07 --connect tcp://HOST:5555 --keys keys --scene scenes/hil.toml

Waits for every external unit to register, then runs the scene like `fctwin run` (run store,
KPIs), journaling every tick. Robots move at wall-clock speed, so ``--realtime`` is required (a
fast run would step the floor as fast as it can and a robot's motion would lag it); ``--fast``
runs in lockstep with robots that emulate faster than the wall clock (tests, ``fctwin robot
--speedup``). At the end every robot gets ``bye``. If the dispatcher dies, ``fctwin serve SCENE
--bind ... --resume RUN_ID`` replays the journal through a fresh dispatcher (checking it decides
exactly as recorded) and continues the run live; the robots reconnect by themselves
(`fctwin.sim.journal`). Binding beyond loopback without ``--keys`` is refused unless ``--insecure``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fctwin.network import protocol as p
from fctwin.sim.cli import args as types
from fctwin.sim.cli.args import scene_file
from fctwin.sim.cli.overrides import add_set_option, overrides_of


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve", help="run the dispatcher and simulation, accepting external robots"
    )
    parser.add_argument("scene", type=scene_file, help="scene file whose fleet marks some units external")
    parser.add_argument(
        "--bind", type=types.endpoint, required=True, help="endpoint for robots, e.g. tcp://0.0.0.0:5555"
    )
    parser.add_argument("--keys", help="key directory from `fctwin keys generate` (CURVE + allow-list)")
    parser.add_argument("--insecure", action="store_true", help="allow a plaintext bind beyond loopback")
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument(
        "--realtime", action="store_true", help="pace the run to the wall clock (required with robots)"
    )
    pace.add_argument(
        "--fast",
        action="store_true",
        help="do not pace: each tick waits only for the robots' reports (emulated robots faster than "
        "the wall clock only)",
    )
    parser.add_argument(
        "--speedup", type=types.speedup, default=1.0, help="realtime factor (default 1: hardware speed)"
    )
    parser.add_argument("--hours", type=types.hours, help="simulated hours (default: the scene's)")
    parser.add_argument("--seed", type=types.seed, help="seed root (default: the scene's)")
    parser.add_argument("--runs-dir", type=types.runs_dir, default="runs", help="where run databases go")
    parser.add_argument("--run-id", type=types.run_id, help="name the run (default: time, scene and seed)")
    parser.add_argument(
        "--resume",
        type=types.run_id,
        metavar="RUN_ID",
        help="continue this run from its journal (after a dispatcher crash)",
    )
    parser.add_argument(
        "--wait-s", type=types.seconds, default=120.0, help="how long to wait for external robots"
    )
    parser.add_argument(
        "--heartbeat-s",
        type=types.number(low=0.01, high=3600),
        default=p.HEARTBEAT_INTERVAL_S,
        help="heartbeat interval",
    )
    parser.add_argument(
        "--agent",
        choices=("off", "advise", "auto", "reactive"),
        help="who manages the floor (default: the scene's [agent] mode; with --resume, the run's): advise"
        " recommends, auto applies;"
        " a live run cannot be forked, so the agent ranks its candidates by its fluid model (docs/eluna.md)",
    )
    parser.add_argument(
        "--pub",
        type=types.endpoint,
        help="bind the dispatcher's PUB socket here: recommendations for dashboards (docs/protocol.md)",
    )
    add_set_option(parser)
    parser.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    import logging

    # Sessions, losses and refused messages, on stderr (the KPIs go to stdout as JSON).
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    from fctwin.network.hil_link import DRIVE_UNIT_TYPE, HilFleetLink, HilOptions, cells_after_batch
    from fctwin.network.security import InsecureBindError, ServerKeys, check_bind_allowed
    from fctwin.sim.cli import UsageError
    from fctwin.sim.scene import load_scene

    if not (args.realtime or args.fast):
        raise UsageError(
            "external units are robots moving at wall-clock speed: pass --realtime [--speedup N] "
            "(or --fast for emulated robots that step faster than the wall clock)"
        )
    keys = ServerKeys.from_dir(args.keys) if args.keys else None
    if keys is not None and not keys.secret_file.exists():
        raise UsageError(f"{keys.secret_file} not found (run `fctwin keys generate --dir {args.keys} ...`)")
    try:
        check_bind_allowed(args.bind, keys=keys, insecure=args.insecure)
        if args.pub:
            check_bind_allowed(args.pub, keys=keys, insecure=args.insecure)
    except InsecureBindError as exc:
        raise UsageError(str(exc)) from None
    scene_path = Path(args.scene)
    seed, hours, agent = args.seed, args.hours, args.agent
    resume_cells = resume_sent_cells = resume_sent_step = None
    if args.resume:
        from fctwin.sim.runstore import RunStore

        db = Path(args.runs_dir) / args.resume / "run.sqlite"
        if not db.exists():
            raise UsageError(f"--resume: no run {args.resume!r} in {args.runs_dir}")
        # Read-only: a run that cannot be resumed must be left exactly as it is.
        finished = finished_run(db)
        if finished:
            raise UsageError(
                f"--resume {args.resume}: {finished}; nothing to resume (the run is left as it is)"
            )
        from fctwin.sim.journal import ResumeError, TickJournal

        store = RunStore(db)
        try:
            meta = store.read_meta()
            journal = TickJournal(store)
            last = journal.last_frame()
            in_flight = journal.sent_after_last()
        except ResumeError as exc:
            raise UsageError(f"--resume {args.resume}: {exc}") from None
        finally:
            store.close()
        # Where the simulated units stood when the dispatcher stopped: robots re-register there.
        resume_cells = {
            u.unit_id: (u.row, u.col) for u in last.all_states() if u.unit_type == DRIVE_UNIT_TYPE
        }
        if in_flight is not None:  # sent, then killed before its frame was journaled
            resume_sent_cells = cells_after_batch(last.all_states(), in_flight)
            resume_sent_step = in_flight.step
        seed = meta.get("seed") if seed is None else seed  # the run's own, unless overridden
        hours = meta.get("run_hours") if hours is None else hours
        agent = meta.get("agent") if agent is None else agent  # the run's manager unless named
    scene = load_scene(scene_path, seed=seed, run_hours=hours, overrides=overrides_of(args))
    external = frozenset(u.unit_id for u in scene.units if u.external)
    if not external:
        raise UsageError(f"{scene_path} marks no unit external (fleet[].external = [...])")

    from fctwin.sim.journal import ResumeError
    from fctwin.sim.run import RunOptions, run_fc

    def make_hil_link(path, sc, opts):
        hil = HilOptions(
            bind=args.bind,
            external_ids=external,
            keys=keys,
            insecure=args.insecure,
            heartbeat_interval_s=args.heartbeat_s,
            register_timeout_s=args.wait_s,
            external_wait_s=max(2.0, 3 * sc.step_s / (opts.speedup if opts.realtime else 1.0)),
            grid=sc.grid,
            start_cells={u.unit_id: u.cell for u in sc.units},
            resume_cells=resume_cells,
            resume_sent_cells=resume_sent_cells,
            resume_sent_step=resume_sent_step,
            step_s=sc.step_s,
            realtime_factor=opts.speedup if opts.realtime else 0.0,
            pub_endpoint=args.pub,
        )
        print(f"waiting for external units {sorted(external)} on {args.bind}", flush=True)
        for u in sc.units:
            if u.external:
                print(f"  {u.unit_id} starts at ({u.cell[0]}, {u.cell[1]}) heading {u.heading}", flush=True)
        link = HilFleetLink(
            sc.as_data(),
            hil,
            link_kwargs={"seed": sc.seed, "realtime_factor": opts.speedup if opts.realtime else None},
        )
        return link, None

    from fctwin.sim.runstore import new_run_id

    run_id = args.resume or args.run_id or new_run_id(scene.name, scene.seed)
    print(f"run {run_id} in {args.runs_dir} (after a crash: --resume {run_id})", flush=True)
    # The normal run path (run store, KPIs, progress); only the link differs from `fctwin run`.
    opts = RunOptions(  # seed, hours and overrides are in `scene` already: it is read once
        realtime=args.realtime,
        speedup=args.speedup,
        runs_dir=Path(args.runs_dir),
        run_id=run_id,
        link_factory=make_hil_link,
        journal=True,
        resume=bool(args.resume),
        agent=agent,
        command_line=["fctwin", *sys.argv[1:]],
    )
    try:
        result = run_fc(scene, opts, progress=_progress)
    except ResumeError as exc:
        raise UsageError(str(exc)) from None
    except TimeoutError as exc:  # no robot registered within --wait-s
        raise UsageError(f"{exc} (--wait-s {args.wait_s:g})") from None
    print(
        json.dumps({"run_id": result.run_id, "db": str(result.db_path), **result.kpis}, indent=2, default=str)
    )
    return 0


def finished_run(db: Path) -> str | None:
    """Why the run in ``db`` cannot be resumed without being damaged (finished, unreadable), else None.

    Opened read-only: `RunStore` would create tables and a resume would clear the summary.
    """
    import sqlite3

    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1.0)
        try:
            done = con.execute("SELECT COUNT(*) FROM summary").fetchone()[0]
            # An interrupted or failed run keeps its summary so far with a status: still resumable.
            status = con.execute("SELECT value FROM summary WHERE key = 'status'").fetchone()
            if status is not None and str(status[0]).strip('"').startswith(("interrupted", "failed")):
                done = 0
            journal = con.execute("SELECT COUNT(*) FROM journal").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error as exc:
        return f"its run store cannot be read ({exc})"
    if done:
        return "the run finished"
    if not journal:
        return "the run has no journal (only `fctwin serve` runs can be resumed)"
    return None


def _progress(row: dict) -> None:
    print(
        f"minute {row['minute']}: {row['units_picked']} units picked, {row['orders_completed']} orders",
        file=sys.stderr,
        flush=True,
    )
