"""Eluna: the agent that predicts bottlenecks, recommends, acts and scores itself.

Every simulated minute the run hands it the state digest; it forecasts (`Forecaster`). Every
``period_min`` minutes it builds candidate actions from the levers (people towards the stations
whose pressure, now or forecast, is highest; from the pool or the least loaded stations; the
charging threshold when the fleet runs low), rolls each forward on a copy of the twin
(`Lookahead`, common random numbers: every candidate sees the same fresh future, never the run's
own) together with "do nothing", and chooses by the objective

    J = units picked + units stowed over the horizon - 0.5 * units of work open at its end
        - price * paid labour hours over the horizon

(throughput now, not leaving work for later, and labour at the price of the run's units per
labour hour so far: calling a floater in pays only if they produce what the average associate
does). The best candidate becomes a `Recommendation` when it beats doing nothing by ``min_gain``
(relative to do-nothing's throughput); in ``auto`` mode it is applied at once through `Levers`
(with the levers' physical delays), in ``advise`` mode only recorded. After the horizon each
recommendation gets its realised effect: the J the floor actually reached minus the J the
lookahead predicted for doing nothing, beside the predicted effect (J of the plan minus J of
doing nothing).

Without a lookahead (a fleet over the network, a live viewer, or ``[agent] lookahead = "model"``)
the agent judges the same candidates by the same objective and guards on the fluid model's
projection of each plan (`ElunaAgent.project`, `Forecaster.project`).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from fctwin.controller.eluna import charging, charging_lend, dock_lend, outage_peak, service_move, shift_end
from fctwin.controller.eluna.actions import (
    POOL,
    Action,
    Levers,
    MoveAssociates,
    SetChargeThreshold,
    SetDriveSplit,
    as_dict,
    merge_moves,
)
from fctwin.controller.eluna.cycle_tail import cycle_base_s, order_cycle_p95_s
from fctwin.controller.eluna.forecast import Forecaster
from fctwin.controller.eluna.on_call import RECALL_PRICE, OnCall

OPEN_WORK_WEIGHT = 0.5
# How long a kind's work may wait before it hurts, in minutes per person-equivalent: the agent's
# pressure is work over capacity over this. Pick is what the customer waits for: a pick station
# holds at most 12 open lines (~2.5 minutes of work), so beyond ~4 minutes orders wait unassigned
# and the order cycle grows. A carton is 3 minutes of stow work and cartons can wait at the dock
# (an hour of stow work is an ordinary inbound day); 30 minutes is a dock that is piling up. The
# same numbers are the shift lead's thresholds (`fctwin.controller.eluna.shiftlead`). Without
# them a minute of stow work weighed like a minute of pick work: in a demand surge the carton queue
# (15-23 minutes of work per stower) was the "worst" kind, every candidate moved people to stow,
# none kept the pick service, and the agent did nothing while orders waited.
TOLERANCE_MIN = {"pick": 4.0, "stow": 30.0}
# A station is *starved* when it has people and work waiting but no pod queued at it or on the way
# and has served nothing, for this many consecutive minutes: its people wait for robots, not for
# work, and another person-minute there buys nothing. Measured on eluna_outage seed 11, static
# plan: from minute ~65 to ~150 every stow station held 5-14 cartons with no pod coming (every
# usable pod was within a carton's mass of its limit while the pick side, half closed, emptied
# none) while 18-20 drive units stood idle: four stowers paid 85 minutes for nothing, 6 of the
# run's 29 labour hours. Ten minutes: a stow trip is 2-5 minutes, so ten without one is no gap
# between two pods.
STARVED_MIN = 10
# The charging wave (`ElunaAgent.lookahead_horizon_s`). When more drive units wait for a pad than
# the pads take at once, now and still at the end of the ordinary horizon, the pick side is bound by
# drive units for as long as that queue lasts, and what a plan buys there (a stower lent to pick
# frees the drive units stow trips take) is paid back over the whole wave, not 30 minutes: on
# eluna_battery the queue held 16-24 units for two hours while the 30-minute gain of that lend was
# inside one sample's noise (docs/eluna_s13_lead13.md). The decision is then judged over the
# projected time until the queue is gone (the charging rules played forward, `pad_queue_path`),
# capped: beyond two hours the forecast of the rest of the floor (orders, staffing) is too far out
# to weigh, and a lookahead costs its horizon in wall time.
CHARGING_WAVE_CAP_MIN = 120
# A queue of this many units or fewer is "gone" (one unit of play in the projection).
PAD_QUEUE_CLEAR_UNITS = 1
# Sampled futures a plan must win on, keeping service on their mean, before it is recommended over
# the charging wave (over the ordinary horizon: one, the second sample). Over two hours one sample's
# order-cycle p95 moved by 100-160 s and its J by ~100 units between two futures for the same lend
# (eluna_battery seed 13, minutes 60-90), as much as the lend's gain: three futures more (the
# confirmation runs only when a plan is about to be recommended, so they cost little wall time).
WAVE_CONFIRM_SAMPLES = 3
# A release (`ElunaAgent.people_keep_up`): the people left at a kind's open stations must serve the
# busiest known hour of its arriving work at no more than this share of their pace (the rate model
# at the plan's service times). The share is the frozen shift lead's rule 5 (`shiftlead.FROZEN`,
# chosen by the balanced grid, seeds 201-203): the same floor for the same lever. Under it the
# stations left have room for the hour's swings and for the drive units' feed, which the pace
# leaves out (a pod-fed station waits for pods part of its time); the 30-minute lookahead and its
# service guard judge the rest.
RELEASE_LOAD = 0.7
# The run's minutes of arriving work a release's rate needs before it is trusted (half the
# arriving rate's one-hour window).
RELEASE_EVIDENCE_MIN = 30
# A stated service target (``[agent] p95_target_s``) lets a plan's order-cycle p95 rise above doing
# nothing's while it stays under this share of the target on every sampled future it is judged on.
# The 10% below the promise is one sample's noise: the same plan's 30-minute p95 moved by 57-87 s
# between two futures on eluna_misstaffed (seed 15, 09:10: -30 s on one, +57 s on the other;
# docs/eluna_s14_release14.md), about a tenth of a 600 s target.
P95_TARGET_MARGIN = 0.9


def _p95_kept(p_s: float, p0_s: float) -> bool:
    """A plan's order-cycle p95 at most 2% (plus 5 s, one sample's noise) above doing nothing's."""
    return p_s <= 1.02 * p0_s + 5.0


def _mean_kpis(rs: list[dict]) -> dict:
    """The mean of each KPI over sampled futures (None where a future had none)."""
    out = {}
    for k in rs[0]:
        vals = [r.get(k) for r in rs]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
            out[k] = sum(vals) / len(vals)
        else:
            out[k] = None if any(v is None for v in vals) else vals[0]
    return out


def _all_orders_view(r: dict) -> dict:
    """A lookahead's KPIs as judged over the charging wave and in the shift's last horizon
    (`shift_end`: an order still open then is handed to the next shift at its age): the order-cycle
    p95 of every order the horizon saw (the finished at their cycle, the open at their age at its
    end), not of the finished alone. Over two hours of a pick backlog a plan that works it down
    finishes more of the old orders inside the horizon, and the p95 of the finished ones rises with
    it (seed 13, minute 90: a stower lent to pick left 37 units less open pick work and was refused
    at +164 s of that p95)."""
    if r.get("cycle_p95_all_s") is None:
        return r
    return {**r, "cycle_p95_s": r["cycle_p95_all_s"], "cycle_p95_done_s": r.get("cycle_p95_s")}


class _NoDispatcher:
    """Takes the labour board's staffing calls when a plan is tried on a copy of the board."""

    def set_station_staff(
        self, station_id: str, associates: int, speed_factor: float, reopen_s: float | None = None
    ) -> None:
        pass


class Lookahead(Protocol):
    """Rolls the twin forward from now once per plan (a list of actions; [] is do nothing).

    Returns per plan: ``units_picked``, ``units_stowed``, ``open_pick_units``,
    ``open_stow_units`` (at the horizon's end), ``cycle_p95_s`` (None when no order finished).
    Every plan sees the same fresh random future (common random numbers), keyed by ``key``.
    """

    def evaluate(self, plans: list[list[Action]], horizon_s: float, key: str) -> list[dict]: ...


def objective(r: dict, labour_price: float = 0.0, open_weight: float = OPEN_WORK_WEIGHT) -> float:
    """J = units done - ``open_weight`` (0.5) * units of work left open - ``labour_price`` * paid
    labour hours. The weight is 1.0 for the work open when the shift ends (`shift_end`)."""
    j = r["units_picked"] + r["units_stowed"] - open_weight * (r["open_pick_units"] + r["open_stow_units"])
    if labour_price and r.get("labour_h") is not None:
        j -= labour_price * r["labour_h"]
    return j


@dataclass
class Recommendation:
    rec_id: int
    t_s: float
    kind: str
    action: dict
    text: str
    effective_s: float  # when the action takes effect (people arrive) if applied now
    horizon_s: float
    predicted: dict  # {"objective": delta, "throughput_units": delta, "open_units": delta, ...}
    evidence: dict  # forecasts and lookahead results
    applied: bool = False
    realised: dict | None = None
    _start: dict = field(default_factory=dict, repr=False)
    _counterfactual: dict | None = field(default=None, repr=False)

    def record(self) -> dict:
        return {
            "rec_id": self.rec_id,
            "t_s": self.t_s,
            "kind": self.kind,
            "action": self.action,
            "text": self.text,
            "effective_s": self.effective_s,
            "horizon_s": self.horizon_s,
            "predicted": self.predicted,
            "evidence": self.evidence,
            "applied": self.applied,
            "realised": self.realised,
        }


def _releases_people(plan: list[Action]) -> bool:
    """Whether ``plan`` sends anyone to the pool (off the floor)."""
    return any(isinstance(a, MoveAssociates) and a.target == POOL for a in plan)


def _predicted_effect(rb: dict, r0: dict, gain: float, gain2: float) -> dict:
    """A fork-path recommendation's predicted effect: the objective's gain (the mean of its two
    samples), and on the first sample the units processed, the open work and the order-cycle p95
    against doing nothing (None when either side saw no order finish)."""
    return {
        "objective": round(0.5 * (gain + gain2), 2),
        "throughput_units": rb["units_picked"]
        + rb["units_stowed"]
        - (r0["units_picked"] + r0["units_stowed"]),
        "open_units": rb["open_pick_units"]
        + rb["open_stow_units"]
        - r0["open_pick_units"]
        - r0["open_stow_units"],
        "cycle_p95_s": None
        if rb.get("cycle_p95_s") is None or r0.get("cycle_p95_s") is None
        else round(rb["cycle_p95_s"] - r0["cycle_p95_s"], 1),
    }


def describe_short(a: Action) -> str:
    if hasattr(a, "describe"):  # the floor levers' actions (`floor_actions`)
        return a.kind + ":" + ",".join(str(v) for k, v in vars(a).items() if k != "kind")
    if isinstance(a, MoveAssociates):
        return f"{a.source}->{a.target}x{a.n}"
    if isinstance(a, SetChargeThreshold):
        return f"charge@{a.frac:.2f}"
    return f"stowcap={a.stow_unit_cap}"


