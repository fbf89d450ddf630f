"""Starting the fleet link (and with it the fleet host) and the dispatcher."""

from __future__ import annotations

from pathlib import Path

from fctwin.controller.dispatcher import Dispatcher
from fctwin.controller.floorplan import DispatchConfig, FloorPlan
from fctwin.sim.run.options import RunOptions
from fctwin.sim.scene import Scene


def host_world(opts: RunOptions) -> bool:
    """Whether the fleet-host program builds its PyBullet world: only where someone can watch it (the
    GUI; a realtime run, which paces its frames through the world).

    Headless, the world is a mirror nobody reads: no frame, event or KPI comes from it (the floor's
    truth is the fleet host's `SimFloor`), so a run without it is the same run. Building it was
    about a second of the fleet host's start-up on a 2,000-unit floor (the critical path of
    `fctwin run`'s start-up, see `start_link_and_dispatcher`), keeping it in sync about a fifth of
    the fleet host's CPU per tick, and its bodies ~100 MB.
    """
    return bool(opts.world and (opts.gui or opts.realtime))


# From this many drive units a headless fast run's fleet host and dispatcher exchange columnar
# blocks (see `wire_columns`). The fleet host steps its Titans as arrays from the same size
# (`fctwin.sim.fleet_host.ARRAY_MIN_UNITS`), so its block is a copy of its arrays.
COLUMNS_MIN_UNITS = 1000


def wire_columns(scene: Scene, opts: RunOptions) -> bool:
    """Whether unit states and moves travel as columnar blocks (`RunOptions.wire_columns`).

    "auto" chooses them only where every reader of the frames and batches reads blocks (the
    dispatcher, the run's tracker and station log, the journal, the run's own fleet host): a
    headless, unpaced run without a live viewer or a custom link (`fctwin serve`'s robots).
    """
    choice = opts.wire_columns
    if choice not in ("auto", "on", "off"):
        raise ValueError(f"RunOptions.wire_columns is {choice!r}; expected auto, on or off")
    if choice != "auto":
        return choice == "on"
    return (
        not (opts.gui or opts.realtime)
        and opts.viewer is None
        and opts.link_factory is None
        and len(scene.units) >= COLUMNS_MIN_UNITS
    )


def make_link(scene_path: Path, scene: Scene, opts: RunOptions):
    realtime_factor = opts.speedup if opts.realtime else None
    if opts.link == "local":
        from fctwin.sim.fleet_host import FleetHost
        from fctwin.sim.fleet_link_local import LocalFleetLink

        host = FleetHost(
            scene,
            gui=opts.gui,
            realtime_factor=realtime_factor,
            station_fidelity=opts.station_fidelity,
            world=opts.world,
            telemetry_columns=wire_columns(scene, opts),
        )
        return LocalFleetLink(host), host
    from fctwin.network.fleet_link import ZmqFleetLink

    link = ZmqFleetLink(
        scene.as_data(),  # the scene as data: the fleet host never reads the file again
        seed=scene.seed,
        gui=opts.gui,
        realtime_factor=realtime_factor,
        host_options={
            "station_fidelity": opts.station_fidelity,
            "world": host_world(opts),
            "telemetry_columns": wire_columns(scene, opts),
        },
        # run_fc builds the dispatcher (planner warm-up, ~1.5 s) while the fleet host starts.
        wait_for_start=False,
    )
    return link, None


def start_link_and_dispatcher(
    scene_path: Path, scene: Scene, opts: RunOptions, plan: FloorPlan, config: DispatchConfig
):
    """Build the fleet link and the dispatcher: ``(link, host_or_None, dispatcher)``.

    The default link starts the fleet host in its own process (about 1.7 s: imports, scene,
    PyBullet world) and returns at once, so the dispatcher (about 1.5 s, mostly the planner's
    kernels) is built meanwhile: on two cores start-up costs the longer of the two, not their sum.
    A custom factory runs after the dispatcher as before: `fctwin serve`'s connects robots whose
    sessions must be served from then on, not left silent for the dispatcher's start-up.
    """
    if opts.link_factory is not None:
        dispatcher = Dispatcher(plan, config)
        link, host = opts.link_factory(scene_path, scene, opts)
        return link, host, dispatcher
    columns = wire_columns(scene, opts)
    link, host = make_link(scene_path, scene, opts)
    try:
        dispatcher = Dispatcher(plan, config)
        dispatcher.move_columns = columns
    except BaseException:
        link.close()  # the fleet host must not outlive a run that failed to start
        raise
    return link, host, dispatcher
