"""The numeric state of Titan drive units in arrays, stepped together by one kernel.

A `TitanRow` is a `fctwin.robots.titan.Titan` whose cell, heading, mode, pod, battery, timers and
pending action live in one row of a `TitanArrays` instead of on the object. A large fleet host
(`fctwin.sim.fleet_host`, from `ARRAY_MIN_UNITS` Titans) builds one `TitanArrays` for all its
simulated Titans and steps them with one call (`TitanArrays.step`), where stepping 2,000 `Titan`
objects one by one was a third of its time per tick. A Titan on its own (a robot program, the
contract checker) and a small fleet's Titans are plain `Titan` objects: for 30 units one kernel call
and the array bookkeeping around it cost more than stepping the objects, and importing numba into a
process that needs it for nothing else cost ~0.7 s of start-up and ~120 MB (fc_small_peak).
Both step the same state machine: `TitanRow` takes its commands through `Titan`'s own code, and the
kernel is checked against `Titan.step` frame for frame (tests/test_titan_arrays.py).

`step_titans()` returns the kernel (numba, compiled or loaded from the cache at the first call in a
process: numba is imported only by code that steps arrays); `step_titans_reference` is the same
step written plainly, unit by unit, as `Titan.step` reads (tests check the two agree bit for bit,
also with ``NUMBA_DISABLE_JIT=1``). The kernel writes what happened to each unit into ``flags``
(`EV_DONE`, `EV_BATTERY_LOW`, `EV_FAILED`), ``done_op`` and ``done_pod``; `Titan` turns a flagged
row into its `UnitEvent`s, so only the few units with news cost Python work.
"""

from __future__ import annotations

import numpy as np

from fctwin.robots.floor import FloorView, may_enter
from fctwin.robots.messages import FORWARD_DELTA, UnitEvent, UnitState
from fctwin.robots.titan import Titan, TitanParams, round_6

# What a unit's timed command is (``timed_op``); 0: none.
TIMED_NONE, TIMED_LIFT, TIMED_SET_DOWN, TIMED_CHARGE = 0, 1, 2, 3
TIMED_NAMES = ("", "lift", "set_down", "charge")
# ``flags`` bits: what a step produced for a unit.
EV_DONE, EV_BATTERY_LOW, EV_FAILED = 1, 2, 4

# Action codes and modes as plain ints (fctwin.robots.messages.Action / UnitMode).
_F, _R, _C, _W = 0, 1, 2, 3
_IDLE, _MOVING, _STOPPED = 0, 1, 6
# Row and column offsets of a forward step per heading (E, S, W, N): messages.FORWARD_DELTA.
_DR = np.array([0, 1, 0, -1], dtype=np.int64)
_DC = np.array([1, 0, -1, 0], dtype=np.int64)

# Same options as the planner's kernels: cached on disk, no fastmath (the kernel must give the
# reference's doubles bit for bit).
_NUMBA_OPTS = {"cache": True, "nogil": True, "fastmath": False}