def clock(t_s: float, start_hour: int) -> str:
    minutes = int(start_hour * 60 + t_s // 60) % (24 * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


class ElunaAgent:
    def __init__(
        self,
        *,
        mode: str,
        levers: Levers,
        service_s: dict[str, float],
        forecaster: Forecaster,
        lookahead: Lookahead | None,
        period_min: int = 10,
        horizon_min: int = 30,
        max_candidates: int = 6,
        min_gain: float = 0.02,
        gate_min: float = 0.75,
        start_hour: int = 8,
        charge_frac: float = 0.5,
        shift_end_s: float = 8 * 3600.0,
        seed: int = 0,
    ):
        if mode not in ("advise", "auto"):
            raise ValueError(f"agent mode must be advise or auto, not {mode!r}")
        self.mode = mode
        self.levers = levers
        self.service_s = service_s
        self.forecaster = forecaster
        self.lookahead = lookahead
        self.period_min = period_min
        self.horizon_s = 60.0 * horizon_min
        self.max_candidates = max_candidates
        self.min_gain = min_gain
        self.gate_min = gate_min
        self._charge_frac_now = charge_frac
        self.shift_end_s = shift_end_s
        self.improve = 0.05  # a move must lower the worst pressure by this share to be a candidate
        self.start_hour = start_hour
        self.charge_frac = charge_frac
        self.seed = seed
        self.recommendations: list[Recommendation] = []
        self._open: list[Recommendation] = []
        self.decisions = 0
        self.lookahead_wall_s = 0.0
        self.lookahead_plans = 0
        self.last_forecast: dict = {}
        self._cum = {"units_picked": 0, "units_stowed": 0}
        self._arriving: dict[str, float] = {}
        # the same one-hour mean of arriving work, started from nothing and divided by the weight
        # it has gathered (kind -> (sum, weight)): an unbiased mean from the first minute, for a
        # release (`release_arriving`); `_arriving` starts from the first minute's count and reads
        # low for the first hour (eluna_balanced seed 201: stow 0.23 cartons a minute at 08:30 for
        # a stream of ~0.6)
        self._arriving_sw: dict[str, tuple[float, float]] = {}
        self._arriving_min = 0  # minutes of arriving work seen
        # how a release is checked to keep up for the rest of the shift (scene ``[agent]
        # release_pace``, on by default since session 19): True, against the people's pace left
        # (`people_keep_up`); False (the agent of sessions 13-18), against the rate the kind's
        # stations were seen to serve (`release_keeps_up`), which on a floor that keeps up is the
        # arriving rate itself shared over the stations, so a release never passed it once the
        # run's rates had settled. With it the people released stay on call: called back, free of
        # a hire's price, when a kind turns hot (`fctwin.controller.eluna.on_call`; before that, on
        # eluna_outage a stower released before the outage stayed in the pool while pick piled up:
        # docs/eluna_s17_release17.md, eluna_s18_recall18.md). The attribute is what a scene's
        # `[agent] release_pace` sets (`FloorManager`); a bare agent keeps the old check.
        self.release_pace = False
        # hours of the planned carton stream counted as seen in the release's stow rate (scene
        # ``[agent] release_prior_h``; `release_arriving`); 0: the last hour's mean alone
        self.release_prior_h = 0.0
        # the release's stow rate counts only the cartons no schedule announced (scene ``[agent]
        # release_unscheduled``): a wave's or a trailer's cartons are one-off, known ahead on the
        # dock schedule (`arriving_peak`) and, once landed, in the stow backlog the pressure gate
        # reads; counted in the hour's rate as well, they read as a stream running at the wave's
        # rate for an hour after it has passed
        self.release_unscheduled = False
        self.on_call = OnCall()
        self._release_plans: list[list[Action]] = []  # this decision's releases (`_releases`)
        self._on_call_plans: list[list[Action]] = []  # this decision's recalls of released people
        self._busy: dict[str, tuple[int, float]] = {}
        self._starved: dict[str, int] = {}  # station -> consecutive starved minutes (`STARVED_MIN`)
        # people the agent took off a starved station, to bring back when pods reach that kind again:
        # (station they came from, where they went: the pool or a station they were lent to)
        self.parked: list[tuple[str, str]] = []
        self._idle: list[list[Action]] = []
        self._recall: list[list[Action]] = []
        # people the agent lent from a station of one kind to a station of another (home, where
        # they went), one entry per person: given back when home needs them or the kind they went
        # to no longer does (`_return_plans`)
        self.lent: list[tuple[str, str]] = []
        self._return: list[list[Action]] = []
        # the returns due because home's kind is pressed an hour ahead (`keeps_total_service`)
        self._return_needed: list[list[Action]] = []
        self._t_s = 0.0
        self._dock_peak_per_min = 0.0  # the busiest hour of the dock schedule still to come, per minute
        self._dock_stream_per_min = 0.0  # the unscheduled carton stream's planned rate, per minute
        # What the agent does with people at a starved station (scene ``[agent] starved``):
        # "off" (default: nothing), "lend" (to a pressed station where pods wait for people),
        # "park" (lend, and those nobody needs to the pool until pods come again). Off by default:
        # measured on eluna_heldout seed 11 (never tuned on), both cost units (docs/eluna.md).
        self.starved_mode = "off"
        # extra candidate generators, ``hook(agent, digest) -> [plan, ...]`` (the floor levers:
        # `fctwin.controller.eluna.floor_candidates`); at most ``extra_candidates`` of their plans
        # are rolled forward beside the staffing plans
        self.candidate_hooks: list[Callable[[ElunaAgent, dict], list[list[Action]]]] = []
        self.extra_candidates = 2
        # ``observe(agent, digest)`` every minute, for generators that need the floor's recent past
        # (`fctwin.controller.eluna.stow_release.StowRelease`)
        self.minute_observers: list[Callable[[ElunaAgent, dict], None]] = []
        # ``guard(agent, plan, r, r0) -> bool | None``: a generator's service test for the plans it
        # proposed (None: not its plan, the ordinary `keeps_service` applies)
        self.plan_guards: list[Callable] = []
        # a plan of moves between stations only (no floater) beside the greedy plan (`_greedy`):
        # scene ``[agent] paid_first``. Off by default: measured neutral (docs/eluna.md, "The
        # people already paid first": eluna_outage seeds 11-15 +0.0% units per labour hour against
        # the agent without it, surge 11-12 +1.0%, battery 11-12 -0.1%)
        self.paid_first = False
        # the service guards forgive one carton of stow shortfall over the horizon (`_units_kept`):
        # scene ``[agent] carton_quantum`` (on by default since session 21; a bare agent keeps the
        # strict test: docs/eluna_s14_release14.md, eluna_s21_release21.md)
        self.carton_quantum = False
        # units in a pick line and in a carton (the scene's means): the fluid model counts lines and
        # cartons, the objective units (`project`)
        self.units_per = {"pick": 1.0, "stow": 1.0}
        # judge plans over the charging wave on a charging-bound floor (`lookahead_horizon_s`):
        # scene ``[agent] charging_wave``. Off by default: measured mixed (docs/eluna_s14_battery14.md)
        self.charging_wave = False
        # the site's service promise, seconds of order-cycle p95 (scene ``[agent] p95_target_s``):
        # None (default) keeps the p95 guard relative to doing nothing alone (`keeps_service`)
        self.p95_target_s: float | None = None
        # moves applied between stations: (run seconds, kind left, kind joined) (`_reverses`)
        self._crossed: list[tuple[float, str, str]] = []
        # the model path's order-cycle p95 (`project`, `cycle_tail`): scene ``[agent] model_p95``
        # (the scene's default "done"; a bare agent has none, its forecaster may not play queues);
        # "off": none (the guard cannot see p95), "done": the orders the horizon sees finish (as
        # the fork's ``cycle_p95_s``), "all": every order it sees, the open at their age at its end
        self.model_p95 = "off"
        # the model path holds pickers added while the drive units are at the pads (`_fleet_held`):
        # scene ``[agent] model_charging_hold`` (a bare agent: off)
        self.model_charging_hold = False
        self.lines_per_order = 1.0  # the scene's mean lines in an order (`cycle_tail`)
        # the end of the shift as a shift manager sees it (`fctwin.controller.eluna.shift_end`): the
        # last horizon ends at the shift's end and weighs the work open then whole, and lends look
        # only as far ahead as the shift lasts: scene ``[agent] shift_end``. Off by default
        # (docs/eluna_s15_backlog15.md)
        self.shift_end = False
        self._shift_no = 0  # the labour board's shift this agent's moves belong to (`_new_shift`)
        self._open_weight = OPEN_WORK_WEIGHT  # the open-work weight of the decision being made
        # a stower lent to pick until a known trailer, home before it (`fctwin.controller.eluna.
        # dock_lend`): scene ``[agent] lend_until_dock``. Off by default (docs/eluna_s16_held16.md)
        self.lend_until_dock = False
        self._dock_ahead: dict = {}  # the digest's cartons on the dock schedule within 1/15/30/60 min
        # the ways home due because a scheduled carton is near (`dock_lend.HOME_MIN`): taken as the
        # lend's own commitment (`_keeps`)
        self._return_dock: list[list[Action]] = []
        # while a pick station is down, pick's work is at least the backlog the plan's busiest hour
        # ahead leaves at the open stations' seen rate (`fctwin.controller.eluna.outage_peak`):
        # scene ``[agent] outage_peak``. Off by default (docs/eluna_s16_held16.md)
        self.outage_peak = False
        self._pick_open_lines = 0.0  # the digest's open lines, for `_pick_plan_work`
        self._at_end = False  # whether the decision being made is judged to the shift's end
        # a move of people already paid that keeps efficiency and clearly shortens the order cycle,
        # taken when no plan wins on efficiency (`fctwin.controller.eluna.service_move`): scene
        # ``[agent] service_moves``. Off by default until measured (docs/eluna_s16_svc16.md)
        self.service_moves = False
        # the floor's own order cycles since a mark, to score a service move's realised p95
        # (``mark() -> int``, ``p95_since(mark) -> float | None``; the run sets it, None: the
        # lookahead's predicted doing nothing is the reference)
        self.service_probe = None
        # a stower lent to pick and held there while the floor shows the charging wave, on what the
        # floor shows (`fctwin.controller.eluna.charging_lend`): scene ``[agent] charging_lend``. Off
        # by default (docs/eluna_s17_battery17.md)
        self.charging_lend = False
        self._wave_plans: list[list[Action]] = []  # this decision's lend, when the rule proposes one
        self.wave_lent: list[tuple[str, str]] = []  # (home, where they went) held by the rule
        self._on_wave = False  # whether the digest of this decision shows the charging wave
        # plans of the floor levers (no labour change) judged as service moves are (`service_move.
        # floor_qualifies`) when no plan wins on efficiency: on whenever the scene lists floor levers
        self.floor_service = False

    @property
    def speed(self) -> Callable[[int], float]:
        return self.levers.board.config.rate.speed

    @property
    def shift_end_s(self) -> float:
        """The end of the shift on the floor, in run seconds: the labour board's current shift's
        (``[[labour.shifts]]``), or the run's end if sooner; without a shift plan the run is the
        shift. Every use reads this end, for the same reason: what is decided now lasts until then
        and no longer (the next shift starts from its plan, `fctwin.controller.eluna.shifts`): the
        labour price of a person called in (paid until the handover), the plan's peak still to come
        (`_planned_peak`: a release lasts the shift), and with ``shift_end`` the last horizon, the
        lend checks' horizons and the charging wave's cap."""
        board = getattr(self.levers, "board", None)
        return min(self._run_end_s, getattr(board, "shift_end_s", math.inf))

    @shift_end_s.setter
    def shift_end_s(self, end_s: float) -> None:
        self._run_end_s = float(end_s)

    def _new_shift(self, shift_no: int) -> None:
        """A handover: the people this agent lent, parked or crossed between kinds went home with
        their shift, and the new crew starts from its plan; forget them (and the stations' starved
        streaks, which were the old crew's)."""
        self._shift_no = shift_no
        self.lent.clear()
        self.parked.clear()
        self._crossed.clear()
        self.wave_lent.clear()
        self._starved.clear()
        self.on_call.clear()
        self._idle, self._recall, self._return, self._return_needed = [], [], [], []

    # ------------------------------------------------------------------ each minute

    def on_minute(self, dg: dict, open_work: tuple[int, int]) -> list[Recommendation]:
        """Take the minute's digest; returns the recommendations made now (applied in auto mode)."""
        self._t_s = dg["t_s"]
        shift_no = getattr(getattr(self.levers, "board", None), "shift_no", 0)
        if shift_no != self._shift_no:
            self._new_shift(shift_no)
        self._cum["units_picked"] += dg["units_picked"]
        self._cum["units_stowed"] += dg["units_stowed"]
        self._observe_rates(dg)
        for watch in self.minute_observers:
            watch(self, dg)
        self.last_forecast = self.forecaster.observe(dg)
        self._score_matured(dg["t_s"], open_work)
        if dg["minute"] % self.period_min:
            return []
        return self._decide(dg)

    def _observe_rates(self, dg: dict) -> None:
        """What the floor shows about each kind's real capacity: lines (pick) or cartons (stow)
        arriving per minute (60-minute mean), and what one open station of the kind serves in a
        minute when work waits at it (running mean). The rate model says what people can do; on
        this floor a stow station is often fed by drive units, not people, and serves what the
        pods bring (static plan: ~10-11 cartons an hour a station), so a release is checked
        against what stations were seen to serve."""
        a = 1.0 / 60.0
        self._dock_peak_per_min = float(dg.get("dock_peak_h") or 0.0) / 60.0
        self._dock_stream_per_min = float(dg.get("dock_expected_per_h") or 0.0) / 60.0
        self._dock_ahead = dict(dg.get("dock_ahead") or {})
        self._pick_open_lines = float(dg.get("open_lines") or 0.0)
        for kind, key in (("pick", "lines_arrived"), ("stow", "cartons_arrived")):
            x = float(dg.get(key) or 0.0)
            old = self._arriving.get(kind)
            self._arriving[kind] = x if old is None else old + a * (x - old)
            if kind == "stow" and self.release_unscheduled:
                # the minute's scheduled cartons out (not floored per minute: a carton landing a
                # minute off its due time must not count twice; the mean is floored where it is read)
                x -= float(dg.get("dock_landed") or 0.0)
            total, weight = self._arriving_sw.get(kind, (0.0, 0.0))
            self._arriving_sw[kind] = ((1.0 - a) * total + a * x, (1.0 - a) * weight + a)
        self._arriving_min += 1
        for st in dg["stations"]:
            sid = st["id"]
            if sid in self.service_s:
                starved = (
                    st["associates"] > 0
                    and st.get("pending", 0) > 0
                    and st.get("queued_pods", 0) == 0
                    and st.get("pods_on_way", 0) == 0
                    and st.get("units_served", 0) == 0
                )
                self._starved[sid] = self._starved.get(sid, 0) + 1 if starved else 0
        for st in dg["stations"]:
            if st["id"] not in self.service_s or st["associates"] <= 0 or st["open_lines"] < 2:
                continue
            n, mean = self._busy.get(st["kind"], (0, 0.0))
            n += 1
            self._busy[st["kind"]] = (n, mean + (float(st.get("lines_served", 0)) - mean) / n)

    def release_keeps_up(self, staffed_after: dict[str, int], kind: str) -> bool:
        """After a release, the open stations of ``kind`` still serve its arriving work with 15%
        to spare at the rate its stations were seen to serve when work waited (False until 30
        station-minutes with work waiting have been seen: a release lasts the rest of the shift,
        and without that evidence the 30-minute lookahead alone let a stower go before the surge
        whose cartons then waited for hours). A release is checked by `people_keep_up` since
        session 17 (this one with ``release_pace`` off); a lend before a wave (`_lend_ok`) and a
        way home that closes a station (`_return_plans`) still use this one."""
        n, per_station = self._busy.get(kind, (0, 0.0))
        if n < 30 or kind not in self._arriving:
            return False
        kinds = self.levers.board.config.kinds
        open_after = sum(1 for sid, m in staffed_after.items() if kinds[sid] == kind and m > 0)
        return self.arriving_peak(kind) <= 0.85 * per_station * open_after

    def people_keep_up(self, staffed_after: dict[str, int], kind: str) -> bool:
        """After a release, the people left at the open stations of ``kind`` serve the busiest known
        hour of its arriving work (`release_arriving`) at no more than `RELEASE_LOAD` of their pace
        (False until `RELEASE_EVIDENCE_MIN` minutes of arrivals have been seen).

        Why the pace and not the rate stations were seen to serve (`release_keeps_up`): on a floor
        that keeps up, what its stations serve is what arrives, shared over them, so the seen rate
        times the stations left is the arriving rate times (n - 1) / n, under the arriving rate
        whatever the slack. Traced on eluna_balanced seed 201 (2026-12-07): pick stations served
        3.06 lines a minute each while 12.2 arrived (3 x 3.06 x 0.85 = 7.8), stow 0.15 cartons
        while 0.63-0.71 arrived; no release passed after 08:50 on any seed, and the agent sent
        one stower home on 4 of 10 seeds, only while its arriving mean was still filling up. The
        drive units feed a kind, not a station: with one stow station closed all shift the floor
        stowed as much (docs/eluna.md, "One stower off a pod-fed floor"), so what a release takes
        is people's pace."""
        if self._arriving_min < RELEASE_EVIDENCE_MIN or kind not in self._arriving_sw:
            return False
        return self.release_load(staffed_after, kind) <= RELEASE_LOAD

    def release_load(self, staffed_after: dict[str, int], kind: str) -> float:
        """The share of the pace of the people at ``kind``'s open stations in ``staffed_after``
        (rate model, the plan's seconds per line or carton) that its busiest known hour of arriving
        work needs (inf with nobody left)."""
        board = self.levers.board
        kinds = board.config.kinds
        per_min = sum(
            60.0 * self.speed(m) / self.service_s[sid]
            for sid, m in staffed_after.items()
            if kinds.get(sid) == kind and m > 0 and sid in self.service_s and sid not in board.down_until
        )
        need = self.release_arriving(kind)
        return need / per_min if per_min > 0 else (0.0 if need <= 0 else math.inf)

    def release_arriving(self, kind: str) -> float:
        """The busiest known hour of ``kind``'s arriving work per minute, for a release: as
        `arriving_peak`, from the unbiased one-hour mean (``_arriving_sw``), and for stow never less
        than the scene's planned carton stream (known from the start).

        For stow, with ``release_prior_h`` > 0 and a planned stream, the mean is a Gamma-Poisson
        posterior: ``release_prior_h`` hours of the plan counted as seen beside the hour's
        cartons, (cartons + prior_h x plan) / (hours + prior_h). The prior does not fade with the
        window: the plan is the stream's long-run rate, and an hour of a 36-an-hour stream is
        +-17% of Poisson noise at any time of the shift, not only in its first hour. With
        ``release_unscheduled`` the mean is of the cartons no schedule announced, and the busiest
        hour still due on the schedule is added to that stream (never under the plan) rather than
        to the plan."""
        total, weight = self._arriving_sw.get(kind, (0.0, 0.0))
        plan = self._dock_stream_per_min if kind == "stow" else 0.0
        prior_h = self.release_prior_h if plan > 0.0 else 0.0
        total, weight = max(total, 0.0) + prior_h * plan, weight + prior_h
        mean = total / weight if weight > 0 else 0.0
        if kind == "stow" and self.release_unscheduled:
            # the stream (never under the plan) plus the busiest hour still due on the schedule
            return max(mean, plan) + self._dock_peak_per_min
        return max(self.arriving_peak(kind, mean), plan)  # plan: 0 for pick

    def arriving_peak(self, kind: str, now: float | None = None) -> float:
        """A kind's work arriving per minute in the busiest hour still to come that is known now:
        pick, the last hour's lines times the plan's peak demand factor ahead (a planned promotion);
        stow, the larger of the last hour's cartons and the unscheduled stream plus the busiest hour
        of the dock schedule still to come (a wave or trailer on it). A release lasts the rest of the
        shift: measured on eluna_heldout (never tuned on), seeds 16 and 20 sent a stower home an hour
        before a trailer on the dock schedule that the 60-minute forecast could not yet see, and lost
        5-6% of their units per hour. ``now``: the last hour's rate to start from (default: the
        running mean ``_arriving``)."""
        if now is None:
            now = self._arriving.get(kind, 0.0)
        if kind == "pick":
            return now * self._planned_peak(self._t_s)
        if self._dock_peak_per_min <= 0.0:
            return now  # nothing on the dock schedule: the floor's own last hour
        return max(now, self._dock_stream_per_min + self._dock_peak_per_min)

    def _score_matured(self, t_s: float, open_work: tuple[int, int]) -> None:
        for rec in [r for r in self._open if r.t_s + r.horizon_s <= t_s + 1e-6]:
            self._open.remove(rec)
            real = {
                "units_picked": self._cum["units_picked"] - rec._start["units_picked"],
                "units_stowed": self._cum["units_stowed"] - rec._start["units_stowed"],
                "open_pick_units": open_work[0],
                "open_stow_units": open_work[1],
                "labour_h": (self.levers.board.paid_s - rec._start["paid_s"]) / 3600.0,
            }
            weight = rec._start.get("open_weight", OPEN_WORK_WEIGHT)
            j_real = objective(real, rec._start["price"], weight)
            # doing nothing as the lookahead rolled it forward, or as the fluid model projected it
            judged = rec.evidence.get("lookahead") or rec.evidence.get("model")
            j_nothing = judged["nothing"]["objective"] if judged else None
            realised = {"objective": round(j_real, 2), **real}
            if j_nothing is not None:
                realised["objective_vs_predicted_nothing"] = round(j_real - j_nothing, 2)
            if rec._counterfactual is not None:
                # paired: the same future without the plan (later recommendations inside the
                # horizon count towards this one's realised effect too)
                delta = j_real - objective(rec._counterfactual, rec._start["price"], weight)
                realised["effect"] = round(delta, 2)
                realised["sign_as_predicted"] = (delta > 0) == (rec.predicted["objective"] > 0)
            elif j_nothing is not None:
                realised["sign_as_predicted"] = (j_real - j_nothing > 0) == (rec.predicted["objective"] > 0)
            if service_move.KEY in rec.predicted or charging_lend.KEY in rec.predicted:
                self._score_service(rec, realised, judged)
            rec.realised = realised

    def _score_service(self, rec: Recommendation, realised: dict, judged: dict | None) -> None:
        """A service move predicted a shorter order cycle, not a J gain: its sign is the p95's. The
        floor's all-orders p95 over the horizon against the run's own future without the move (the
        paired fork), or without one the lookahead's predicted doing nothing."""
        real = None
        if self.service_probe is not None and "service_mark" in rec._start:
            real = self.service_probe.p95_since(rec._start["service_mark"])
        if rec._counterfactual is not None:
            nothing = rec._counterfactual.get("cycle_p95_all_s")
        else:
            nothing = (judged or {}).get("nothing", {}).get("cycle_p95_all_s")
        sign = service_move.realised_sign(real, nothing)
        key = charging_lend.KEY if charging_lend.KEY in rec.predicted else service_move.KEY
        realised[key] = {"cycle_p95_all_s": real, "nothing_cycle_p95_all_s": nothing}
        # judged on J, a move whose J gain is inside the noise by construction is a coin toss
        realised.pop("sign_as_predicted", None)
        if sign is not None:
            realised["sign_as_predicted"] = sign

    # ------------------------------------------------------------------ candidates

    def kind_work(self, dg: dict, horizons: tuple[int, ...] = (30,)) -> dict[str, float]:
        """Minutes of work at one person's pace per kind (pick, stow): the largest of now and the
        forecasts at ``horizons``. Work of a kind is pooled: new orders and cartons go to the open
        stations with the least work, so what matters is the kind's capacity."""
        sts = [s for s in dg["stations"] if s["id"] in self.service_s]
        fc = self.last_forecast
        out = {}
        for kind, now_units, key in (
            ("pick", dg["open_lines"], "open_lines"),
            ("stow", dg["open_cartons"], "open_cartons"),
        ):
            mine = [s for s in sts if s["kind"] == kind]
            if not mine:
                continue
            mean_s = sum(self.service_s[s["id"]] for s in mine) / len(mine)
            ahead = max((fc.get(key, {}).get(h, now_units) for h in horizons), default=now_units)
            out[kind] = max(now_units, ahead) * mean_s / 60.0
        return out

    def _max_pressure(self, work: dict[str, float], staffed: dict[str, int]) -> float:
        kinds = self.levers.board.config.kinds
        worst = 0.0
        for kind, w in work.items():
            cap = sum(self.speed(n) for sid, n in staffed.items() if kinds[sid] == kind)
            if kind == "pick" and self.outage_peak:
                w = max(w, self._pick_plan_work(cap))
            if cap <= 0:
                if w > 0:
                    return math.inf
                continue
            worst = max(worst, w / cap / TOLERANCE_MIN.get(kind, 1.0))
        return worst

    def _pick_plan_work(self, people: float) -> float:
        """Minutes of pick work at one person's pace that an hour of the plan's busiest demand
        leaves at ``people`` person-equivalents, while a pick station is down (`outage_peak`; 0.0
        when none is, or before 30 station-minutes of pick service have been seen)."""
        board = self.levers.board
        kinds = board.config.kinds
        if not any(kinds.get(sid) == "pick" for sid in board.down_until):
            return 0.0
        n, per_station = self._busy.get("pick", (0, 0.0))
        if n < 30 or "pick" not in self._arriving:
            return 0.0
        picks = [sid for sid, k in kinds.items() if k == "pick" and sid in self.service_s]
        mean_s = sum(self.service_s[sid] for sid in picks) / max(1, len(picks))
        lines = outage_peak.plan_backlog_lines(
            open_lines=self._pick_open_lines,
            arriving_per_min=self.arriving_peak("pick"),
            seen_per_person_min=per_station,
            people=people,
        )
        return lines * mean_s / 60.0

    def _moves(self, staffed: dict[str, int], floaters: int) -> list[MoveAssociates]:
        """Every single move possible from this staffing (one person)."""
        board = self.levers.board
        out = []
        sources = ([POOL] if floaters > 0 else []) + [sid for sid, n in staffed.items() if n > 0]
        for src in sources:
            for t in staffed:
                if t == src or t in board.down_until or staffed[t] >= board.config.max_per_station:
                    continue
                out.append(MoveAssociates(src, t, 1))
        return out

    @staticmethod
    def _after(staffed: dict[str, int], floaters: int, m: MoveAssociates) -> tuple[dict[str, int], int]:
        st = dict(staffed)
        if m.source == POOL:
            floaters -= m.n
        else:
            st[m.source] -= m.n
        if m.target == POOL:
            floaters += m.n
        else:
            st[m.target] += m.n
        return st, floaters

    def candidates(self, dg: dict) -> list[list[Action]]:
        """Plans (lists of actions) worth rolling forward, most promising first (at most
        ``max_candidates``). The measure is the worst kind's pressure: minutes of (forecast) work
        per unit of capacity, capacity from the rate model (`RateModel.speed`, so opening a closed
        station adds a whole person and a third person at one station little). Plans: the greedy
        rebalancing (up to 4 moves, each lowering the worst pressure by ``improve`` or more), and
        the best single moves; the charging threshold when the fleet runs low. Every plan is
        feasible now, its actions in order. Nothing when the worst pressure is below ``gate_min``
        minutes: the agent then does not roll forward."""
        board = self.levers.board
        work = self.kind_work(dg)
        staffed = {sid: board.planned(sid) for sid in board.staffed}
        floaters = board.floaters
        now = self._max_pressure(work, staffed)
        self._on_wave = charging_lend.on_wave(dg)  # holds `charging_lend`'s people (`_return_plans`)
        plans: list[list[Action]] = []
        # A release lasts the rest of the shift: the floor must stay quiet an hour ahead, too, and
        # at the plan's busiest hour still to come (a planned promotion is known; measured: on
        # eluna_surge seed 1 a release before the peak cost +9% order-cycle p95).
        work_hour = self.kind_work(dg, (30, 60))
        peak = self._planned_peak(dg["t_s"])
        work_hour = {k: w * (peak if k == "pick" else 1.0) for k, w in work_hour.items()}
        self._release_plans = []
        held = self.release_pace and self.on_call.holds_releases(dg["t_s"])  # just called someone back
        if self._max_pressure(work_hour, staffed) < self.gate_min / 2 and not held:
            self._release_plans = self._releases(work_hour, staffed, floaters)
            plans += self._release_plans
        work60 = self.kind_work(dg, self._ahead_min(dg["t_s"]))
        if self._dock_bounded() and "stow" in work60:
            # a lent stower is home before the trailer (`dock_lend`): the stow work to check is the
            # work before its first carton
            clear = dock_lend.clear_horizons(self._dock_ahead, self._ahead_min(dg["t_s"]))
            work60["stow"] = self.kind_work(dg, clear)["stow"]
        if now >= self.gate_min:
            scored = []
            for m in self._moves(staffed, floaters):
                if not self._lend_ok(m, staffed, floaters, work60):
                    continue
                st, fl = self._after(staffed, floaters, m)
                after = self._max_pressure(work, st)
                if after < now * (1.0 - self.improve):
                    scored.append((after, m.source != POOL, m.source, m.target, m))
            scored.sort(key=lambda x: x[:4])
            greedy = self._greedy(work, work60, staffed, floaters, now, pool=True)
            if len(greedy) > 1:
                plans.append(list(greedy))
            # the people already paid first (`_greedy`, ``pool=False``): every lend the other kind
            # can spare, at once, before anyone is called in
            if self.paid_first:
                paid = self._greedy(work, work60, staffed, floaters, now, pool=False)
                if len(paid) > 1 and paid != greedy:
                    plans.append(merge_moves(paid))
            # one single move per shape (from the pool or a station of a kind with n people, to a
            # kind's station with m): moves of the same shape are alike on a pooled floor, so the
            # lookahead's few plans go to different ideas (a floater, a lent stower, a third picker)
            kinds = board.config.kinds
            shapes = set()
            for *_, m in scored:
                shape = (
                    POOL if m.source == POOL else (kinds[m.source], staffed[m.source]),
                    kinds.get(m.target, POOL),
                    staffed.get(m.target, 0),
                )
                if [m] not in plans and shape not in shapes:
                    shapes.add(shape)
                    plans.append([m])
        # people waiting for robots at a starved station, and bringing them back once pods reach
        # their kind again: rolled forward first, never cut by the pressure plans
        self._recall = [p for p in self._recall_plans(dg) if self.feasible_plan(p, dg["t_s"])]
        self._idle = [p for p in self._idle_plans(dg, staffed) if self.feasible_plan(p, dg["t_s"])]
        if self._recall:
            self._idle = []  # one direction at a time
        # lent people back home when home needs them or where they went no longer does; rolled
        # forward first, with the recall (both are the way back to the plan)
        self._return = [
            p for p in self._return_plans(dg, staffed, work60) if self.feasible_plan(p, dg["t_s"])
        ]
        # the charging threshold back to the plan once the fleet has recovered: a way back too
        # (`charging.py`; before it, a raised threshold stayed to the end of the shift)
        # (the threshold in force from the digest: an operator may have accepted a raise in advise)
        thr = (dg.get("fleet") or {}).get("threshold")
        charge_frac = {
            "plan_frac": self.charge_frac,
            "now_frac": self._charge_frac_now if thr is None else thr,
        }
        self._return += [
            p for p in charging.back_to_plan_plans(dg, **charge_frac) if self.feasible_plan(p, dg["t_s"])
        ]
        self._recall = self._return + [p for p in self._recall if p not in self._return]
        # the fleet's levers are rolled forward beside the people's best plans, never cut by them
        fleet = self._drive_split(dg, work, staffed)
        fleet += charging.raise_plans(dg, **charge_frac)
        fleet = [p for p in fleet if self.feasible_plan(p, dg["t_s"])]
        base = [p for p in plans if self.feasible_plan(p, dg["t_s"])][
            : max(1, self.max_candidates - len(fleet))
        ]
        self._wave_plans = self._charging_lend_plans(dg, staffed, floaters, work, work60)
        self._on_call_plans = self._on_call_recalls(dg, work, staffed, floaters)
        first = self._recall + self._idle + self._wave_plans + self._on_call_plans
        base = first + [p for p in base if p not in first]
        base += fleet
        extra: list[list[Action]] = []
        for hook in self.candidate_hooks:
            extra += [p for p in hook(self, dg) if p not in base and self.feasible_plan(p, dg["t_s"])]
        return base + extra[: self.extra_candidates]

    def _on_call_recalls(
        self, dg: dict, work: dict[str, float], staffed: dict[str, int], floaters: int
    ) -> list[list[Action]]:
        """The people this agent released, called back to a hot kind (``release_pace``; `on_call`)."""
        if not self.release_pace:
            return []
        board = self.levers.board
        # people on a break back within the horizon count as there: a kind hot only while they are
        # away is a known transient, and a recall stays (`on_call.RECALL_HOLD_MIN`)
        back = dict(staffed)
        for m in board.on_break:
            if m.due_s <= dg["t_s"] + self.horizon_s and m.station in back:
                back[m.station] += m.n
        plans = self.on_call.plans(
            work,
            back,
            floaters,
            kinds=board.config.kinds,
            down=set(board.down_until),
            max_per_station=board.config.max_per_station,
            pressure=self._max_pressure,
            gate=self.gate_min,
        )
        return [p for p in plans if p not in self._recall and self.feasible_plan(p, dg["t_s"])]

    def _charging_lend_plans(
        self, dg: dict, staffed: dict[str, int], floaters: int, work: dict, work60: dict
    ) -> list[list[Action]]:
        """The stower the charging wave calls for (`fctwin.controller.eluna.charging_lend`), with
        ``charging_lend`` on and a fork to veto it: while the floor shows the wave, pick is pressed
        (now or 30 minutes ahead, over the gate) with pods queued for its people, a stower stands
        without a pod and stow can spare them an hour ahead (`_lend_ok`), and nobody is held by
        the rule already. At most one plan, of one move."""
        if not self.charging_lend or self.lookahead is None or not self._on_wave:
            return []
        if len(self.wave_lent) >= charging_lend.MAX_HELD or "pick" not in work:
            return []
        board = self.levers.board
        kinds = board.config.kinds
        if self._max_pressure({"pick": work["pick"]}, staffed) < self.gate_min:
            return []
        if not charging_lend.people_bound(dg, kinds):
            return []
        m = charging_lend.choose(dg, staffed, kinds, set(board.down_until), board.config.max_per_station)
        if m is None or not self._lend_ok(m, staffed, floaters, work60):
            return []
        plan: list[Action] = [m]
        return [plan] if self.feasible_plan(plan, dg["t_s"]) else []

    def _greedy(
        self, work: dict, work60: dict, staffed: dict[str, int], floaters: int, now: float, *, pool: bool
    ) -> list[MoveAssociates]:
        """Up to 4 single-person moves, each the one that lowers the worst pressure most (by
        ``improve`` or more), every lend checked by `_lend_ok` against the staffing so far. With
        ``pool`` floaters come first on a tie (a floater and a lent stower relieve pick alike).
        Without it only the people already paid move: a floater costs a labour hour for the rest
        of the shift, a stower the other kind can spare costs none, and a good shift lead uses
        them first. Before this plan existed the greedy plan always began with floaters and the
        single-move plans lent one stower at a time: eluna_outage seed 11 lent S1 to P3 at 09:10
        and S2 to P4 only at 09:40 (the 09:10 lookahead rolled forward three floaters and a
        stower, one floater, one stower; never the two stowers together)."""
        moves: list[MoveAssociates] = []
        st, fl, cur = staffed, (floaters if pool else 0), now
        for _ in range(4):
            best = None
            for m in self._moves(st, fl):
                if not self._lend_ok(m, st, fl, work60):
                    continue
                st2, fl2 = self._after(st, fl, m)
                after = self._max_pressure(work, st2)
                key = (after, m.source != POOL, m.source, m.target)
                if after < cur * (1.0 - self.improve) and (best is None or key < best[0]):
                    best = (key, m, st2, fl2)
            if best is None:
                break
            _, m, st, fl = best
            cur = best[0][0]
            moves.append(m)
        return moves

    def _lend_ok(self, m: MoveAssociates, staffed: dict[str, int], floaters: int, work60: dict) -> bool:
        """A move between kinds (a stower lent to pick, or a picker to stow) only when the kind it
        leaves stays under the gate an hour ahead without them (``work60``: the larger of now and
        the 30- and 60-minute forecasts, the dock schedule's cartons in them). A lend outlasts the
        30-minute lookahead that judges it: on eluna_heldout seed 11 (never tuned on) a stower lent
        to pick at 10:00 left stow short when a trailer on the dock schedule landed at 10:30 (stow
        stations 5 pods queued, 50-66 cartons open), and the run lost 5% of its units per hour."""
        kinds = self.levers.board.config.kinds
        if m.source == POOL or m.target == POOL or kinds[m.source] == kinds[m.target]:
            return True
        k = kinds[m.source]
        if k not in work60:
            return True
        st, _ = self._after(staffed, floaters, m)
        if self._dock_bounded() and k == "stow":
            # `dock_lend`: a lend until the trailer, never into it
            if dock_lend.due_within(self._dock_ahead, dock_lend.LEND_CLEAR_MIN):
                return False
        elif k == "stow" and self._dock_peak_per_min > 0.0 and not self.release_keeps_up(st, k):
            # A wave or trailer on the dock schedule for the rest of the shift: the stow stations
            # left must serve its busiest hour at the rate they were *seen* to serve, as for a
            # release. The forecast above cannot carry it: its horizon ends inside the trailer's
            # hour, and before the wave the stow stations have had no work to show a rate (the
            # forecaster's seen stow rate, `Forecaster.realised`, is still the plan's share):
            # eluna_heldout seed 17 (main, session 10) lent a stower to pick at 09:50 with a
            # 60-carton trailer due at 10:30 (the 60-minute forecast: 16 cartons open, with the
            # seen rate too), and lost 5% of its units per hour.
            return False
        return self._max_pressure({k: work60[k]}, st) < self.gate_min

    def _return_plans(self, dg: dict, staffed: dict[str, int], work60: dict) -> list[list[Action]]:
        """The people the agent lent to another kind (`lent`), back home: each when home's kind is
        pressed an hour ahead (``work60`` over the gate) or the kind they went to stays under the
        gate without them (now and 30 minutes ahead). Before this a lent stower stayed at pick
        until the normal candidates happened to move them, which needed a gain of ``min_gain`` on
        two sampled futures: cartons open at the end of the shift on the surge (auto 84 units
        against the static plan's 34, seeds 11-15) and a trailer's cartons waiting on the held-out
        scene. One plan with every return due, and the first alone when there are several.

        Who goes first: of the lent people due, the one whose leaving costs the kind they are at
        the least capacity (rate model: one of two at a station takes ~0.5 of a person's pace with
        them, the only one there a whole person and the station), so a way home closes a station
        only when no lent person stands with a colleague. And a way home that closes a station is
        judged against the known future as a release is (`release_keeps_up`): the kind's open
        stations left must serve its busiest hour still to come with 15% to spare at their seen
        rate. The 30-minute lookahead cannot see that: eluna_misstaffed seed 16 lent four stowers
        to the four pick stations at 08:10 (P3 and P4 opened with them); at 09:10, with stow
        pressed an hour ahead, the first lent (P3's) went home and closed P3 (predicted over 30
        minutes: +7 units, order-cycle p95 +182 s; one of P1's two was worth +63 on the same
        future), and the run ended with 118 units open against the shift lead's 57."""
        self._return_needed = []
        self._return_dock = []
        if not self.lent:
            return []
        board = self.levers.board
        kinds = board.config.kinds
        work = self.kind_work(dg)
        st = dict(staffed)
        moves: list[MoveAssociates] = []
        needed: list[bool] = []  # per move: due because home's kind is pressed an hour ahead
        docked: list[bool] = []  # per move: due because a scheduled carton is near (`dock_lend`)
        dock_home = self._dock_bounded() and dock_lend.due_within(self._dock_ahead, dock_lend.HOME_MIN)
        left = list(self.lent)
        while left:
            due = []
            for k, (home, at) in enumerate(left):
                if home in board.down_until or board.staffed.get(at, 0) <= 0 or st.get(at, 0) <= 0:
                    continue
                if st[home] >= board.config.max_per_station:
                    continue
                kh, ka = kinds[home], kinds[at]
                home_needs = kh in work60 and self._max_pressure({kh: work60[kh]}, st) >= self.gate_min
                home_needs = home_needs or (dock_home and kh == "stow")
                after = dict(st)
                after[at] -= 1
                after[home] += 1
                at_quiet = ka not in work or self._max_pressure({ka: work[ka]}, after) < self.gate_min
                if at_quiet and self._on_wave and (home, at) in self.wave_lent:
                    # held through the charging wave (`charging_lend`): the pick backlog comes back
                    # as long as units queue for the pads; home's need still sends them home
                    at_quiet = False
                if not (home_needs or at_quiet):
                    continue
                if after[at] == 0 and not self.release_keeps_up(after, ka):
                    continue  # closes a station its kind needs beyond the horizon
                lost = self.speed(st[at]) - self.speed(after[at])
                due.append((lost, k, home, at, home_needs, after, dock_home and kh == "stow"))
            if not due:
                break
            _, k, home, at, home_needs, after, to_dock = min(due, key=lambda x: x[:2])
            moves.append(MoveAssociates(at, home, 1))
            needed.append(home_needs)
            docked.append(to_dock)
            st = after
            del left[k]
        if not moves:
            return []
        plans = [merge_moves(moves)]
        if all(needed):
            self._return_needed.append(plans[0])
        if all(docked):
            self._return_dock.append(plans[0])
        if len(moves) > 1:
            plans.append([moves[0]])
            if needed[0]:
                self._return_needed.append(plans[-1])
            if docked[0]:
                self._return_dock.append(plans[-1])
        return plans

    def _dock_bounded(self) -> bool:
        """Whether a stow lend is bounded by the dock schedule (`dock_lend`): the option is on and
        a wave or trailer is on it for the rest of the shift."""
        return self.lend_until_dock and self._dock_peak_per_min > 0.0

    def _note_lending(self, plan: list[Action]) -> None:
        """Remember people an applied plan moved between kinds, and forget those it brought home."""
        if plan in self._idle:  # people off a starved station: `parked`, called back by `_recall_plans`
            return
        kinds = self.levers.board.config.kinds
        for a in plan:
            if not isinstance(a, MoveAssociates) or POOL in (a.source, a.target):
                continue
            if kinds[a.source] == kinds[a.target]:
                continue
            for _ in range(a.n):
                if (a.target, a.source) in self.lent:
                    self.lent.remove((a.target, a.source))
                    if (a.target, a.source) in self.wave_lent:
                        self.wave_lent.remove((a.target, a.source))
                else:
                    self.lent.append((a.source, a.target))

    def starved_stations(self) -> list[str]:
        """Stations starved for `STARVED_MIN` minutes or more (people there now, not down)."""
        board = self.levers.board
        return sorted(
            sid
            for sid, m in self._starved.items()
            if m >= STARVED_MIN and board.staffed.get(sid, 0) > 0 and sid not in board.down_until
        )

    def _idle_plans(self, dg: dict, staffed: dict[str, int]) -> list[list[Action]]:
        """People at starved stations (`STARVED_MIN`) wait for robots, not for work: lend them to a
        station of another kind where pods queue for people (2 or more pods queued, room for one
        more person), else send them to the pool (off the floor, unpaid, on call) until pods reach
        their kind again (`_recall_plans`). Never the last open station of a kind: when every open
        station of a kind is starved, the one with the most work waiting keeps one person (cartons
        keep a station to go to, and the first pods that come find someone). Two plans: lend where
        possible and park the rest, and park everyone; the lookahead judges both."""
        board = self.levers.board
        kinds = board.config.kinds
        starved = self.starved_stations()
        if not starved or self.starved_mode == "off":
            return []
        st_by_id = {s["id"]: s for s in dg["stations"]}
        keep: dict[str, int] = {}
        for k in sorted({kinds[s] for s in starved}):
            mine = [s for s in starved if kinds[s] == k]
            fed_open = [s for s in staffed if kinds[s] == k and staffed[s] > 0 and s not in mine]
            if not fed_open:
                keeper = max(mine, key=lambda s: (st_by_id.get(s, {}).get("pending", 0), s))
                keep[keeper] = 1
        # a kind needs people when its work (now or forecast) is over the gate and pods wait at
        # its stations: pods queued alone are the ordinary state of a pick station on this floor
        # (2-4 on the balanced one), and a stower lent to a pick side that keeps up adds nothing
        # but leaves stow short when pods come back (eluna_heldout seed 11, before this condition:
        # -6.7% units per hour against the static plan)
        work = self.kind_work(dg)
        pressed = {k for k in work if self._max_pressure({k: work[k]}, staffed) >= self.gate_min}
        room = {
            s["id"]: board.config.max_per_station - staffed[s["id"]]
            for s in dg["stations"]
            if s["id"] in staffed
            and kinds[s["id"]] in pressed
            and s["id"] not in starved
            and s["id"] not in board.down_until
            and 0 < staffed[s["id"]] < board.config.max_per_station
            and s.get("queued_pods", 0) >= 2
        }
        lend: list[Action] = []
        park: list[Action] = []
        for sid in starved:
            n = board.staffed[sid] - keep.get(sid, 0)
            if n <= 0:
                continue
            park.append(MoveAssociates(sid, POOL, n))
            for _ in range(n):
                free = [t for t, r in room.items() if r > 0 and kinds[t] != kinds[sid]]
                if free:
                    t = min(free, key=lambda t: (staffed[t] + (board.config.max_per_station - room[t]), t))
                    room[t] -= 1
                    lend.append(MoveAssociates(sid, t, 1))
                else:
                    lend.append(MoveAssociates(sid, POOL, 1))
        plans = [park] if park and self.starved_mode == "park" else []
        if lend and any(a.target != POOL for a in lend):
            lend = [a for a in lend if a.target != POOL or self.starved_mode == "park"]
            plans.insert(0, merge_moves(lend))
        return plans

    def _recall_plans(self, dg: dict) -> list[list[Action]]:
        """Bring back the people `_idle_plans` took off a kind once pods reach it again: pods queue
        (2 or more) at one of its open stations and none of them is starved. From the pool, or from
        the station they were lent to (if they are still there)."""
        if not self.parked:
            return []
        board = self.levers.board
        kinds = board.config.kinds
        st_by_id = {s["id"]: s for s in dg["stations"]}
        from_pool: list[MoveAssociates] = []
        lent: list[MoveAssociates] = []
        floaters = board.floaters
        for k in sorted({kinds[src] for src, _ in self.parked}):
            open_k = [s for s in kinds if kinds[s] == k and board.staffed.get(s, 0) > 0]
            fed = any(st_by_id.get(s, {}).get("queued_pods", 0) >= 2 for s in open_k)
            if not fed or any(self._starved.get(s, 0) >= 3 for s in open_k):
                continue
            for src, went in self.parked:
                if kinds[src] != k or src in board.down_until:
                    continue
                if went == POOL:
                    if floaters <= 0:
                        continue
                    floaters -= 1
                    from_pool.append(MoveAssociates(went, src, 1))
                elif board.staffed.get(went, 0) > 0:
                    lent.append(MoveAssociates(went, src, 1))
        # the people from the pool alone first (they cost no other station anything), then everyone
        plans = [merge_moves(from_pool)] if from_pool else []
        if lent:
            plans.append(merge_moves(from_pool + lent))
        return plans

    def _drive_split(self, dg: dict, work: dict[str, float], staffed: dict[str, int]) -> list[list[Action]]:
        """The drive-unit split between pick and stow work. When the fleet has no idle unit (the
        floor is drive-unit bound) and pick is the pressed kind, cap the units on stow trips at two
        thirds of those on them now (cartons wait, pods reach the pickers sooner); lift the agent's
        cap when pick is quiet again or stow has become the pressed kind. The lookahead judges."""
        us = dg.get("unit_states") or {}
        n_units = max(1, sum(us.values()))
        cap_now = getattr(self.levers.d, "stow_unit_cap", None)
        pick = self._max_pressure({"pick": work["pick"]}, staffed) if "pick" in work else 0.0
        stow = self._max_pressure({"stow": work["stow"]}, staffed) if "stow" in work else 0.0
        if cap_now is None:
            busy = us.get("idle", n_units) <= 0.05 * n_units
            if busy and pick >= self.gate_min and pick > stow and us.get("stow_trip", 0) >= 4:
                return [[SetDriveSplit(max(2, us["stow_trip"] * 2 // 3))]]
        elif pick < self.gate_min / 2 or stow >= pick:
            return [[SetDriveSplit(None)]]
        return []

    def _planned_peak(self, t_s: float) -> float:
        """The plan's highest demand factor for the rest of the shift over the factor now (>= 1)."""
        rate = self.forecaster.plan_rate
        now = max(rate(t_s), 1e-9)
        ahead = [rate(t) for t in np.arange(t_s, max(t_s, self.shift_end_s) + 1.0, 900.0)]
        return max(1.0, max(ahead) / now)

    def _releases(self, work: dict[str, float], staffed: dict[str, int], floaters: int) -> list[list[Action]]:
        """A quiet floor: send one associate (or two, from different stations) to the pool where the
        worst pressure stays below ``gate_min / 2`` without them (a station's last person closes it,
        never the last open station of a kind). The lookahead prices the labour saved against any
        throughput lost."""
        kinds = self.levers.board.config.kinds
        singles = []
        for sid, n in staffed.items():
            if n <= 0 or self.levers.board.staffed.get(sid, 0) <= 0:
                continue
            if n == 1 and sum(1 for x, m in staffed.items() if kinds[x] == kinds[sid] and m > 0) <= 1:
                continue
            st, _ = self._after(staffed, floaters, MoveAssociates(sid, POOL, 1))
            after = self._max_pressure(work, st)
            if after < self.gate_min / 2 and self._release_ok(st, kinds[sid]):
                singles.append((after, -n, sid, st))
        singles.sort(key=lambda x: x[:3])
        plans: list[list[Action]] = [[MoveAssociates(sid, POOL, 1)] for *_, sid, _ in singles[:2]]
        if len(singles) >= 2:
            a, b = singles[0][2], singles[1][2]
            st = dict(staffed)
            st[a] -= 1
            st[b] -= 1
            ok_kinds = all(any(m > 0 for x, m in st.items() if kinds[x] == k) for k in set(kinds.values()))
            ok_kinds = ok_kinds and all(self._release_ok(st, k) for k in {kinds[a], kinds[b]})
            if ok_kinds and self._max_pressure(work, st) < self.gate_min / 2:
                plans.insert(0, [MoveAssociates(a, POOL, 1), MoveAssociates(b, POOL, 1)])
        return plans

    def _release_ok(self, staffed_after: dict[str, int], kind: str) -> bool:
        """Whether the people left keep up with ``kind``'s work for the rest of the shift after a
        release: `people_keep_up` (``release_pace``) or the seen rate (`release_keeps_up`)."""
        if self.release_pace:
            return self.people_keep_up(staffed_after, kind)
        return self.release_keeps_up(staffed_after, kind)

    def feasible_plan(self, plan: list[Action], t_s: float) -> bool:
        """Whether every action of ``plan`` is feasible once the ones before it are applied (on a
        copy of the labour board; people walking towards a station are not there to be moved yet)."""
        board = copy.deepcopy(self.levers.board)
        for a in plan:
            if isinstance(a, MoveAssociates):
                if board.infeasible(a.source, a.target, a.n) is not None:
                    return False
                board.move(t_s, a.source, a.target, a.n, _NoDispatcher())
            elif self.levers.infeasible(a) is not None:
                return False
        return True

    # ------------------------------------------------------------------ deciding

    def lookahead_horizon_s(self, dg: dict) -> float:
        """The horizon this decision's plans are judged over: the ordinary one (``horizon_min``),
        or, with ``charging_wave`` on a charging-bound floor, the charging wave
        (`CHARGING_WAVE_CAP_MIN`). Charging-bound: at least as many units wait for a pad as there
        are pads, now (the digest) and at the end of the ordinary horizon (the charging rules played
        forward): the deficit outlasts it. The
        wave's horizon is the projected minute the queue is gone (rounded up to the decision
        period), capped, and never past the end of the shift. With ``shift_end`` no horizon runs
        past the end of the shift (0.0 at its end: no decision)."""
        h = self._wave_horizon_s(dg)
        if self.shift_end:
            return shift_end.horizon_to_end_s(dg["t_s"], h, self.shift_end_s)
        return h

    def _ahead_min(self, t_s: float) -> tuple[int, ...]:
        """The forecast horizons a lend and a way home are checked over: 30 and 60 minutes; with
        ``shift_end`` only those inside the shift (a kind needs no one after the shift has ended)."""
        if self.shift_end:
            return shift_end.horizons_within(t_s, self.shift_end_s, (30, 60))
        return (30, 60)

    def _wave_horizon_s(self, dg: dict) -> float:
        """The ordinary horizon, or the charging wave's (``charging_wave``; see above)."""
        if not self.charging_wave:
            return self.horizon_s
        fl = dg.get("fleet") or {}
        base_min = int(round(self.horizon_s / 60.0))
        pads = max(1, fl.get("pads", 0))
        play = getattr(self.forecaster, "pad_queue_path", None)
        if fl.get("waiting_pad", 0) < pads or play is None:
            return self.horizon_s
        queue = play(dg, CHARGING_WAVE_CAP_MIN)
        if queue is None or len(queue) < base_min or queue[base_min - 1] < pads:
            return self.horizon_s
        gone = next((k + 1 for k, n in enumerate(queue) if n <= PAD_QUEUE_CLEAR_UNITS), len(queue))
        wave_min = min(CHARGING_WAVE_CAP_MIN, self.period_min * math.ceil(gone / self.period_min))
        left_min = (self.shift_end_s - dg["t_s"]) / 60.0
        return 60.0 * max(base_min, min(wave_min, math.floor(left_min)))

    def _decide(self, dg: dict) -> list[Recommendation]:
        self._open_weight, self._at_end = OPEN_WORK_WEIGHT, False
        cands = self.candidates(dg)
        if not cands:
            return []
        self.decisions += 1
        if self.lookahead is not None:
            w0 = time.perf_counter()
            horizon_s = self.lookahead_horizon_s(dg)
            if horizon_s <= 0.0:
                return []  # the shift is over (`shift_end`)
            # the work open when the shift ends is carried into the next shift whole (`shift_end`)
            at_end = self.shift_end and shift_end.reaches_end(dg["t_s"], horizon_s, self.shift_end_s)
            self._open_weight = shift_end.SHIFT_END_OPEN_WEIGHT if at_end else OPEN_WORK_WEIGHT
            self._at_end = at_end
            results = self.lookahead.evaluate([[]] + cands, horizon_s, f"eluna.{dg['minute']}")
            self.lookahead_wall_s += time.perf_counter() - w0
            wave = horizon_s > self.horizon_s
            if wave or at_end:
                results = [_all_orders_view(r) for r in results]
            self.lookahead_plans += len(cands) + 1
            # labour added now is paid for the rest of the shift, not only over the horizon
            price = self.labour_price() * max(1.0, (self.shift_end_s - dg["t_s"]) / horizon_s)
            js = [objective(r, price, self._open_weight) for r in results]

            def gain_of(r: dict, r0: dict, plan: list[Action]) -> float:
                return self._gain_of(r, r0, plan, price)

            keeps = self._keeps

            eligible = [k for k in range(1, len(js)) if keeps(results[k], results[0], cands[k - 1])]
            if not eligible:
                return self._no_winner(dg, cands, results, js, horizon_s, price)
            # the charging wave's lend is not a bet on efficiency: taken only when nothing wins
            eligible = [k for k in eligible if cands[k - 1] not in self._wave_plans]
            if not eligible:
                return self._no_winner(dg, cands, results, js, horizon_s, price)
            gains = {k: gain_of(results[k], results[0], cands[k - 1]) for k in eligible}
            # The recall is the way back from parking: taken whenever it keeps service (its people
            # are what the plan gives the kind), not only when it beats doing nothing on labour.
            # (in the shift's last horizon a way back must pay for itself like any plan: `shift_end`)
            recall = [] if at_end else [k for k in eligible if cands[k - 1] in self._recall]
            best = recall[0] if recall else max(eligible, key=lambda k: (gains[k], -k))
            gain = gains[best]
            throughput0 = results[0]["units_picked"] + results[0]["units_stowed"]
            if not recall and gain <= self.min_gain * max(1.0, throughput0):
                return self._no_winner(dg, cands, results, js, horizon_s, price)
            plan = cands[best - 1]
            r0, rb = results[0], results[best]
            # A second sampled future (fresh streams, common to both) for the chosen plan and doing
            # nothing: one sample's gain may be the noise of that future (a rerouted unit, one
            # carton earlier), and a plan is only recommended when it also wins, keeping service,
            # on the second (the realised sign then follows the predicted one more often).
            if recall:
                c0, cb = r0, rb  # no second sample: the way back is not a bet on the labour saved
            else:
                w0 = time.perf_counter()
                keys = [f"eluna.{dg['minute']}.confirm"]
                if wave:  # over the wave the plan must win on the mean of several futures
                    keys += [f"eluna.{dg['minute']}.confirm{k}" for k in range(2, WAVE_CONFIRM_SAMPLES + 1)]
                pairs = [self.lookahead.evaluate([[], plan], horizon_s, key) for key in keys]
                if wave or at_end:
                    pairs = [[_all_orders_view(r) for r in pair] for pair in pairs]
                c0, cb = _mean_kpis([p[0] for p in pairs]), _mean_kpis([p[1] for p in pairs])
                self.lookahead_wall_s += time.perf_counter() - w0
                self.lookahead_plans += 2 * len(keys)
            gain2 = gain_of(cb, c0, plan)
            throughput2 = c0["units_picked"] + c0["units_stowed"]
            weak = gain2 <= 0.5 * self.min_gain * max(1.0, throughput2)
            if not recall and (not keeps(cb, c0, plan) or weak):
                return self._no_winner(dg, cands, results, js, horizon_s, price)
            predicted = _predicted_effect(rb, r0, gain, gain2)
            slack_p95_s = self.spends_slack([rb, cb], [r0, c0])
            if slack_p95_s is not None:  # the target let it through: say what it spends
                predicted["p95_under_target_s"] = {
                    "p95_s": round(slack_p95_s, 1),
                    "target_s": self.p95_target_s,
                }
            evidence = self._evidence(cands, results, js, c0, cb, price, plan)
        else:
            plan, predicted, evidence = self._model_choice(dg, cands)
            if plan is None:
                return []
            horizon_s = self.horizon_s
        rec = self._recommend(dg, plan, predicted, evidence, horizon_s)
        return [rec]

    def _evidence(
        self,
        cands: list[list[Action]],
        results: list[dict],
        js: list[float],
        c0: dict,
        cb: dict,
        price: float,
        plan: list[Action],
    ) -> dict:
        """A recommendation's evidence: the forecasts, the confirmation and every plan's lookahead.
        The confirmation's objectives are at the labour price the plan was judged at (`_price_of`:
        a recall of people the agent released, or a way back from parking, is not priced as a hire),
        so an operator reads the same J difference the agent decided on; the first sample's
        objectives are at the rest-of-shift price common to all the candidates. Both prices are
        stated (``labour_price``, units per labour hour)."""
        p = self._price_of(plan, price)
        return {
            "forecast": {k: v for k, v in self.last_forecast.items() if not k.startswith("queue:")},
            "labour_price": {"plan": round(p, 2), "lookahead": round(price, 2)},
            "confirm": {
                "nothing": {**c0, "objective": round(objective(c0, p, self._open_weight), 2)},
                "plan": {**cb, "objective": round(objective(cb, p, self._open_weight), 2)},
            },
            "lookahead": {
                "nothing": {**results[0], "objective": round(js[0], 2)},
                **{
                    " + ".join(describe_short(a) for a in c): {
                        **results[k + 1],
                        "objective": round(js[k + 1], 2),
                    }
                    for k, c in enumerate(cands)
                },
            },
        }

    def _no_winner(
        self,
        dg: dict,
        cands: list[list[Action]],
        results: list[dict],
        js: list[float],
        horizon_s: float,
        price: float,
    ) -> list[Recommendation]:
        """No plan won on efficiency: the charging wave's lend when the rule proposed one and the
        lookahead did not veto it, else a service move (each with its option on), else nothing."""
        for k, plan in enumerate(cands):
            if plan in self._wave_plans and self._keeps(results[k + 1], results[0], plan):
                return [self._charging_lend(dg, plan, cands, results, js, price)]
        return self._service_move(dg, cands, results, js, horizon_s, price)

    def _charging_lend(
        self,
        dg: dict,
        plan: list[Action],
        cands: list[list[Action]],
        results: list[dict],
        js: list[float],
        price: float,
    ) -> Recommendation:
        """Recommend (and in auto mode apply) the charging wave's lend, without a second sample: it
        is taken on what the floor shows, and predicts a shorter order cycle over the wave's
        projected end (`charging_lend.score_horizon_min`), the horizon it is scored over."""
        r0, rb = results[0], results[cands.index(plan) + 1]
        fl = dg.get("fleet") or {}
        play = getattr(self.forecaster, "pad_queue_path", None)
        queue = play(dg, charging_lend.SCORE_CAP_MIN) if play is not None else None
        base_min = int(round(self.horizon_s / 60.0))
        h_min = charging_lend.score_horizon_min(queue, int(fl.get("pads", 0) or 0), base_min, self.period_min)
        h_min = max(1, min(h_min, int((self.shift_end_s - dg["t_s"]) // 60)))
        gain = self._gain_of(rb, r0, plan, price)
        predicted = {
            **_predicted_effect(rb, r0, gain, gain),
            charging_lend.KEY: charging_lend.predicted(h_min, rb, r0),
        }
        evidence = self._evidence(cands, results, js, r0, rb, price, plan)
        rec = self._recommend(dg, plan, predicted, evidence, 60.0 * h_min)
        if rec.applied:
            self.wave_lent += [(a.source, a.target) for a in plan if isinstance(a, MoveAssociates)]
        return rec

    def _service_move(
        self,
        dg: dict,
        cands: list[list[Action]],
        results: list[dict],
        js: list[float],
        horizon_s: float,
        price: float,
    ) -> list[Recommendation]:
        """When no plan wins on efficiency: a move of people already paid that keeps efficiency and
        shortens the order cycle beyond one sample's noise on this sampled future and on a second
        one (`fctwin.controller.eluna.service_move`), with ``service_moves`` on, or a plan of floor
        levers that changes no labour, with ``floor_service`` on; else nothing."""
        if not self.service_moves and not self.floor_service:
            return []

        def kept(r: dict, r0: dict) -> bool:
            return self._units_kept(r, r0, 0.0)

        def qualify(plan: list[Action]) -> bool:
            return (self.service_moves and service_move.qualifies(plan)) or (
                self.floor_service and service_move.floor_qualifies(plan)
            )

        k = service_move.choose(cands, results, kept, qualify)
        if k is None:
            return []
        plan = cands[k]
        r0, rb = results[0], results[k + 1]
        w0 = time.perf_counter()
        c0, cb = self.lookahead.evaluate([[], plan], horizon_s, f"eluna.{dg['minute']}.confirm")
        self.lookahead_wall_s += time.perf_counter() - w0
        self.lookahead_plans += 2
        if not service_move.passes(cb, c0, kept):
            return []
        gain = self._gain_of(rb, r0, plan, price)
        gain2 = self._gain_of(cb, c0, plan, price)
        predicted = {
            **_predicted_effect(rb, r0, gain, gain2),
            service_move.KEY: service_move.predicted([(rb, r0), (cb, c0)]),
        }
        evidence = self._evidence(cands, results, js, c0, cb, price, plan)
        return [self._recommend(dg, plan, predicted, evidence, horizon_s)]

    def _price_of(self, plan: list[Action], price: float) -> float:
        """Labour added or saved for good is paid for the rest of the shift (``price``); people
        parked off a starved station, or called back to it, move with the floor (the agent parks
        them again when their station starves, and calls them back when pods come): over the
        horizon only."""
        if plan in self._on_call_plans:  # undoing the agent's own release (`RECALL_PRICE`)
            return RECALL_PRICE
        return self.labour_price() if plan in self._idle or plan in self._recall else price

    def _gain_of(self, r: dict, r0: dict, plan: list[Action], price: float) -> float:
        """J of ``plan``'s result ``r`` minus J of doing nothing's ``r0``, at the plan's labour price."""
        p = self._price_of(plan, price)
        return objective(r, p, self._open_weight) - objective(r0, p, self._open_weight)

    def _keeps(self, r: dict, r0: dict, plan: list[Action]) -> bool:
        """Whether ``plan``'s result ``r`` keeps service against doing nothing's ``r0``.

        Taking people off a starved station gets the slack of a release (one carton): if its
        cartons are truly waiting for pods, whoever stands there, no more are left open at the
        horizon; if pods come within it, the station was not idle after all. (With a lent stower's
        ten cartons, eluna_heldout seed 11 lent three stowers to pick at 09:50 and ended with twice
        the static plan's open work.)"""
        for guard in self.plan_guards:  # a generator's own test for its own plans
            verdict = guard(self, plan, r, r0)
            if verdict is not None:
                return verdict
        if plan in self._wave_plans:  # the charging wave's lend: vetoed on efficiency alone
            return charging_lend.kept(r, r0)
        # one carton's units of stow shortfall forgiven (``[agent] carton_quantum``): see `keeps_service`
        quantum = self.units_per["stow"] if self.carton_quantum else 0.0
        # a way back judged to the shift's end (`shift_end`): all the work open then goes to the next
        # shift alike, cartons with lines; the pick-only bounds held lent stowers at pick while
        # their cartons piled up (eluna_outage seed 15, session 15: a way home predicted +56 units
        # at 11:30 refused on the every-order p95, +96 units open at the end)
        if plan in self._return_dock:
            # home before the trailer (`dock_lend`): the condition the lend was made on; the
            # 30-minute lookahead ends before the trailer's cartons need the person
            return True
        if plan in self._return_needed or (self._at_end and plan in self._return):
            return self.keeps_total_service(r, r0)
        take = plan in self._idle or _releases_people(plan)
        return self.keeps_service(
            r, r0, releases=take, stow_quantum_units=quantum, p95_ceiling_s=self.p95_ceiling_s
        )

    @property
    def p95_ceiling_s(self) -> float | None:
        """The order-cycle p95 a plan may reach over the horizon whatever doing nothing's, under
        the site's target (`P95_TARGET_MARGIN` of ``p95_target_s``); None without a target."""
        return None if self.p95_target_s is None else P95_TARGET_MARGIN * self.p95_target_s

    def spends_slack(self, results: list[dict], r0s: list[dict]) -> float | None:
        """The plan's highest lookahead p95 over its samples ``results`` (doing nothing's on the
        same futures: ``r0s``) when the target, not the rule against doing nothing, let it through
        on any of them: the service slack the plan spends, said in its recommendation. None when
        every sample kept doing nothing's p95 (or there is no target)."""
        if self.p95_target_s is None:
            return None
        spent = [
            r["cycle_p95_s"]
            for r, r0 in zip(results, r0s, strict=True)
            if r.get("cycle_p95_s") is not None
            and r0.get("cycle_p95_s") is not None
            and not _p95_kept(r["cycle_p95_s"], r0["cycle_p95_s"])
        ]
        return max(spent) if spent else None

    def project(self, dg: dict, plans: list[list[Action]]) -> list[dict]:
        """Each plan's KPIs over the horizon by the fluid model (`Forecaster.project`), in the
        lookahead's form (`Lookahead.evaluate`), for a run the twin cannot be forked in: the plan's
        staffing changes (people leave now, arrive after the walk, and the set-up of a station they
        open: the labour board's own delays) on top of the ones already known; units done are the
        work there plus what arrives minus what is left open (conservation), in units (lines times
        ``units_per["pick"]``, cartons times ``units_per["stow"]``); labour is the people paid now
        over the horizon, plus the floaters the plan calls in, less the people it sends to the
        pool once they are off the floor (walking is paid). The order-cycle p95 with ``model_p95``
        on (`cycle_tail.order_cycle_p95_s` on each pick station's FIFO queue over the projection);
        None with it off. A plan of levers the fluid model does not see (drive units, charging, the
        floor levers) projects as doing nothing."""
        minutes = max(1, int(round(self.horizon_s / 60.0)))
        t_s = dg["t_s"]
        h_h = self.horizon_s / 3600.0
        out = []
        base_s = rho_ref = None
        for plan in plans:
            board = copy.deepcopy(self.levers.board)
            labour_h = board.paid_now() * h_h
            changes: list[tuple[float, str, int]] = []
            for a in plan:
                if not isinstance(a, MoveAssociates):
                    continue
                due = board.move(t_s, a.source, a.target, a.n, _NoDispatcher())
                if a.source == POOL:  # paid from now (walking is paid)
                    labour_h += a.n * h_h
                else:
                    changes.append((t_s, a.source, -a.n))
                if a.target == POOL:  # paid until they are off the floor
                    labour_h -= a.n * max(0.0, h_h - (due - t_s) / 3600.0)
                else:
                    changes.append((due, a.target, a.n))
            p = self.forecaster.project(dg, changes, minutes)
            r = {"labour_h": labour_h, "cycle_p95_s": None}
            if self.model_p95 != "off":
                # doing nothing's is first: its load and queues are the reference of every plan's
                paths = self.forecaster.station_paths(dg, p, rho_ref)
                if base_s is None:
                    base_s = cycle_base_s(self.forecaster.recent_cycle_s(), paths, self.lines_per_order)
                    rho_ref = paths["rho"]
                r["cycle_p95_s"] = order_cycle_p95_s(
                    arrivals=np.asarray(p["lines_in"]),
                    station_q=paths["station_q"],
                    station_mu=paths["station_mu"],
                    backlog=paths["backlog"],
                    lines_per_order=self.lines_per_order,
                    base_s=base_s,
                    open_orders=self.model_p95 == "all",
                )
            for kind, work, arrivals, done_key, open_key in (
                ("pick", "open_lines", "lines_in", "units_picked", "open_pick_units"),
                ("stow", "open_cartons", "cartons_in", "units_stowed", "open_stow_units"),
            ):
                left = p[work][-1]
                done = max(0.0, float(dg[work]) + float(sum(p[arrivals])) - left)
                r[done_key] = round(done * self.units_per[kind], 2)
                r[open_key] = round(left * self.units_per[kind], 2)
            out.append(r)
        return out

    def _model_choice(self, dg: dict, cands: list[list[Action]]):
        """Without a twin to roll forward (`fctwin serve`, ``--gui``, ``--realtime``, or ``[agent]
        lookahead = "model"``): the same candidates, objective J, labour price and service guards
        as the fork path, each plan and doing nothing projected by the fluid model (`project`).
        The projection has no noise, so there is no second sample; a plan must still beat doing
        nothing by ``min_gain`` of its throughput (the ways back: whenever they keep service)."""
        results = self.project(dg, [[]] + cands)
        price = self.labour_price() * max(1.0, (self.shift_end_s - dg["t_s"]) / self.horizon_s)
        r0 = results[0]
        eligible = [
            k
            for k in range(1, len(results))
            if self._keeps(self._judged(results[k], cands[k - 1]), r0, cands[k - 1])
            and (cands[k - 1] in self._recall or not self._reverses(cands[k - 1], dg["t_s"]))
            and (cands[k - 1] in self._recall or not self._fleet_held(dg, cands[k - 1]))
        ]
        if not eligible:
            return None, None, None
        gains = {k: self._gain_of(results[k], r0, cands[k - 1], price) for k in eligible}
        recall = [k for k in eligible if cands[k - 1] in self._recall]
        best = recall[0] if recall else max(eligible, key=lambda k: (gains[k], -k))
        throughput0 = r0["units_picked"] + r0["units_stowed"]
        if not recall and gains[best] <= self.min_gain * max(1.0, throughput0):
            return None, None, None
        rb = results[best]
        open0 = r0["open_pick_units"] + r0["open_stow_units"]
        predicted = {
            "objective": round(gains[best], 2),
            "throughput_units": round(rb["units_picked"] + rb["units_stowed"] - throughput0, 1),
            "open_units": round(rb["open_pick_units"] + rb["open_stow_units"] - open0, 1),
        }
        if rb.get("cycle_p95_s") is not None and r0.get("cycle_p95_s") is not None:
            predicted["cycle_p95_s"] = round(rb["cycle_p95_s"] - r0["cycle_p95_s"], 1)
        evidence = {
            "forecast": {k: v for k, v in self.last_forecast.items() if not k.startswith("queue:")},
            # the fluid model's projection of every plan (not "lookahead": no twin was rolled forward)
            "model": {
                "nothing": {**r0, "objective": round(objective(r0, price), 2)},
                **{
                    " + ".join(describe_short(a) for a in c): {
                        **results[k + 1],
                        "objective": round(objective(results[k + 1], price), 2),
                    }
                    for k, c in enumerate(cands)
                },
            },
        }
        return cands[best - 1], predicted, evidence

    def _judged(self, r: dict, plan: list[Action]) -> dict:
        """A plan's projection as the model path's guard reads it: a way home (every move brings a
        person the agent lent back to their own station) without the projected p95. It gives back
        to the kind they were lent to what the lend bought, and restores the plan's staffing, the
        static plan's service; the fork path's needed ways home skip the p95 for the same reason
        (`keeps_total_service`). With it, eluna_battery seed 14 kept two stowers lent at 09:40 at
        pick to the end (the way home at 11:20, projected +87 units, refused on a p95 rise) and
        ended with 108 units open against 14."""
        moves = [a for a in plan if isinstance(a, MoveAssociates)]
        home = bool(moves) and len(moves) == len(plan)
        home = home and all((a.target, a.source) in self.lent for a in moves)
        return {**r, "cycle_p95_s": None} if home and r.get("cycle_p95_s") is not None else r

    def _fleet_held(self, dg: dict, plan: list[Action]) -> bool:
        """Whether ``plan`` adds a picker from outside pick (a stower lent, a floater called in)
        while the drive units are the bound: at least as many units wait for a pad as there are
        pads and none stands idle (`_model_choice` only, with ``model_charging_hold``; the ways
        home and the recall exempt). A person at a pick station serves the pods that come, and
        the fluid projection sees the units coming back from the pads bring them (eluna_battery,
        seeds 11-20: the first lend of every run, S1 to P1 at 09:10-10:00 with 16-24 units
        waiting for a pad, was projected at +10 to +51 units over 30 minutes and realised -23 on
        average against the static plan's run, pick +0, stow -22). The fork path sees the
        fleet itself."""
        if not self.model_charging_hold:
            return False
        fl = dg.get("fleet") or {}
        if fl.get("usable_idle", 1) > 0 or fl.get("waiting_pad", 0) < max(1, fl.get("pads", 0)):
            return False
        kinds = self.levers.board.config.kinds
        return any(
            isinstance(a, MoveAssociates)
            and a.target != POOL
            and kinds[a.target] == "pick"
            and (a.source == POOL or kinds[a.source] != "pick")
            and (a.target, a.source) not in self.lent
            for a in plan
        )

    def _reverses(self, plan: list[Action], t_s: float) -> bool:
        """Whether ``plan`` moves someone between kinds against a move applied within the horizon
        (`_model_choice` only; the ways back are exempt). The projection of a lend cannot see it
        come back, so a lend judged over 30 minutes and brought home after 20 was judged for a
        stay it did not have; lent again at once, the person walks back and forth (eluna_port_strike
        seed 12: P1 to S1 at 11:00, home at 11:20, to S1 at 11:40, home at 12:00). The next lend
        waits until the last one's horizon has passed, when its realised effect is known."""
        kinds = self.levers.board.config.kinds
        recent = {(a, b) for t, a, b in self._crossed if t_s - t < self.horizon_s}
        return any(
            isinstance(a, MoveAssociates)
            and POOL not in (a.source, a.target)
            and (kinds[a.target], kinds[a.source]) in recent
            for a in plan
        )

    def _recommend(
        self, dg: dict, plan: list[Action], predicted: dict, evidence: dict, horizon_s: float | None = None
    ) -> Recommendation:
        """Record ``plan`` as a recommendation judged over ``horizon_s`` (default: the ordinary
        horizon; longer over a charging wave, `lookahead_horizon_s`) and, in auto mode, apply it."""
        horizon_s = self.horizon_s if horizon_s is None else horizon_s
        t_s = dg["t_s"]
        board = self.levers.board
        parts_text = []
        eff = t_s
        planned = {}
        for action in plan:
            if isinstance(action, MoveAssociates):
                n_there = (
                    planned.get(action.target, board.planned(action.target)) if action.target != POOL else 1
                )
                delay = board.config.walk_s + (board.config.open_s if n_there == 0 else 0.0)
                planned[action.target] = n_there + action.n
                eff = max(eff, t_s + delay)
                kinds = board.config.kinds
                src = "the pool" if action.source == POOL else f"{kinds[action.source]} {action.source}"
                people = f"{action.n} associate{'s' if action.n > 1 else ''}"
                if action.target == POOL:
                    parts_text.append(f"release {people} from {src} to the pool (off the floor) now")
                else:
                    parts_text.append(
                        f"move {people} from {src} to "
                        f"{kinds[action.target]} {action.target} by {clock(t_s + delay, self.start_hour)}"
                    )
            elif isinstance(action, SetChargeThreshold):
                parts_text.append(f"set the opportunity-charging threshold to {action.frac:.0%} now")
            elif hasattr(action, "describe"):
                parts_text.append(action.describe(lambda t: clock(t, self.start_hour)))
            elif action.stow_unit_cap is None:
                parts_text.append("lift the cap on drive units on stow trips now")
            else:
                parts_text.append(f"cap drive units on stow trips at {action.stow_unit_cap} now")
        text = "; ".join(parts_text)
        parts = [f"units processed {predicted.get('throughput_units', predicted['objective']):+.0f}"]
        if "open_units" in predicted:
            parts.append(f"open work {predicted['open_units']:+.0f} units")
        if predicted.get("cycle_p95_s") is not None:
            p95_text = f"order cycle p95 {predicted['cycle_p95_s']:+.0f} s"
            if service_move.KEY in predicted:  # beside the p95 of every order it was judged on
                p95_text = f"p95 of the orders finished {predicted['cycle_p95_s']:+.0f} s"
            if "p95_under_target_s" in predicted:  # the service slack the plan spends (`spends_slack`)
                spent = predicted["p95_under_target_s"]
                p95_text += f" (p95 {spent['p95_s']:.0f} s, under the {spent['target_s']:.0f} s target)"
            parts.append(p95_text)
        if service_move.KEY in predicted:  # moved for service, not efficiency: say so first
            parts.insert(0, service_move.describe(predicted[service_move.KEY]))
        if charging_lend.KEY in predicted:  # held for the wave: its prediction, then the lookahead's sample
            text += "; " + charging_lend.describe(predicted[charging_lend.KEY])
            text += f"; lookahead over {self.horizon_s / 60:.0f} min: " + ", ".join(parts)
        else:
            text += f"; predicted over {horizon_s / 60:.0f} min: " + ", ".join(parts)
        rec = Recommendation(
            rec_id=len(self.recommendations) + 1,
            t_s=t_s,
            kind=plan[0].kind if len(plan) == 1 else "plan",
            action={"actions": [as_dict(a) for a in plan]},
            text=f"[{clock(t_s, self.start_hour)}] " + text,
            effective_s=eff,
            horizon_s=horizon_s,
            predicted=predicted,
            evidence=evidence,
        )
        price = self.labour_price() * max(1.0, (self.shift_end_s - t_s) / horizon_s)
        if plan in self._on_call_plans:  # scored on the J it was judged on (`RECALL_PRICE`)
            price = RECALL_PRICE
        rec._start = {**self._cum, "paid_s": board.paid_s, "price": price, "open_weight": self._open_weight}
        if self.service_probe is not None and (
            service_move.KEY in predicted or charging_lend.KEY in predicted
        ):
            rec._start["service_mark"] = self.service_probe.mark()
        own = getattr(self.lookahead, "counterfactual", None)
        if self.mode == "auto" and own is not None:
            # The score's counterfactual: doing nothing on the run's *own* future (a fork, read only
            # when the horizon has passed; never used to decide), so the realised effect is paired.
            rec._counterfactual = own(horizon_s)
        if self.mode == "auto":
            for action in plan:
                self.levers.apply(action, t_s)
                if isinstance(action, SetChargeThreshold):
                    self._charge_frac_now = action.frac
            rec.applied = True
            self._note_lending(plan)
            self._note_parking(plan)
            if self.release_pace:
                self.on_call.note(
                    plan, t_s, released=plan in self._release_plans, recalled=plan in self._on_call_plans
                )
            kinds = self.levers.board.config.kinds
            self._crossed += [
                (t_s, kinds[a.source], kinds[a.target])
                for a in plan
                if isinstance(a, MoveAssociates) and POOL not in (a.source, a.target)
            ]
        self.recommendations.append(rec)
        self._open.append(rec)
        return rec

    def _note_parking(self, plan: list[Action]) -> None:
        """Remember who an applied idle plan took off a starved station (to call them back), and
        forget those an applied recall brought back."""
        if plan in self._idle:
            for a in plan:
                if isinstance(a, MoveAssociates):
                    self.parked += [(a.source, a.target)] * a.n
                    self._starved[a.source] = 0
        elif plan in self._recall:
            for a in plan:
                if isinstance(a, MoveAssociates):
                    for _ in range(a.n):
                        if (a.target, a.source) in self.parked:
                            self.parked.remove((a.target, a.source))

    @staticmethod
    def _units_kept(r: dict, r0: dict, stow_quantum_units: float) -> bool:
        """At least 99.5% of doing nothing's units over the horizon, up to ``stow_quantum_units`` of
        stow shortfall forgiven. A carton is stowed whole (12 units on the Eluna floors), so the
        horizon cuts the stow count in steps of a carton, and one carton finished a minute after the
        horizon instead of a minute before it is 1.8% of a 30-minute horizon's ~650 units against
        the 0.5% the test allows: eluna_misstaffed seed 15 refused a stower's release from a
        two-person stow station at 09:00 and 09:20 for exactly one carton (-12 units, the carton
        open at the horizon, which the open-stow test already forgives a release) and took it at
        09:40 (-3 units on that decision's future)."""
        units = r["units_picked"] + r["units_stowed"]
        units += min(stow_quantum_units, max(0.0, r0["units_stowed"] - r["units_stowed"]))
        return units >= 0.995 * (r0["units_picked"] + r0["units_stowed"])

    @staticmethod
    def keeps_service(
        r: dict,
        r0: dict,
        releases: bool = False,
        stow_quantum_units: float = 0.0,
        p95_ceiling_s: float | None = None,
    ) -> bool:
        """A plan may not cost service against doing nothing, over the horizon on the same sampled
        future: at least 99.5% of its units, an order-cycle p95 at most 2% (plus 5 s) above its,
        and no more open pick work at the end (5% plus 5 units of slack, the noise of one sample).
        Without this the labour price alone sends people home from a quiet floor until the queues
        come back (eluna_balanced seed 1: +123% units per labour hour, p95 150 s -> 1,547 s); with
        the older 10%-plus-a-minute bound the released people still cost +28% p95 on the balanced
        floor, and the goal is never worse than the static plan by more than 1%.
        ``stow_quantum_units``: see `_units_kept` (0: the 99.5% alone, the default).
        ``p95_ceiling_s``: a p95 at or under it passes whatever doing nothing's (a site's service
        target, `p95_ceiling_s`; None, the default: the bound against doing nothing alone). The
        units and open-work tests stand either way: a target trades order-cycle time, not work."""
        if not ElunaAgent._units_kept(r, r0, stow_quantum_units):
            return False
        if r["open_pick_units"] > 1.05 * r0["open_pick_units"] + 5:
            return False
        # Cartons can wait, but not for labour saved: a plan that sends people home may not leave
        # more stow work than doing nothing (one carton of slack); one that lends a stower to pick
        # may leave up to ten cartons more (30 minutes of one stower's work). Without the first,
        # releases of stowers passed the 30-minute test and the carton queue paid for them over
        # the next hours (eluna_surge seed 11: +19% units per labour hour, -5% units per hour,
        # open work at the end 45 -> 252 units).
        slack = 12.0 if releases else 120.0
        if r.get("open_stow_units", 0) > 1.05 * r0.get("open_stow_units", 0) + slack:
            return False
        p, p0 = r.get("cycle_p95_s"), r0.get("cycle_p95_s")
        if p is None or p0 is None or _p95_kept(p, p0):
            return True
        # a stated service target: the plan may spend the service won below it (`P95_TARGET_MARGIN`)
        return p95_ceiling_s is not None and p <= p95_ceiling_s

    @staticmethod
    def keeps_total_service(r: dict, r0: dict) -> bool:
        """The guard of a lent person's way home when home's kind is pressed an hour ahead (the
        return is then needed, not tidying up): all work weighed alike, pick and stow, as the plan
        weighs it: at least 99.5% of doing
        nothing's units over the horizon and no more open work at its end, both kinds together (5%
        plus 5 units of slack, the noise of one sample). The pick-only bounds of `keeps_service`
        (open pick work, order-cycle p95) protect the customer against a bet; on a way back they
        held a lent person at pick for as long as the order cycle was any shorter with them,
        whatever waited at home: eluna_heldout seed 17 (main, session 10) lent S1's stower to P1 at
        09:50, a 60-carton trailer on the dock schedule landed at 10:30, the stower never went home
        (5 pods queued at every open stow station, 53-67 cartons open to the end) and the run lost
        5% of its units per hour against the static plan. Replayed with the lend allowed: the way
        back was rolled forward three times; twice it lost units over the horizon (both guards
        refuse), the third time it kept units and open work (670 units against 672, open work 516
        against 514) at a p95 of 238 s against 195 s: refused by the pick-only guard, taken now.
        A return due only because the kind they went to is quiet without them keeps the bet's
        guard: with this one for every return, eluna_misstaffed seed 12 went back and forth (10
        actions: returns predicted at +70 to +366 s of p95, the person lent again 10-20 minutes
        later)."""
        if r["units_picked"] + r["units_stowed"] < 0.995 * (r0["units_picked"] + r0["units_stowed"]):
            return False
        open_r = r["open_pick_units"] + r.get("open_stow_units", 0)
        open_r0 = r0["open_pick_units"] + r0.get("open_stow_units", 0)
        return open_r <= 1.05 * open_r0 + 5

    def labour_price(self) -> float:
        """What an hour of an associate is worth in units: the run's units per labour hour so far
        (a person called in from the pool must at least produce what the average one does)."""
        paid_h = self.levers.board.paid_s / 3600.0
        done = self._cum["units_picked"] + self._cum["units_stowed"]
        return done / paid_h if paid_h > 0.1 else 0.0

    def summary(self) -> dict:
        scored = [r for r in self.recommendations if r.realised and "sign_as_predicted" in r.realised]
        applied = [r for r in scored if r.applied]
        return {
            "recommendations": len(self.recommendations),
            "applied": sum(r.applied for r in self.recommendations),
            "decisions": self.decisions,
            "sign_as_predicted_share": round(
                sum(r.realised["sign_as_predicted"] for r in applied) / len(applied), 4
            )
            if applied
            else None,
            "scored": len(applied),
            "forecast_skill": self.forecaster.skill(),
            "lookahead_plans": self.lookahead_plans,
            "lookahead_wall_s_per_plan": round(self.lookahead_wall_s / self.lookahead_plans, 4)
            if self.lookahead_plans
            else None,
        }
