"""Terminal output shared by the FC commands: a progress bar and KPI tables (rich)."""

from __future__ import annotations

import contextlib
import math
import os
import sys

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

LABELS = {
    "units_picked_per_h": "units picked / h",
    "units_stowed_per_h": "units stowed / h",
    "orders_completed": "orders completed",
    "order_cycle_p50_s": "order cycle p50 (s)",
    "order_cycle_p95_s": "order cycle p95 (s)",
    "pick_station_utilisation": "pick station utilisation",
    "pick_queue_mean": "pick queue length (mean)",
    "drive_unit_utilisation": "drive unit utilisation",
    "distance_m": "distance travelled (m)",
    "planner_ms_per_step": "planner time per step (ms)",
    "collisions": "collisions",
    "units_conserved": "units conserved",
}


@contextlib.contextmanager
def progress_bar(total_s: float, *, enabled: bool = True):
    """Yields ``update(kpi_row)``; shows simulated time, wall time and throughput so far."""
    if not enabled:
        yield lambda row: None
        return
    console = Console(file=sys.stderr)
    with Progress(
        TextColumn("[bold]sim {task.fields[sim]}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[rate]}"),
        console=console,
        transient=False,
    ) as prog:
        task = prog.add_task("run", total=total_s, sim="0:00", rate="")

        def update(row: dict) -> None:
            t = row["t_s"]
            hours = t / 3600.0
            rate = row["units_picked"] / hours if hours > 0 else 0.0
            speedup = t / max(row["wall_s"], 1e-9)
            prog.update(
                task,
                completed=t,
                sim=f"{int(t // 3600)}:{int(t % 3600 // 60):02d}",
                rate=f"{rate:,.0f} units/h  {row['orders_completed']} orders  x{speedup:,.0f} real time",
            )

        yield update


@contextlib.contextmanager
def stdout_reserved(enabled: bool = True):
    """While active, everything written to file descriptor 1 goes to stderr instead.

    ``--json`` promises only JSON on stdout, but C libraries print there by themselves (PyBullet
    prints its build time and OpenGL banner on import and connect, below Python's ``sys.stdout``).
    Yields ``emit(text)``, which writes to the real stdout. Without ``enabled``, emit is print.
    """
    if not enabled:
        yield lambda text: print(text, flush=True)
        return
    sys.stdout.flush()
    real = os.dup(1)
    os.dup2(2, 1)
    try:

        def emit(text: str) -> None:
            sys.stdout.flush()
            data = memoryview((text + "\n").encode())
            while data:
                data = data[os.write(real, data) :]

        yield emit
    finally:
        sys.stdout.flush()
        os.dup2(real, 1)
        os.close(real)


def kpi_table(kpis: dict, *, title: str) -> None:
    table = Table(title=title, show_lines=False)
    table.add_column("KPI")
    table.add_column("value", justify="right")
    for key, value in kpis.items():
        if isinstance(value, dict):
            continue  # nested breakdowns get tables of their own
        label = LABELS.get(key, str(key).replace("_", " "))
        if isinstance(value, float) and math.isfinite(value):
            text = f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
        else:
            text = str(value)
        table.add_row(label, text)
    Console().print(table)
    by_type = kpis.get("by_station_type")
    if by_type and isinstance(by_type, dict):
        try:
            station_type_table(by_type)
        except (KeyError, TypeError, ValueError, AttributeError):
            # A run store written by another version (or damaged): the flat KPIs above still stand.
            print("by station type: not readable in this run store", file=sys.stderr)


def station_type_table(by_type: dict) -> None:
    """Throughput, success rate and hand-offs to people per station type."""
    table = Table(title="by station type", show_lines=False)
    for col in ("type", "stations", "units / h", "units / station-h", "success", "to people"):
        table.add_column(col, justify="left" if col == "type" else "right")
    for unit_type, row in by_type.items():
        rate = row["success_rate"]
        table.add_row(
            unit_type,
            f"{row['stations']} ({'/'.join(row['kinds'])})",
            f"{row['units_per_h']:,.0f}",
            f"{row['units_per_station_h']:,.0f}",
            "-" if rate is None else f"{rate:.0%}",
            f"{row['units_to_person']:,}",
        )
    Console().print(table)


@contextlib.contextmanager
def sweep_progress(*, enabled: bool = True):
    """Yields ``update(state)`` for `fctwin.sim.experiments.execute`: runs done of total, ETA, failures."""
    if not enabled:
        yield lambda state: None
        return
    from rich.progress import MofNCompleteColumn, TimeRemainingColumn

    console = Console(file=sys.stderr)
    with Progress(
        TextColumn("[bold]runs"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[note]}"),
        console=console,
        transient=False,
    ) as prog:
        task = prog.add_task("sweep", total=None, note="")

        def update(state: dict) -> None:
            last = state.get("last")
            note = f"{state['running']} running"
            if state["failed"]:
                note += f", [red]{state['failed']} failed[/]"
            if last is not None and not last["ok"]:
                what = "failed" if last["final"] else "will retry"
                note += f"; variant {last['variant']} seed {last['seed']} {what}"
            prog.update(task, total=state["total"], completed=state["done"] + state["failed"], note=note)

        yield update
