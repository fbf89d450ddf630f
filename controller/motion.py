"""The motion step: passable maps for this tick, the path planner, and its actions as `Move`s.

`PlannerStep` is one part of `Dispatcher` (a mixin over the same state). The planner is the
"planner" policy family (`fctwin.controller.planning`, registry `PLANNERS`).
"""

from __future__ import annotations

import time

import numpy as np

from fctwin.controller.planning import FleetArrays
from fctwin.controller.records import AT_STATION
from fctwin.robots.messages import UNIT_ID_SEPARATOR, Action, Move, MoveColumns


class PlannerStep:
    """Goals -> planner -> moves; mixed into `Dispatcher`."""

    def _loaded_map(self) -> np.ndarray:
        m = self.static_loaded | (self.storage_mask & ~self.pods_mask)
        return m

    def _plan(self, commands: list) -> None:
        gm = self.grid_maps
        # `_loaded_map` written in place: three temporaries fewer every step
        out = gm.passable_loaded
        np.invert(self.pods_mask, out=out)
        np.logical_and(self.storage_mask, out, out=out)
        np.logical_or(self.static_loaded, out, out=out)
        np.copyto(gm.passable_unloaded, self.walk_unloaded)
        for cell in self.blocked_cells:
            gm.passable_loaded[cell] = False
            gm.passable_unloaded[cell] = False
        # A failed unit's cell is an obstacle for everyone else; a unit being served holds the
        # station cell (PIBT otherwise pushes it off for passers-by). One pass collecting indices:
        # writing the numpy array element by element cost more than the test.
        hold = [
            i
            for i, u in enumerate(self.units)
            if u.failed or (u.trip is not None and u.trip.phase == AT_STATION)
        ]
        if hold:
            self.active[hold] = False
        fleet = FleetArrays(self.pos, self.heading, self.goal, self.loaded, self.active)
        t0 = time.perf_counter()
        self.planner.step(gm, fleet, self.actions)
        self.stats["planner_s"] += time.perf_counter() - t0
        self.stats["planner_steps"] += 1
        if self.move_columns:
            # One `MoveColumns` block for the link to send (a large fleet's fleet host reads it):
            # the same moves, command ids and order as the `Move`s below, without an object each.
            moving = np.flatnonzero(self.actions != int(Action.W))
            cid = self.next_command_id
            self.next_command_id = cid + len(moving)
            unit_ids = self._unit_ids
            self.move_block = MoveColumns.from_arrays(
                UNIT_ID_SEPARATOR.join([unit_ids[i] for i in moving.tolist()]),
                self.step,
                np.arange(cid, cid + len(moving), dtype=np.int64),
                self.actions[moving],
            )
            return
        # plain ints: indexing the numpy array per unit cost more than building the Move
        # command ids inline (as `_cid` gives them, in unit order): a method call per move was a
        # measurable share of the tick with 2,000 units
        units, step, wait = self.units, self.step, int(Action.W)
        cid = self.next_command_id
        append = commands.append
        for i, action in enumerate(self.actions.tolist()):
            if action != wait:
                append(Move(cid, units[i].unit_id, action, step))
                cid += 1
        self.next_command_id = cid
