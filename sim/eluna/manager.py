"""The run's floor manager: the labour board, the minute digest and forecasts, and who decides.

`FloorManager.build` reads the scene's ``[labour]`` and ``[agent]`` and the run options; the run
loop calls `on_tick` before every dispatcher tick (people arriving, breaks, outages) and
`on_minute` after every minute's KPI row (digest, forecasts, decisions, run-store rows). Modes:

- ``off``: the static plan (baseline (a)): staffing as planned, breaks and outages as they come.
- ``reactive``: the rule-based shift lead (baseline (b), `fctwin.controller.eluna.ShiftLead`).
- ``advise``: the Eluna agent recommends; nothing is applied (the event log is the static plan's).
- ``auto``: the Eluna agent applies its recommendations (with the levers' delays).

A plain scene (no ``[labour]``, agent off) gets no labour board, so its event log is the one it
always had; the digest and forecasts still run (they only read).
"""

from __future__ import annotations

import json
import time

import numpy as np

from fctwin.controller.eluna import (
    FROZEN,
    BreakPlan,
    DigestBuilder,
    ElunaAgent,
    Forecaster,
    LabourBoard,
    LabourConfig,
    Levers,
    Outage,
    RateModel,
    ShiftLead,
    open_work_units,
)
from fctwin.controller.eluna.agent import clock
from fctwin.controller.eluna.shiftlead import describe as describe_lead_action
from fctwin.controller.eluna.shifts import ShiftCalendar, ShiftPlan
from fctwin.sim.demand import hourly_profile

MODES = ("off", "advise", "auto", "reactive")


def labour_config(scene) -> LabourConfig:
    from fctwin.sim.scene.loader import person_worked

    lab = scene.spec.labour
    human = person_worked(scene.stations, lab)  # human stations (and Sequoia decant ports)
    staffing = {s.station_id: int(lab.staffing.get(s.station_id, 1)) for s in human}
    pool = lab.pool if lab.pool is not None else sum(staffing.values())
    calendar = shift_calendar(lab, [s.station_id for s in human])
    breaks = [BreakPlan(b.at_h * 3600.0, b.minutes * 60.0, b.associates) for b in lab.breaks]
    if calendar is not None:  # each shift's own breaks, wherever the calendar puts the shift
        breaks += [BreakPlan(*b) for b in calendar.breaks_until(scene.spec.run_hours * 3600.0)]
    if calendar is not None:  # the board starts with the first shift's crew
        first = calendar.at(0.0).plan
        staffing, pool = dict(first.staffing), first.pool
    return LabourConfig(
        staffing=staffing,
        kinds={s.station_id: s.kind for s in human},
        pool=pool,
        walk_s=lab.walk_s,
        open_s=lab.open_s,
        max_per_station=lab.max_per_station,
        rate=RateModel(coupling=lab.rate_model.coupling),
        breaks=tuple(sorted(breaks, key=lambda b: b.at_s)),
        outages=tuple(Outage(o.station, o.at_h * 3600.0, o.minutes * 60.0) for o in lab.outages),
        shifts=calendar,
    )


def shift_calendar(lab, stations: list[str]) -> ShiftCalendar | None:
    """The scene's ``[[labour.shifts]]`` as a calendar (None without shifts: one crew all run)."""
    if not lab.shifts:
        return None
    plans = []
    for sh in lab.shifts:
        staffing = {sid: int(sh.staffing.get(sid, 1)) for sid in stations}
        pool = sh.pool if sh.pool is not None else sum(staffing.values())
        breaks = tuple((b.after_h * 3600.0, b.minutes * 60.0, b.associates) for b in sh.breaks)
        plans.append(ShiftPlan(sh.name, sh.start_h * 3600.0, sh.end_h * 3600.0, staffing, pool, breaks))
    cycle_s = lab.shift_cycle_h * 3600.0 if lab.shift_cycle_h is not None else None
    return ShiftCalendar(tuple(plans), stations, cycle_s)


def units_per_line(scene) -> float:
    """The scene's mean units in an order line."""
    upl = scene.spec.orders.units_per_line
    return float(getattr(upl, "mean", None) or getattr(upl, "value", None) or 1.0)


