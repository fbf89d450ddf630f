"""One FC run: the clock, the dispatcher, the fleet link, demand, KPIs and the run store.

The SimPy environment owns time. A tick process runs every drive-unit step: it hands the last
telemetry frame to the dispatcher, sends the resulting commands over the link and waits for the
next frame (lockstep: the dispatcher decides tick t from the telemetry of tick t, so fast mode is
deterministic). Order and carton processes feed the dispatcher; a minute process writes KPIs and
commits the run store. Realtime mode runs the same model on `simpy.rt.RealtimeEnvironment`.
"""

from __future__ import annotations

import gc
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import simpy
import simpy.rt

from fctwin.controller.dispatcher import Dispatcher
from fctwin.controller.floorplan import DispatchConfig, DriveUnitInfo, FloorPlan, StationInfo
from fctwin.robots.messages import TelemetryFrame, UnitMode, UnitState
from fctwin.sim.affinity import CpuPin, parse_cpu_choice
from fctwin.sim.demand import carton_process, order_process
from fctwin.sim.journal import JournaledLink, ResumeError, TickJournal, check_resumable
from fctwin.sim.runstore import RunStore, SkippingStore, new_run_id
from fctwin.sim.scene import Scene, load_scene, scene_from_dict
from fctwin.sim.scene.catalog import resolve_scene
from fctwin.sim.scene.loader import with_overrides
from fctwin.sim.seeds import child_seed

VERSION = "0.1.0"
_MODE_SERVING = int(UnitMode.SERVING)  # a plain int: IntEnum comparisons cost more per unit and tick


def floorplan_from_scene(scene: Scene, *, planner: str | None = None) -> tuple[FloorPlan, DispatchConfig]:
    plan = FloorPlan(
        grid=np.asarray(scene.grid),
        cell_size_m=scene.cell_size_m,
        step_s=scene.step_s,
        stations=tuple(
            StationInfo(station_id=s.station_id, kind=s.kind, cell=s.cell) for s in scene.stations
        ),
        drive_units=tuple(
            DriveUnitInfo(
                unit_id=u.unit_id, payload_kg=u.config.payload_kg, low_battery_frac=u.config.low_battery_frac
            )
            for u in scene.units
        ),
        charge_cells=scene.charge_cells,
        pod_cells=np.asarray(scene.pods.home_cells),
        slot_sku=np.asarray(scene.pods.slot_sku),
        slot_units=np.asarray(scene.pods.slot_units),
        pod_capacity_units=scene.pods.capacity_units,
        pod_empty_mass_kg=scene.pods.empty_mass_kg,
        pod_max_gross_mass_kg=scene.pods.max_gross_mass_kg,
        sku_mass_kg=np.asarray(scene.skus.mass_kg),
    )
    d = scene.spec.dispatch
    queue_cells = max(g.queue_cells for g in scene.spec.stations)
    config = DispatchConfig(
        planner=planner or d.planner,
        order_assignment=d.order_assignment,
        pod_return=d.pod_return,
        max_lines_per_station=d.max_lines_per_station,
        opportunity_charge_frac=d.opportunity_charge_frac,
        queue_cells=queue_cells,
        seed=child_seed(scene.seed, "dispatcher"),
    )
    return plan, config


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
    record_poses: bool | None = None  # default: on for fleets up to 100 units
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
    command_line: list[str] = field(default_factory=lambda: list(sys.argv))


@dataclass
class RunResult:
    run_id: str
    db_path: Path
    kpis: dict
    wall_s: float


