"""The shift plan: which crew is on the floor when, and what happens at a handover.

A scene's ``[[labour.shifts]]`` give each shift its run hours (``start_h``..``end_h``), its
staffing per person-worked station and its pool (validated in `fctwin.sim.scene.shifts`). The
calendar (`ShiftCalendar`) lays them end to end: with ``shift_cycle_h`` the plan repeats every
cycle (a daily plan under a 72-hour run), without it the plan runs once. Between shifts, and after
the last one of a plan that does not repeat, lies a gap with nobody on the floor (the scene must
allow it: ``allow_gaps``).

The handover (`LabourBoard._handover`, when a shift's end is reached) is a clean cut, the way
the time clock sees it:

- everyone of the outgoing shift stops being paid at its end: at stations, walking (to a station or
  to the pool, a lend included), in the pool, on break (their return is cancelled), and the people
  an outage sent to the pool;
- the incoming shift takes the stations per its own plan: whatever the agent or the shift lead
  moved ends with the shift. A station that goes from nobody to somebody pays ``open_s`` of
  set-up, paid, as any opening; a station that keeps people changes crews at once (no paid overlap:
  a handover briefing is not modelled, and we found no public figure for one);
- a station down (outage) at the handover stays down; its planned people go to the pool and walk
  to it when it is repaired, as the run's first crew does.

Breaks: the run-wide ``[[labour.breaks]]`` stay absolute (``at_h``), and a break falling in a shift
takes that shift's people. A shift's own ``breaks`` (``after_h`` from its start) come with the shift
wherever the calendar puts it (`ShiftCalendar.breaks_until`): a daily plan's lunch break every day
of a week-long run without listing each one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

GAP = "(nobody)"  # the name of a stretch with no shift on the floor


@dataclass(frozen=True)
class ShiftPlan:
    """One shift of the plan: run seconds from the start of the cycle, staffing, pool."""

    name: str
    start_s: float
    end_s: float
    staffing: dict[str, int]  # every person-worked station (0 = closed for this shift)
    pool: int  # associates on this shift (>= the staffing total; the rest float)
    # the shift's own breaks: (seconds after its start, duration s, associates at once)
    breaks: tuple[tuple[float, float, int], ...] = ()


@dataclass(frozen=True)
class ShiftSpan:
    """One shift as it happens in the run: its plan, its run seconds, its place in the run (``no``)."""

    no: int
    plan: ShiftPlan
    start_s: float
    end_s: float  # math.inf for the gap after a plan that does not repeat


class ShiftCalendar:
    """The shifts laid end to end over the run (gaps are shifts with nobody: name `GAP`)."""

    def __init__(self, shifts: tuple[ShiftPlan, ...], stations: list[str], cycle_s: float | None = None):
        if not shifts:
            raise ValueError("a shift calendar needs at least one shift")
        self.cycle_s = cycle_s
        end_s = cycle_s if cycle_s is not None else max(s.end_s for s in shifts)
        nobody = {sid: 0 for sid in stations}
        segs: list[ShiftPlan] = []
        t = 0.0
        for s in sorted(shifts, key=lambda s: s.start_s):
            if s.start_s > t:
                segs.append(ShiftPlan(GAP, t, s.start_s, nobody, 0))
            segs.append(s)
            t = s.end_s
        if t < end_s:
            segs.append(ShiftPlan(GAP, t, end_s, nobody, 0))
        self.segments = tuple(segs)
        self._nobody = nobody

    def breaks_until(self, end_s: float) -> list[tuple[float, float, int]]:
        """Every shift's own breaks as (run second, duration s, associates), for each time the
        calendar puts the shift on the floor before ``end_s`` (a break starting at or after it is
        not taken)."""
        out: list[tuple[float, float, int]] = []
        cycles = 1 if self.cycle_s is None else max(1, math.ceil(end_s / self.cycle_s))
        for c in range(cycles):
            off = 0.0 if self.cycle_s is None else c * self.cycle_s
            for seg in self.segments:
                for after_s, duration_s, n in seg.breaks:
                    at_s = off + seg.start_s + after_s
                    if at_s < end_s:
                        out.append((at_s, duration_s, n))
        return sorted(out)

    def at(self, t_s: float) -> ShiftSpan:
        """The shift on the floor at run second ``t_s`` (a shift holds from its start to just before
        its end)."""
        n = len(self.segments)
        if self.cycle_s is None:
            for k, seg in enumerate(self.segments):
                if t_s < seg.end_s:
                    return ShiftSpan(k, seg, seg.start_s, seg.end_s)
            last = self.segments[-1].end_s
            return ShiftSpan(n, ShiftPlan(GAP, last, math.inf, self._nobody, 0), last, math.inf)
        cycle = math.floor(t_s / self.cycle_s)
        local = t_s - cycle * self.cycle_s
        for k, seg in enumerate(self.segments):
            if local < seg.end_s:
                off = cycle * self.cycle_s
                return ShiftSpan(cycle * n + k, seg, off + seg.start_s, off + seg.end_s)
        # float rounding at the cycle's very end: the next cycle's first shift
        off = (cycle + 1) * self.cycle_s
        seg = self.segments[0]
        return ShiftSpan((cycle + 1) * n, seg, off + seg.start_s, off + seg.end_s)
