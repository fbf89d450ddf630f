"""The fleet host: runs the simulated units of a scene and owns the physical truth of the floor.

It receives one `CommandBatch` per lockstep tick, routes each command to its unit, lets a safety
layer veto forward moves that would collide (as a real drive unit's bumper and reservation check
would), steps every unit to the next tick, applies physical effects (pods lifted, set down, items
picked and stowed) and returns a `TelemetryFrame`. It also keeps the PyBullet world in sync.
The floor's truth it writes is `SimFloor` (fleet_floor.py); the units it hosts are built by
fleet_units.py.

A large fleet's Titans (`ARRAY_MIN_UNITS` or more) are stepped as arrays: their numeric state
lives in one `TitanArrays` (each is a `TitanRow`, a Titan viewing its row), one kernel call steps
them all, their move commands are checked and their states reported from the arrays. A small
fleet's are plain `Titan` objects stepped one by one, which is cheaper for a few dozen units and
keeps numba out of the process. Either way each is a Titan unit (its own commands, idempotence
window, events), so a hardware robot can take any one's place; tests/test_titan_arrays.py checks
that both give the same frames.

Asked for by its link (`fctwin run` on a large fleet, `RunOptions.wire_columns`), it reports its Titans
as one `UnitColumns` block and takes the dispatcher's moves as one `MoveColumns` block: the same
states and moves as the per-unit messages, without an object for each (docs/protocol.md).

It is reached only through a link (`fctwin.sim.fleet_link_local` in-process,
`fctwin.network.fleet_link` over ZeroMQ in its own process), so the dispatcher cannot tell it from
hardware. As its own program, ``python -m fctwin.sim.fleet_host --spec FILE`` serves one fleet
over ZeroMQ (the link writes the spec: endpoint, scene as data, options).
"""

from __future__ import annotations

import logging
from itertools import repeat
from pathlib import Path

import numpy as np

from fctwin.robots.floor import DOCK, STORAGE, WALL
from fctwin.robots.messages import (
    FORWARD_DELTA,
    UNIT_ID_SEPARATOR,
    Action,
    CommandBatch,
    Move,
    MoveColumns,
    TelemetryFrame,
    UnitColumns,
    UnitEvent,
    UnitMode,
    UnitState,
)
from fctwin.robots.station import StationUnit
from fctwin.robots.titan import Titan
from fctwin.robots.titan_arrays import TIMED_NONE, TitanArrays, TitanRow, move_refusal
from fctwin.sim.fleet_floor import SimFloor
from fctwin.sim.fleet_units import make_station_unit, titan_params
from fctwin.sim.scene import Scene, load_scene, scene_from_data
from fctwin.sim.seeds import child_seed

Cell = tuple[int, int]
_WAIT, _FORWARD, _RIGHT, _LEFT = int(Action.W), int(Action.F), int(Action.R), int(Action.C)

log = logging.getLogger(__name__)

# From this many simulated Titans a fleet host steps them as arrays (`TitanArrays`). Measured with
# benchmarks/fleet_host_step.py on streams recorded by the object host (CPU per tick, frames
# identical, load 11-13): at 30 units (fc_small_peak) objects 0.10-0.11 ms a tick, arrays 0.14 ms
# (a kernel call and ~20 small array operations cost more than 30 object steps); at 500 (fc_large)
# objects 0.75 ms, arrays 0.54 ms, but the arrays' numba import and kernel load cost its fleet host
# ~1.5 s more to build, which a 1-hour run (2,842 ticks) does not earn back; at 2,000 (fc_2000, whose
# host has numba loaded anyway) objects 6.0 ms, arrays 4.5-4.7 ms (no PyBullet world, as `fctwin run`).
ARRAY_MIN_UNITS = 1000


