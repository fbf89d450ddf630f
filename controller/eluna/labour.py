"""People on the floor: staffing per person-worked station, moves with walking time, breaks, outages.

The rate model (`RateModel`) says how much faster ``n`` associates work one station than one
associate does. People at one station share one pod face and one put wall, so each added person
adds less: ``speed(n) = n / (1 + coupling * (n - 1))``, an interference (Amdahl-like) form. With
the default ``coupling = 0.35``: 1 person 1.00x, 2 people 1.48x, 3 people 1.76x, 4 people 1.95x.
It is an assumption, not a measurement: the form is the usual one for crews sharing a work face
(diminishing returns, a ceiling of ``1 / coupling``), and the coupling is set so that a second
person adds about half a person (a pick station is bounded by how fast pods are presented and how
many hands reach one face at once). Scenes can change it (``[labour.rate_model]``).

`LabourBoard` holds who works where and applies every change through the dispatcher's entry point
`Dispatcher.set_station_staff` when it physically happens: an associate moved between stations
leaves at once and arrives ``walk_s`` later (walk plus changeover); a closed station opening
needs ``open_s`` more (set-up). Breaks take people off their station and bring them back;
outages close a station for a while (its people go to the pool, and walk back when it is repaired
if they are still on call: the plan holds, for every arm alike). The board also counts paid
labour: associates at stations or walking between them (people in the pool, on break or sent home
are not counted; report units per hour beside units per labour hour).

With a shift plan (``[[labour.shifts]]``, `fctwin.controller.eluna.shifts`) the board hands the
floor over at each shift's end (`LabourBoard._handover`): the outgoing crew is paid to its end
wherever it is, the incoming takes the stations per its plan, and the paid time is kept per shift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from fctwin.controller.eluna.shifts import ShiftCalendar, ShiftSpan

POOL = "pool"  # the floater pool: people on shift not assigned to a station


@dataclass(frozen=True)
class RateModel:
    coupling: float = 0.35

    def speed(self, associates: int) -> float:
        """How many times one associate's pace ``associates`` people reach together (0 for none)."""
        if associates <= 0:
            return 0.0
        return associates / (1.0 + self.coupling * (associates - 1))


@dataclass(frozen=True)
class BreakPlan:
    at_s: float
    duration_s: float
    associates: int  # people going on break at once (taken from the most-staffed stations)


@dataclass(frozen=True)
class Outage:
    station_id: str
    at_s: float
    duration_s: float


@dataclass(frozen=True)
class LabourConfig:
    """The shift plan: staffing per station, the pool, delays and the rate model."""

    staffing: dict[str, int]  # every person-worked station, initial associates
    kinds: dict[str, str]  # station id -> "pick" | "stow"
    pool: int  # associates on shift (>= sum of staffing; the rest float)
    walk_s: float = 120.0
    open_s: float = 180.0
    max_per_station: int = 3
    rate: RateModel = field(default_factory=RateModel)
    breaks: tuple[BreakPlan, ...] = ()
    outages: tuple[Outage, ...] = ()
    # the shift plan (`fctwin.controller.eluna.shifts`); None: one crew all run (``staffing`` and
    # ``pool`` above), otherwise they are the first shift's
    shifts: ShiftCalendar | None = None

    @property
    def default(self) -> bool:
        """One associate per station, nobody floating, no breaks, outages or shifts: the plain scene."""
        return (
            all(n == 1 for n in self.staffing.values())
            and self.pool == len(self.staffing)
            and not self.breaks
            and not self.outages
            and self.shifts is None
        )


@dataclass
class Move:
    """People on their way: ``n`` associates arriving at ``station`` (or the pool) at ``due_s``."""

    due_s: float
    station: str
    n: int
    source: str


