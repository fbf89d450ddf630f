"""`fctwin report RUN`: one self-contained HTML report of a run (KPIs, series, heat map, recommendations)."""

from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="write a run's HTML report", description=__doc__)
    p.add_argument("run", help="run id (or unique prefix), run folder or run.sqlite")
    p.add_argument("--out", help="output file (default: <run folder>/report.html)")
    p.add_argument("--runs-dir", default="runs", help="where run databases are (default: ./runs)")
    p.set_defaults(func=report_command)


def report_command(args) -> int:
    from fctwin.sim.cli import UsageError
    from fctwin.sim.console.data import find_run
    from fctwin.sim.console.report import write_report

    try:
        db = find_run(args.run, args.runs_dir)
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    out = write_report(db, Path(args.out) if args.out else db.parent / "report.html")
    print(out)
    return 0