class _Tracker:
    """KPI accumulation from telemetry (station busy time, unit distance, queues, poses, collisions)."""

    def __init__(self, scene: Scene):
        self.station_kind = {s.station_id: s.kind for s in scene.stations}
        # Per station type (human, vulcan, ...): counted from "done" events, never per tick.
        self.station_type = {s.station_id: s.unit for s in scene.stations}
        self.by_type = {t: {"lines": 0, "units": 0, "to_person": 0} for t in self.station_type.values()}
        self.unit_ids = {u.unit_id for u in scene.units}
        self.unit_index = {u.unit_id: k for k, u in enumerate(scene.units)}
        self.busy_ticks = {"pick": 0, "stow": 0}
        self.ticks = 0
        self.queue_sum = 0
        self.unit_busy = 0
        self.distance_cells = 0
        self.collisions = 0
        # The last reported state of each drive unit, in scene order (None until first reported):
        # kept as received, since building (row, col) and pose tuples for every unit every tick cost
        # more than reading them back when a minute ends or poses are recorded.
        self._last: list[UnitState | None] = [None] * len(scene.units)
        self._n_seen = 0
        self._cells_changed = True  # recount shared cells only when some unit moved
        self._shared = 0

    def reset_minute(self):
        self.busy_ticks = {"pick": 0, "stow": 0}
        self.ticks = 0
        self.queue_sum = 0
        self.unit_busy = 0

    def observe_dispatcher(self, dispatcher: Dispatcher) -> None:
        """What the dispatcher holds at the start of a tick (before it decides)."""
        self.ticks += 1
        self.queue_sum += sum(len(s.queue) for s in dispatcher.stations if s.kind == "pick")
        self.unit_busy += dispatcher.busy_units()

    def observe_served(self, unit_id: str, data: dict) -> None:
        """One station "done" (serve) event: units moved and handed to people, by station type."""
        row = self.by_type[self.station_type[unit_id]]
        row["lines"] += 1
        row["units"] += int(data.get("units", 0))
        row["to_person"] += int(data.get("to_person", 0))

    def poses(self) -> np.ndarray:
        """int16[N, 4]: (row, col, heading, pod) of each drive unit in scene order (-1 before seen)."""
        rows = [(-1, -1, -1, -1) if s is None else (s.row, s.col, s.heading, s.pod_id) for s in self._last]
        return np.array(rows, dtype=np.int16)

    def observe_frame(self, frame: TelemetryFrame) -> None:
        """What the fleet reported: station busy time, distance driven, poses, collisions."""
        kinds = self.station_kind
        index = self.unit_index
        last = self._last
        serving = _MODE_SERVING
        moved = 0
        for st in frame.units:
            k = index.get(st.unit_id)
            if k is None:
                kind = kinds.get(st.unit_id)
                if kind is not None and st.mode == serving:
                    self.busy_ticks[kind] += 1
                continue
            prev = last[k]
            if prev is None:
                self._n_seen += 1
            elif prev.row != st.row or prev.col != st.col:
                moved += abs(prev.row - st.row) + abs(prev.col - st.col)
                self._cells_changed = True
            last[k] = st
        self.distance_cells += moved
        # Independent of the fleet host's own safety layer: two units in one cell is a collision.
        if self._cells_changed:
            self._cells_changed = False
            cells = [(s.row, s.col) for s in last if s is not None]
            self._shared = len(cells) - len(set(cells))
        self.collisions += self._shared


class PacedEnvironment(simpy.rt.RealtimeEnvironment):
    """`simpy.rt.RealtimeEnvironment` whose waits for the wall clock call ``idle(wait_s)`` (when
    set) instead of sleeping: the link serves its network sessions meanwhile."""

    idle: Callable[[float], None] | None = None

    def step(self) -> None:
        idle = self.idle
        if idle is not None and self.peek() != simpy.core.Infinity:
            target = self.real_start + (self.peek() - self.env_start) * self.factor
            while (wait_s := target - time.monotonic()) > 0:
                idle(wait_s)
        super().step()