def mean_lines_per_order(scene) -> float:
    """The scene's mean lines in an order."""
    lpo = scene.spec.orders.lines_per_order
    return float(getattr(lpo, "mean", None) or getattr(lpo, "value", None) or 1.0)


def service_seconds(scene) -> dict[str, float]:
    """The plan's mean seconds per line (pick) or carton (stow) at each person-worked station."""
    out = {}
    per_line = units_per_line(scene)
    for s in scene.stations:
        if s.unit == "sequoia" and s.kind == "stow" and scene.spec.labour.sequoia_decant:
            from fctwin.robots.sequoia import DECANT_PER_UNIT_S

            out[s.station_id] = DECANT_PER_UNIT_S * scene.spec.inbound.units_per_carton
            continue
        if s.unit != "human":
            continue
        per_unit = _mean(s.config.per_unit_s)
        per_pod = _mean(s.config.per_pod_s)
        if s.kind == "pick":
            out[s.station_id] = per_unit * per_line + 0.5 * per_pod
        else:
            out[s.station_id] = per_unit * scene.spec.inbound.units_per_carton + per_pod
    return out


def forecaster_for(scene, blend: dict | None = None) -> Forecaster:
    """The run's forecaster: the scene's planned demand profile, the stations' cap of open lines,
    and the capacity the digest's staffing serves at the plan's service times."""
    prof = hourly_profile(scene)
    start = scene.spec.orders.start_hour
    service_s = service_seconds(scene)
    speed = labour_config(scene).rate.speed

    def capacity(kind: str):
        def per_min(dg: dict) -> float:
            return sum(
                60.0 * speed(s["associates"]) / service_s[s["id"]]
                for s in dg["stations"]
                if s["kind"] == kind and s["id"] in service_s
            )

        return per_min

    def station_rate(sid: str, associates: int) -> float:
        return 60.0 * speed(associates) / service_s[sid] if sid in service_s else 0.0

    fc = Forecaster(
        plan_rate=lambda t_s: float(prof[int((start + t_s / 3600.0) % 24)]),
        station_cap_lines=scene.spec.dispatch.max_lines_per_station,
        capacity=capacity("pick"),
        stow_capacity=capacity("stow"),
        blend=blend,
        station_rate=station_rate,
        fleet_rates=fleet_rates(scene),
    )
    fc.learned_residual = scene.spec.agent.learned_forecast  # off by default (docs/eluna_s16_fcast16.md)
    fc.little_level = scene.spec.agent.little_forecast  # on by default since session 18 (schema)
    return fc


def fleet_rates(scene) -> dict[str, float] | None:
    """Battery fraction per minute a drive unit gains on a pad, loses moving, standing, and at work
    (the prior before the run's own energy balance: half its time moving), from the scene's drive
    units (their mean when the fleet mixes types). None without drive units."""
    fleets = [f for f in scene.spec.fleet if getattr(f, "battery_wh", None)]
    if not fleets:
        return None
    n = sum(f.count for f in fleets)

    def per_min(attr: str) -> float:
        return sum(f.count * getattr(f, attr) / f.battery_wh for f in fleets) / n / 60.0

    moving, idle = per_min("power_moving_w"), per_min("power_idle_w")
    return {
        "charge_per_min": per_min("charge_power_w"),
        "moving_drain_per_min": moving,
        "idle_drain_per_min": idle,
        "drain_per_min": 0.5 * (moving + idle),
    }


def _mean(dist) -> float:
    for name in ("mean", "value"):
        v = getattr(dist, name, None)
        if v is not None:
            return float(v)
    if getattr(dist, "dist", "") == "uniform":
        return 0.5 * (dist.low + dist.high)
    if getattr(dist, "dist", "") == "empirical":
        return float(sum(dist.values) / len(dist.values))
    return 10.0