class LabourBoard:
    """Who works where, now and in transit. See the module docstring."""

    def __init__(self, config: LabourConfig):
        self.config = config
        self.staffed: dict[str, int] = dict(config.staffing)
        self.floaters = config.pool - sum(config.staffing.values())
        if self.floaters < 0:
            raise ValueError(f"labour pool {config.pool} is smaller than the staffing plan")
        self.moving: list[Move] = []
        self.on_break: list[Move] = []
        self.down_until: dict[str, float] = {}  # station -> end of its outage
        self._sent_off: dict[str, int] = {}  # station -> people its outage sent to the pool
        self._breaks = sorted(config.breaks, key=lambda b: b.at_s)
        self._outages = sorted(config.outages, key=lambda o: o.at_s)
        self.paid_s = 0.0  # associate-seconds at stations or walking
        self._t_s = 0.0
        self.applied: dict[str, int] = {}  # what the dispatcher was last told
        # the shift on the floor (None: one crew all run) and the paid time of those that ended
        self.shift: ShiftSpan | None = config.shifts.at(0.0) if config.shifts is not None else None
        self.shift_log: list[dict] = []
        self._shift_paid0_s = 0.0

    # ------------------------------------------------------------------ the shift plan

    @property
    def shift_no(self) -> int:
        """Which shift of the run is on the floor (0 without a shift plan: the run is one shift)."""
        return self.shift.no if self.shift is not None else 0

    @property
    def shift_end_s(self) -> float:
        """When the shift on the floor ends, in run seconds (inf without a shift plan)."""
        return self.shift.end_s if self.shift is not None else math.inf

    @property
    def plan_staffing(self) -> dict[str, int]:
        """The staffing the plan gives each station now: the current shift's."""
        return dict(self.shift.plan.staffing) if self.shift is not None else dict(self.config.staffing)

    def shift_rows(self, t_s: float) -> list[dict]:
        """The paid hours of every shift so far, the one on the floor counted to ``t_s``."""
        rows = list(self.shift_log)
        if self.shift is not None:
            rows.append(self._shift_row(min(t_s, self.shift.end_s), self.paid_s))
        return rows

    def _shift_row(self, end_s: float, paid_s: float) -> dict:
        sh = self.shift
        return {
            "no": sh.no,
            "shift": sh.plan.name,
            "start_h": round(sh.start_s / 3600.0, 4),
            "end_h": round(end_s / 3600.0, 4),
            "labour_h": round((paid_s - self._shift_paid0_s) / 3600.0, 4),
        }

    def _handover(self, t_s: float, d) -> None:
        """The shift on the floor ends at ``t_s`` and the next takes over (`fctwin.controller.eluna.shifts`:
        the outgoing crew stops being paid wherever it is; the incoming one takes the stations per its
        plan, a closed station opening after ``open_s``; a station down stays down)."""
        self.shift_log.append(self._shift_row(t_s, self.paid_s))
        self._shift_paid0_s = self.paid_s
        before = dict(self.staffed)
        self.shift = nxt = self.config.shifts.at(t_s)
        # everyone of the outgoing shift goes home: walking, lent, on break, parked in the pool
        self.moving.clear()
        self.on_break.clear()
        self._sent_off.clear()
        plan = nxt.plan.staffing
        self.floaters = nxt.plan.pool - sum(plan.values())
        for sid in self.staffed:
            n = plan.get(sid, 0)
            if sid in self.down_until:  # stays down; its people wait in the pool for the repair
                self.staffed[sid] = 0
                self.floaters += n
                if n:
                    self._sent_off[sid] = n
            elif n > 0 and before[sid] == 0:  # a closed station opens: set-up, paid
                self.staffed[sid] = 0
                self.moving.append(Move(t_s + self.config.open_s, sid, n, "handover"))
            else:
                self.staffed[sid] = n
            self._tell(d, sid, self.staffed[sid])
        self.moving.sort(key=lambda m: m.due_s)
        note = getattr(d, "note_handover", None)
        if note is not None:
            note(nxt.plan.name, nxt.no, nxt.plan.pool)

    # ------------------------------------------------------------------ the clock

    def start(self, d) -> None:
        """Tell the dispatcher the plan's staffing where it differs from one associate."""
        for sid, n in self.staffed.items():
            if n != 1:
                self._tell(d, sid, n)
            else:
                self.applied[sid] = 1

    def advance(self, t_s: float, d) -> None:
        """Bring the floor to time ``t_s``: handovers, arrivals, breaks, outages; count paid time."""
        # a shift's end inside this step: its crew is paid to the end, the next crew from there
        while self.shift is not None and self.shift.end_s <= t_s:
            end_s = max(self._t_s, self.shift.end_s)
            self.paid_s += (end_s - self._t_s) * self.paid_now()
            self._t_s = end_s
            self._handover(end_s, d)
        self.paid_s += (t_s - self._t_s) * self.paid_now()
        self._t_s = t_s
        if self.moving and self.moving[0].due_s <= t_s or self.on_break and self.on_break[0].due_s <= t_s:
            self._arrivals(t_s, d)
        while self._outages and self._outages[0].at_s <= t_s:
            o = self._outages.pop(0)
            self.down_until[o.station_id] = o.at_s + o.duration_s
            n = self.staffed.get(o.station_id, 0)
            self.staffed[o.station_id] = 0
            self.floaters += n
            self._sent_off[o.station_id] = self._sent_off.get(o.station_id, 0) + n
            self._tell(d, o.station_id, 0)
            # people walking there turn back to the pool
            for m in self.moving:
                if m.station == o.station_id:
                    m.station = POOL
        for sid, until in list(self.down_until.items()):
            if until <= t_s:
                del self.down_until[sid]
                # the plan holds: the station's people walk back when it is repaired, those of
                # them still on call (a manager may have sent them elsewhere meanwhile)
                back = min(self._sent_off.pop(sid, 0), self.floaters)
                if back > 0:
                    self.floaters -= back
                    self.moving.append(Move(t_s + self.config.walk_s, sid, back, "repaired"))
                    self.moving.sort(key=lambda m: m.due_s)
        while self._breaks and self._breaks[0].at_s <= t_s:
            b = self._breaks.pop(0)
            for _ in range(b.associates):
                sid = max(self.staffed, key=lambda s: (self.staffed[s], s))
                if self.staffed[sid] <= 0:
                    break
                self.staffed[sid] -= 1
                self.on_break.append(Move(t_s + b.duration_s, sid, 1, "break"))
                self._tell(d, sid, self.staffed[sid])
            self.on_break.sort(key=lambda m: m.due_s)

    def _arrivals(self, t_s: float, d) -> None:
        for lst in (self.moving, self.on_break):
            due = [m for m in lst if m.due_s <= t_s]
            for m in due:
                lst.remove(m)
                if m.station == POOL or m.station in self.down_until:
                    self.floaters += m.n
                else:
                    self.staffed[m.station] += m.n
                    self._tell(d, m.station, self.staffed[m.station])

    def paid_now(self) -> int:
        return sum(self.staffed.values()) + sum(m.n for m in self.moving)

    def _tell(self, d, sid: str, n: int) -> None:
        if self.applied.get(sid) == n:
            return
        self.applied[sid] = n
        if n > 0:
            d.set_station_staff(sid, n, self.config.rate.speed(n))
        else:  # closing: say when people are known to be back, so the dispatcher can drain it at once
            d.set_station_staff(sid, 0, 0.0, reopen_s=self.reopen_s(sid))

    def reopen_s(self, sid: str) -> float:
        """When people are known now to start work again at ``sid`` (inf: nobody is due): the
        first of those walking there or back from a break, its people walking back once its
        outage's planned end has passed, the next shift's crew when its plan staffs it. A manager's
        later call is not known, so a station closed by a release or a move away has none."""
        due = [m.due_s for m in (*self.moving, *self.on_break) if m.station == sid]
        if sid in self.down_until and self._sent_off.get(sid, 0) > 0:
            due.append(self.down_until[sid] + self.config.walk_s)
        if self.shift is not None and self.config.shifts is not None and math.isfinite(self.shift.end_s):
            nxt = self.config.shifts.at(self.shift.end_s)
            if nxt.plan.staffing.get(sid, 0) > 0 and sid not in self.down_until:
                due.append(self.shift.end_s + self.config.open_s)
        return min(due, default=math.inf)

    # ------------------------------------------------------------------ the lever

    def infeasible(self, source: str, target: str, n: int) -> str | None:
        """Why moving ``n`` associates from ``source`` to ``target`` cannot be done now (None: it can)."""
        c = self.config
        if n <= 0:
            return "must move at least one associate"
        if source == target:
            return "source and target are the same"
        for sid in (source, target):
            if sid != POOL and sid not in self.staffed:
                return f"{sid} is not a person-worked station"
        have = self.floaters if source == POOL else self.staffed[source]
        if have < n:
            return f"{source} has {have} associate(s) free, not {n}"
        if target in self.down_until:
            return f"{target} is out of service"
        if target != POOL:
            coming = sum(m.n for m in self.moving if m.station == target)
            if self.staffed[target] + coming + n > c.max_per_station:
                return f"{target} would exceed {c.max_per_station} associates"
        return None

    def move(self, t_s: float, source: str, target: str, n: int, d) -> float:
        """Send ``n`` associates from ``source`` to ``target`` now; returns when they start work there.

        Raises ValueError when `infeasible` gives a reason.
        """
        why = self.infeasible(source, target, n)
        if why is not None:
            raise ValueError(why)
        if source == POOL:
            self.floaters -= n
        else:
            self.staffed[source] -= n
            self._tell(d, source, self.staffed[source])
        delay = self.config.walk_s
        if target != POOL and self.staffed[target] == 0:
            delay += self.config.open_s
        due = t_s + delay
        self.moving.append(Move(due, target, n, source))
        self.moving.sort(key=lambda m: m.due_s)
        return due

    def planned(self, sid: str) -> int:
        """Associates at ``sid`` once everyone on the way has arrived."""
        if sid == POOL:
            return self.floaters + sum(m.n for m in self.moving if m.station == POOL)
        return self.staffed.get(sid, 0) + sum(m.n for m in self.moving if m.station == sid)

    def snapshot(self) -> dict:
        out = {
            "staffed": dict(self.staffed),
            "floaters": self.floaters,
            "moving": sum(m.n for m in self.moving),
            "on_break": sum(m.n for m in self.on_break),
            "down": sorted(self.down_until),
        }
        if self.shift is not None:  # (a run without a shift plan keeps the digest it had)
            out["shift"] = {"name": self.shift.plan.name, "no": self.shift.no}
        return out