def make_link(scene_path: Path, scene: Scene, opts: RunOptions):
    realtime_factor = opts.speedup if opts.realtime else None
    if opts.link == "local":
        from fctwin.sim.fleet_host import FleetHost
        from fctwin.sim.fleet_link_local import LocalFleetLink

        host = FleetHost(
            scene, gui=opts.gui, realtime_factor=realtime_factor, station_fidelity=opts.station_fidelity
        )
        return LocalFleetLink(host), host
    from fctwin.network.fleet_link import ZmqFleetLink

    link = ZmqFleetLink(
        scene.as_data(),  # the scene as data: the fleet host never reads the file again
        seed=scene.seed,
        gui=opts.gui,
        realtime_factor=realtime_factor,
        host_options={"station_fidelity": opts.station_fidelity},
        # run_fc builds the dispatcher (planner warm-up, ~1.5 s) while the fleet host starts.
        wait_for_start=False,
    )
    return link, None


def _link_and_dispatcher(scene_path: Path, scene: Scene, opts: RunOptions, plan, config):
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
    link, host = make_link(scene_path, scene, opts)
    try:
        dispatcher = Dispatcher(plan, config)
    except BaseException:
        link.close()  # the fleet host must not outlive a run that failed to start
        raise
    return link, host, dispatcher


def prepare_scene(scene_ref: str | Path | Scene | None, opts: RunOptions) -> tuple[Path, Scene]:
    """The run's scene: a path, a shipped scene's name or a loaded `Scene`, with the run's overrides.

    Raises `SceneError` (bad file, bad override) or `FileNotFoundError` (no such file or name).
    """
    if isinstance(scene_ref, Scene):
        scene = scene_ref
        if opts.seed is not None or opts.hours is not None or opts.overrides:
            raw = with_overrides(
                scene.raw, scene.source, seed=opts.seed, run_hours=opts.hours, overrides=opts.overrides
            )
            text = scene.text
            scene = scene_from_dict(raw, source=scene.source, base_dir=Path(scene.base_dir))
            object.__setattr__(scene, "text", text)
        return Path(scene.source), scene
    path = resolve_scene(scene_ref)
    return path, load_scene(path, seed=opts.seed, run_hours=opts.hours, overrides=opts.overrides)