class FloorManager:
    def __init__(self, *, loop, mode: str, board: LabourBoard | None, host=None, lookahead_ok: bool = False):
        scene = loop.scene
        self.loop = loop
        self.mode = mode
        self.board = board
        d = loop.dispatcher
        self.digests = DigestBuilder(d)
        start = scene.spec.orders.start_hour
        self.forecaster = forecaster_for(scene)
        self.dock_schedule = dock_schedule(
            scene, getattr(loop, "arrivals", None), getattr(loop, "waves", None)
        )
        self.agent = None
        self.lead = None
        self.levers = Levers(d, board) if board is not None else None
        self.service_s = service_seconds(scene)
        self.actions_applied = 0
        self.wall_s = 0.0
        spec = scene.spec.agent
        if mode in ("advise", "auto"):
            lookahead = None
            # "model": the agent a live run gets (no fork), also headless, to measure it
            if spec.lookahead == "fork" and lookahead_ok:
                from fctwin.sim.eluna.lookahead import ForkLookahead

                lookahead = ForkLookahead(loop, host, self.levers, p95_open_orders=spec.p95_open_orders)
            self.agent = ElunaAgent(
                mode=mode,
                levers=self.levers,
                service_s=self.service_s,
                forecaster=self.forecaster,
                lookahead=lookahead,
                period_min=spec.period_min,
                horizon_min=spec.horizon_min,
                max_candidates=spec.max_candidates,
                min_gain=spec.min_gain,
                start_hour=start,
                charge_frac=scene.spec.dispatch.opportunity_charge_frac,
                shift_end_s=scene.spec.run_hours * 3600.0,
                seed=scene.seed,
            )
            self.agent.units_per = {
                "pick": units_per_line(scene),
                "stow": float(scene.spec.inbound.units_per_carton),
            }
            self.agent.starved_mode = spec.starved
            self.agent.paid_first = spec.paid_first
            self.agent.charging_wave = spec.charging_wave
            self.agent.carton_quantum = spec.carton_quantum
            self.agent.release_pace = spec.release_pace
            self.agent.release_prior_h = spec.release_prior_h
            self.agent.release_unscheduled = spec.release_unscheduled
            self.agent.model_p95 = spec.model_p95
            self.agent.model_charging_hold = spec.model_charging_hold
            self.agent.lines_per_order = mean_lines_per_order(scene)
            self.agent.shift_end = spec.shift_end
            self.agent.p95_target_s = spec.p95_target_s
            self.agent.service_moves = spec.service_moves
            self.agent.charging_lend = spec.charging_lend
            # scores a service move's or a charging lend's realised p95
            if (spec.service_moves or spec.charging_lend) and lookahead is not None:
                from fctwin.sim.eluna.lookahead import ServiceProbe

                self.agent.service_probe = ServiceProbe(loop)
            self.agent.lend_until_dock = spec.lend_until_dock
            self.agent.outage_peak = spec.outage_peak
            if spec.stow_release:  # a stower off a floor whose drive units set the stow rate
                from fctwin.controller.eluna.stow_release import StowRelease

                gen = StowRelease(float(scene.spec.inbound.units_per_carton))
                self.agent.minute_observers.append(gen.observe)
                self.agent.candidate_hooks.append(gen)
                self.agent.plan_guards.append(gen.guard)
            if spec.floor_levers:  # candidates on the floor levers too (docs/eluna.md)
                from fctwin.controller.eluna.floor_candidates import hook_for

                self.agent.candidate_hooks.append(hook_for(spec.floor_levers))
                # judged for service too: they change no labour (docs/eluna_s17_levers17.md)
                self.agent.floor_service = True
                if lookahead is not None and self.agent.service_probe is None:
                    from fctwin.sim.eluna.lookahead import ServiceProbe

                    self.agent.service_probe = ServiceProbe(loop)
        elif mode == "reactive":
            self.lead = ShiftLead(
                FROZEN,
                service_s=self.service_s,
                speed=board.config.rate.speed,
                plan_charge_frac=scene.spec.dispatch.opportunity_charge_frac,
            )
        self.recommendations: list[dict] = []
        # units picked + stowed when each shift took over (the shift plan's per-shift figures)
        self._shift_units: list[int] = [0]

    @classmethod
    def build(cls, loop, *, mode: str | None, host=None, lookahead_ok: bool = False) -> FloorManager:
        scene = loop.scene
        mode = mode or scene.spec.agent.mode
        if mode not in MODES:
            raise ValueError(f"agent mode must be one of {', '.join(MODES)}, not {mode!r}")
        config = labour_config(scene)
        board = None
        if mode != "off" or not config.default:
            board = LabourBoard(config)
            board.start(loop.dispatcher)
        return cls(loop=loop, mode=mode, board=board, host=host, lookahead_ok=lookahead_ok)

    # ------------------------------------------------------------------ hooks

    def on_tick(self, t_s: float) -> None:
        if self.board is not None:
            self.board.advance(t_s, self.loop.dispatcher)
            while len(self._shift_units) <= len(self.board.shift_log):  # a handover: the units so far
                self._shift_units.append(_units_done(self.loop.dispatcher))
        self.digests.sample(t_s)  # congestion per floor area (reads only)

    def on_minute(self, minute: int, t_s: float) -> list[dict]:
        """Digest, forecasts and this minute's decisions; returns the recommendations made."""
        w0 = time.perf_counter()
        loop = self.loop
        if "forked" in loop.state:
            # A lookahead child rolls one plan forward and then nobody decides: before this, the
            # child's agent decided too (a lookahead inside the lookahead, every 10 minutes of the
            # horizon, and in auto mode it applied its own plans), so "do nothing" was not nothing
            # and an auto run spent most of its wall time in nested forks.
            return []
        d = loop.dispatcher
        dg = self.digests.build(t_s, minute, labour=self.board, vetoed=loop.state["vetoed"])
        dg["dock_ahead"] = dock_ahead(self.dock_schedule, t_s)
        dg["dock_expected_per_h"] = loop.scene.spec.inbound.cartons_per_h
        dg["dock_landed"] = dock_landed(self.dock_schedule, t_s)
        # the busiest hour of the dock schedule still to come in the shift: a release lasts the rest
        # of the shift, so the agent checks it against the busiest known hour (docs/eluna.md)
        dg["dock_peak_h"] = dock_peak_hour(self.dock_schedule, t_s, self.shift_end_s())
        made: list[dict] = []
        if self.agent is not None:
            recs = self.agent.on_minute(dg, open_work_units(d))
            made = [r.record() for r in recs]
            dg["forecast"] = _short(self.agent.last_forecast)
        else:
            fc = self.forecaster.observe(dg)
            dg["forecast"] = _short(fc)
            if self.lead is not None:
                for a in self.lead.decide(dg, self.levers):
                    if self.levers.infeasible(a) is None:
                        self.levers.apply(a, t_s)
                        self.actions_applied += 1
                        made.append(
                            {
                                "t_s": t_s,
                                "kind": a.kind,
                                "action": a.__dict__,
                                "applied": True,
                                "text": f"[{self._clock(t_s)}] shift lead: "
                                + describe_lead_action(a, self.board.config.kinds),
                                "predicted": None,
                                "evidence": None,
                            }
                        )
        self.recommendations.extend(made)
        store = loop.store
        if hasattr(store, "add_digest"):
            store.add_digest(minute, t_s, dg)
            for rec in made:
                store.add_recommendation(rec)
            store.commit()
        self.wall_s += time.perf_counter() - w0
        return made

    def _clock(self, t_s: float) -> str:
        return clock(t_s, self.loop.scene.spec.orders.start_hour)

    def shift_end_s(self) -> float:
        """The end of the shift on the floor: the run's end, or the current shift's if sooner."""
        run_end_s = self.loop.scene.spec.run_hours * 3600.0
        return min(run_end_s, self.board.shift_end_s) if self.board is not None else run_end_s

    def shift_rows(self) -> list[dict] | None:
        """Per shift of the plan: paid labour hours, units picked + stowed and units per labour hour
        (None without a shift plan: the run is the one shift, its KPIs say it)."""
        board = self.board
        if board is None or board.shift is None:
            return None
        run_end_s = self.loop.scene.spec.run_hours * 3600.0
        units = self._shift_units + [_units_done(self.loop.dispatcher)]
        rows = []
        for k, row in enumerate(board.shift_rows(run_end_s)):
            if k > 0 and row["start_h"] * 3600.0 >= run_end_s - 1e-6:
                break  # a shift taking over as the run ends (its last tick) worked none of it
            done = units[k + 1] - units[k] if k + 1 < len(units) else 0
            rows.append(
                {
                    **row,
                    "units": done,
                    "units_per_labour_h": round(done / row["labour_h"], 3) if row["labour_h"] else None,
                }
            )
        return rows

    def finish(self) -> dict:
        """The run's Eluna summary (goes into the run's KPIs under ``eluna``)."""
        board = self.board
        out = {
            "mode": self.mode,
            "labour_h": round(board.paid_s / 3600.0, 4) if board is not None else None,
            "actions_applied": self.actions_applied,
            "forecast_skill": self.forecaster.skill(),
            "forecast_skill_after_1h": self.forecaster.skill(from_minute=60, pooled=True),
            "hot_spots_after_1h": self.forecaster.hot_spot_scores(from_minute=60),
            # the window event: hot at some minute within 7 minutes of t + h (docs/eluna.md)
            "hot_spots_window_after_1h": self.forecaster.hot_spot_scores(from_minute=60, window=True),
        }
        shifts = self.shift_rows()
        if shifts is not None:  # (a run without a shift plan keeps the summary it had)
            out["shifts"] = shifts
        if self.agent is not None:
            out.update(self.agent.summary())
            out["actions_applied"] = sum(r.applied for r in self.agent.recommendations)
            if hasattr(self.loop.store, "update_recommendation"):
                for r in self.agent.recommendations:
                    self.loop.store.update_recommendation(r.record())
        return out


