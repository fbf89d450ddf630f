"""`fctwin export RUN`: a run's tables as Parquet or CSV files with named columns (docs/export.md)."""

from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="write a run's tables as parquet or csv", description=__doc__)
    p.add_argument("run", help="run id (or unique prefix), run folder or run.sqlite")
    p.add_argument(
        "--format", choices=("parquet", "csv"), default="parquet", help="file format (default parquet)"
    )
    p.add_argument("--out", help="output folder (default: <run folder>/export)")
    p.add_argument("--runs-dir", default="runs", help="where run databases are (default: ./runs)")
    p.add_argument("--no-poses", action="store_true", help="leave out the (large) poses table")
    p.set_defaults(func=export_command)


def export_command(args) -> int:
    from fctwin.sim.cli import UsageError
    from fctwin.sim.console.data import find_run
    from fctwin.sim.console.export import export_run

    try:
        db = find_run(args.run, args.runs_dir)
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    out = Path(args.out) if args.out else db.parent / "export"
    try:
        files = export_run(db, out, args.format, poses=not args.no_poses)
    except ImportError as exc:
        raise UsageError(str(exc)) from None
    for f in files:
        print(f)
    return 0
