"""Following a run as it goes: the run loop's viewer hook (`RunOptions.viewer`).

`LiveFeed.on_tick` is called after every tick in the simulation's thread. It costs one clock read
per tick; about ten times a wall-clock second it copies the dispatcher's view of the floor (unit
cells, headings, trips, pods) into a `FloorFrame` that the console's thread draws. It only reads:
the run's event log is the same with or without it. `on_minute` tells the console that the run
store has a new minute committed (KPIs, events, recommendations); the console re-reads it there.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from fctwin.controller.records import AT_STATION, LIFTING, TO_POD
from fctwin.robots.messages import UnitMode
from fctwin.sim.console.data import AT_STATION as S_AT_STATION
from fctwin.sim.console.data import CARRYING, CHARGING, EXTERNAL, FAILED, IDLE, FloorFrame
from fctwin.sim.console.data import TO_POD as S_TO_POD

__all__ = ["LiveFeed", "LiveSession"]

_CHARGING = int(UnitMode.CHARGING)
_SERVING = int(UnitMode.SERVING)


class LiveFeed:
    """The viewer hook of a live run (see the module docstring); ``period_s`` of wall time between frames."""

    def __init__(
        self, *, n_pods: int, station_ids: list[str], external: np.ndarray, period_s: float = 0.1
    ) -> None:
        self.period_s = period_s
        self.n_pods = n_pods
        self.station_index = {s: k for k, s in enumerate(station_ids)}
        self.external = external
        self.latest: FloorFrame | None = None
        self.minute_flag = threading.Event()
        self.ended = False
        self.frames = 0
        self.sample_s = 0.0  # wall time spent building frames (the hook's whole cost but a clock read)
        self._next = 0.0
        self._pod_rc: np.ndarray | None = None
        self._carried: set[int] = set()
        self._station_pos: dict[str, int] = {}  # where each station's state sits in a frame
        self.on_first: Callable[[], None] | None = None  # called once, at the first tick
        self.store_ready = threading.Event()  # the run store holds the run's metadata

    def on_store(self, db_path) -> None:
        """The run loop's call once the run store holds the metadata (before the fleet host starts)."""
        self.store_ready.set()

    def on_tick(self, frame, dispatcher) -> None:
        if self.on_first is not None:
            first, self.on_first = self.on_first, None
            first()
        now = time.perf_counter()
        if now < self._next:
            return
        self.latest = self._sample(frame.t_s, dispatcher)
        self.latest.station_serving = self._serving(frame)
        self.frames += 1
        cost = time.perf_counter() - now
        self.sample_s += cost
        # At most ~2% of the run's wall time goes to frames: a big fleet on a slow machine gets
        # fewer frames per second instead of a slower simulation.
        self._next = now + max(self.period_s, 50.0 * cost)

    def _sample(self, t_s: float, d) -> FloorFrame:
        units = d.units
        n = len(units)
        rc = np.empty((n, 2), np.float32)
        heading = np.empty(n, np.int16)
        state = np.empty(n, np.int8)
        loaded = []
        for k, u in enumerate(units):
            rc[k, 0] = u.row
            rc[k, 1] = u.col
            heading[k] = u.heading
            trip = u.trip
            if u.failed:
                s = FAILED
            elif u.mode == _CHARGING or u.charging_at is not None:
                s = CHARGING
            elif trip is None:
                s = IDLE
            elif trip.phase in (TO_POD, LIFTING):
                s = S_TO_POD
            elif trip.phase == AT_STATION:
                s = S_AT_STATION
            else:
                s = CARRYING
            if u.pod >= 0:
                loaded.append((k, u.pod))
                if s in (IDLE, S_TO_POD):
                    s = CARRYING
            state[k] = s
        if len(self.external) == n:
            state[self.external & (state != FAILED)] = EXTERNAL
        # Pods move only while carried: update the carried ones from their units, and read the book
        # only for pods set down since the last frame (a few), never all of them (5,000 on fc_large).
        pod_rc = self._pod_rc
        if pod_rc is None:
            pod_rc = self._pod_rc = np.zeros((self.n_pods, 2), np.float32)
            for p, c in enumerate(d.book.pod_cell[: self.n_pods]):
                if c is not None:
                    pod_rc[p] = c
        carried = np.zeros(self.n_pods, bool)
        unit_loaded = np.zeros(n, bool)
        now_carried = set()
        for k, p in loaded:
            if 0 <= p < self.n_pods:
                pod_rc[p] = rc[k]
                carried[p] = True
                unit_loaded[k] = True
                now_carried.add(p)
        cells = d.book.pod_cell
        for p in self._carried - now_carried:
            c = cells[p]
            if c is not None:
                pod_rc[p] = c
        self._carried = now_carried
        queue = np.zeros(len(self.station_index), np.int32)
        for s in d.stations:
            k = self.station_index.get(s.station_id)
            if k is not None:
                queue[k] = sum(1 for t in s.queue if t.phase != TO_POD and t.phase != LIFTING)
        return FloorFrame(
            t_s=float(t_s),
            unit_rc=rc,
            unit_heading=heading,
            unit_state=state,
            pod_rc=pod_rc.copy(),
            pod_carried=carried,
            station_queue=queue,
            unit_loaded=unit_loaded,
        )

    def _serving(self, frame) -> np.ndarray:
        """bool[S]: which stations report a line in progress (mode SERVING) in this frame."""
        out = np.zeros(len(self.station_index), bool)
        units = frame.units
        pos = self._station_pos
        if len(pos) != len(self.station_index) or any(
            p >= len(units) or units[p].unit_id != s for s, p in pos.items()
        ):
            where = {u.unit_id: k for k, u in enumerate(units)}
            pos = self._station_pos = {s: where[s] for s in self.station_index if s in where}
        for s, p in pos.items():
            out[self.station_index[s]] = units[p].mode == _SERVING
        return out

    def on_minute(self, row: dict) -> None:
        self.minute_flag.set()

    def on_end(self) -> None:
        self.ended = True
        self.minute_flag.set()