def _units_done(d) -> int:
    return int(d.stats["units_picked"] + d.stats["units_stowed"])


DOCK_AHEAD_MIN = (1, 15, 30, 60)


def dock_schedule(scene, arrivals, waves=None) -> np.ndarray:
    """When known cartons reach a stow station (run seconds, sorted): the waves at the dock (``waves``,
    default the scene's ``inbound.waves``; a released backlog, also a port strike's from the inbound
    network, is on the dock schedule) and the inbound model's trailers when the scene couples it
    (trailers arrive on appointment), each after the dock hand-off. The Poisson stream and supplier
    deliveries are not on it (their times are random)."""
    transfer_s = scene.spec.docks.transfer_to_stow_s
    times = []
    for w in scene.spec.inbound.waves if waves is None else waves:
        gap_s = w.minutes * 60.0 / w.cartons
        times += [w.at_h * 3600.0 + k * gap_s + transfer_s for k in range(w.cartons)]
    for a in arrivals or ():
        times += [a.t_s + transfer_s] * a.cartons
    return np.sort(np.asarray(times, dtype=np.float64))


def dock_ahead(schedule: np.ndarray, t_s: float) -> dict[str, int]:
    """Cartons on the dock schedule due within each of `DOCK_AHEAD_MIN` minutes after ``t_s``."""
    lo = np.searchsorted(schedule, t_s, side="right")
    return {str(m): int(np.searchsorted(schedule, t_s + 60.0 * m, side="right") - lo) for m in DOCK_AHEAD_MIN}


def dock_landed(schedule: np.ndarray, t_s: float) -> int:
    """Cartons on the dock schedule due in the minute ending at ``t_s``: the scheduled share of the
    digest's ``cartons_arrived`` (a wave or a trailer, not the stream)."""
    due = np.searchsorted(schedule, (t_s - 60.0, t_s), side="right")
    return int(due[1] - due[0])


def dock_peak_hour(schedule: np.ndarray, t_s: float, end_s: float) -> int:
    """The most cartons on the dock schedule due within any 60 minutes between ``t_s`` and ``end_s``
    (windows starting at each due time still to come; 0 when nothing is scheduled)."""
    lo = np.searchsorted(schedule, t_s, side="right")
    hi = np.searchsorted(schedule, end_s, side="right")
    due = schedule[lo:hi]
    if due.size == 0:
        return 0
    ends = np.searchsorted(due, due + 3600.0, side="right")
    return int(np.max(ends - np.arange(due.size)))


def _short(fc: dict) -> dict:
    return {k: {str(h): round(v, 2) for h, v in hs.items()} for k, hs in fc.items()}


def dumps(obj) -> str:
    return json.dumps(obj, default=str)
