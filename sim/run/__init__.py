"""One FC run: the clock, the dispatcher, the fleet link, demand, KPIs and the run store.

`run_fc` (runner.py) reads as the run's steps; each step has its own module:

- options.py: `RunOptions`, `RunResult`, `VERSION`
- prepare.py: the scene with the run's overrides (`prepare_scene`) and what the dispatcher is told
  about it (`floorplan_from_scene`)
- store.py: the run store, its metadata, resuming from a tick journal
- inbound.py: dock arrivals from the inbound network, when the scene couples one in
- startup.py: the fleet link (and fleet host) and the dispatcher, started side by side
- loop.py: the SimPy model: tick and minute processes, CPU pinning
- tracker.py: what the run counts from telemetry for the KPIs
- kpis.py: the per-minute KPI row, the summary, throughput per station type
"""

from fctwin.sim.run.kpis import by_station_type, kpi_row, summarize
from fctwin.sim.run.options import VERSION, RunOptions, RunResult
from fctwin.sim.run.prepare import floorplan_from_scene, prepare_scene
from fctwin.sim.run.runner import run_fc
from fctwin.sim.run.startup import make_link

__all__ = [
    "VERSION",
    "RunOptions",
    "RunResult",
    "by_station_type",
    "floorplan_from_scene",
    "kpi_row",
    "make_link",
    "prepare_scene",
    "run_fc",
    "summarize",
]
