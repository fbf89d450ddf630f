"""The numeric state of Titan drive units in arrays, stepped together by one kernel.

A `fctwin.robots.titan.Titan` is a view onto one row of a `TitanArrays`: its cell, heading, mode,
pod, battery, timers and pending action live here, not on the object. A Titan built on its own (a
robot program, the contract checker) owns a one-row `TitanArrays`; the fleet host builds one
`TitanArrays` for all its simulated Titans and steps them with one call (`TitanArrays.step`), where
stepping 2,000 `Titan` objects one by one was a third of its time per tick. Either way every step
runs the same kernel, so a fleet stepped as arrays is N Titan units by construction: same state
machine, same battery, same events.

`step_titans` is the kernel (numba); `step_titans_reference` is the same step written plainly,
unit by unit, as `Titan.step` read before the arrays (tests check the two agree bit for bit, also
with ``NUMBA_DISABLE_JIT=1``). The kernel writes what happened to each unit into ``flags``
(`EV_DONE`, `EV_BATTERY_LOW`, `EV_FAILED`), ``done_op`` and ``done_pod``; `Titan` turns a flagged
row into its `UnitEvent`s, so only the few units with news cost Python work.
"""

from __future__ import annotations

import numba
import numpy as np

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


# The kernel is the reference compiled: one text, so the two cannot drift apart.
step_titans = numba.njit(**_NUMBA_OPTS)(step_titans_reference)


_warm = False


def _warm_kernel() -> None:
    """Load (or compile) the kernel now, once per process: at a unit's construction, in start-up,
    rather than at its first step, in the middle of a run (a robot's or fleet host's first tick then
    stalled for the load: up to seconds on a busy machine, long enough to miss a liveness window)."""
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
        return (kernel or step_titans)(
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
        x = self.battery_wh / self.cap_wh
        y = x * 1e6
        k = np.floor(y + 0.5)
        d = y - k
        ok = (x > 0.0) & (x < 1e6) & (d > -0.4999) & (d < 0.4999)
        out = (k / 1e6).tolist()
        if not ok.all():
            for i in np.flatnonzero(~ok).tolist():
                out[i] = round(float(x[i]), 6)
        return out
