"""Experiments at scale: sweeps over scene fields and seeds, on a process pool or on Ray.

    from fctwin.sim.experiments import Grid, PoolBackend, execute, parse_factor, plan_sweep

    grid = Grid.from_assignments([parse_factor("fleet[0].count=8,16,32")], seeds=range(10))
    store = plan_sweep("fc_small", grid, hours=1.0, name="fleet")
    execute(store, PoolBackend())            # or RayBackend("auto") / RayBackend("ray://head:10001")
    summary_rows(store, "units_picked_per_h")

`fctwin sweep` is the command line over the same calls; docs/experiments.md has the store's schema
and the cluster recipe.
"""

from fctwin.sim.experiments.backends import PoolBackend, RayBackend, default_workers
from fctwin.sim.experiments.grid import Factor, Grid, Variant, parse_factor, parse_seeds
from fctwin.sim.experiments.report import paired_rows, plot_curve, print_report, summary_rows
from fctwin.sim.experiments.runner import SweepError, execute, plan_sweep, resolve_sweep
from fctwin.sim.experiments.stats import Estimate, estimate, paired
from fctwin.sim.experiments.store import SweepStore

__all__ = [
    "Estimate",
    "Factor",
    "Grid",
    "PoolBackend",
    "RayBackend",
    "SweepError",
    "SweepStore",
    "Variant",
    "default_workers",
    "estimate",
    "execute",
    "paired",
    "paired_rows",
    "parse_factor",
    "parse_seeds",
    "plan_sweep",
    "plot_curve",
    "print_report",
    "resolve_sweep",
    "summary_rows",
]