def step_titans_reference(
    row, col, heading, mode, pod_id, battery_wh, busy_until_s, pending, timed_op, timed_arg,
    charge_until_frac, stopped, distance_m, cap_wh, charge_w, moving_w, idle_w, low_wh, cell_m,
    dr, dc, t_s, dt_s, lo, hi, flags, done_op, done_pod,
):  # fmt: skip
    """Advance units ``lo..hi-1`` from ``t_s - dt_s`` to ``t_s``; return how many have news.

    Per unit, in order: a stopped unit waits; a timed command (lift, set down, charge) finishes when
    its time is up (a charge when the battery reaches its target; until then it neither moves nor
    drains); otherwise the pending action (forward, rotate, wait) is done and cleared. Then the
    battery drains by the moving or idle power (a timed command draws motor power), flags the
    crossing of the low mark, and an empty battery stops the unit for good.
    """
    news = 0
    for i in range(lo, hi):
        flags[i] = 0
        done_op[i] = TIMED_NONE
        done_pod[i] = -1
        moving = False
        if stopped[i]:
            pending[i] = _W
        elif timed_op[i] != TIMED_NONE:
            op = timed_op[i]
            if op == TIMED_CHARGE:
                charged = battery_wh[i] + charge_w[i] * dt_s / 3600.0
                battery_wh[i] = charged if charged < cap_wh[i] else cap_wh[i]
                if battery_wh[i] < charge_until_frac[i] * cap_wh[i]:
                    continue  # still charging: no drain this step
                timed_op[i] = TIMED_NONE
                mode[i] = _IDLE
                flags[i] = EV_DONE
                done_op[i] = TIMED_CHARGE
            elif t_s + 1e-9 >= busy_until_s[i]:
                timed_op[i] = TIMED_NONE
                mode[i] = _IDLE
                flags[i] = EV_DONE
                done_op[i] = op
                if op == TIMED_LIFT:
                    pod_id[i] = timed_arg[i]
                    done_pod[i] = pod_id[i]
                else:
                    done_pod[i] = pod_id[i]
                    pod_id[i] = -1
            moving = True  # lifting draws motor power too
        else:
            action = pending[i]
            pending[i] = _W
            if action == _F:
                h = heading[i]
                row[i] += dr[h]
                col[i] += dc[h]
                distance_m[i] += cell_m[i]
                moving = True
                mode[i] = _MOVING
            elif action in (_R, _C):
                heading[i] = (heading[i] + (1 if action == _R else 3)) % 4
                moving = True
                mode[i] = _MOVING
            else:
                mode[i] = _IDLE
        before = battery_wh[i]
        after = before - (moving_w[i] if moving else idle_w[i]) * dt_s / 3600.0
        battery_wh[i] = after if after > 0.0 else 0.0
        if before > low_wh[i] >= battery_wh[i]:
            flags[i] |= EV_BATTERY_LOW
        if battery_wh[i] <= 0.0 and not stopped[i]:
            stopped[i] = True
            mode[i] = _STOPPED
            flags[i] |= EV_FAILED
        if flags[i]:
            news += 1
    return news


_kernel = None


def step_titans():
    """The kernel: the reference compiled (one text, so the two cannot drift apart).

    numba is imported here, at the first call in a process, not when this module is imported: a
    process with no `TitanArrays` (a robot program, a small fleet's host) never pays for it.
    """
    global _kernel
    if _kernel is None:
        import numba

        _kernel = numba.njit(**_NUMBA_OPTS)(step_titans_reference)
    return _kernel


_warm = False


def _warm_kernel() -> None:
    """Load (or compile) the kernel now, once per process: when the arrays are built, in start-up,
    rather than at the first step, in the middle of a run (a fleet host's first tick then stalled
    for the load: up to seconds on a busy machine, long enough to miss a liveness window)."""
    global _warm
    if not _warm:
        _warm = True
        TitanArrays(0).step(0.0, 0.0)