class LiveSession:
    """A live console for one run: set ``opts.viewer = session.feed`` and ``opts.advice = session.advice``.

    The console is brought up off the run's critical path: a thread started here imports viser and
    the console (about 0.7 s of Python on our VMs), then, as soon as the run store holds the run's
    metadata (`LiveFeed.on_store`, before the fleet host process starts, which the run waits for
    anyway), starts the server and builds the scene. At the first tick, when a fast run has pinned
    itself to one CPU (`fctwin.sim.affinity`), the console's threads move to the other CPUs.
    ``ready`` is set once it serves (or failed: ``error``); ``console`` is then the `Console`.
    """

    def __init__(self, scene, *, runs_dir: Path, run_id: str, host: str = "127.0.0.1", port: int = 8080,
                 period_s: float = 0.1, on_ready: Callable[[str], None] | None = None) -> None:  # fmt: skip
        from fctwin.sim.advice import AdviceInbox

        self.db_path = Path(runs_dir) / run_id / "run.sqlite"
        self.host, self.port = host, port
        self.advice = AdviceInbox()
        self.feed = LiveFeed(
            n_pods=scene.pods.count,
            station_ids=[s.station_id for s in scene.stations],
            external=np.array([u.external for u in scene.units], bool),
            period_s=period_s,
        )
        self.feed.on_first = self._on_first_tick
        self.console = None
        self.error: BaseException | None = None
        self.ready = threading.Event()
        self._on_ready = on_ready
        self._closed = False
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()  # the console's threads (to move off the run's CPU)
        self._run_tid: int | None = None  # the simulation thread's native id, from the first tick
        self._starter = threading.Thread(target=self._serve, name="fctwin-console-start", daemon=True)
        self._threads.add(self._starter)
        self._starter.start()

    def _on_first_tick(self) -> None:
        self.feed.store_ready.set()  # a run loop that does not call on_store: start from here
        self._run_tid = threading.get_native_id()
        self._move_off_the_run_cpu()

    def _serve(self) -> None:
        before = set(threading.enumerate())
        try:
            import viser  # noqa: F401 - the heavy import, while the run starts up

            from fctwin.sim.console.app import Console
            from fctwin.sim.console.data import RunData

            self.feed.store_ready.wait()
            if self._closed:
                return
            console = Console(
                RunData(self.db_path), host=self.host, port=self.port, live=self.feed, advice=self.advice
            )
            if self._closed:  # closed while it came up
                console.close()
                return
            self.console = console
            if self._on_ready is not None:
                self._on_ready(self.console.url)
        except BaseException as exc:  # reported by the caller; the run goes on without a console
            self.error = exc
        finally:
            # viser's server thread, the console's loop and whatever on_ready started
            self._threads |= set(threading.enumerate()) - before - {threading.main_thread()}
            self._move_off_the_run_cpu()
            self.ready.set()

    def _move_off_the_run_cpu(self) -> None:
        """Move the console's threads off the CPU a fast run pins itself to (`fctwin.sim.affinity`),
        so serving the page never preempts the dispatcher or its fleet host; they still share the
        GIL. Called at the first tick and when the console is up: the later call does it. A no-op
        before the run is pinned, when it is not, or without a second CPU. Threads the console
        starts afterwards inherit it."""
        import contextlib
        import os

        with self._lock:
            tid = self._run_tid
            if tid is None:
                return
            with contextlib.suppress(AttributeError, OSError):
                run_cpus = os.sched_getaffinity(tid)
                others = set(range(os.cpu_count() or 1)) - run_cpus
                if not others:
                    return
                for t in self._threads:
                    if t.native_id is not None and t.is_alive() and t.native_id != tid:
                        with contextlib.suppress(OSError):
                            os.sched_setaffinity(t.native_id, others)

    def close(self) -> None:
        self._closed = True
        self.feed.store_ready.set()
        if self.console is not None:
            self.console.close()