class FleetHost:
    """Hosts every simulated unit of a scene. See the module docstring."""

    # Every unit acknowledges a command id it has seen (the last 4,096 at least) with ``ack``
    # ``{"duplicate": 1}`` and does not execute it again (the robot contract requires it), so a link
    # needs no de-duplication of its own in front of this host.
    dedups_commands = True

    def __init__(
        self,
        scene: str | Path | Scene | dict,
        *,
        seed: int | None = None,
        gui: bool = False,
        realtime_factor: float | None = None,
        world: bool = True,
        exclude_units: frozenset[str] = frozenset(),
        station_fidelity: str = "fast",
        telemetry_columns: bool = False,
    ):
        if isinstance(scene, Scene):
            self.scene = scene
        elif isinstance(scene, dict):  # `Scene.as_data()`: how the fleet-host program gets its scene
            # The run's process checked this scene's dispatch settings; the fleet host runs no
            # dispatcher, and importing the policy registry (the planner) was ~0.3 s of its start-up,
            # the critical path of `fctwin run`'s.
            self.scene = scene_from_data(scene, dispatch_checks=False)
        else:
            self.scene = load_scene(scene, seed=seed)
        exclude_units = frozenset(exclude_units)
        sc = self.scene
        self.floor = SimFloor(sc)
        self.step_s = sc.step_s
        self.t_s = 0.0
        self.step_index = 0
        self.titans: list[Titan] = []
        # The simulated Titans' state, one row each (a Titan is a view onto its row): stepped, checked
        # for conflicts and reported as arrays, where one Python call per unit per tick was most of a
        # 2,000-unit host's time. External units have no row.
        simulated = [u for u in sc.units if u.unit_id not in exclude_units]
        self.arrays = TitanArrays(len(simulated)) if len(simulated) >= ARRAY_MIN_UNITS else None
        # Units simulated elsewhere (hardware on the wire): their reported state, fed by the link
        # (`set_external_states`); start where the scene puts them until they report.
        self.external: dict[str, UnitState] = {}
        self._external_cells: set[Cell] = set()
        for u in sc.units:
            if u.unit_id in exclude_units:
                self.external[u.unit_id] = UnitState(
                    u.unit_id, "titan", int(UnitMode.IDLE), *u.cell, u.heading
                )
                continue
            params = titan_params(u.config, sc.cell_size_m)
            if self.arrays is None:
                t = Titan(unit_id=u.unit_id, floor=self.floor, cell=u.cell, heading=u.heading, params=params)
            else:
                t = TitanRow(
                    unit_id=u.unit_id,
                    floor=self.floor,
                    cell=u.cell,
                    heading=u.heading,
                    params=params,
                    arrays=self.arrays,
                    row=len(self.titans),
                )
            t.reset(seed=child_seed(sc.seed, f"unit.{u.unit_id}"))
            self.titans.append(t)
        self.stations: list[StationUnit] = []
        for s in sc.stations:
            unit = make_station_unit(
                s,
                self.floor,
                fidelity=station_fidelity,
                skus=sc.skus,
                storage_fill_frac=sc.spec.pods.initial_fill_frac,
            )
            unit.reset(seed=child_seed(sc.seed, f"station.{s.station_id}"))
            self.stations.append(unit)
        self.by_id = {u.unit_id: u for u in [*self.titans, *self.stations]}
        self._external_cells = {(u.row, u.col) for u in self.external.values()}
        self._titan_ids = [t.unit_id for t in self.titans]
        self._row_of = {uid: k for k, uid in enumerate(self._titan_ids)}
        self._titan_type = Titan.unit_type
        # Frames carry the simulated Titans' states as one `UnitColumns` block instead of a
        # `UnitState` each (the link asks for it: `fctwin run` on a large fleet); stations and the
        # rest stay per unit. The same states either way, read by the dispatcher as arrays.
        self.telemetry_columns = bool(telemetry_columns)
        self._titan_ids_joined = UNIT_ID_SEPARATOR.join(self._titan_ids)
        # Cell -> row of the unit standing there, for the swap check (-1: none); the rows the step
        # wrote are cleared again after each check.
        self._occupant = np.full(sc.grid.shape, -1, dtype=np.int64) if self.arrays is not None else None
        self.units_picked = 0
        self.units_stowed = 0
        self.moves_vetoed = 0
        self.collisions = 0
        self._next_cells_distinct = False  # set by `_veto_conflicts` for this step's `_count_collisions`
        self.world = None
        self.realtime_factor = realtime_factor
        # Headless fast runs show nobody the world, so unit poses are synced once per simulated
        # minute (and a unit just before it lifts or sets down a pod, which the world checks)
        # instead of every step: the per-unit PyBullet teleports were a tenth of a tick's cost.
        self._world_sync_steps = 1 if (gui or realtime_factor) else max(1, round(60.0 / self.step_s))
        # A link that calls `flush_world` after sending each frame sets this: the lazily synced
        # world's updates (pod lifts and set-downs, the minute's pose sync) then run after the reply
        # instead of before it, and all together at the minute's sync: each lift or set-down is
        # replayed there, in order, at the cell where it happened. One by one, between the
        # dispatcher's ticks, they cost ~70 us each (the PyBullet world's memory gone cold); together
        # about a fifth of that. Nothing in a frame reads the world, so the frames are the same.
        self.defer_world_updates = False
        # (op, unit, pod, cell, heading) in step order
        self._world_backlog: list[tuple[str, object, int, Cell, int]] = []
        self._world_sync_due = False
        if world or gui:
            self._build_world(gui)

    # ------------------------------------------------------------------ link API

    def initial_frame(self) -> TelemetryFrame:
        self._refresh_carried()
        return self._frame(0, 0.0, [])

    def apply(self, batch: CommandBatch) -> TelemetryFrame:
        t_to = max(self.t_s, batch.t_s) + self.step_s
        dt = t_to - self.t_s
        events = self._handle_commands(batch)
        prev = [(t.cell, t.heading) for t in self.titans] if self.realtime_factor else None
        self._next_cells_distinct = False
        events.extend(self._veto_conflicts(batch.t_s))
        if self.arrays is None:
            for t in self.titans:
                events.extend(t.step(t_to, dt))
        elif self.arrays.step(t_to, dt):  # some units have news: their events, in unit order
            titans = self.titans
            for k in np.flatnonzero(self.arrays.flags).tolist():
                events.extend(titans[k].step_events(t_to))
        self._apply_pod_effects(events)
        self._refresh_carried()
        for s in self.stations:
            done = s.step(t_to, dt)
            self._apply_service_effects(s, done)
            events.extend(done)
        self._count_collisions()
        self.t_s = t_to
        self.step_index = batch.step + 1
        if self.world is not None:
            if self._deferring():
                self._world_sync_due = self.step_index % self._world_sync_steps == 0
            else:
                self._update_world(prev)
        return self._frame(self.step_index, t_to, events)

    def _frame(self, step: int, t_s: float, events: list[UnitEvent]) -> TelemetryFrame:
        if not self.telemetry_columns:
            return TelemetryFrame(step=step, t_s=t_s, units=self._unit_states(), events=events)
        return TelemetryFrame(
            step=step,
            t_s=t_s,
            units=[s.state() for s in self.stations],
            events=events,
            columns=self._titan_columns(),
        )

    def _titan_columns(self) -> UnitColumns:
        """The simulated Titans' states as one block: the rows of `_unit_states`' Titans, bit for bit."""
        a = self.arrays
        if a is None:
            return UnitColumns.from_states([t.state() for t in self.titans])
        return UnitColumns.from_arrays(
            self._titan_ids_joined,
            self._titan_type,
            mode=a.mode,
            row=a.row,
            col=a.col,
            heading=a.heading,
            pod_id=a.pod_id,
            battery_frac=a.battery_frac_array(),
            busy_until_s=a.busy_until_s,
        )

    def _handle_commands(self, batch: CommandBatch) -> list[UnitEvent]:
        """Give each command to its unit, in batch order; return the events they produced.

        Move commands to simulated Titans (most of a batch) skip the `Titan` object: the same
        idempotence window and the same rules (`move_refusal`), read from the arrays. What a move
        reads (cell, heading, pod) no command changes, so it is read once per batch; whether the
        unit is stopped or busy is read again after any other command to it.
        """
        t_s = batch.t_s
        events: list[UnitEvent] = []
        by_id, rows_of = self.by_id, self._row_of
        a = self.arrays
        if a is None:  # a small fleet: every command through its unit
            for cmd in batch.all_commands():
                unit = by_id.get(cmd.unit_id)
                if unit is None:
                    events.append(
                        UnitEvent(cmd.unit_id, "error", t_s, cmd.command_id, {"reason": "unknown unit"})
                    )
                    continue
                events.extend(unit.handle(cmd, t_s))
            return events
        floor = self.floor
        # A forward move's target cell, read as `move_refusal` reads it (`may_enter`): off the floor a
        # wall; a loaded unit may not enter a storage cell where a pod stands.
        rules = (floor, floor._codes, floor.height, floor.width, floor.pods)
        # Actions taken, by row, written to the arrays after the batch (a later move to the same unit
        # replaces an earlier one, as writing each at once did; no other command reads them).
        taken: dict[int, int] = {}
        snap = None
        for cmd in batch.commands:
            uid = cmd.unit_id
            k = rows_of.get(uid) if type(cmd) is Move else None
            if k is None:
                unit = by_id.get(uid)
                if unit is None:
                    events.append(UnitEvent(uid, "error", t_s, cmd.command_id, {"reason": "unknown unit"}))
                    continue
                events.extend(unit.handle(cmd, t_s))
                if snap is not None and (j := rows_of.get(uid)) is not None:
                    snap[4][j], snap[5][j] = a.stopped.item(j), a.timed_op.item(j)
                continue
            if snap is None:
                snap = self._move_snapshot()
            self._titan_move(k, cmd.command_id, cmd.action, cmd, t_s, events, taken, snap, rules)
        if batch.moves is not None and batch.moves.n:
            self._handle_move_block(batch.moves, t_s, events, taken, snap, rules)
        if taken:
            a.pending[list(taken)] = list(taken.values())
        return events

    def _handle_move_block(
        self, block: MoveColumns, t_s: float, events: list, taken: dict, snap, rules: tuple
    ) -> None:
        """The moves of a `MoveColumns` block, after the batch's other commands: the same window, rules
        and events as the `Move` path of `_handle_commands`, one row at a time in block order."""
        a = self.arrays
        rows_of, by_id = self._row_of, self.by_id
        if snap is None:
            snap = self._move_snapshot()
        stopped, timed = snap[4], snap[5]
        cols_ = block.arrays()
        step = block.step
        for uid, cid, action in zip(
            block.ids(), cols_["command_id"].tolist(), cols_["action"].tolist(), strict=True
        ):
            k = rows_of.get(uid)
            if k is None:  # not a simulated Titan: the unit itself (or an error), as a `Move`
                unit = by_id.get(uid)
                if unit is None:
                    events.append(UnitEvent(uid, "error", t_s, cid, {"reason": "unknown unit"}))
                    continue
                events.extend(unit.handle(Move(cid, uid, action, step), t_s))
                if (j := rows_of.get(uid)) is not None:
                    stopped[j], timed[j] = a.stopped.item(j), a.timed_op.item(j)
                continue
            self._titan_move(k, cid, action, None, t_s, events, taken, snap, rules, step)

    def _move_snapshot(self) -> tuple[list, ...]:
        """What a batch's moves read of every Titan row, as lists (read once per batch): row, col,
        heading, pod, stopped, timed op. Other commands to a unit update its stopped and timed op."""
        a = self.arrays
        return (
            a.row.tolist(),
            a.col.tolist(),
            a.heading.tolist(),
            a.pod_id.tolist(),
            a.stopped.tolist(),
            a.timed_op.tolist(),
        )

    def _titan_move(
        self,
        k: int,
        cid: int,
        action: int,
        cmd: Move | None,
        t_s: float,
        events: list,
        taken: dict,
        snap: tuple,
        rules: tuple,
        step: int = 0,
    ) -> None:
        """One move for the Titan in row ``k``: the unit's idempotence window, then the move rules of
        `move_refusal` (the moves a unit takes, nearly all, decided inline; any refusal worded by
        it). A taken action goes to ``taken``; a duplicate or a refusal to ``events``. ``cmd`` is the
        `Move` when the batch sent one (made from the block row only for a refusal, which names it)."""
        unit = self.titans[k]
        if cid >= 0 and unit._recent.check_and_remember(cid):
            events.append(UnitEvent(unit.unit_id, "ack", t_s, cid, {"duplicate": 1}))
            return
        if action == _WAIT:
            taken[k] = action
            return
        rows, cols, heads, pods, stopped, timed = snap
        floor, codes, height, width, resting = rules
        if not stopped[k] and timed[k] == TIMED_NONE:
            if action == _FORWARD:
                dr, dc = FORWARD_DELTA[heads[k]]
                r, c = rows[k] + dr, cols[k] + dc
                if 0 <= r < height and 0 <= c < width:
                    code = codes[r][c]
                    if (
                        code != WALL
                        and code != DOCK
                        and not (code == STORAGE and pods[k] >= 0 and (r, c) in resting)
                    ):
                        taken[k] = action
                        return
            elif action in (_RIGHT, _LEFT):
                taken[k] = action
                return
        reason = move_refusal(
            floor,
            action,
            stopped=stopped[k],
            timed_op=timed[k],
            row=rows[k],
            col=cols[k],
            heading=heads[k],
            loaded=pods[k] >= 0,
        )
        if reason is not None:
            if cmd is None:
                cmd = Move(cid, unit.unit_id, action, step)
            events.append(unit._refuse(cmd, t_s, reason))
            return
        taken[k] = action

    def _unit_states(self) -> list[UnitState]:
        """Every unit's state, simulated Titans (from the arrays at once) then stations, as
        ``[u.state() for u in self.by_id.values()]``."""
        a = self.arrays
        if a is None:
            return [u.state() for u in self.by_id.values()]
        kind = self._titan_type
        states = list(
            map(
                UnitState,
                self._titan_ids,
                repeat(kind),
                a.mode.tolist(),
                a.row.tolist(),
                a.col.tolist(),
                a.heading.tolist(),
                a.pod_id.tolist(),
                a.battery_fracs(),
                a.busy_until_s.tolist(),
            )
        )
        states += [s.state() for s in self.stations]
        return states

    def flush_world(self, *, now: bool = False) -> None:
        """Apply the world updates deferred since the last pose sync (see ``defer_world_updates``),
        in order, when this step's sync is due (or ``now``); otherwise keep them for it.

        Each lift or set-down is replayed at the cell and heading its unit had when it happened.
        """
        if self.world is None or not (self._world_sync_due or now):
            return
        backlog, self._world_backlog = self._world_backlog, []
        # The pods this backlog lifts get their bodies in one batch first (a lazy world made each at
        # its lift, one call per pod: most of the flush on a 2,000-unit floor).
        self.world.make_pod_bodies([pod for op, _, pod, _, _ in backlog if op == "lift"])
        for op, unit, pod, cell, heading in backlog:
            self._world_pod_op(op, unit, pod, cell, heading)
        if self._world_sync_due:
            self._world_sync_due = False
            self._update_world(None)

    def _deferring(self) -> bool:
        return self.defer_world_updates and self._world_sync_steps > 1

    def close(self) -> None:
        if self.world is not None:
            self.world.close()
            self.world = None

    # ------------------------------------------------------------------ physics of the floor

    def _veto_conflicts(self, t_s: float) -> list[UnitEvent]:
        """Cancel forward moves into an occupied or contested cell, or swaps, to a fixed point."""
        vetoed = self._veto_external(t_s) if self._external_cells else []
        if self._no_conflict():
            # every unit ends the step in its own cell: `_count_collisions` has nothing to count
            self._next_cells_distinct = True
            return vetoed
        events = vetoed
        changed = True
        while changed:
            changed = False
            nxt = [t.next_cell() for t in self.titans]
            cur = {t.cell: k for k, t in enumerate(self.titans)}
            seen: dict[Cell, int] = {}
            for k, cell in enumerate(nxt):
                other = seen.get(cell)
                if other is not None:
                    for j in (k, other):
                        if nxt[j] != self.titans[j].cell:
                            events.append(self.titans[j].cancel_move(t_s, "cell contested"))
                            self.moves_vetoed += 1
                            changed = True
                    break
                seen[cell] = k
            if changed:
                continue
            for k, t in enumerate(self.titans):
                if nxt[k] == t.cell:
                    continue
                j = cur.get(nxt[k])
                if j is not None and nxt[j] == t.cell:
                    events.append(t.cancel_move(t_s, "swap"))
                    events.append(self.titans[j].cancel_move(t_s, "swap"))
                    self.moves_vetoed += 2
                    changed = True
                    break
        return events

    def _no_conflict(self) -> bool:
        """The common case (the planner already avoids conflicts), checked on the arrays: no two
        units end the step in one cell and no two movers swap cells."""
        a = self.arrays
        if a is None:
            return self._no_conflict_objects()
        if a.n == 0:
            return True
        nr, nc = a.next_cells()
        height, width = self._occupant.shape
        if nr.min() < 0 or nc.min() < 0 or nr.max() >= height or nc.max() >= width:
            return False  # never (a move off the floor is refused); the slow path copes anyway
        target = np.sort(nr * width + nc)  # (np.unique's hashing took 10x as long)
        if (target[1:] == target[:-1]).any():
            return False
        movers = np.flatnonzero((nr != a.row) | (nc != a.col))
        if movers.size == 0:
            return True
        occ = self._occupant
        r, c = a.row[movers], a.col[movers]
        occ[r, c] = movers
        j = occ[nr[movers], nc[movers]]
        occ[r, c] = -1
        hit = j >= 0
        if not hit.any():
            return True
        k, j = movers[hit], j[hit]
        return not np.any((nr[j] == a.row[k]) & (nc[j] == a.col[k]))

    def _no_conflict_objects(self) -> bool:
        """`_no_conflict` for a small fleet, on the Titan objects."""
        titans = self.titans
        nxt = [t.next_cell() for t in titans]
        if len(set(nxt)) != len(nxt):
            return False
        movers = {t.cell: k for k, t in enumerate(titans) if nxt[k] != t.cell}
        for cell, k in movers.items():
            j = movers.get(nxt[k])
            if j is not None and nxt[j] == cell:
                return False
        return True

    def _veto_external(self, t_s: float) -> list[UnitEvent]:
        """Cancel forward moves into the cell of an external unit (it may not see us coming)."""
        events = []
        for t in self.titans:
            nxt = t.next_cell()
            if nxt != t.cell and nxt in self._external_cells:
                events.append(t.cancel_move(t_s, "cell contested"))
                self.moves_vetoed += 1
        return events

    def set_external_states(self, states: list[UnitState]) -> None:
        """Take the latest reported state of external units: their cells become occupied for the
        safety layer, pods they lift or set down leave or join the floor, the world shows them
        (blue; red when failed). States of units that are not external are ignored."""
        if self._world_backlog:  # the world's pods must be current before external units move them
            self.flush_world(now=True)
        for st in states:
            old = self.external.get(st.unit_id)
            if old is None:
                continue
            self.external[st.unit_id] = st
            cell = (st.row, st.col)
            if old.pod_id < 0 <= st.pod_id:  # lifted where it stands
                at = self.floor.pod_cell.get(st.pod_id)
                if at is not None:
                    self.floor.pods.pop(at, None)
                self.floor.pod_cell[st.pod_id] = None
            elif st.pod_id < 0 <= old.pod_id:  # set down where it stands
                if self.floor.pods.get(cell, old.pod_id) != old.pod_id:
                    log.warning(
                        "external unit %s set pod %d down on pod %d",
                        st.unit_id,
                        old.pod_id,
                        self.floor.pods[cell],
                    )
                self.floor.pods[cell] = old.pod_id
                self.floor.pod_cell[old.pod_id] = cell
            if self.world is not None:
                self._show_external(old, st)
        self._external_cells = {(u.row, u.col) for u in self.external.values()}
        self._refresh_carried()

    def _show_external(self, old: UnitState, st: UnitState) -> None:
        from fctwin.sim.world import assets as world_assets

        k = self._titan_pos[st.unit_id]
        try:
            self.world.place_units([k], [(st.row, st.col)], [st.heading])
            if old.pod_id < 0 <= st.pod_id:
                self.world.lift_pod(k, st.pod_id)
            elif st.pod_id < 0 <= old.pod_id:
                self.world.set_down_pod(k, (st.row, st.col))
        except ValueError as exc:  # a robot's report the world cannot show must not stop the fleet
            log.warning("external unit %s: %s", st.unit_id, exc)
        if (old.mode == UnitMode.FAILED) != (st.mode == UnitMode.FAILED):
            rgba = (
                world_assets.RGBA_UNIT_FAILED
                if st.mode == UnitMode.FAILED
                else world_assets.RGBA_UNIT_EXTERNAL
            )
            self.world.set_unit_color(k, rgba)

    def _count_collisions(self) -> None:
        if self._next_cells_distinct:
            return
        a = self.arrays
        if a is None:
            cells = [t.cell for t in self.titans]
            self.collisions += len(cells) - len(set(cells))
            return
        cells = np.sort(a.row * self._occupant.shape[1] + a.col)
        shared = int((cells[1:] == cells[:-1]).sum())  # units beyond the first in a cell
        self.collisions += shared

    def _apply_pod_effects(self, events: list[UnitEvent]) -> None:
        for ev in events:
            if ev.kind != "done":
                continue
            op = ev.data.get("op")
            if op == "lift":
                unit = self.by_id[ev.unit_id]
                pod = int(ev.data["pod"])
                self.floor.pods.pop(unit.cell, None)
                self.floor.pod_cell[pod] = None
                if self.world is not None:
                    self._world_pod_event("lift", unit, pod)
            elif op == "set_down":
                unit = self.by_id[ev.unit_id]
                pod = int(ev.data["pod"])
                self.floor.pods[unit.cell] = pod
                self.floor.pod_cell[pod] = unit.cell
                if self.world is not None:
                    self._world_pod_event("set_down", unit, pod)

    def _world_pod_event(self, op: str, unit, pod: int) -> None:
        if self._deferring():
            self._world_backlog.append((op, unit, pod, unit.cell, unit.heading))
        else:
            self._world_pod_op(op, unit, pod, unit.cell, unit.heading)

    def _world_pod_op(self, op: str, unit, pod: int, cell: Cell, heading: int) -> None:
        self._sync_world_unit(unit, cell, heading)
        if op == "lift":
            self.world.lift_pod(self._titan_index(unit), pod)
        else:
            self.world.set_down_pod(self._titan_index(unit), cell)

    def _apply_service_effects(self, station: StationUnit, events: list[UnitEvent]) -> None:
        for ev in events:
            if ev.kind != "done" or ev.data.get("op") != "serve":
                continue
            cmd_units = int(ev.data["units"])
            pod = int(ev.data.get("pod", -1))
            sku = int(ev.data.get("sku", -1))
            if pod < 0 or sku < 0:
                continue
            contents = self.floor.contents[pod]
            if station.kind == "pick":
                have = contents.get(sku, 0)
                if have < cmd_units:
                    raise RuntimeError(
                        f"station {station.unit_id} picked {cmd_units} of sku {sku} "
                        f"from pod {pod} holding {have}"
                    )
                if have == cmd_units:
                    del contents[sku]
                else:
                    contents[sku] = have - cmd_units
                self.units_picked += cmd_units
            else:
                contents[sku] = contents.get(sku, 0) + cmd_units
                self.units_stowed += cmd_units

    def _refresh_carried(self) -> None:
        a = self.arrays
        if a is None:
            self.floor.carried = {t.cell: (t.unit_id, t.pod_id) for t in self.titans if t.pod_id >= 0}
        else:
            ids, rows, cols, pods = self._titan_ids, a.row.tolist(), a.col.tolist(), a.pod_id.tolist()
            self.floor.carried = {
                (rows[k], cols[k]): (ids[k], pods[k]) for k in np.flatnonzero(a.pod_id >= 0).tolist()
            }
        if self.external:  # a station serves a pod an external unit brings like any other
            for u in self.external.values():
                if u.pod_id >= 0:
                    self.floor.carried[(u.row, u.col)] = (u.unit_id, u.pod_id)

    def _titan_index(self, unit) -> int:
        return self._titan_pos[unit.unit_id]

    # ------------------------------------------------------------------ world

    def _build_world(self, gui: bool) -> None:
        try:
            from fctwin.sim.world import World, WorldSpec
        except ImportError:  # the PyBullet world module is optional for headless tests
            return
        sc = self.scene
        # External units get bodies after the simulated ones (index len(titans) + k).
        self._titan_pos = {
            uid: k for k, uid in enumerate([*(t.unit_id for t in self.titans), *self.external])
        }
        cells, heads = self._world_cells()
        spec = WorldSpec(
            cell_size_m=sc.cell_size_m,
            cell_codes=np.asarray(sc.grid),
            pod_cells=np.asarray(sc.pods.home_cells, dtype=np.int32),
            n_units=len(self._titan_pos),
            unit_cells=cells,
            unit_headings=heads,
        )
        # Headless: a pod gets its PyBullet body when it first moves (see `World`, lazy_pods).
        self.world = World(spec, gui=gui, lazy_pods=not gui)
        for unit, s in zip(self.stations, sc.stations, strict=True):
            # Someone watching a physics run sees the real cells (arms moving) in the world's client;
            # headless, each cell keeps its own client (independent, reproducible) and the world
            # shows a static model.
            live = gui and getattr(unit, "fidelity", "fast") == "physics"
            _, origin = self.world.add_station_model(
                s.station_id, s.cell, s.unit, arms=getattr(unit, "arms", 3), bodies=not live
            )
            if live:
                unit.attach_world(self.world.client_id, origin)
        if self.external:
            from fctwin.sim.world import assets as world_assets

            for uid in self.external:
                self.world.set_unit_color(self._titan_pos[uid], world_assets.RGBA_UNIT_EXTERNAL)
        if gui:
            self._gui_labels()

    def _gui_labels(self) -> None:
        """GUI only: a label over each station, dock and charger; the camera straight down (T/O keys
        switch between top-down and oblique); units recoloured by state at each world sync."""
        from fctwin.sim.world.frames import xy_from_cell

        cm = self.scene.cell_size_m
        for s in self.scene.stations:
            x, y = xy_from_cell(s.cell[0], s.cell[1], cm)
            self.world.add_label(f"{s.station_id} {s.kind}/{s.unit}", (x, y, 2.6), rgb=(0.05, 0.05, 0.4))
        for r, c in self.scene.dock_cells:
            x, y = xy_from_cell(r, c, cm)
            self.world.add_label("dock", (x, y, 0.4), rgb=(0.4, 0.25, 0.1))
        for r, c in self.scene.charge_cells:
            x, y = xy_from_cell(r, c, cm)
            self.world.add_label("charger", (x, y, 0.4), rgb=(0.5, 0.45, 0.0))
        self.world.set_camera("top")
        self._gui_state = [""] * len(self.titans)

    def _gui_colours(self) -> None:
        """Recolour simulated units whose reported state changed (GUI runs only; a few calls a step)."""
        from fctwin.sim.world import assets as world_assets

        if (view := self.world.camera_keys()) is not None:
            self.world.set_camera(view)
        palette = world_assets.RGBA_UNIT_STATE
        last = self._gui_state
        for k, t in enumerate(self.titans):
            mode = t.mode
            if mode == UnitMode.FAILED:
                name = "failed"
            elif mode == UnitMode.CHARGING:
                name = "charging"
            elif t.pod_id >= 0:
                name = "carrying"
            elif mode == UnitMode.IDLE:
                name = "idle"
            else:
                name = "to pod"
            if name != last[k]:
                last[k] = name
                self.world.set_unit_color(k, palette[name])

    def _world_cells(self) -> tuple[np.ndarray, np.ndarray]:
        """int32[N, 2] cells and int8[N] headings of every world body: simulated, then external."""
        a = self.arrays
        if a is None:
            units = [(t.cell, t.heading) for t in self.titans]
            units += [((u.row, u.col), u.heading) for u in self.external.values()]
            cells = np.array([c for c, _ in units], dtype=np.int32).reshape(-1, 2)
            return cells, np.array([h for _, h in units], dtype=np.int8)
        ext = list(self.external.values())
        cells = np.empty((a.n + len(ext), 2), dtype=np.int32)
        heads = np.empty(a.n + len(ext), dtype=np.int8)
        cells[: a.n, 0], cells[: a.n, 1], heads[: a.n] = a.row, a.col, a.heading
        for k, u in enumerate(ext, start=a.n):
            cells[k] = (u.row, u.col)
            heads[k] = u.heading
        return cells, heads

    def _sync_world_unit(self, unit, cell: Cell, heading: int) -> None:
        """Bring one unit's world pose to ``cell`` for a lift or set-down check (headless runs sync
        poses lazily; the body itself follows at the minute's sync, see `World.note_unit_cell`)."""
        if self._world_sync_steps == 1:
            return
        self.world.note_unit_cell(self._titan_index(unit), cell, heading)

    def sync_world(self) -> None:
        """Set every unit's world pose (and pod) from the floor now (headless runs otherwise lag up
        to a minute)."""
        if self.world is not None:
            self.flush_world(now=True)
            self.world.set_units_from_cells(*self._world_cells())

    def _update_world(self, prev) -> None:
        if self.step_index % self._world_sync_steps:
            return
        if getattr(self, "_gui_state", None) is not None:
            self._gui_colours()
        cells, heads = self._world_cells()
        if self.realtime_factor:
            prev += [((u.row, u.col), u.heading) for u in self.external.values()]
            prev_cells = np.array([p[0] for p in prev], dtype=np.int32).reshape(-1, 2)
            prev_heads = np.array([p[1] for p in prev], dtype=np.int8)
            self.world.render_step(
                (prev_cells, prev_heads), (cells, heads), self.step_s / self.realtime_factor
            )
        else:
            self.world.set_units_from_cells(cells, heads)


__all__ = ["FleetHost", "SimFloor", "make_station_unit"]


if __name__ == "__main__":
    import sys

    from fctwin.network.fleet_link import fleet_process_main

    sys.exit(fleet_process_main(prog="fctwin.sim.fleet_host"))