class TitanArrays:
    """State and limits of ``n`` Titans, one row each. See the module docstring."""

    def __init__(self, n: int):
        self.n = n
        i64, f64 = np.int64, np.float64
        self.row = np.zeros(n, i64)
        self.col = np.zeros(n, i64)
        self.heading = np.zeros(n, i64)
        self.mode = np.zeros(n, i64)
        self.pod_id = np.full(n, -1, i64)
        self.battery_wh = np.zeros(n, f64)
        self.busy_until_s = np.zeros(n, f64)
        self.pending = np.full(n, _W, i64)
        self.timed_op = np.zeros(n, i64)
        self.timed_arg = np.full(n, -1, i64)  # the pod of a lift
        self.charge_until_frac = np.zeros(n, f64)
        self.stopped = np.zeros(n, np.bool_)
        self.distance_m = np.zeros(n, f64)
        # The command id of each timed command, as Python ints (any id a command may carry).
        self.timed_cid: list[int] = [-1] * n
        # limits (TitanParams), per row
        self.cap_wh = np.ones(n, f64)
        self.charge_w = np.zeros(n, f64)
        self.moving_w = np.zeros(n, f64)
        self.idle_w = np.zeros(n, f64)
        self.low_wh = np.zeros(n, f64)
        self.cell_m = np.ones(n, f64)
        # what the last step produced, per row
        self.flags = np.zeros(n, np.int8)
        self.done_op = np.zeros(n, i64)
        self.done_pod = np.full(n, -1, i64)
        _warm_kernel()

    def set_params(self, i: int, params) -> None:
        """Row ``i``'s limits from a `fctwin.robots.titan.TitanParams`."""
        self.cap_wh[i] = params.battery_wh
        self.charge_w[i] = params.charge_power_w
        self.moving_w[i] = params.power_moving_w
        self.idle_w[i] = params.power_idle_w
        self.low_wh[i] = params.low_battery_frac * params.battery_wh
        self.cell_m[i] = params.cell_size_m

    def step(self, t_s: float, dt_s: float, lo: int = 0, hi: int | None = None, *, kernel=None) -> int:
        """Step rows ``lo..hi-1`` to ``t_s``; return how many have news (``flags`` non-zero)."""
        return (kernel or step_titans())(
            self.row, self.col, self.heading, self.mode, self.pod_id, self.battery_wh,
            self.busy_until_s, self.pending, self.timed_op, self.timed_arg, self.charge_until_frac,
            self.stopped, self.distance_m, self.cap_wh, self.charge_w, self.moving_w, self.idle_w,
            self.low_wh, self.cell_m, _DR, _DC, float(t_s), float(dt_s), int(lo),
            self.n if hi is None else int(hi), self.flags, self.done_op, self.done_pod,
        )  # fmt: skip

    def next_cells(self) -> tuple[np.ndarray, np.ndarray]:
        """Where each unit's pending action puts it at the end of this step (rows, cols)."""
        fwd = (self.pending == _F) & (self.timed_op == TIMED_NONE) & ~self.stopped
        h = self.heading
        return self.row + np.where(fwd, _DR[h], 0), self.col + np.where(fwd, _DC[h], 0)

    def battery_fracs(self) -> list[float]:
        """Every row's ``round(battery_wh / cap_wh, 6)``, bit for bit (`fctwin.robots.titan.round_6`,
        vectorised: the few values near a rounding boundary take ``round`` itself)."""
        return self.battery_frac_array().tolist()

    def battery_frac_array(self) -> np.ndarray:
        """`battery_fracs` as a float64 array (the columnar telemetry's column, no list in between)."""
        x = self.battery_wh / self.cap_wh
        y = x * 1e6
        k = np.floor(y + 0.5)
        d = y - k
        ok = (x > 0.0) & (x < 1e6) & (d > -0.4999) & (d < 0.4999)
        out = k / 1e6
        if not ok.all():
            for i in np.flatnonzero(~ok).tolist():
                out[i] = round(float(x[i]), 6)
        return out


def move_refusal(
    floor: FloorView,
    action: int,
    *,
    stopped: bool,
    timed_op: int,
    row: int,
    col: int,
    heading: int,
    loaded: bool,
) -> str | None:
    """Why a Titan in this state refuses a move command with ``action`` (None: it takes it), as
    `Titan._handle_move` decides. The fleet host asks this for the move commands of all its array
    Titans without going through each `TitanRow`."""
    if action not in (0, 1, 2, 3):
        return f"unknown action {action}"
    if action == _W:
        return None
    if stopped:
        return "unit is stopped"
    if timed_op != TIMED_NONE:
        return f"busy with {TIMED_NAMES[timed_op]}"
    if action == _F:
        dr, dc = FORWARD_DELTA[heading]
        target = (row + dr, col + dc)
        if not may_enter(floor, target, loaded=loaded):
            return f"cannot enter {target}"
    return None


def _row_field(name: str, doc: str) -> property:
    """A `TitanRow` attribute stored in its row of the `TitanArrays`, read and written as a Python
    scalar."""

    def get(self):
        return getattr(self._arrays, name).item(self._row)

    def set_(self, value) -> None:
        getattr(self._arrays, name)[self._row] = value

    return property(get, set_, doc=doc)


