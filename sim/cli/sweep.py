"""`fctwin sweep SCENE --set PATH=A,B,... --seeds N`: a grid of runs with 95% CIs, locally or on Ray.

    fctwin sweep fc_small --set fleet[0].count=8,16,32,64 --seeds 10 --hours 1
    fctwin sweep fc_small --set fleet[0].count=10,20 --set dispatch.order_assignment=least_loaded,nearest \\
        --seeds 0-9 --ray auto
    fctwin sweep --resume fc_small-20261206-051500      # finish a partial sweep, then report

Every variant runs every seed (common random numbers); results go to sweeps/NAME/sweep.sqlite as
runs finish; failed runs are retried. docs/experiments.md has the details.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fctwin.sim.cli import args as types
from fctwin.sim.cli.args import scene_file


def _factor(text: str):
    from fctwin.sim.experiments.grid import parse_factor
    from fctwin.sim.scene.overrides import OverrideError

    try:
        return parse_factor(text)
    except OverrideError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seeds(text: str):
    from fctwin.sim.experiments.grid import parse_seeds

    try:
        return parse_seeds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(sub) -> None:
    p = sub.add_parser(
        "sweep",
        help="run a grid of variants x seeds and report means with 95%% CIs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "scene", nargs="?", type=scene_file, help="scene file or shipped scene name (default fc_small)"
    )
    p.add_argument(
        "--set",
        dest="factors",
        metavar="FIELD=V1[,V2...]",
        action="append",
        type=_factor,
        default=[],
        help="a field and its values: several values make a factor of the grid, one value is fixed"
        " for every run (e.g. --set fleet[0].count=10,20,30 --set dispatch.planner=pibt); repeatable",
    )
    p.add_argument("--seeds", type=_seeds, default=None, help="N (seeds 0..N-1), A-B or a,b,c (default 5)")
    p.add_argument("--hours", type=types.hours, help="simulated hours per run (default: the scene's)")
    p.add_argument(
        "--workers",
        type=types.number(low=1, high=4096, integer=True),
        help="local processes (default: the CPUs this process may use)",
    )
    p.add_argument(
        "--ray",
        metavar="auto|ADDRESS",
        help="run on Ray: 'auto' starts a local Ray for the sweep; an address (ray://HOST:10001)"
        " joins that cluster",
    )
    p.add_argument("--name", type=types.run_id, help="the sweep's name (default: SCENE-DATE-TIME)")
    p.add_argument("--sweeps-dir", default="sweeps", help="where sweeps go (default: ./sweeps)")
    p.add_argument("--resume", metavar="SWEEP", help="finish a sweep (name or folder), then report")
    p.add_argument(
        "--retries",
        type=types.number(low=0, high=100, integer=True),
        default=2,
        help="retries of a failed run (default 2)",
    )
    p.add_argument("--keep-runs", action="store_true", help="keep every run's store in SWEEP/runs/")
    p.add_argument(
        "--kpi",
        action="append",
        default=[],
        help="KPI to tabulate (repeatable; default units_picked_per_h, order_cycle_p95_s,"
        " drive_unit_utilisation)",
    )
    p.add_argument("--plot", help="where the curve goes (default SWEEP/curve.png; 'none' for no plot)")
    p.add_argument(
        "--reference",
        choices=("rawsim-o",),
        help="draw a published curve beside ours (rawsim-o: throughput vs robots, 4 pick stations)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    p.add_argument("--link", choices=("local", "zmq"), default="local", help=argparse.SUPPRESS)
    p.set_defaults(func=sweep_command)


def sweep_command(args) -> int:
    from fctwin.sim.cli import UsageError
    from fctwin.sim.experiments import Grid, SweepError, SweepStore, plan_sweep, resolve_sweep
    from fctwin.sim.scene.overrides import OverrideError

    if args.ray is not None and args.workers is not None and args.ray != "auto":
        raise UsageError("--workers sizes the local pool or a local Ray; a cluster has its own CPUs")
    try:
        if args.resume:
            if args.scene is not None or args.factors or args.seeds is not None or args.hours is not None:
                raise UsageError("--resume takes the sweep's own scene, fields, seeds and hours; give none")
            store = SweepStore(resolve_sweep(args.resume, args.sweeps_dir))
            reopened = store.reopen_failed()
            if reopened:
                print(f"retrying {reopened} failed runs", file=sys.stderr)
        else:
            try:
                grid = Grid.from_assignments(args.factors, args.seeds or tuple(range(5)))
            except OverrideError as exc:
                raise UsageError(f"--set {exc}") from None
            store = plan_sweep(
                args.scene if args.scene is not None else "fc_small",
                grid,
                hours=args.hours,
                name=args.name,
                sweeps_dir=args.sweeps_dir,
                link=args.link,
                keep_runs=args.keep_runs,
                command_line=["fctwin", *sys.argv[1:]],
            )
    except SweepError as exc:
        raise UsageError(str(exc)) from None
    with store:
        try:
            report = _execute(store, args)
        except SweepError as exc:
            raise UsageError(str(exc)) from None
        except KeyboardInterrupt:
            counts = store.counts()
            name = store.meta()["name"]
            print(
                f"interrupted: {counts['done']} runs stored in {store.path};"
                f" finish with: fctwin sweep --resume {name} --sweeps-dir {args.sweeps_dir}",
                file=sys.stderr,
            )
            return 130
        return _report(store, args, report)


def _execute(store, args):
    from fctwin.sim.experiments import PoolBackend, RayBackend, default_workers, execute

    pending = store.counts()["pending"]
    if pending == 0:
        return None
    if args.ray:
        import importlib.util

        if importlib.util.find_spec("ray") is None:  # not imported: a local Ray needs its env first
            from fctwin.sim.cli import UsageError

            raise UsageError("--ray needs Ray: pip install 'fctwin[experiments]'")
        backend = RayBackend(args.ray, num_cpus=args.workers)
    else:
        backend = PoolBackend(min(args.workers or default_workers(), pending))
    try:
        from fctwin.sim.cli.render import sweep_progress

        print(f"sweep {store.meta()['name']}: {pending} runs on {backend.describe()}", file=sys.stderr)
        with sweep_progress(enabled=not (args.no_progress or args.json)) as update:
            return execute(store, backend, retries=args.retries, on_progress=update)
    finally:
        backend.close()


def _report(store, args, report) -> int:
    from fctwin.sim.experiments.report import (
        DEFAULT_KPIS,
        paired_rows,
        plot_curve,
        print_report,
        summary_rows,
    )

    kpis = tuple(args.kpi) or DEFAULT_KPIS
    plot = None
    if args.plot != "none":
        out = Path(args.plot) if args.plot else store.dir / "curve.png"
        plot = plot_curve(store, out, kpi=kpis[0], reference=args.reference)
    counts = store.counts()
    if args.json:
        print(
            json.dumps(
                {
                    "sweep": store.meta()["name"],
                    "store": str(store.path),
                    "counts": counts,
                    "wall_s": None if report is None else round(report.wall_s, 3),
                    "backend": None if report is None else report.backend,
                    "plot": None if plot is None else str(plot),
                    "kpis": {
                        k: {
                            "summary": _clean(summary_rows(store, k)),
                            "paired": _clean(paired_rows(store, k)),
                        }
                        for k in kpis
                    },
                },
                indent=2,
            )
        )
    else:
        print_report(store, kpis)
        if report is not None:
            print(f"{report.done} runs done in {report.wall_s:,.1f} s on {report.backend}")
        print(f"sweep store: {store.path}")
        if plot is not None:
            print(f"plot: {plot}")
    return 0 if counts["failed"] == 0 else 1


def _clean(rows: list[dict]) -> list[dict]:
    """NaN (no interval with one seed) as null: JSON has no NaN."""
    return [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()} for r in rows]