def run_fc(
    scene_ref: str | Path | Scene | None,
    opts: RunOptions | None = None,
    *,
    progress: Callable[[dict], None] | None = None,
) -> RunResult:
    """Run a scene (a path, a shipped scene's name or a loaded `Scene`); returns the KPIs and where
    the run database is. Raises `SceneError` on bad scenes."""
    opts = opts or RunOptions()
    cpu = parse_cpu_choice(opts.cpu)  # ValueError before anything starts, not after the fleet host did
    scene_path, scene = prepare_scene(scene_ref, opts)
    if opts.gui:
        from fctwin.sim.world import require_display

        require_display()
    plan, config = floorplan_from_scene(scene, planner=opts.planner)
    run_id = opts.run_id or new_run_id(scene.name, scene.seed)
    db_path = Path(opts.runs_dir) / run_id / "run.sqlite"
    if opts.resume and not db_path.exists():
        raise ResumeError(f"no run {run_id!r} in {opts.runs_dir}")
    store = RunStore(db_path)
    record_poses = opts.record_poses if opts.record_poses is not None else len(scene.units) <= 100
    meta = {
        "run_id": run_id,
        "scene_name": scene.name,
        "scene_file": str(scene_path),
        "scene_text": scene.text or scene_path.read_text(),
        "seed": scene.seed,
        "run_hours": scene.spec.run_hours,
        "version": VERSION,
        "python": platform.python_version(),
        "command_line": " ".join(opts.command_line),
        "planner": config.planner,
        "step_s": scene.step_s,
        "unit_ids": [u.unit_id for u in scene.units],
        "grid": scene.grid.tolist(),
        "mode": "realtime" if opts.realtime else "fast",
    }
    if opts.resume:
        check_resumable(store.read_meta(), meta)
        replay = TickJournal(store).read()
        kept_events, kept_kpi = store.clear_derived(after_step=replay[1][-1][1].step if replay[1] else -1)
        store = SkippingStore(store, events=kept_events, kpi_rows=kept_kpi)
    else:
        store.write_meta(meta)
    arrivals = None
    if scene.spec.inbound.scenario:
        from fctwin.sim.inbound.coupling import dock_arrivals

        # The run starts at `orders.start_hour` of `inbound.start_day`: take the network's dock
        # arrivals from that moment on, in run time.
        offset_s = scene.spec.orders.start_hour * 3600.0
        window = dock_arrivals(
            (Path(scene.base_dir) / scene.spec.inbound.scenario),
            start_day=scene.spec.inbound.start_day,
            days=(offset_s + scene.run_s) / 86400.0,
            seed=scene.seed,
            n_fc_skus=scene.skus.count,
        )
        arrivals = [replace(a, t_s=a.t_s - offset_s) for a in window if a.t_s >= offset_s]
    link, host, dispatcher = _link_and_dispatcher(scene_path, scene, opts, plan, config)
    try:
        if opts.realtime:
            env = PacedEnvironment(factor=1.0 / opts.speedup, strict=False)
            # Hardware on the wire: its sessions are served while the run waits for the wall clock
            # (a robot hears the dispatcher every heartbeat interval, not only when a tick runs).
            env.idle = getattr(link, "idle", None)
        else:
            env = simpy.Environment()
        counters = {"orders": 0, "units_ordered": 0, "cartons": 0, "units_arrived": 0}
        env.process(order_process(env, scene, dispatcher.submit_order, counters))
        env.process(carton_process(env, scene, dispatcher.submit_carton, counters, arrivals=arrivals))

        if opts.journal or opts.resume:
            on_live = None
            if opts.resume and opts.realtime:
                # Replay as fast as the dispatcher goes, then pace from where the journal ends.
                factor, env._factor = env.factor, 0.0

                def on_live():
                    env._factor = factor
                    env.env_start = env.now  # sync() re-anchors only the wall clock, not simulated time
                    env.sync()

            link = JournaledLink(
                link, TickJournal(store), replay=replay if opts.resume else None, on_live=on_live
            )
        tracker = _Tracker(scene)
        initial_units = scene.pods.initial_units()
        state = {
            "frame": link.initial_frame(),
            "collisions": 0,
            "vetoed": 0,
            "picked_phys": 0,
            "stowed_phys": 0,
        }
    except BaseException:
        link.close()  # the fleet host must not outlive a run that failed to start
        raise
    wall0 = time.perf_counter()

    # A link that can split an exchange (send the batch now, take the frame later) lets everything
    # that does not need the next frame run while the fleet host steps: this frame's bookkeeping, and
    # in fast runs, after the tick's timeout, the other processes of the same instant (orders and
    # cartons arriving, the minute's KPI row and run-store commit). They touch no telemetry and
    # create the same SimPy events in the same order, so the run is the same; only the waiting for
    # the frame moves.
    send_batch = getattr(link, "send_batch", None)

    def tick_process():
        frame = state["frame"]
        while True:
            tracker.observe_dispatcher(dispatcher)
            batch = dispatcher.tick(frame)
            if send_batch is not None:
                state["pending"] = send_batch(batch)
            else:
                state["frame"] = link.exchange(batch)
            tracker.observe_frame(frame)
            for ev in frame.events:
                kind = ev.kind
                if kind == "refused" and ev.data.get("reason") in ("cell contested", "swap"):
                    state["vetoed"] += 1
                elif kind == "done" and ev.data.get("op") == "serve":
                    key = "picked_phys" if tracker.station_kind.get(ev.unit_id) == "pick" else "stowed_phys"
                    state[key] += int(ev.data.get("units", 0))
                    tracker.observe_served(ev.unit_id, ev.data)
            state["collisions"] = tracker.collisions
            if record_poses:
                store.add_pose(frame.step, frame.t_s, tracker.poses())
            if opts.realtime:
                # Paced runs take the frame before waiting for the wall clock: a link that cannot
                # split the exchange (hardware on the wire) sends the commands only when asked
                # for the frame, and robots must not get them a step late.
                receive_pending()
            yield env.timeout(scene.step_s)
            receive_pending()
            frame = state["frame"]

    def receive_pending() -> None:
        if "pending" in state:
            state["frame"] = link.receive_frame(state.pop("pending"))

    def kpi_row(minute: int) -> dict:
        st = dispatcher.stats
        n_pick = max(1, sum(1 for s in scene.stations if s.kind == "pick"))
        n_stow = max(1, sum(1 for s in scene.stations if s.kind == "stow"))
        ticks = max(1, tracker.ticks)
        units_in = initial_units + state["stowed_phys"]
        stored = dispatcher.book.total_units()
        in_process = counters["units_arrived"] - state["stowed_phys"]
        conserved = initial_units + counters["units_arrived"] == stored + in_process + state["picked_phys"]
        row = {
            "minute": minute,
            "t_s": env.now,
            "units_picked": st["units_picked"],
            "units_stowed": st["units_stowed"],
            "orders_completed": st["orders_completed"],
            "orders_open": dispatcher.open_orders(),
            "backlog": len(dispatcher.backlog),
            "pick_utilisation": tracker.busy_ticks["pick"] / (ticks * n_pick),
            "stow_utilisation": tracker.busy_ticks["stow"] / (ticks * n_stow),
            "queue_mean": tracker.queue_sum / ticks / n_pick,
            "unit_utilisation": tracker.unit_busy / (ticks * max(1, len(scene.units))),
            "distance_m": tracker.distance_cells * scene.cell_size_m,
            "planner_ms_per_step": 1000.0 * st["planner_s"] / max(1, st["planner_steps"]),
            "collisions": state["collisions"],
            "moves_vetoed": state["vetoed"],
            "units_in": units_in,
            "units_stored": stored,
            "units_in_process": in_process,
            "conserved": int(conserved),
            "wall_s": time.perf_counter() - wall0,
        }
        return row

    totals = {"pick_busy": 0, "stow_busy": 0, "ticks": 0, "queue": 0, "unit_busy": 0}

    def minute_process():
        minute = 0
        while True:
            yield env.timeout(60.0)
            minute += 1
            row = kpi_row(minute)
            totals["pick_busy"] += tracker.busy_ticks["pick"]
            totals["stow_busy"] += tracker.busy_ticks["stow"]
            totals["ticks"] += tracker.ticks
            totals["queue"] += tracker.queue_sum
            totals["unit_busy"] += tracker.unit_busy
            tracker.reset_minute()
            store.add_events(dispatcher.log)
            dispatcher.log.clear()
            store.add_kpi(row)
            store.commit()
            if progress is not None:
                progress(row)

    env.process(tick_process())
    env.process(minute_process())
    # Start-up leaves ~130,000 long-lived objects (numba, the scene, the dispatcher) that every full
    # garbage collection of the run walked again: 0.12 s each, a few per simulated hour. Frozen, a
    # collection walks only what the run allocates. Unfrozen afterwards, so a calling process (a
    # sweep, the tests) collects them as before.
    gc.freeze()
    # Fast runs with our own fleet host process: both on one CPU (see sim.affinity for why and the
    # figures); realtime runs and custom links (`fctwin serve`, hardware) are left to the scheduler.
    pin = None
    host_process = getattr(link, "process", None)
    if not opts.realtime and opts.link_factory is None and host_process is not None:
        pin = CpuPin(cpu, [host_process.pid])
    try:
        env.run(until=scene.run_s)
        receive_pending()  # the last tick's frame: the fleet host stepped it, a journal records it
    finally:
        if pin is not None:
            pin.release()
        gc.unfreeze()
        link.close()
    store.add_events(dispatcher.log)
    dispatcher.log.clear()
    wall_s = time.perf_counter() - wall0
    kpis = summarize(scene, dispatcher, state, counters, totals, tracker, wall_s, initial_units)
    store.write_summary(kpis)
    store.close()
    return RunResult(run_id=run_id, db_path=db_path, kpis=kpis, wall_s=wall_s)