class TitanRow(Titan):
    """A Titan whose state is row ``row`` of ``arrays``: `Titan`'s commands, contract and events,
    stepped with all the other rows by `TitanArrays.step` (see the module docstring).

    Its fields are properties over the row, so `Titan`'s own command handling reads and writes the
    arrays; only stepping and reporting go through the arrays directly.
    """

    def __init__(
        self,
        *,
        unit_id: str,
        floor: FloorView,
        cell: tuple[int, int],
        heading: int = 0,
        params: TitanParams | None = None,
        arrays: TitanArrays,
        row: int,
    ):
        self._arrays = arrays
        self._row = row
        arrays.set_params(row, params or TitanParams())
        super().__init__(unit_id=unit_id, floor=floor, cell=cell, heading=heading, params=params)

    # The unit's state, in its row of the arrays.
    heading = _row_field("heading", "0 east, 1 south, 2 west, 3 north")
    mode = _row_field("mode", "UnitMode, as an int")
    pod_id = _row_field("pod_id", "the carried pod, -1 for none")
    battery_wh = _row_field("battery_wh", "charge left")
    busy_until_s = _row_field("busy_until_s", "when the timed command (lift, set down) ends")
    distance_m = _row_field("distance_m", "driven so far")
    _pending_action = _row_field("pending", "this step's action (Action), W once done")
    _charge_until = _row_field("charge_until_frac", "a charge's target, as a fraction of capacity")
    _stopped = _row_field("stopped", "stopped (by a stop command or an empty battery)")

    @property
    def cell(self) -> tuple[int, int]:
        a, i = self._arrays, self._row
        return (a.row.item(i), a.col.item(i))

    @cell.setter
    def cell(self, cell: tuple[int, int]) -> None:
        self._arrays.row[self._row], self._arrays.col[self._row] = cell

    @property
    def _timed(self) -> tuple[str, int, object] | None:
        """The timed command under way: (op, command id, argument), or None."""
        a, i = self._arrays, self._row
        op = a.timed_op.item(i)
        if op == TIMED_NONE:
            return None
        return (TIMED_NAMES[op], a.timed_cid[i], a.timed_arg.item(i) if op == TIMED_LIFT else None)

    @_timed.setter
    def _timed(self, timed: tuple[str, int, object] | None) -> None:
        a, i = self._arrays, self._row
        if timed is None:
            a.timed_op[i] = TIMED_NONE
            return
        op, cid, arg = timed
        a.timed_op[i] = TIMED_NAMES.index(op)
        a.timed_cid[i] = cid
        a.timed_arg[i] = -1 if arg is None else int(arg)

    def state(self) -> UnitState:
        a, i = self._arrays, self._row
        return UnitState(
            self.unit_id,
            self.unit_type,
            a.mode.item(i),
            a.row.item(i),
            a.col.item(i),
            a.heading.item(i),
            a.pod_id.item(i),
            round_6(a.battery_wh.item(i) / self.params.battery_wh),
            a.busy_until_s.item(i),
        )

    def step(self, t_s: float, dt_s: float) -> list[UnitEvent]:
        # The kernel the fleet host runs over all rows at once, here over this row alone.
        if self._arrays.step(t_s, dt_s, self._row, self._row + 1):
            return self.step_events(t_s)
        return []

    def step_events(self, t_s: float) -> list[UnitEvent]:
        """The events of this unit's last step, from the flags the kernel left in its row, as
        `Titan.step` makes them."""
        a, i = self._arrays, self._row
        flags = a.flags.item(i)
        events: list[UnitEvent] = []
        if flags & EV_DONE:
            op = a.done_op.item(i)
            cid = a.timed_cid[i]
            if op == TIMED_CHARGE:
                events.append(UnitEvent(self.unit_id, "done", t_s, cid, {"op": "charge"}))
            else:
                pod = a.done_pod.item(i)
                events.append(UnitEvent(self.unit_id, "done", t_s, cid, {"op": TIMED_NAMES[op], "pod": pod}))
        if flags & EV_BATTERY_LOW:
            frac = a.battery_wh.item(i) / self.params.battery_wh
            events.append(UnitEvent(self.unit_id, "battery_low", t_s, -1, {"frac": frac}))
        if flags & EV_FAILED:
            events.append(UnitEvent(self.unit_id, "failed", t_s, -1, {"reason": "battery empty"}))
        return events
