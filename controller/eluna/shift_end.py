"""The end of the shift, as a shift manager sees it (scene ``[agent] shift_end``, off by default).

The agent judges a plan over a fixed horizon (30 minutes) and weighs the work still open at its end
at half a unit (`fctwin.controller.eluna.agent.OPEN_WORK_WEIGHT`): inside the shift the same people
work it down after the horizon. Near the end of the shift neither holds. A lookahead that runs past
the end counts units the shift never makes, and the work open when the shift ends is carried into
the next shift whole: nobody of this shift will do it. And what the forecast says an hour ahead no
longer binds a lend once the hour lies beyond the end: a stower lent to pick at 11:20 of a shift
ending at 12:00 is not needed at stow at 12:20.

So, with the option on:

- the lookahead's horizon ends at the shift's end (`horizon_to_end_s`; no decision at the end
  itself),
- when it does, the open work at its end is weighed whole (`SHIFT_END_OPEN_WEIGHT`),
- the lend and way-home checks look only as far ahead as the shift lasts (`horizons_within`),
- in that last horizon the order-cycle guard reads the p95 of every order the horizon saw, the
  open ones at their age then (they are handed to the next shift with it): over the finished
  orders alone, a plan that works an old backlog down finishes old orders and shows a higher p95,
  and the guard would keep the backlog for the next shift (`agent._all_orders_view`),
- and in that last horizon a way back to the plan (a lent person home, parked people called back,
  the charging threshold back) must pay for itself like any plan: the plan's tidiness is worth
  nothing to a shift that is ending, only the work open at its end is. A lent person's way home is
  then guarded on all work alike (`ElunaAgent.keeps_total_service`), cartons with lines: both go to
  the next shift.

The labour price is untouched: a person called in for the last half hour costs that half hour at
the run's units per labour hour, as before.
"""

from __future__ import annotations

# Work open when the shift ends is carried into the next shift whole (inside the shift: 0.5).
SHIFT_END_OPEN_WEIGHT = 1.0
# A horizon shorter than this is no decision: a move takes a walk (2 minutes) and a station's
# set-up (3 more) before it does anything.
MIN_HORIZON_S = 60.0


def horizon_to_end_s(t_s: float, horizon_s: float, shift_end_s: float) -> float:
    """The horizon cut at the shift's end (0.0 when less than `MIN_HORIZON_S` is left)."""
    left_s = shift_end_s - t_s
    if left_s < MIN_HORIZON_S:
        return 0.0
    return min(horizon_s, left_s)


def reaches_end(t_s: float, horizon_s: float, shift_end_s: float) -> bool:
    """Whether a horizon of ``horizon_s`` from ``t_s`` reaches the shift's end (1 s of play)."""
    return t_s + horizon_s >= shift_end_s - 1.0


def horizons_within(t_s: float, shift_end_s: float, horizons_min: tuple[int, ...]) -> tuple[int, ...]:
    """The forecast horizons (minutes) that end inside the shift: () when none does, and a check then
    weighs the work of now alone."""
    left_min = (shift_end_s - t_s) / 60.0
    return tuple(h for h in horizons_min if h <= left_min + 1e-9)