def summarize(scene, dispatcher, state, counters, totals, tracker, wall_s, initial_units) -> dict:
    hours = scene.run_s / 3600.0
    st = dispatcher.stats
    ct = np.asarray(dispatcher.cycle_times_s, dtype=np.float64)
    n_pick = max(1, sum(1 for s in scene.stations if s.kind == "pick"))
    n_stow = max(1, sum(1 for s in scene.stations if s.kind == "stow"))
    ticks = max(1, totals["ticks"])
    stored = dispatcher.book.total_units()
    in_process = counters["units_arrived"] - state["stowed_phys"]
    conserved = initial_units + counters["units_arrived"] == stored + in_process + state["picked_phys"]
    return {
        "scene": scene.name,
        "seed": scene.seed,
        "simulated_h": round(hours, 4),
        "drive_units": len(scene.units),
        "planner": dispatcher.config.planner,
        "units_picked": st["units_picked"],
        "units_picked_per_h": round(st["units_picked"] / hours, 2),
        "units_stowed": st["units_stowed"],
        "units_stowed_per_h": round(st["units_stowed"] / hours, 2),
        "orders_arrived": counters["orders"],
        "orders_completed": st["orders_completed"],
        "order_cycle_p50_s": round(float(np.percentile(ct, 50)), 2) if ct.size else None,
        "order_cycle_p95_s": round(float(np.percentile(ct, 95)), 2) if ct.size else None,
        "pick_station_utilisation": round(totals["pick_busy"] / (ticks * n_pick), 4),
        "stow_station_utilisation": round(totals["stow_busy"] / (ticks * n_stow), 4),
        "pick_queue_mean": round(totals["queue"] / ticks / n_pick, 3),
        "drive_unit_utilisation": round(totals["unit_busy"] / (ticks * max(1, len(scene.units))), 4),
        "distance_m": round(tracker.distance_cells * scene.cell_size_m, 1),
        "planner_ms_per_step": round(1000.0 * st["planner_s"] / max(1, st["planner_steps"]), 4),
        "collisions": state["collisions"],
        "moves_vetoed": state["vetoed"],
        "trips_completed": st["trips_completed"],
        "units_to_person": st["units_to_person"],
        "by_station_type": by_station_type(scene, tracker.by_type, hours),
        "units_in": initial_units + counters["units_arrived"],
        "units_stored": stored,
        "units_in_process": in_process,
        "units_conserved": bool(conserved),
        "wall_s": round(wall_s, 3),
        "realtime_factor": round(scene.run_s / wall_s, 1) if wall_s > 0 else None,
    }


def by_station_type(scene, counts: dict, hours: float) -> dict:
    """Throughput, success rate and hand-offs per station type (``{type: {...}}``, types in scene order).

    ``success_rate`` is the share of units the station's own unit moved (an arm's failures go to a
    person and still count as moved); None when the type moved nothing.
    """
    out = {}
    for unit_type, c in counts.items():
        stations = [s for s in scene.stations if s.unit == unit_type]
        units = c["units"]
        out[unit_type] = {
            "stations": len(stations),
            "kinds": sorted({s.kind for s in stations}),
            "lines": c["lines"],
            "units": units,
            "units_per_h": round(units / hours, 2),
            "units_per_station_h": round(units / hours / len(stations), 2),
            "units_to_person": c["to_person"],
            "to_person_share": round(c["to_person"] / units, 4) if units else None,
            "success_rate": round(1.0 - c["to_person"] / units, 4) if units else None,
        }
    return out
