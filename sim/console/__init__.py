"""The browser console (`fctwin view`, `fctwin run --view`), the run report and the export.

`RunData` reads a run store into arrays (`fctwin.sim.console.data`); `Console` draws it with viser
(`fctwin.sim.console.app`; viser is the optional ``console`` extra); `LiveFeed` follows a run as it
goes; `write_report` writes one self-contained HTML file; `export_run` writes Parquet or CSV.
"""

from fctwin.sim.console.data import STATES, FloorFrame, RunData, find_run
from fctwin.sim.console.export import export_run

__all__ = ["STATES", "FloorFrame", "RunData", "export_run", "find_run"]
