"""The SimPy model of one run: the clock, demand, the tick process and the minute process.

The SimPy environment owns time. The tick process runs every drive-unit step: it hands the last
telemetry frame to the dispatcher, sends the resulting commands over the link and waits for the
next frame (lockstep: the dispatcher decides tick t from the telemetry of tick t, so fast mode is
deterministic). Order and carton processes feed the dispatcher; the minute process writes KPIs and
commits the run store. Realtime mode runs the same model on `simpy.rt.RealtimeEnvironment`.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable

import simpy
import simpy.rt

from fctwin.controller.dispatcher import Dispatcher
from fctwin.sim.affinity import CpuPin
from fctwin.sim.demand import carton_process, order_process, supplier_process, wave_process
from fctwin.sim.eluna.manager import FloorManager
from fctwin.sim.journal import JournaledLink, TickJournal
from fctwin.sim.run.inbound import dock_waves
from fctwin.sim.run.kpis import kpi_row, station_kpi_rows
from fctwin.sim.run.options import RunOptions
from fctwin.sim.run.station_log import STATION_LINES_DDL, StationLog
from fctwin.sim.run.tracker import Tracker
from fctwin.sim.scene import Scene
from fctwin.sim.seeds import stream


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


class RunLoop:
    """One run's clock and processes, from the initial frame to the last tick's frame.

    Built after the link and the dispatcher; closes the link if building fails, and always when
    `run` ends, so the fleet host never outlives the run.
    """

    def __init__(
        self,
        *,
        scene: Scene,
        opts: RunOptions,
        link,
        dispatcher: Dispatcher,
        store,
        replay: tuple | None,
        arrivals: list | None,
        record_poses: bool,
        progress: Callable[[dict], None] | None,
        host=None,
        pose_every: int = 1,
    ) -> None:
        self.scene = scene
        self.opts = opts
        self.link = link
        self.dispatcher = dispatcher
        self.store = store
        self.run_id = ""  # set by the runner (names the run in published recommendations)
        # the agent's recommendations go to dashboards through this (see RunOptions.publisher)
        self.publisher = opts.publisher or (link if hasattr(link, "publish_recommendation") else None)
        self.record_poses = record_poses
        # Record every `pose_every`-th step's poses (1: all); big fleets record every few steps.
        self.pose_every = max(1, int(pose_every))
        self.progress = progress
        try:
            if opts.realtime:
                env = PacedEnvironment(factor=1.0 / opts.speedup, strict=False)
            else:
                env = simpy.Environment()
            self.env = env
            self.counters = {"orders": 0, "units_ordered": 0, "cartons": 0, "units_arrived": 0}
            # the demand streams, held here so a lookahead can re-seed them in place
            self.streams = {
                name: stream(scene.seed, name)
                for name in ("demand.orders", "demand.cartons", "demand.carton_waves", "supplier.lead_time")
            }
            submit_order, submit_carton = dispatcher.submit_order, dispatcher.submit_carton
            env.process(
                order_process(env, scene, submit_order, self.counters, rng=self.streams["demand.orders"])
            )
            counters = self.counters
            self.arrivals = arrivals  # the inbound model's dock arrivals (the digest's dock schedule)
            env.process(
                carton_process(
                    env, scene, submit_carton, counters, arrivals=arrivals, rng=self.streams["demand.cartons"]
                )
            )
            self.waves = dock_waves(scene)  # the scene's waves and a port strike's released backlog
            if self.waves:
                env.process(
                    wave_process(
                        env,
                        scene,
                        submit_carton,
                        counters,
                        rng=self.streams["demand.carton_waves"],
                        waves=self.waves,
                    )
                )
            if dispatcher.config.replenishment != "none":
                take = dispatcher.take_purchase_orders
                env.process(
                    supplier_process(
                        env, scene, take, submit_carton, counters, rng=self.streams["supplier.lead_time"]
                    )
                )
            if opts.journal or opts.resume:
                on_live = _pace_after_replay(env) if opts.resume and opts.realtime else None
                self.link = JournaledLink(self.link, TickJournal(store), replay=replay, on_live=on_live)
            if opts.realtime:
                # Hardware on the wire: its sessions are served while the run waits for the wall
                # clock (a robot hears the dispatcher every heartbeat interval, not only at ticks).
                env.idle = getattr(self.link, "idle", None)
            self.tracker = Tracker(scene)
            # Station lines with start and end (for the console's station-type views): a table of
            # their own, so the event log stays as it was. A resumed run replays from the start and
            # writes them all again.
            self.station_log = StationLog([s.station_id for s in scene.stations], scene.step_s)
            self._lines_db = getattr(store, "db", None)
            if self._lines_db is not None:
                self._lines_db.executescript(STATION_LINES_DDL)
                if opts.resume:
                    self._lines_db.execute("DELETE FROM station_lines")
            self.initial_units = scene.pods.initial_units()
            self.state = {
                "frame": self.link.initial_frame(),
                "collisions": 0,
                "vetoed": 0,
                "picked_phys": 0,
                "stowed_phys": 0,
            }
            # The floor manager (labour board, digest, forecasts, the agent or the shift lead); the
            # fork lookahead needs the in-process fleet host and a run with nothing else on the wire.
            lookahead_ok = (
                host is not None
                and getattr(host, "world", None) is None
                and not (opts.journal or opts.resume or opts.realtime)
            )
            self.manager = FloorManager.build(self, mode=opts.agent, host=host, lookahead_ok=lookahead_ok)
            if opts.advice is not None and self.manager.agent is not None:
                # the operator's Accept applies the recommendation (sim.advice_apply)
                from fctwin.sim.advice_apply import decision_handler

                opts.advice.handler = decision_handler(self.manager)
            if not scene.spec.levers.empty:  # the scene's planned floor levers (sim.levers_plan)
                from fctwin.sim.levers_plan import check, lever_plan_process
                from fctwin.sim.scene import SceneError

                problems = check(scene, dispatcher)
                if problems:
                    raise SceneError(scene.source, problems)
                env.process(lever_plan_process(env, scene, dispatcher))
        except BaseException:
            self.link.close()  # the fleet host must not outlive a run that failed to start
            raise
        # Whole-run totals of the tracker's per-minute counts, for the summary.
        self.totals = {"pick_busy": 0, "stow_busy": 0, "ticks": 0, "queue": 0, "unit_busy": 0}
        self.wall0_s = time.perf_counter()
        self._minute = 0
        self._last_minute_t_s = 0.0
        self._behind_said = False

    def run(self, cpu) -> float:
        """Run to the scene's end on CPU choice `cpu` (`parse_cpu_choice`); returns the wall time in s."""
        env = self.env
        link = self.link
        env.process(self._tick_process())
        env.process(self._minute_process())
        # Start-up leaves ~130,000 long-lived objects (numba, the scene, the dispatcher) that every full
        # garbage collection of the run walked again: 0.12 s each, a few per simulated hour. Frozen, a
        # collection walks only what the run allocates. Unfrozen afterwards, so a calling process (a
        # sweep, the tests) collects them as before.
        gc.freeze()
        # Fast runs with our own fleet host process: both on one CPU (see sim.affinity for why and the
        # figures); realtime runs and custom links (`fctwin serve`, hardware) are left to the scheduler.
        pin = None
        host_process = getattr(link, "process", None)
        if not self.opts.realtime and self.opts.link_factory is None and host_process is not None:
            pin = CpuPin(cpu, [host_process.pid])
        try:
            env.run(until=self.scene.run_s)
            self._receive_pending()  # the last tick's frame: the fleet host stepped it, a journal records it
            # SimPy stops before the events of the end instant, the minute process's last one among
            # them: the run's last (whole or partial) minute is written here, so kpi_minute ends
            # at run_s and the progress reaches 100 %.
            if env.now > self._last_minute_t_s:
                self._end_minute()
        finally:
            if pin is not None:
                pin.release()
            gc.unfreeze()
            link.close()
        self.store.add_events(self.dispatcher.log)
        self.dispatcher.log.clear()
        self._flush_lines()
        if self.opts.viewer is not None:
            self.opts.viewer.on_end()
        return time.perf_counter() - self.wall0_s

    def _tick_process(self):
        # Locals, not attributes: this loop runs once per drive-unit step.
        env = self.env
        link = self.link
        dispatcher = self.dispatcher
        tracker = self.tracker
        state = self.state
        store = self.store
        record_poses = self.record_poses
        pose_every = self.pose_every
        realtime = self.opts.realtime
        step_s = self.scene.step_s
        receive_pending = self._receive_pending
        station_log = self.station_log
        # A link that can split an exchange (send the batch now, take the frame later) lets everything
        # that does not need the next frame run while the fleet host steps: this frame's bookkeeping, and
        # in fast runs, after the tick's timeout, the other processes of the same instant (orders and
        # cartons arriving, the minute's KPI row and run-store commit). They touch no telemetry and
        # create the same SimPy events in the same order, so the run is the same; only the waiting for
        # the frame moves.
        send_batch = getattr(link, "send_batch", None)
        viewer = self.opts.viewer
        on_view = viewer.on_tick if viewer is not None else None
        advice = self.opts.advice
        frame = state["frame"]
        on_tick = self.manager.on_tick
        while True:
            if advice is not None and advice.pending:  # an operator's decision, from the console
                advice.drain(dispatcher, store, env.now)
            if on_tick is not None:
                on_tick(frame.t_s)
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
                    station_log.on_done(ev.unit_id, ev.t_s, ev.data, frame.t_s)
            station_log.observe(frame)
            state["collisions"] = tracker.collisions
            if record_poses and frame.step % pose_every == 0 and "forked" not in state:
                store.add_pose(frame.step, frame.t_s, tracker.poses())
            if on_view is not None:
                on_view(frame, dispatcher)
            if realtime:
                # Paced runs take the frame before waiting for the wall clock: a link that cannot
                # split the exchange (hardware on the wire) sends the commands only when asked
                # for the frame, and robots must not get them a step late.
                receive_pending()
            yield env.timeout(step_s)
            receive_pending()
            frame = state["frame"]

    def _receive_pending(self) -> None:
        state = self.state
        if "pending" in state:
            state["frame"] = self.link.receive_frame(state.pop("pending"))

    def _minute_process(self):
        env = self.env
        while True:
            yield env.timeout(60.0)
            self._end_minute()

    def _end_minute(self) -> None:
        """Write the minute that just ended (KPI row, task events), commit, report progress."""
        env = self.env
        tracker = self.tracker
        totals = self.totals
        store = self.store
        dispatcher = self.dispatcher
        progress = self.progress
        self._minute += 1
        minute = self._minute
        minute_s = env.now - self._last_minute_t_s  # 60, or less for the run's last partial minute
        self._last_minute_t_s = env.now
        row = kpi_row(
            minute,
            t_s=env.now,
            wall_s=time.perf_counter() - self.wall0_s,
            scene=self.scene,
            dispatcher=dispatcher,
            tracker=tracker,
            state=self.state,
            counters=self.counters,
            initial_units=self.initial_units,
        )
        station_rows = station_kpi_rows(minute, t_s=env.now, minute_s=minute_s, tracker=tracker)
        totals["pick_busy"] += tracker.busy_ticks["pick"]
        totals["stow_busy"] += tracker.busy_ticks["stow"]
        totals["ticks"] += tracker.ticks
        totals["queue"] += tracker.queue_sum
        totals["unit_busy"] += tracker.unit_busy
        tracker.reset_minute()
        self._flush_lines()  # station lines, committed with the minute's events
        store.add_events(dispatcher.log)
        dispatcher.log.clear()
        store.add_kpi(row)
        store.add_station_kpis(station_rows)
        store.commit()
        # SQLite keeps writing to a deleted file without complaint: a run whose runs/ folder
        # was removed would end "successfully" with nothing on disk.
        store.check_alive()
        made = self.manager.on_minute(minute, env.now)
        if (
            made
            and self.publisher is not None
            and self.manager.agent is not None
            and "forked" not in self.state
        ):
            from fctwin.network.protocol import recommendation_body

            for rec in made:
                body = recommendation_body(rec, run_id=self.run_id, mode=self.manager.mode)
                self.publisher.publish_recommendation(body)
        if progress is not None:
            progress(row)
        if self.opts.viewer is not None:
            self.opts.viewer.on_minute(row)
        if self.opts.realtime and not self._behind_said:
            self._say_if_behind()

    def _flush_lines(self) -> None:
        if self._lines_db is not None and "forked" not in self.state:
            self.station_log.flush(self._lines_db)

    def _say_if_behind(self) -> None:
        """In a paced run, say once (not every tick) when the simulation cannot keep the pace."""
        env = self.env
        factor = env.factor
        if factor <= 0:  # replaying a journal as fast as possible (`serve --resume`)
            return
        sim_s = env.now - env.env_start
        wall_s = time.monotonic() - env.real_start
        due_s = sim_s * factor
        achieved = sim_s / wall_s if wall_s > 0 else float("inf")
        # Behind by more than a second, or, after five simulated minutes, at under half the pace
        # asked on average (a short hiccup, a garbage collection, is neither).
        if wall_s - due_s > max(1.0, 0.1 * due_s) or (sim_s >= 300 and achieved < 0.5 * self.opts.speedup):
            self._behind_said = True
            print(
                f"fctwin: running behind real time: x{achieved:,.1f} instead of x{self.opts.speedup:g}"
                " (this machine cannot keep the pace; the run goes on as fast as it can)",
                file=sys.stderr,
                flush=True,
            )


def _pace_after_replay(env: simpy.rt.RealtimeEnvironment) -> Callable[[], None]:
    """Replay as fast as the dispatcher goes, then pace from where the journal ends: the `on_live` hook."""
    factor, env._factor = env.factor, 0.0

    def on_live():
        env._factor = factor
        env.env_start = env.now  # sync() re-anchors only the wall clock, not simulated time
        env.sync()

    return on_live
