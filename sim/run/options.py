"""What a run is asked to do (`RunOptions`) and what it hands back (`RunResult`)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

VERSION = "0.1.0"


@dataclass
class RunOptions:
    hours: float | None = None
    seed: int | None = None
    gui: bool = False
    realtime: bool = False
    speedup: float = 10.0
    planner: str | None = None
    runs_dir: Path = Path("runs")
    run_id: str | None = None
    record_poses: bool | None = None  # default: on (delta-encoded above 100 units)
    pose_every: int | None = None  # record every n-th step's poses (default 1; 2 above 100 units)
    link: str = "zmq"  # "zmq" (default, fleet host in its own process) or "local" (tests, profiling)
    cpu: str | int = "auto"  # fast runs: both processes on this CPU ("auto": the current one; "off")
    station_fidelity: str = "fast"
    # Builds the fleet link: ``factory(scene_path, scene, opts) -> (link, host_or_None)``. `fctwin serve`
    # uses it to put external (hardware) units beside the simulated fleet.
    link_factory: Callable | None = None
    # Field-path overrides of the scene (``{"fleet[0].count": 20}``), validated like the file.
    overrides: dict = field(default_factory=dict)
    journal: bool = False  # record every tick's commands and telemetry, so the run can be resumed
    resume: bool = False  # continue run `run_id` from its journal (`fctwin serve --resume`)
    # Who manages the floor: off | advise | auto | reactive (None: the scene's [agent] mode).
    agent: str | None = None
    # The local link's fleet host builds PyBullet bodies (False: none; exact, nothing reads them, and
    # what the agent's fork lookahead wants).
    world: bool = True
    command_line: list[str] = field(default_factory=lambda: list(sys.argv))
    # A live viewer (`fctwin.sim.console.LiveFeed`): ``on_tick(frame, dispatcher)`` after every tick's
    # bookkeeping, ``on_minute(row)`` after every commit, ``on_end()``; optionally ``on_store(db_path)``
    # once the run store holds the run's metadata, before the fleet host starts. It only reads.
    viewer: object | None = None
    # Operator decisions on recommendations (`fctwin.sim.advice.AdviceInbox`), applied at tick starts.
    advice: object | None = None
    # Where the agent's recommendations are published for dashboards: an object with
    # ``publish_recommendation(fctwin.network.protocol.Recommendation)`` (`fctwin run --pub`); None:
    # the link's own (`fctwin serve --pub`: the dispatcher server's PUB socket), if it has one.
    publisher: object | None = None
    # Whether the run's own fleet host and dispatcher exchange a large fleet's unit states and moves as
    # columnar blocks (`UnitColumns`, `MoveColumns`; docs/protocol.md) instead of one object per unit
    # and move: "auto" (from COLUMNS_MIN_UNITS drive units in a headless fast run with no viewer and
    # no custom link), "on" or "off". The same run either way (tests/test_wire_columns.py); columns
    # cost less to make, send and read for a large fleet.
    wire_columns: str = "auto"


@dataclass
class RunResult:
    run_id: str
    db_path: Path
    kpis: dict
    wall_s: float
