"""Forecasts from the digest: a fluid model driven by known inflows, scored against persistence.

Targets (issue 16): the floor's open pick lines (``open_lines``: the station backlog plus the
unassigned lines), open stow cartons (``open_cartons``), each pick station's queue of open lines
(``queue:<id>``) and the order cycle time (``cycle``: mean cycle of the orders finished in a
minute), at 15, 30 and 60 minutes; and congestion hot spots (floor areas where drive units stand
still on their way) at 15 and 30 minutes, scored by precision and recall.

The mechanism (`Forecaster.fluid`): work W evolves minute by minute with known inflows and the
capacity of the floor as staffed now.

- Inflow of pick lines: the arrival rate seen over the last ``window_min`` minutes, scaled by the
  scene's planned demand profile (a planned promotion is known; the random streams' future is not).
- Inflow of stow cartons: the dock schedule in the digest (`dock_ahead`: waves and trailers on
  appointment, known ahead) plus the expected unscheduled stream (its recent rate).
- Capacity: when work is waiting unassigned (the floor is saturated) the recent throughput *is*
  the capacity; otherwise the larger of a busy minute's service in the last ``window_min`` and
  the share of what the staffing now serves at the plan's service times it is counted on for
  (a station that just lost its people has lost its capacity, whatever it served an hour ago).
  Pick: the share rises with the open lines per open station (`pick_share`: a pod is more often at
  the face), read along the forecast path, so a growing queue is served faster. Stow:
  ``capacity_share``, lifted to the run's own rate of stowers with work where that is higher
  (`Forecaster.realised`, 0.86-0.87 of the plan's while a wave's pods queue).
- A minute whose inflow outruns capacity adds the difference; a minute with spare capacity pulls
  the work back towards the floor's unsaturated level, no faster than the spare capacity drains it
  and no faster than a stable queue forgets its noise (time constant ``tau_min``).

Drive units ahead (`Forecaster.fleet_path`): the charging rules played forward on every unit's
charge (the digest's `fleet`): who reaches the low level when, who takes a pad, who is back when.
Where units are short, a unit lost to (back from) a pad takes away (brings) the pick lines a unit on
a pick trip brings a minute; the staffing's capacity floor never exceeds what the units can bring.

Idle drive units (`Forecaster._level_path`): the level the work is pulled back to is the run's own
level for minutes with no unit standing idle (units short: pick lines wait longer for a unit, the
open lines rise by about half on this floor; a stow wave does this, its cartons taking 15-20 of 40
units) and for minutes with units to spare, read at the idle units ahead: idle now, less the units
the stow cartons ahead take (the dock schedule's cartons through the stow path, at the run's units
per open carton), plus the units the charging rules free.

Capacity ahead: the staffing changes already known at forecast time (the digest's `staff_ahead`:
people walking to a station, back from a break or a repair, the plan's breaks) scale the capacity
minute by minute. Cycle time (Little's law): the recent cycle plus the wait the forecast extra open
lines add over the capacity, read when the orders finishing at t + h arrived (one recent cycle
earlier). A station's queue: least-loaded assignment shares the floor's assigned lines evenly over
the pick stations open then, each up to its saturated level (learned while work waits
unassigned); a closed station keeps what it holds; a station's departure from its peers fades.
Hot spots: an area is hot when units stood blocked there ``HOT_WAIT_S`` seconds a minute or more
(5-minute mean of the digest's sampled `congestion_wait_s`); the forecast is the area's background
plus the wait per open line of the pick stations in it times their forecast open lines, if open
then (queue spill-back), blended with the area's wait now. A second event, hot at some minute
within ``HOT_WINDOW_MIN`` of t + h (the area and the quarter hour, what an operator acts on), is
forecast by the area's 30-minute level (`HOT_WINDOW_RULE`).

Each forecast is then blended with persistence, ``w * model + (1 - w) * now``, with the weights
`BLEND` fitted once by least squares on the balanced scene's training seeds (101-103, never the
benchmark's seeds 1-10 and never a stressed scene): out of sample everywhere it is reported.
Skill against persistence: ``1 - SSE(forecast) / SSE(persistence)`` over matured forecasts
(`skill_score`).

Self-calibration (off by default: neutral on the training floors, slightly worse on the stressed
scenes; docs/eluna_s14_fcast14.md): ``self_blend`` refits the blend weights at 15 and 30 minutes on
the run's own matured pairs (`online_blend`), ``self_scale`` lifts the pick curve to the height the
run's stations are seen to serve above it (`pick_scale`). Both use only outcomes known at the minute.

A learned correction (off by default; docs/eluna_s16_fcast16.md): ``learned_residual`` scales each
forecast's change from now by a weight fitted on the training floors only (`residual`), linear in
features that name no floor (ratios: saturation, load, the level gap, the run's age).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np

from .residual import COEF_PATH as RESIDUAL_COEF_PATH
from .residual import KINDS as RESIDUAL_KINDS
from .residual import ResidualModel, ResidualTracker, kind_of

HORIZONS_MIN = (15, 30, 60)
HOT_HORIZONS_MIN = (15, 30)
# An area is hot at this many seconds of units blocked a minute (5-minute mean): the 95th percentile
# of the balanced floor's area-minutes (training seed 103, after the first hour).
HOT_WAIT_S = 30.0
# The hot-spot forecast's weight against the area's wait now (0.7: the best F1 on the balanced
# training seeds 101 and 103 among 1.0, 0.7, 0.5; 0.50 against persistence's 0.42).
HOT_BLEND = 0.7
HOT_WINDOW_MIN = 7  # the window event: hot at some minute within 7 minutes either side of t + h
HOT_WINDOW_RULE = (0.0, 1.0, 25.0)  # weights of (model, 30-min level, 5-min now) and the call, s

# w per (target kind, horizon): forecast = w * model + (1 - w) * persistence. Fitted by
# `fit_blend` on eluna_balanced seeds 101-103, the model replayed on static-plan digests
# (python benchmarks/eluna.py --fit-forecast --seed0 101 --seeds 3); 1.0 = the model.
BLEND: dict[tuple[str, int], float] = {
    ("open_lines", 15): 1.0,
    ("open_lines", 30): 1.0,
    ("open_lines", 60): 0.39,
    ("queue", 15): 1.0,
    ("queue", 30): 0.88,
    ("queue", 60): 0.55,
    ("cycle", 15): 1.0,
    ("cycle", 30): 1.0,
    ("cycle", 60): 0.32,
    ("open_cartons", 15): 1.0,
    ("open_cartons", 30): 1.0,
    ("open_cartons", 60): 1.0,
}


# A pick station's service rate rises with its open lines, as a closed loop of pods does: while one
# pod is at the face the next ones ride on their trips, and the person waits for a pod whenever none
# is queued. Measured (balanced training seeds 101-103, static plan, station_lines): about 1.2 lines
# per pod visit and 3-4 s between one pod leaving the face and the next one presenting, so with pods
# always queued a person serves 12.5 / (11.5 + (2 + 3.5) / 1.2) ~ 0.8 of the plan's rate (which counts
# 2 lines a pod and no gap); with few open lines the next pod is not there yet. The closed-network
# throughput form (mean value analysis, the asymptote 1 / D with a pod's trip as the think time):
# share = max * q / (q + half), q the open lines per open station. Fitted by least squares on
# eluna_balanced seeds 101-103 (static plan, station-minutes after the first hour): share 0.44 / 0.59 /
# 0.67 / 0.72 / 0.75 / 0.78 at 1 / 3 / 5 / 7 / 9 / 13 open lines, fit 0.40 / 0.59 / 0.67 / 0.72 / 0.74 /
# 0.78. Never above the rate model's plan rate (1.0).
PICK_SHARE_MAX = 0.85
PICK_SHARE_HALF_LINES = 1.2


def pick_share(lines_per_station: float) -> float:
    """The share of its people's plan rate (`station_rate`) an open pick station serves with
    ``lines_per_station`` open lines: rises with them (more of the time a pod is at the face),
    towards ``PICK_SHARE_MAX``, and never above 1 (the rate model)."""
    q = max(float(lines_per_station), 0.0)
    return min(PICK_SHARE_MAX * q / (q + PICK_SHARE_HALF_LINES), 1.0)


# A pick station's service falls below `pick_share` when the drive units on pick trips are few per
# open station: units queued behind the face are a buffer, so losing some of them (to a charger)
# costs little, and the face waits for pods only as the units per station fall towards a few.
# Measured on the training floors (benchmarks/eluna_train, static plan, station-minutes with 8 or more
# open lines per open station, served over the curve, by units on pick trips per open station):
# 5 stations from 35% charge 0.68 / 0.85 / 0.90-0.95 / 0.98-0.99 at 3 / 4 / 5 / 6; the deep wave
# (train_p3_deepcharge) 0.31 / 0.54 / 0.77 / 0.84 / 0.97 at 1 / 2 / 3 / 4 / 5; the wide wave
# (train_p6_wave, longer trips) 0.40 / 0.53 / 0.69 / 0.78 / 0.88 / 0.94 at 1 / 2 / 3 / 4 / 5 / 6
# (docs/eluna_s15_fcast15.md). Their pooled shape, by the middle of each bucket; 1 from 6.5 on. A bound
# min(1, u / 5) was tried first: it counted too much on units back from the pads on the wide wave.
UNITS_SHARE_AT = ((0.0, 0.0), (1.5, 0.35), (2.5, 0.54), (3.5, 0.72), (4.5, 0.83), (5.5, 0.92), (6.5, 1.0))


def units_share(units_per_station: float) -> float:
    """The share of `pick_share`'s service the drive units let an open pick station reach with
    ``units_per_station`` units on pick trips per open station (`UNITS_SHARE_AT`, linear between its
    points, 1 beyond the last): concave, so the first units lost cost little."""
    u, share = zip(*UNITS_SHARE_AT, strict=True)
    return float(np.interp(max(float(units_per_station), 0.0), u, share))


def skill_score(forecast, persistence, actual) -> float | None:
    """``1 - SSE(forecast) / SSE(persistence)``: 1 is perfect, 0 is no better than persistence,
    negative is worse. None when persistence is exact (nothing to beat)."""
    f, p, a = (np.asarray(x, dtype=np.float64) for x in (forecast, persistence, actual))
    sse_p = float(np.sum((p - a) ** 2))
    if sse_p <= 0.0:
        return None
    return 1.0 - float(np.sum((f - a) ** 2)) / sse_p


def precision_recall(predicted, actual) -> tuple[float | None, float | None]:
    """Precision and recall of boolean predictions (None where the denominator is 0)."""
    p, a = np.asarray(predicted, dtype=bool), np.asarray(actual, dtype=bool)
    tp = int(np.sum(p & a))
    n_p, n_a = int(np.sum(p)), int(np.sum(a))
    return (tp / n_p if n_p else None), (tp / n_a if n_a else None)


def fit_blend(model, persistence, actual) -> float:
    """The least-squares w in ``w * model + (1 - w) * persistence`` (clipped to [0, 1])."""
    m, p, a = (np.asarray(x, dtype=np.float64) for x in (model, persistence, actual))
    d = m - p
    den = float(np.sum(d * d))
    return float(np.clip(np.sum(d * (a - p)) / den, 0.0, 1.0)) if den > 0 else 1.0


class _Ewma:
    def __init__(self, tau_min: float):
        self.a = 1.0 - float(np.exp(-1.0 / tau_min))
        self.v: float | None = None

    def add(self, x: float | None) -> float | None:
        if x is not None:
            self.v = x if self.v is None else self.v + self.a * (x - self.v)
        return self.v


class Forecaster:
    def __init__(
        self,
        *,
        plan_rate: Callable[[float], float] | None = None,
        station_cap_lines: int = 12,
        capacity: Callable[[dict], float] | None = None,
        stow_capacity: Callable[[dict], float] | None = None,
        window_min: int = 15,
        blend: dict[tuple[str, int], float] | None = None,
        hot_units: float = 0.6,
        hot_wait_s: float = HOT_WAIT_S,
        station_rate: Callable[[str, int], float] | None = None,
        fleet_rates: dict[str, float] | None = None,
    ):
        self.plan_rate = plan_rate or (lambda t_s: 1.0)
        self.window_min = window_min
        self.station_cap_lines = station_cap_lines
        # lines (cartons) per minute the digest's staffing serves at the plan's service times
        self.capacity = capacity
        self.stow_capacity = stow_capacity
        # lines (cartons) per minute one station serves with n associates at the plan's service
        # times: with the staffing changes already known (`staff_ahead`) it gives the capacity path
        self.station_rate = station_rate
        # of the staffing's capacity reachable (pods must be brought): the prior of the share the
        # floor is *seen* to realise (`realised`), per kind, before enough of the run is seen
        self.capacity_share = 0.75
        # Pick: the share rises with the open lines per open station (`pick_share`), now and along
        # the forecast path (a queue that grows is served faster); False: the constant
        # ``capacity_share`` (the version before; ablation). The constant over-forecast open lines
        # where pick work rose on a floor that was not saturated (docs/eluna_s13_fcast13.md).
        self.pick_share_rises = True
        # The share of the plan's rate a kind's people are seen to serve when they have work
        # (`_learn_realised`), where above ``capacity_share``: decayed sums (served, plan capacity,
        # station-minutes) per kind; the prior weighs ``realised_prior_n`` station-minutes. Stow
        # only (``seen_kinds``): a pick
        # station's rate rises with its queue (more lines per pod visit), so one seen share does
        # not carry to another load (held-out seed 11: open lines at 30 min -1.94 -> -2.33 with
        # pick's); ``seen_rates = False``: the prior alone, the version before (ablation).
        self.seen_rates = True
        self.seen_kinds: tuple[str, ...] = ("stow",)
        self.realised_prior_n = 30.0
        self.realised_tau_n = 240.0  # station-minutes the seen rate is averaged over
        self.realised_min_pods = 1  # a stow station counts with this many pods at it (its person has work)
        self._real: dict[str, list[float]] = {"pick": [0.0, 0.0, 0.0], "stow": [0.0, 0.0, 0.0]}
        self.tau_min = 10.0  # how fast a stable queue forgets its noise
        # Little's law for the unsaturated level (`_little_level`; a scene's forecaster has it on
        # unless the scene says `little_forecast = false`, docs/eluna_s17_fcast17.md): the open
        # lines a floor keeps are the lines arriving times the time a line stays open, so the level
        # the work is pulled back to moves with the inflow ahead (the hour's rate, the plan's rise)
        # against the arrivals it was learned at, and it is learned once the floor has filled from
        # empty (`_learn_level`; until then, on a floor saturated before it ever served what
        # arrived, the level as before). Off: the level is the open lines' 30-minute mean from the
        # first minute, whatever the inflow ahead.
        self.little_level = False
        self.fill_window_min = 5  # the floor has filled once it served, over this many minutes, what arrived
        self._filled = False
        self._fill_missed = False  # saturated before it filled: the level of before (`_learn_level`)
        # (open lines, lines arrived a minute) in the unsaturated minutes: "all" from the first
        # minute (the level of record before, and the fallback), "filled" once the floor has filled;
        # and the short and spare levels (`_level_path`) learned once it has filled
        self._little = {k: (_Ewma(30.0), _Ewma(30.0)) for k in ("all", "filled")}
        self._level_filled = {k: _Ewma(30.0) for k in ("short", "spare")}
        # `project` only (the no-fork agent's judge; the forecast of record is unchanged): a plan's
        # added pick people bounded by what the drive units bring (`_capacity_path`), and spare
        # stow capacity draining a carton backlog (`_stow_path`)
        self.project_fleet_bound = True
        # The drive units' bound as a curve in units per open pick station (`units_share`) instead
        # of each unit lost costing the lines a unit brings (`_fleet_units`); off (the default): the
        # linear rule. Off because the wide charging-wave training floor lost with it (open lines
        # at 30 minutes +0.57 -> +0.51) and the shipped battery scene's guard did too
        # (docs/eluna_s15_fcast15.md).
        self.fleet_units_curve = False
        # A learned correction of the forecast of record (`residual`): ridge regressions of its
        # residual on floor-independent features, fitted on the training floors only
        # (benchmarks/eluna_train/fit_residual.py, docs/eluna_s16_fcast16.md). Off (the default):
        # the forecasts are the fluid model's, bit for bit. ``collect_residual`` keeps the features
        # of every forecast (`residual_rows`) for the fit, changing no forecast.
        self.learned_residual = False
        self.collect_residual = False
        self.residual_path = RESIDUAL_COEF_PATH
        self.residual_rows: list[tuple] = []
        self._resid_tracker: ResidualTracker | None = None
        self._resid_model: ResidualModel | None = None
        self.project_stow_drain = True
        self.project_stow_queue = True  # the stow queue's level follows the plan's load (`_stow_levels`)
        self.stow_rho_max = 0.95
        self.pick_rho_max = 0.95  # `station_paths`: the pick floor's load counted at most this
        self.base_window_min = 60  # minutes the base arrival rate is averaged over
        self.noise_z = 1.0  # standard errors of (inflow - capacity) before a queue is called growing
        self.blend = BLEND if blend is None else blend
        # Self-calibration (docs/eluna_s14_fcast14.md): the blend weight per (kind, h) refitted on
        # this run's own matured pairs (`online_blend`), the fitted `blend` as the prior. Decayed
        # sums per (kind, h): d^2, d * (actual - persistence), pairs (d = model - persistence).
        self.self_blend = False
        # A minute's pairs weigh 1 (a station's queue 1 / the pick stations): the prior weighs
        # ``blend_prior_min`` minutes of pairs of the spread seen, the fit is averaged over
        # ``blend_tau_min`` minutes, and pairs made before ``blend_from_min`` (the floor filling
        # from empty) are left out.
        self.blend_prior_min = 120.0
        self.blend_tau_min = 480.0
        self.blend_from_min = 30
        self.blend_lower_only = False  # True: the run's own fit may only lower the fitted weight
        # the horizons the run's own fit serves: at 60 minutes it lost on the training floors (a
        # weight the run earned in one regime carried into the next: heavy floor +0.10 -> -0.07)
        self.blend_horizons: tuple[int, ...] = (15, 30)
        self._blend_acc: dict[tuple[str, int], list[float]] = {}  # d^2, d * (a - now), weight, minute
        # The pick curve's height seen on this floor (`pick_scale`): served over what `pick_share`
        # counts on, per open pick station-minute with work while the fleet has units to spare.
        self.self_scale = False
        self.scale_prior_n = 60.0  # station-minutes the prior (1: the balanced floor's curve) weighs
        self.scale_tau_n = 480.0  # station-minutes the seen height is averaged over
        # One-sided, as `realised`: a height above the curve is capacity shown; one below it was
        # seen on light floors (0.80-0.89: few open lines, pods not yet there), where the curve
        # already counts on little, and taken as it is it changed nothing there but cost the wide
        # floor's open lines at 30 minutes (+0.27 -> +0.10, two seeds).
        self.scale_bounds = (1.0, 1.3)
        self.scale_min_lines = 1.0  # a station-minute counts with this many open lines at its start and end
        self._scale_acc = [0.0, 0.0, 0.0]  # decayed served, counted-on, station-minutes
        self._prev_pick_lines: dict[str, float] = {}
        self.hot_units = hot_units
        self.hot_wait_s = hot_wait_s
        self._last_staff: list[dict] | None = None
        # the fleet's charging played forward (`fleet_path`): battery fraction per minute gained on
        # a pad, lost by a unit at work (learned from the run's energy balance, prior: half its time
        # moving) and by a unit standing (waiting for a pad); None: no drive-unit limit
        self.fleet_rates = fleet_rates
        self._drain = _Ewma(30.0)
        self._rho = _Ewma(30.0)  # pick lines per minute a drive unit on a pick trip brings
        self._rho_seen: deque[float] = deque(maxlen=60)
        self._idle_seen: deque[int] = deque(maxlen=5)  # free units standing idle, recent minutes
        self._prev_fleet: tuple | None = None
        self._last_usable: list[int] | None = None
        self.history: deque[dict] = deque(maxlen=max(HORIZONS_MIN) + window_min + 2)
        self._level = {k: _Ewma(30.0) for k in ("open_lines", "open_cartons")}
        self._recent = {k: _Ewma(10.0) for k in ("open_lines", "cycle", "open_cartons")}
        self._queue_level: dict[str, _Ewma] = {}
        # an open pick station's open lines while work waits unassigned (its saturated level: the
        # dispatch cap plus the lines riding on trips); learned from the run, prior cap + 1
        self._q_sat = _Ewma(30.0)
        self.dev_tau_min = 5.0  # how fast a station's departure from its open peers' mean fades
        # Drive units taken by stow work: on this floor pick lines wait longer for a unit (the open
        # lines' level rises) when no unit stands idle, which is what a stow wave does. The level is
        # learned apart for minutes with the fleet short (`spare_idle_short` or fewer idle units) and
        # with units to spare (`spare_idle_full` or more), and the idle units ahead are played
        # forward from the stow cartons ahead (units per open carton on stow trips, learned).
        self.fleet_level = True
        self.spare_idle_short = 1
        self.spare_idle_full = 4
        self.stow_ahead = True  # False: the idle units now held for every minute ahead (ablation)
        self._level_short = _Ewma(30.0)
        self._level_spare = _Ewma(30.0)
        self._stow_per_carton = _Ewma(15.0)
        self._stow_units_max = 0
        self._area_recent: deque[np.ndarray] = deque(maxlen=5)
        self._area_level: np.ndarray | None = None
        self._cycle_last: float | None = None
        # (target, h) -> deque of (minute due, forecast, persistence, model)
        self.pending: dict[tuple[str, int], deque] = {}
        # (target, h) -> list of (forecast, persistence, actual, minute made, model)
        self.scored: dict[tuple[str, int], list[tuple]] = {}
        # h -> deque of (minute due, predicted hot areas, persistence's hot areas)
        self._hot_pending: dict[int, deque] = {h: deque() for h in HOT_HORIZONS_MIN}
        # h -> list of (predicted, persistence, actual, minute made) boolean rows
        self.hot_scored: dict[int, list[tuple]] = {h: [] for h in HOT_HORIZONS_MIN}
        # the window event (hot at some minute within HOT_WINDOW_MIN of t + h): pending and scored
        self._hot_win_pending: dict[int, deque] = {h: deque() for h in HOT_HORIZONS_MIN}
        self.hot_win_scored: dict[int, list[tuple]] = {h: [] for h in HOT_HORIZONS_MIN}
        self._hot_seen: deque[tuple] = deque(maxlen=2 * HOT_WINDOW_MIN + max(HOT_HORIZONS_MIN) + 2)
        self._area_30: deque[np.ndarray] = deque(maxlen=30)
        self.hot_win_rule = HOT_WINDOW_RULE
        # the exact-minute event's call: an area is forecast hot when its expected wait reaches this
        # (the hot level itself; kept apart so a precision-recall curve can move it)
        self.hot_call_s = hot_wait_s
        # h -> list of ((model's wait, 5-minute wait now) per area, hot then, minute made): before the call
        self.hot_raw: dict[int, list[tuple]] = {h: [] for h in HOT_HORIZONS_MIN}

    # ------------------------------------------------------------------ the model

    @staticmethod
    def fluid(
        w0: float,
        inflow: list[float],
        mu,
        level: float,
        tau_min: float,
        margin: float = 0.0,
        mu_at: Callable[[int, float], float] | None = None,
    ) -> list[float]:
        """Work after each minute of ``inflow`` (per minute) at capacity ``mu`` (per minute; one
        number, or one per minute of ``inflow`` when the staffing is known to change): a minute
        whose inflow outruns the capacity by more than ``margin`` (the noise of the two rates'
        estimates) adds the difference, one within the margin keeps the work where it is; one with
        spare capacity pulls the work back towards ``level``, by no more than the spare capacity
        and no faster than time constant ``tau_min`` (a stable queue around its level).
        ``mu_at(k, w)``: a capacity that depends on the work itself at minute ``k`` (a station with
        more open lines serves faster); the capacity is then the larger of the two."""
        w = w0
        keep = float(np.exp(-1.0 / tau_min))
        mus = mu if isinstance(mu, list | tuple | np.ndarray) else [mu] * len(inflow)
        levels = level if isinstance(level, list | tuple | np.ndarray) else [level] * len(inflow)
        out = []
        for k, (lam, m, level) in enumerate(zip(inflow, mus, levels, strict=True)):
            if mu_at is not None:
                m = max(m, mu_at(k, w))
            if lam > m + margin:
                w += lam - m
            elif lam > m:
                pass
            else:
                excess = w - level
                if excess > 0:
                    w -= min(excess * (1.0 - keep), m - lam)
                else:
                    w = level + excess * keep
            out.append(max(0.0, w))
        return out

    def realised(self, kind: str) -> float:
        """The share of its people's plan rate a kind (``pick``, ``stow``) is counted on to serve
        when work piles up: the run's own ratio while its people had work (served over the plan's
        capacity in those station-minutes, decayed over ``realised_tau_n`` of them), shrunk to
        ``capacity_share`` by ``realised_prior_n`` station-minutes of prior, and never below
        ``capacity_share``. One-sided because the seen rate rises with the load: a stow station
        with a few cartons serves what the pods bring (0.56-0.79 of the plan's rate on the pod-fed
        floors), one whose pods queue behind a wave 0.86-0.87, so a low rate seen at a low load
        says little about the load a forecast grows into (taken as it is, it forecast growth that
        did not come: surge open cartons at 30 minutes 0 -> -0.03, seeds 11-15), while a high rate
        seen is capacity shown."""
        served, cap, n = self._real.get(kind, (0.0, 0.0, 0.0))
        if not self.seen_rates or kind not in self.seen_kinds or cap <= 0.0:
            return self.capacity_share
        seen = float(np.clip(served / cap, 0.05, 1.2))
        shrunk = (n * seen + self.realised_prior_n * self.capacity_share) / (n + self.realised_prior_n)
        return max(shrunk, self.capacity_share)

    def _learn_realised(self, dg: dict) -> None:
        """The seen rate per kind. Stow: each open stow station with 2 or more cartons at it and a
        pod at its face (``realised_min_pods``): its person has work, so what it serves is what a
        stower does on this floor. Measured (static plan, seed 11, share of the plan's 20 cartons an
        hour): 0.56-0.79 on the pod-fed floors (cartons split over pods with room), 0.86-0.87 when a
        wave's pods queue; minutes with cartons but no pod (0.2-0.4) are pod supply, not the
        stowers, and are left out. Pick (ablation only): the open pick stations in minutes when
        work waits unassigned. Only person-worked stations the rate model knows."""
        if self.station_rate is None:
            return
        keep = float(np.exp(-1.0 / self.realised_tau_n))
        for kind in ("pick", "stow"):
            served = cap = n = 0.0
            for s in dg["stations"]:
                if s["kind"] != kind or s["associates"] <= 0:
                    continue
                if kind == "pick":
                    waits = dg.get("backlog_lines", 0) > 0
                else:
                    waits = s["open_lines"] >= 2 and s.get("queued_pods", 0) >= self.realised_min_pods
                rate = self.station_rate(s["id"], int(s["associates"])) if waits else 0.0
                if rate <= 0.0:
                    continue
                served += float(s["lines_served"])
                cap += rate
                n += 1.0
            if n:
                acc = self._real[kind]
                d = keep**n
                acc[0] = acc[0] * d + served
                acc[1] = acc[1] * d + cap
                acc[2] = acc[2] * d + n

    def _capacity(
        self, served_key: str, cap_now: float | None, saturated: bool, share: float | None = None
    ) -> float:
        """Per minute: at least the seen share (`realised`) of what the staffing now serves at the
        plan's rates; above it, the service seen while work waited unassigned (the floor then serves
        as fast as it can), or, on a floor that is not saturated, a busy minute's service (the upper
        quintile). ``share``: the share of the staffing's capacity counted on, where not the
        kind's `realised` one (pick: `pick_share` at its open lines)."""
        recent = list(self.history)[-self.window_min :]
        if not recent:
            return 1e-6
        busy = [h[served_key] for h in recent if h["backlog_lines"] > 0]
        if saturated and busy:
            mu = float(np.mean(busy))
        else:
            mu = float(np.percentile([h[served_key] for h in recent], 80))
        if cap_now is not None:
            if share is None:
                share = self.realised("pick" if served_key == "served_pick" else "stow")
            mu = max(mu, share * cap_now)
        return max(mu, 1e-6)

    def _targets(self, dg: dict) -> dict[str, list[float]]:
        """The model's forecast of every target at every horizon (before the blend)."""
        p = self._paths(dg)
        self._last_usable = p["usable"]
        self._last_staff = p["staff"]
        path, path_c = p["open_lines"], p["open_cartons"]
        out: dict[str, list[float]] = {"open_lines": [path[h - 1] for h in HORIZONS_MIN]}
        cyc = self._cycle_model(dg, path, p["mu_pick"])
        if cyc is not None:
            out["cycle"] = cyc
        out.update(self._queues(dg, path, p["staff"]))
        out["open_cartons"] = [path_c[h - 1] for h in HORIZONS_MIN]
        return out

    def project(self, dg: dict, changes: list[tuple[float, str, int]], minutes: int) -> dict:
        """The fluid model's paths over the next ``minutes`` (1..``max(HORIZONS_MIN)``) if the
        staffing changes ``changes`` (run seconds, station, associates +-) are made on top of the
        ones already known: ``open_lines``, ``open_cartons`` (per minute), ``lines_in``,
        ``cartons_in`` (arrivals per minute) and ``staff`` (associates per station per minute).
        Reads the forecaster's state and changes nothing (the agent judges candidate plans with it
        where the twin cannot be forked). Unlike the forecast of record, the stow capacity follows
        the staffing path here too (a plan that takes a stower takes that share of the stow rate),
        for doing nothing as for every plan, so they are compared alike."""
        if changes:
            rows = sorted([*(dg.get("staff_ahead") or []), *changes], key=lambda r: r[0])
            dg = {**dg, "staff_ahead": rows}
        p = self._paths(dg, stow_staff=True)
        keys = ("open_lines", "open_cartons", "lines_in", "cartons_in", "staff", "mu_pick", "mu_pick_eff")
        return {k: p[k][:minutes] for k in keys}

    def recent_cycle_s(self) -> float | None:
        """The floor's recent mean order cycle (s; a 10-minute average), None before one is seen."""
        return self._recent["cycle"].v

    def station_paths(self, dg: dict, p: dict, rho_ref: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Each pick station's queue and service over a projection ``p`` (`project`), for the
        order-cycle tail (`fctwin.controller.eluna.cycle_tail`): ``station_q`` (S, H + 1) open lines
        at minutes 0..H, ``station_mu`` (S, H) lines served a minute, ``backlog`` (H + 1,) lines
        waiting unassigned. The floor's rate (``mu_pick_eff``: the capacity the fluid model served
        at, the open lines' lift included) is shared over the open stations by their people's plan
        rate then; the open lines over them as `_queues` shares them (least-loaded: level queues,
        each up to its saturated level, a station's departure from its peers fading), the rest
        unassigned. A station closed now keeps what it holds until it opens; one a plan closes
        hands its lines on (`Levers.set_station_staff` moves a closed station's work).

        ``rho`` (H,): the pick floor's load each minute (arrivals over the rate, at most
        ``pick_rho_max``). With ``rho_ref`` (doing nothing's ``rho``) each open station's queue moves
        by what the plan's load does to the queue an M/M/1 station holds (``rho / (1 - rho)``), as
        the stow queue's level does (`_stow_levels`): the fluid queue holds its level while the
        rate still meets the inflow, a real one at 90% does not (eluna_port_strike seed 12, 11:00:
        one of four pickers lent to stow, the fluid floor unchanged, the floor's cycle 71 s -> 339 s)."""
        picks = [s for s in dg["stations"] if s["kind"] == "pick"]
        path, staff, mu = p["open_lines"], p["staff"], p["mu_pick_eff"]
        h = len(path)
        n = len(picks)
        q = np.zeros((n, h + 1))
        rate = np.zeros((n, h))
        backlog = np.zeros(h + 1)
        if n == 0 or h == 0:
            return {"station_q": q, "station_mu": rate, "backlog": backlog}
        q[:, 0] = [float(s["open_lines"]) for s in picks]
        backlog[0] = float(dg.get("backlog_lines", 0))
        q_sat = self._q_sat.v if self._q_sat.v is not None else self.station_cap_lines + 1.0
        open_now = [s for s in picks if s["associates"] > 0]
        mean_now = float(np.mean([s["open_lines"] for s in open_now])) if open_now else 0.0
        rate_of = self.station_rate or (lambda sid, k: float(k > 0))
        lam = np.asarray(p["lines_in"], dtype=float)[:h]
        rho = np.minimum(lam / np.maximum(np.asarray(mu, dtype=float), 1e-9), self.pick_rho_max)
        moved = np.zeros(h)
        if rho_ref is not None:
            ref = np.asarray(rho_ref, dtype=float)[:h]
            moved = rho / (1.0 - rho) - ref / (1.0 - ref)
        for k in range(h):
            st = staff[k]
            r = np.array(
                [rate_of(s["id"], int(st.get(s["id"], 0))) if st.get(s["id"], 0) > 0 else 0.0 for s in picks]
            )
            if r.sum() > 0:
                rate[:, k] = mu[k] * r / r.sum()
            is_open = r > 0
            held = sum(
                float(s["open_lines"]) for j, s in enumerate(picks) if s["associates"] <= 0 and not is_open[j]
            )
            n_open = int(is_open.sum())
            share = min(max(path[k] - held, 0.0) / n_open, q_sat) if n_open else 0.0
            for j, s in enumerate(picks):
                if not is_open[j]:
                    q[j, k + 1] = float(s["open_lines"]) if s["associates"] <= 0 else 0.0
                    continue
                dev = float(s["open_lines"]) - mean_now if s["associates"] > 0 else 0.0
                fade = float(np.exp(-(k + 1) / self.dev_tau_min))
                q[j, k + 1] = max(0.0, share + dev * fade + moved[k])
            backlog[k + 1] = max(0.0, path[k] - held - share * n_open)
        return {"station_q": q, "station_mu": rate, "backlog": backlog, "rho": rho}

    def _paths(self, dg: dict, stow_staff: bool = False) -> dict:
        """The fluid model's per-minute paths 1..max(HORIZONS_MIN) ahead (`_targets`, `project`).
        ``stow_staff``: the stow capacity follows the staffing path (`project`); the forecast of
        record keeps it as staffed now (`_stow_path`)."""
        t_s = dg["t_s"]
        recent = list(self.history)[-self.window_min :]
        hmax = max(HORIZONS_MIN)
        base = max(self.plan_rate(t_s), 1e-9)
        scale = [self.plan_rate(t_s + 60.0 * k) / base for k in range(1, hmax + 1)]
        # The base arrival rate: the last hour's arrivals, each minute divided by its planned factor
        # (orders are Poisson around the plan; a short window chases its own bursts, and a floor is
        # saturated right after one), times the plan now.
        hour = list(self.history)[-self.base_window_min :]
        lam = base * float(np.mean([h["lines_arrived"] / max(h["plan"], 1e-9) for h in hour]))
        saturated = float(np.mean([h["backlog_lines"] > 0 for h in recent[-10:]])) >= 0.5
        cap_now = self.capacity(dg) if self.capacity else None
        usable = self.fleet_path(dg, hmax)  # per minute ahead: drive units free to take a trip
        fleet_gain = fleet_cap = None
        rho = self._rho.v
        if rho is None and len(self._rho_seen) >= 5:
            rho = float(np.percentile(self._rho_seen, 80))
        staff = self._staff_path(dg, hmax)  # per minute ahead: associates per station
        unit_ratio = None
        if usable is not None and self.fleet_units_curve:
            # the drive units' service is concave in the units per open station (`units_share`),
            # not linear in each unit lost: units queued at a station are a buffer
            unit_ratio, fleet_cap, cap_now = self._fleet_units(dg, usable, staff, cap_now)
        elif usable is not None and rho is not None:
            # Drive units matter where they are short. Spare units now: the free ones standing
            # idle. On a floor with spare units, units leaving for a charger first use up the spare
            # ones, then each costs the pick lines a unit on a pick trip brings (`rho`, times the
            # pick trips' share of the units at work). On a floor short of units now (none idle for
            # 5 minutes) every unit that leaves costs that and every unit back from a pad brings it
            # (up to what the people can serve).
            st, fl = dg["unit_states"], dg["fleet"]
            busy = st["pick_trip"] + st["stow_trip"]
            share = st["pick_trip"] / busy if busy else 1.0
            spare0 = fl["usable_idle"]
            short = spare0 <= 1 and float(np.mean(list(self._idle_seen)[-5:])) <= 1.0
            fleet_gain = [
                rho * share * ((n - fl["usable"]) if short else min(spare0 + n - fl["usable"], 0))
                for n in usable
            ]
            # the most the drive units can bring then: those on pick trips now and their share of
            # the spare ones (no floor of the people's capacity may lift the forecast above it)
            fleet_cap = [
                rho * max(st["pick_trip"] + share * (spare0 + n - fl["usable"]), 0.0) for n in usable
            ]
            if cap_now is not None:  # what its people serve *and* what its drive units bring
                cap_now = min(cap_now, rho * (st["pick_trip"] + share * spare0))
        share_now = self._pick_share(dg, float(dg["open_lines"]))
        mu = self._capacity("served_pick", cap_now, saturated, share_now)
        # the bound where charging takes units away over the path (fewer usable than now): a fleet
        # whose units are all out queueing at people-limited stations is not short, and the rate
        # a unit is seen to bring there is the stations' (the serve test's mis-staffed floor: the
        # bound everywhere refused every picker, and cost the mis-staffed scene's lends)
        bound = None
        if stow_staff and self.project_fleet_bound and fleet_cap is not None:
            n_now = dg["fleet"]["usable"]
            bound = [c if n < n_now else float("inf") for c, n in zip(fleet_cap, usable, strict=True)]
        mu_path = self._capacity_path(dg, staff, "pick", mu, cap_now, fleet_cap, share_now, bound)
        if fleet_gain is not None:
            people = self._people_cap_path(dg, staff, "pick")
            out_mu = []
            for k, (m, g) in enumerate(zip(mu_path, fleet_gain, strict=True)):
                if g > 0:  # units back serve no faster than the people do
                    g = min(g, max(share_now * people[k] - m, 0.0)) if people else g
                out_mu.append(max(m + g, 1e-6))
            mu_path = out_mu
        if unit_ratio is not None:
            people = self._people_cap_path(dg, staff, "pick")
            mu_path = [
                max(m * r if r <= 1.0 else min(m * r, max(m, share_now * people[k])), 1e-6)
                for k, (m, r) in enumerate(zip(mu_path, unit_ratio, strict=True))
            ]
        level = self.unsaturated_level()
        inflow = [lam * s for s in scale]
        stow = self._stow_path(dg, recent, hmax, staff if stow_staff else None)
        path_c = stow["path"]
        if self.fleet_level:
            level = self._level_path(dg, level, path_c, usable)
        if self.little_level:
            level = self._little_level(level, inflow)
        # Both rates are counts over the window: the queue grows only where the inflow outruns the
        # capacity by more than their noise (else a steady floor's noise compounds for an hour).
        margin = self.noise_z * np.sqrt(lam / len(hour) + mu / self.window_min)
        mu_at = self._pick_capacity_at(dg, staff, fleet_cap)
        path = self.fluid(float(dg["open_lines"]), inflow, mu_path, level, self.tau_min, margin, mu_at)
        mu_eff = list(mu_path)
        if stow_staff and mu_at is not None:  # `project` only: the rate the fluid model served at
            prev = [float(dg["open_lines"]), *path[:-1]]
            mu_eff = [max(m, mu_at(k, w)) for k, (m, w) in enumerate(zip(mu_path, prev, strict=True))]
        return {
            "mu_pick_eff": mu_eff,
            "open_lines": path,
            "open_cartons": path_c,
            "lines_in": inflow,
            "cartons_in": stow["inflow"],
            "mu_pick": mu_path,
            "staff": staff,
            "usable": usable,
        }

    def _fleet_units(
        self, dg: dict, usable: list[int], staff: list[dict], cap_now: float | None
    ) -> tuple[list[float], list[float] | None, float | None]:
        """The drive units' bound on pick service along the path (``fleet_units_curve``): the units
        that can be on pick trips at each minute ahead (those on pick trips now and the pick trips'
        share of the idle ones, plus or minus the units the charging rules take or free), per pick
        station open then, through `units_share`. Returns the ratio of that share to the share now
        (the capacity estimated now already carries the fleet now), the staffing's plan capacity
        times the share per minute (the most the people can serve with the pods that come), and
        ``cap_now`` times the share now."""
        st, fl = dg["unit_states"], dg["fleet"]
        busy = st["pick_trip"] + st["stow_trip"]
        share = st["pick_trip"] / busy if busy else 1.0
        n0 = st["pick_trip"] + share * fl["usable_idle"]
        ids = [s["id"] for s in dg["stations"] if s["kind"] == "pick"]
        open0 = sum(1 for s in dg["stations"] if s["kind"] == "pick" and s["associates"] > 0)
        f0 = units_share(n0 / max(open0, 1))
        ratio, cap_path = [], []
        for n, st_k in zip(usable, staff, strict=True):
            n_open = sum(1 for i in ids if st_k.get(i, 0) > 0)
            f = units_share(max(n0 + share * (n - fl["usable"]), 0.0) / max(n_open, 1))
            ratio.append(f / f0 if f0 > 0 else 1.0)
            if self.station_rate is not None:
                cap_path.append(f * sum(self.station_rate(i, st_k.get(i, 0)) for i in ids))
        return ratio, (cap_path or None), (None if cap_now is None else cap_now * f0)

    def _stow_path(self, dg: dict, recent: list[dict], hmax: int, staff: list[dict] | None = None) -> dict:
        """Open stow cartons at each minute 1..hmax ahead: the dock schedule ahead (`dock_ahead`)
        plus the unscheduled stream, served at the stow stations' capacity (at least the plan's
        share of their people's rate, or the higher share they are seen to serve with work,
        `realised`). The known staffing
        changes are not played forward here: on a pod-fed floor a stower's break moves the cartons
        to the other stations, not the service (tried: balanced open cartons at 30 minutes from
        persistence's 0 to -0.69, seed 11, from the plan's breaks); with ``staff`` (`project`) they
        are, as `_capacity_path` plays them for pick. Returns ``path`` (hmax minutes) and
        ``inflow`` (cartons per minute over the path's minutes)."""
        sched = dg.get("dock_ahead") or {}
        per_min = []
        prev_n, prev_h = 0.0, 0
        for h in HORIZONS_MIN:
            n = float(sched.get(str(h), 0.0))
            per_min += [(n - prev_n) / (h - prev_h)] * (h - prev_h)
            prev_n, prev_h = n, h
        arrived = float(np.mean([h["cartons_arrived"] for h in recent]))
        sched_seen = float(np.mean([h["dock_due"] for h in recent]))
        unscheduled = max(0.0, arrived - sched_seen)
        sat_c = float(dg["open_cartons"]) > 2.0 * (self._level["open_cartons"].v or 0.0) + 4.0
        cap_c = self.stow_capacity(dg) if self.stow_capacity else None
        mu_c = self._capacity("served_stow", cap_c, sat_c)
        if staff is not None and self.project_stow_drain and cap_c is not None:
            # `project`: the stowers' seen rate (`realised`) times their plan capacity, not a busy
            # minute's count: stow serves 0-2 cartons a minute, so the upper quintile of a minute
            # is a whole carton (60 an hour on a floor whose four stowers serve ~43), and a lent
            # stower's absence never showed while that phantom capacity still met the inflow
            mu_c = max(self.realised("stow") * cap_c, 1e-6)
        margin_c = self.noise_z * np.sqrt((unscheduled + mu_c) / self.window_min)
        # no pull to a level: the stow queue wanders (few long jobs, drive units shared with pick)
        level_c = float(dg["open_cartons"])
        if staff is not None and self.project_stow_drain:
            # `project`: spare stow capacity works a carton backlog off (down to the queue's recent
            # level), so a stower's absence costs the cartons they would have stowed; held where it
            # is, a lent or released stower cost nothing while the capacity left still met the
            # inflow, and the backlog waited for the end of the shift
            level_c = min(level_c, self._level["open_cartons"].v or level_c)
        inflow = [unscheduled + x for x in per_min]
        if staff is not None:
            now = {x["id"]: int(x["associates"]) for x in dg["stations"]}
            # the staffing now, as the path has it
            mu0 = self._capacity_path(dg, [now], "stow", mu_c, cap_c)[0]
            mu_c = self._capacity_path(dg, staff[: len(inflow)], "stow", mu_c, cap_c)
            if self.project_stow_queue:
                level_c = self._stow_levels(dg, level_c, inflow, mu0, mu_c, staff[: len(inflow)])
        path_c = self.fluid(float(dg["open_cartons"]), inflow, mu_c, level_c, self.tau_min, margin_c)
        return {"path": path_c + [path_c[-1]] * (hmax - len(path_c)), "inflow": inflow}

    def _stow_levels(
        self, dg: dict, level: float, inflow: list[float], mu0: float, mu_path: list[float], staff: list[dict]
    ) -> list[float]:
        """`project`: the stow queue's level at each minute ahead, moved from ``level`` by what the
        staffing then does to the queue a station holds at its load (M/M/1, ``rho / (1 - rho)`` per
        open stow station, ``rho`` the inflow over the path against the capacity then, at most
        ``stow_rho_max``). A fluid queue whose capacity still meets the inflow holds its work; a
        real one at 85% does not stay put when a quarter of its people leave (eluna_battery: a
        stower lent to pick at 09:30 projected no stow cost, and the cartons waited). Doing nothing
        with the staffing unchanged keeps ``level`` as it is, so only a plan's change moves it."""
        ids = [s["id"] for s in dg["stations"] if s["kind"] == "stow"]
        lam = float(np.mean(inflow)) if inflow else 0.0

        def held(mu: float, n: int) -> float:
            if n <= 0:
                return 0.0
            rho = min(lam / max(mu, 1e-9), self.stow_rho_max)
            return n * rho / (1.0 - rho)

        n0 = sum(1 for i, a in self._now_staff(dg, ids) if a > 0)
        base = held(mu0, n0)
        return [
            max(0.0, level + held(m, sum(1 for i in ids if st.get(i, 0) > 0)) - base)
            for m, st in zip(mu_path, staff, strict=True)
        ]

    def _learn_level(self, dg: dict, saturated: bool) -> None:
        """The unsaturated open lines' level (a 30-minute mean of the minutes with no work waiting
        unassigned). With ``little_level``, a second one, learned only from the minute the floor has
        filled from empty (the pick stations served, over the last ``fill_window_min`` minutes, at
        least the lines that arrived: before that the work is still building up to its level, and a
        mean that starts there holds the level low for an hour), with the arrivals of the same
        minutes beside each (Little's law, `_little_level`). A floor saturated before it fills (work
        waiting unassigned in most of those minutes) never had that start: its first unsaturated
        minutes after are a backlog's tail, far above the level, so it keeps the level learned from
        the first minute (``_fill_missed``; measured on train_p5_closed, a plan with 3 of 5 pick
        stations closed: the queue at 15 minutes +0.60 -> +0.36 without this)."""
        if self.little_level and not (self._filled or self._fill_missed):
            recent = list(self.history)[-self.fill_window_min :]
            full = len(recent) >= self.fill_window_min
            # work waited unassigned in most of those minutes (not a blip while the pods arrive)
            self._fill_missed = full and sum(h["backlog_lines"] > 0 for h in recent) > len(recent) / 2
            served = sum(h["served_pick"] for h in recent)
            self._filled = (
                full and not self._fill_missed and served >= sum(h["lines_arrived"] for h in recent)
            )
        if saturated:
            return
        lines, arrived = float(dg["open_lines"]), float(dg["lines_arrived"])
        self._level["open_lines"].add(lines)
        if not self.little_level:
            return
        for key in ("all", "filled") if self._filled else ("all",):
            self._little[key][0].add(lines)
            self._little[key][1].add(arrived)

    def unsaturated_level(self) -> float:
        """The open lines the unsaturated floor keeps (the level the fluid model pulls the work back
        to): the 30-minute mean of its unsaturated minutes; with ``little_level``, of those since the
        floor filled from empty, once there are any."""
        filled = self._little["filled"][0].v
        if self.little_level and filled is not None:
            return filled
        return self._level["open_lines"].v or 0.0

    def _little_level(self, level: float | list[float], inflow: list[float]) -> float | list[float]:
        """The level at each minute ahead by Little's law: the open lines an unsaturated floor keeps
        are its arrivals times the time a line stays open (its pod's trip, the queue at the face), so
        the level learned (``level``, per minute or one number) at the arrivals of the same minutes
        moves in proportion to the inflow then (per minute). A floor whose pods travel far keeps more
        lines open at the same arrivals, and keeps proportionally more when the arrivals rise."""
        lv, lam = self._little["filled" if self._little["filled"][0].v is not None else "all"]
        lv, lam = lv.v, lam.v
        if lv is None or lam is None or lam <= 0.0:
            return level
        levels = list(level) if isinstance(level, list | tuple | np.ndarray) else [level] * len(inflow)
        return [x * lam_k / lam for x, lam_k in zip(levels, inflow, strict=True)]

    def _learn_stow_units(self, dg: dict, saturated: bool) -> None:
        """The open lines' level with the fleet short and with units to spare, and the drive units
        stow work takes per open carton."""
        fl = dg.get("fleet")
        if not fl:
            return
        idle = int(fl["usable_idle"])
        if not saturated:
            if idle <= self.spare_idle_short:
                self._level_short.add(float(dg["open_lines"]))
                if self.little_level and self._filled:
                    self._level_filled["short"].add(float(dg["open_lines"]))
            elif idle >= self.spare_idle_full:
                self._level_spare.add(float(dg["open_lines"]))
                if self.little_level and self._filled:
                    self._level_filled["spare"].add(float(dg["open_lines"]))
        stow = int(dg["unit_states"]["stow_trip"])
        self._stow_units_max = max(self._stow_units_max, stow)
        if dg["open_cartons"] >= 3:
            self._stow_per_carton.add(stow / float(dg["open_cartons"]))

    def _level_path(self, dg: dict, level: float, path_c: list[float], usable: list[int] | None):
        """The unsaturated open lines' level at each minute ahead, from the idle drive units then:
        idle now, minus the units the stow cartons ahead take (units per open carton, up to the most
        seen on stow trips), plus the units the charging rules free (`usable`). The short and the
        spare level are the run's own; until both are seen, the one level for every minute."""
        fl = dg.get("fleet")
        lo, hi = self._level_short.v, self._level_spare.v
        if self.little_level and None not in (self._level_filled["short"].v, self._level_filled["spare"].v):
            lo, hi = self._level_filled["short"].v, self._level_filled["spare"].v  # once the floor filled
        r = (self._stow_per_carton.v or 0.0) if self.stow_ahead else 0.0
        if not fl or lo is None or hi is None:
            return level
        idle0, use0 = int(fl["usable_idle"]), int(fl["usable"])
        stow0, c0 = int(dg["unit_states"]["stow_trip"]), float(dg["open_cartons"])
        cap = max(self._stow_units_max, stow0)
        a, b = self.spare_idle_short, self.spare_idle_full
        out = []
        for k, c in enumerate(path_c):
            stow = min(max(stow0 + r * (c - c0), 0.0), cap)
            idle = idle0 - (stow - stow0) + ((usable[k] - use0) if usable else 0)
            x = float(np.clip((idle - a) / (b - a), 0.0, 1.0))
            out.append(lo + x * (hi - lo))
        return out

    def _learn_fleet(self, dg: dict) -> None:
        """Each minute: the battery a unit at work loses per minute, from the fleet's energy balance
        (what the pads gave minus the change of the fleet's total charge, over the units at work),
        the pick lines a drive unit on a pick trip brings per minute."""
        fl = dg.get("fleet")
        if not fl or self.fleet_rates is None:
            return
        states = dg["unit_states"]
        served = sum(s["lines_served"] for s in dg["stations"] if s["kind"] == "pick")
        self._idle_seen.append(int(fl["usable_idle"]))
        if states["pick_trip"] >= 3:
            ratio = served / states["pick_trip"]
            self._rho_seen.append(ratio)
            # A unit's rate is its rate when units are short (none free and idle): with units to
            # spare a unit on a trip also queues at the station, and its rate then says nothing
            # about what the floor loses when units leave. Until the fleet is short, a busy
            # minute's rate (the upper quintile seen) stands in.
            if fl["usable_idle"] <= 1:
                self._rho.add(ratio)
        n = sum(states.values())
        total = (dg.get("battery_mean") or 0.0) * n
        prev = self._prev_fleet
        self._prev_fleet = (total, fl["on_pad"], fl["waiting_pad"], fl["usable"], n)
        if prev is None or prev[4] != n or prev[3] <= 0:
            return
        r = self.fleet_rates
        gained = r["charge_per_min"] * prev[1]
        drain = (gained - (total - prev[0]) - r["idle_drain_per_min"] * prev[2]) / prev[3]
        self._drain.add(float(np.clip(drain, 0.0, r["moving_drain_per_min"])))

    def fleet_path(self, dg: dict, hmax: int) -> list[int] | None:
        """Drive units free to take a trip at each minute 1..hmax ahead, from the charging rules
        played forward on every unit's charge now (the digest's `fleet`): a unit at work drains
        (the learned rate), one at or below its low level stops work and waits for a pad, a pad
        that frees up goes to the lowest unit that may take it (at its low level, or below the
        opportunity threshold), a unit on a pad gains the pad's rate and is free again at the
        charge it is charged to. None without the fleet block or the rates."""
        played = self._play_fleet(dg, hmax)
        return None if played is None else played[0]

    def pad_queue_path(self, dg: dict, hmax: int) -> list[int] | None:
        """Drive units waiting for a pad (at or below their low level, not on a pad) at each minute
        1..hmax ahead, from the same play of the charging rules as `fleet_path`. None without the
        fleet block or the rates."""
        played = self._play_fleet(dg, hmax)
        return None if played is None else played[1]

    def _play_fleet(self, dg: dict, hmax: int) -> tuple[list[int], list[int]] | None:
        """(units free to take a trip, units waiting for a pad) at each minute 1..hmax ahead."""
        fl = dg.get("fleet")
        if not fl or self.fleet_rates is None:
            return None
        r = self.fleet_rates
        free = np.repeat([p / 100.0 for p, _ in fl["free_pct"]], [c for _, c in fl["free_pct"]])
        chg = np.repeat([p / 100.0 for p, _ in fl["charging_pct"]], [c for _, c in fl["charging_pct"]])
        free, chg = free.astype(np.float64), chg.astype(np.float64)
        low, to, pads = float(fl["low"]), float(fl["charge_to"]), int(fl["pads"])
        thr = max(float(fl["threshold"] if fl["threshold"] is not None else low), low)
        drain = self._drain.v if self._drain.v is not None else r["drain_per_min"]
        usable, waiting = [], []
        for _ in range(hmax):
            chg = chg + r["charge_per_min"]
            done = chg >= to
            if done.any():
                free = np.concatenate([free, chg[done]])
                chg = chg[~done]
            work = free > low
            free = np.where(work, free - drain, free - r["idle_drain_per_min"])
            room = pads - chg.size
            if room > 0 and free.size:
                order = np.argsort(free, kind="stable")
                take = [i for i in order[:room] if free[i] <= thr]
                if take:
                    chg = np.concatenate([chg, free[take]])
                    free = np.delete(free, take)
            n_work = int(np.sum(free > low))
            usable.append(n_work)
            waiting.append(int(free.size) - n_work)
        return usable, waiting

    def _staff_path(self, dg: dict, hmax: int) -> list[dict[str, int]]:
        """Associates per station for each minute 1..hmax ahead: now, plus the changes already
        known (`staff_ahead` in the digest: people walking to a station, back from a break or a
        repair, the plan's breaks)."""
        now = {s["id"]: int(s["associates"]) for s in dg["stations"]}
        rows = dg.get("staff_ahead") or []
        t_s = dg["t_s"]
        out, cur, j = [], dict(now), 0
        for k in range(1, hmax + 1):
            while j < len(rows) and rows[j][0] <= t_s + 60.0 * k:
                _, sid, delta = rows[j]
                if sid in cur:
                    cur[sid] = max(0, cur[sid] + int(delta))
                j += 1
            out.append(dict(cur))
        return out

    def _people_cap_path(self, dg: dict, staff: list[dict], kind: str) -> list[float] | None:
        """What the people of each minute's staffing serve at the plan's service times."""
        if self.station_rate is None:
            return None
        ids = [s["id"] for s in dg["stations"] if s["kind"] == kind]
        return [sum(self.station_rate(i, st.get(i, 0)) for i in ids) for st in staff]

    def _pick_share(self, dg: dict, open_lines: float, staff: dict | None = None) -> float:
        """The share of the pick staffing's plan rate counted on with ``open_lines`` on the floor
        (`pick_share` at the open lines per open pick station, each up to its saturated level: lines
        beyond it wait unassigned and bring no pod; a closed station's lines not counted), or the
        constant ``capacity_share`` when ``pick_share_rises`` is off. ``staff``: the stations'
        associates then (default: now)."""
        if not self.pick_share_rises:
            return self.realised("pick")
        picks = [s for s in dg["stations"] if s["kind"] == "pick"]
        by = staff if staff is not None else {s["id"]: s["associates"] for s in picks}
        n_open = sum(1 for s in picks if by.get(s["id"], 0) > 0)
        if n_open == 0:
            return self.realised("pick")
        # lines held by a station closed now and then stay with it (as in `_queues`)
        held = sum(float(s["open_lines"]) for s in picks if s["associates"] <= 0 and by.get(s["id"], 0) <= 0)
        q_sat = self._q_sat.v if self._q_sat.v is not None else self.station_cap_lines + 1.0
        return min(self.pick_scale() * pick_share(min(max(open_lines - held, 0.0) / n_open, q_sat)), 1.0)

    def _pick_capacity_at(
        self, dg: dict, staff: list[dict], fleet_cap: list[float] | None
    ) -> Callable[[int, float], float] | None:
        """The pick capacity at minute ``k`` ahead with ``w`` open lines then: `pick_share` of the
        staffing's plan rate then (at most what the drive units can bring), so a queue that grows is
        served faster and settles where the inflow meets it. None without the rate model or with
        ``pick_share_rises`` off."""
        if self.station_rate is None or not self.pick_share_rises:
            return None
        ids = [s["id"] for s in dg["stations"] if s["kind"] == "pick"]
        floors = []
        for k, st in enumerate(staff):
            cap = sum(self.station_rate(i, st.get(i, 0)) for i in ids)
            floors.append(cap if fleet_cap is None else min(cap, fleet_cap[k]))

        def mu_at(k: int, w: float) -> float:
            return self._pick_share(dg, w, staff[k]) * floors[k]

        return mu_at

    def _capacity_path(
        self,
        dg: dict,
        staff: list[dict],
        kind: str,
        mu: float,
        cap_now,
        fleet_cap: list[float] | None = None,
        share: float | None = None,
        bound: list[float] | None = None,
    ) -> list[float]:
        """Capacity per minute ahead: the capacity estimated now plus what the known staffing changes
        add or take at the plan's service times, at the rate the floor realises its staffing now
        (people back from a repair restore a down station's share; a planned break takes one away).
        Additive, so capacity the staffing does not explain (robotic stations) stays as it is; on a
        floor of person-worked stations it is the estimate scaled by the staffing's capacity. The
        floor (the seen share, `realised`, of the staffing's capacity) is at most that share of what
        the drive units can bring then (``fleet_cap``), where that is known. ``share``: the share
        counted on where not the kind's `realised` one (pick: `pick_share` at the open lines now).
        ``bound`` (`project` only): people added beyond now lift the capacity to at most what the
        drive units can bring then (or the capacity now, where that is more): a person at a pick
        station serves the pods that come, and a fleet waiting for chargers brings fewer."""
        if self.station_rate is None:
            return [mu] * len(staff)
        ids = [s["id"] for s in dg["stations"] if s["kind"] == kind]
        cap0 = sum(self.station_rate(i, int(n)) for i, n in self._now_staff(dg, ids))
        share = self.realised(kind) if share is None else share
        eff = min(1.0, mu / cap0) if cap0 > 0 else share
        out = []
        for k, st in enumerate(staff):
            cap = sum(self.station_rate(i, st.get(i, 0)) for i in ids)
            floor = cap if fleet_cap is None else min(cap, fleet_cap[k])
            added = mu + eff * (cap - cap0)
            if bound is not None and cap > cap0:
                added = min(added, max(mu, bound[k]))
            out.append(max(added, share * floor, 1e-6))
        return out

    @staticmethod
    def _now_staff(dg: dict, ids: list[str]):
        by = {s["id"]: s["associates"] for s in dg["stations"]}
        return [(i, by[i]) for i in ids]

    def _cycle_model(self, dg: dict, path: list[float], mu_path: list[float]):
        """Order cycle of the orders finishing at each horizon, by Little's law on the forecast work:
        an order finishing at t + h arrived about one (recent) cycle earlier, so its wait grew by the
        lines open then beyond the recent level, over the capacity then (as the known staffing
        changes make it). The recent cycle anchors it (the part of a cycle the law on lines does not
        see: the slowest line of an order, the pod's trip). Measured on the balanced training seeds
        it ties reading the work at t + h itself; on a floor whose queue grows or drains it does not
        add the growth of orders that have not arrived yet."""
        cyc = self._recent["cycle"].v
        if cyc is None:
            return None
        w_ref = self._recent["open_lines"].v or float(dg["open_lines"])
        out = []
        for h in HORIZONS_MIN:
            k = h - min(int(round(cyc / 60.0)), h - 1)  # minute ahead when those orders arrived (>= 1)
            out.append(max(0.0, cyc + 60.0 * (path[k - 1] - w_ref) / mu_path[k - 1]))
        return out

    def _queues(self, dg: dict, path: list[float], staff: list[dict]) -> dict[str, list[float]]:
        """Each pick station's open lines: least-loaded assignment shares the floor's assigned
        lines evenly over the open pick stations, each up to its saturated level (while work waits
        unassigned every open station sits there); a station's departure from its peers' mean
        fades over ``dev_tau_min``. A station closed then (no associates: down, or its people
        gone) takes no new lines and keeps what it holds; one that reopens fills to its share."""
        picks = [s for s in dg["stations"] if s["kind"] == "pick"]
        if not picks:
            return {}
        q_sat = self._q_sat.v if self._q_sat.v is not None else self.station_cap_lines + 1.0
        open_now = [s for s in picks if s["associates"] > 0]
        mean_now = float(np.mean([s["open_lines"] for s in open_now])) if open_now else 0.0
        out: dict[str, list[float]] = {}
        for s in picks:
            sid = s["id"]
            vals = []
            for h in HORIZONS_MIN:
                st = staff[h - 1]
                n_open = sum(1 for x in picks if st.get(x["id"], 0) > 0)
                if st.get(sid, 0) <= 0 or n_open == 0:
                    vals.append(float(s["open_lines"]) if s["associates"] <= 0 else mean_now)
                    continue
                # lines held by stations closed now stay with them unless they reopen by then
                held = sum(
                    float(x["open_lines"]) for x in picks if x["associates"] <= 0 and st.get(x["id"], 0) <= 0
                )
                share = min(max(path[h - 1] - held, 0.0) / n_open, q_sat)
                dev = float(s["open_lines"]) - mean_now if s["associates"] > 0 else 0.0
                vals.append(max(0.0, share + dev * float(np.exp(-h / self.dev_tau_min))))
            out[f"queue:{sid}"] = vals
        return out

    @staticmethod
    def actual(dg: dict, target: str) -> float | None:
        if target == "cycle":
            return dg["cycle_mean_s"]
        if target.startswith("queue:"):
            sid = target[6:]
            return float(next(s["open_lines"] for s in dg["stations"] if s["id"] == sid))
        return float(dg[target])

    def _now(self, dg: dict, target: str) -> float | None:
        """Persistence: the value now (the cycle of the last minute that finished an order)."""
        if target == "cycle":
            return dg["cycle_mean_s"] if dg["cycle_mean_s"] is not None else self._cycle_last
        return self.actual(dg, target)

    def _blend(self, target: str, h: int, model: float, now: float) -> float:
        kind = "queue" if target.startswith("queue:") else target
        own = self.self_blend and h in self.blend_horizons
        w = self.online_blend(kind, h) if own else self.blend.get((kind, h), 1.0)
        return max(0.0, w * model + (1.0 - w) * now)

    def online_blend(self, kind: str, h: int) -> float:
        """The blend weight of ``kind`` at ``h`` minutes from this run's own matured forecasts: the
        least-squares ``w`` of ``actual - now = w * (model - now)`` over the pairs so far (decayed
        over ``blend_tau_min`` minutes), shrunk to the fitted ``blend`` as if it had been seen on
        ``blend_prior_min`` minutes of pairs of the same spread; in [0, 1]. Only pairs whose outcome
        is known at this minute enter (`_mature`), so it uses the past alone."""
        w0 = self.blend.get((kind, h), 1.0)
        dd, de, n, _ = self._blend_acc.get((kind, h), (0.0, 0.0, 0.0, 0))
        if n <= 0.0 or dd <= 0.0:
            return w0
        prior = self.blend_prior_min * dd / n
        w = float(np.clip((de + prior * w0) / (dd + prior), 0.0, 1.0))
        return min(w, w0) if self.blend_lower_only else w

    def _learn_blend(
        self, target: str, h: int, now: float, act: float, model: float, minute: int, weight: float = 1.0
    ) -> None:
        """Add one matured pair (its outcome seen at ``minute``) to the run's own blend fit."""
        if minute - h < self.blend_from_min:
            return
        kind = "queue" if target.startswith("queue:") else target
        acc = self._blend_acc.setdefault((kind, h), [0.0, 0.0, 0.0, minute])
        keep = float(np.exp(-(minute - acc[3]) / self.blend_tau_min))
        d = model - now
        acc[0] = acc[0] * keep + weight * d * d
        acc[1] = acc[1] * keep + weight * d * (act - now)
        acc[2] = acc[2] * keep + weight
        acc[3] = minute

    def pick_scale(self) -> float:
        """The height of this floor's pick curve against the balanced floor's (`pick_share`): what
        its open pick stations with work served over what the curve counts on at their open lines,
        decayed over ``scale_tau_n`` station-minutes, shrunk to 1 by ``scale_prior_n`` of them and
        kept within ``scale_bounds``; 1 when ``self_scale`` is off."""
        served, counted, n = self._scale_acc
        if not self.self_scale or counted <= 0.0:
            return 1.0
        seen = served / counted
        shrunk = (n * seen + self.scale_prior_n) / (n + self.scale_prior_n)
        return float(np.clip(shrunk, *self.scale_bounds))

    def _learn_scale(self, dg: dict) -> None:
        """Each open pick station with work (1 or more open lines at the minute's start and end)
        while the fleet has units to spare (``spare_idle_short`` + 1 or more idle: where units are
        short the fleet path, not the station, carries the loss): its lines served against the
        curve's share at its mean open lines times its people's plan rate."""
        if self.station_rate is None:
            return
        fl = dg.get("fleet")
        spare = fl is None or int(fl["usable_idle"]) > self.spare_idle_short
        keep = float(np.exp(-1.0 / self.scale_tau_n))
        prev = self._prev_pick_lines
        self._prev_pick_lines = {
            s["id"]: float(s["open_lines"]) for s in dg["stations"] if s["kind"] == "pick"
        }
        if not spare:
            return
        acc = self._scale_acc
        for s in dg["stations"]:
            if s["kind"] != "pick" or s["associates"] <= 0 or s["id"] not in prev:
                continue
            q0, q1 = prev[s["id"]], float(s["open_lines"])
            rate = self.station_rate(s["id"], int(s["associates"]))
            if min(q0, q1) < self.scale_min_lines or rate <= 0.0:
                continue
            acc[0] = acc[0] * keep + float(s["lines_served"])
            acc[1] = acc[1] * keep + pick_share(0.5 * (q0 + q1)) * rate
            acc[2] = acc[2] * keep + 1.0

    # ------------------------------------------------------------------ each minute

    def observe(self, dg: dict) -> dict[str, dict[int, float]]:
        """Take this minute's digest; returns forecasts ``{target: {horizon_min: value}}``."""
        sched = dg.get("dock_ahead") or {}
        row = {
            "open_lines": dg["open_lines"],
            "open_cartons": dg["open_cartons"],
            "lines_arrived": dg["lines_arrived"],
            "cartons_arrived": dg["cartons_arrived"],
            "backlog_lines": dg.get("backlog_lines", 0),
            "plan": self.plan_rate(dg["t_s"]),
            "dock_due": float(sched.get("1", 0.0)),
            "served_pick": sum(s["lines_served"] for s in dg["stations"] if s["kind"] == "pick"),
            "served_stow": sum(s["lines_served"] for s in dg["stations"] if s["kind"] == "stow"),
        }
        self.history.append(row)
        self._learn_fleet(dg)
        self._learn_realised(dg)
        if self.self_scale:  # off (the default): nothing reads what it would learn
            self._learn_scale(dg)
        minute = dg["minute"]
        self._mature(dg, minute)
        saturated = row["backlog_lines"] > 0
        self._learn_level(dg, saturated)
        self._learn_stow_units(dg, saturated)
        self._level["open_cartons"].add(float(dg["open_cartons"]))
        self._recent["open_lines"].add(float(dg["open_lines"]))
        self._recent["cycle"].add(dg["cycle_mean_s"])
        for s in dg["stations"]:
            if s["kind"] == "pick":
                self._queue_level.setdefault(s["id"], _Ewma(self.tau_min)).add(float(s["open_lines"]))
        open_picks = [s["open_lines"] for s in dg["stations"] if s["kind"] == "pick" and s["associates"] > 0]
        held = float(np.mean([h["backlog_lines"] > 0 for h in list(self.history)[-10:]])) >= 0.8
        if held and open_picks:  # work has waited unassigned for most of 10 minutes: every station full
            if self._q_sat.v is None:
                self._q_sat.v = self.station_cap_lines + 1.0
            self._q_sat.add(float(np.mean(open_picks)))
        model = self._targets(dg)
        resid = self._residual_context(dg, model) if self.learned_residual or self.collect_residual else None
        out: dict[str, dict[int, float]] = {}
        for target, values in model.items():
            now = self._now(dg, target)
            if now is None:
                continue
            out[target] = {}
            for h, m in zip(HORIZONS_MIN, values, strict=True):
                fc = self._blend(target, h, m, now)
                if resid is not None and kind_of(target) in RESIDUAL_KINDS:
                    fc = self._residual(dg, resid, target, h, now, m, fc)
                out[target][h] = fc
                self.pending.setdefault((target, h), deque()).append((minute + h, fc, now, m))
        if dg["cycle_mean_s"] is not None:
            self._cycle_last = dg["cycle_mean_s"]
        self._hot_spots(dg, minute, model)
        return out

    def _residual_context(self, dg: dict, model: dict[str, list[float]]) -> dict:
        """Feed the learned correction's tracker this minute (`residual.ResidualTracker`); its floor
        features, shared by every target and horizon."""
        if self._resid_tracker is None:
            self._resid_tracker = ResidualTracker()
        if self.learned_residual and self._resid_model is None:
            self._resid_model = ResidualModel.load(self.residual_path)
        tr = self._resid_tracker
        tr.observe(dg, {t: self._now(dg, t) for t in model if kind_of(t) in RESIDUAL_KINDS})
        cap = self.capacity(dg) if self.capacity is not None else None
        ctx = tr.context(
            dg,
            cap_lines=float(self.station_cap_lines),
            capacity_per_min=cap,
            level_lines=self._level["open_lines"].v,
        )
        # the plan's demand and the pick people's capacity h minutes ahead against now: the same for
        # every target of the minute, so taken once here
        t_s = dg["t_s"]
        p_now = self.plan_rate(t_s)
        cap_now = self._pick_people_cap({s["id"]: int(s["associates"]) for s in dg["stations"]}, dg)
        ctx["plan_ahead"], ctx["staff_ahead"] = {}, {}
        for h in HORIZONS_MIN:
            ctx["plan_ahead"][h] = self.plan_rate(t_s + 60.0 * h) / p_now - 1.0 if p_now > 0 else 0.0
            staff_h = self._last_staff[h - 1] if self._last_staff and len(self._last_staff) >= h else None
            ctx["staff_ahead"][h] = (
                self._pick_people_cap(staff_h, dg) / cap_now - 1.0 if staff_h and cap_now > 0 else 0.0
            )
        return ctx

    def _pick_people_cap(self, staff: dict[str, int], dg: dict) -> float:
        if self.station_rate is None:
            return 0.0
        return sum(
            self.station_rate(s["id"], int(staff.get(s["id"], 0)))
            for s in dg["stations"]
            if s["kind"] == "pick"
        )

    def _residual(self, dg: dict, ctx: dict, target: str, h: int, now: float, m: float, fc: float) -> float:
        """The forecast of record with the learned correction (``learned_residual``); with
        ``collect_residual`` the features are also kept (`residual_rows`) for the fit script."""
        x, scale = self._resid_tracker.features(
            target,
            now=now,
            model=m,
            fc=fc,
            ctx=ctx,
            plan_ahead=ctx["plan_ahead"][h],
            staff_ahead=ctx["staff_ahead"][h],
        )
        if self.collect_residual:
            self.residual_rows.append((target, h, int(dg["minute"]), x, fc, now, scale))
        if not self.learned_residual:
            return fc
        return self._resid_model.apply(kind_of(target), h, x, now=now, fc=fc)

    def _mature(self, dg: dict, minute: int) -> None:
        n_queues = max(sum(1 for s in dg["stations"] if s["kind"] == "pick"), 1)
        for (target, h), q in self.pending.items():
            while q and q[0][0] <= minute:
                _, fc, now, m = q.popleft()
                act = self.actual(dg, target)
                if act is None:
                    continue
                self.scored.setdefault((target, h), []).append((fc, now, act, minute - h, m))
                if self.self_blend:  # off (the default): nothing reads the run's own fit
                    weight = 1.0 / n_queues if target.startswith("queue:") else 1.0
                    self._learn_blend(target, h, now, act, m, minute, weight)

    # ------------------------------------------------------------------ hot spots

    def _hot_spots(self, dg: dict, minute: int, model: dict[str, list[float]]) -> None:
        """Hot spots: a floor area is hot when units stood blocked there for ``hot_wait_s`` seconds a
        minute or more (5-minute mean of the digest's sampled `congestion_wait_s`); without that
        measure, the minute snapshot (``hot_units`` units standing still).

        The forecast: on this floor units stand blocked in the queues of the pick stations, so an
        area's wait follows the work of the open pick stations in it (queue spill-back). Each area's
        wait is its background (the level it keeps with no open pick station in it) plus the wait
        per open line of its pick stations (learned from the run, areas pooled while an area has
        not had an open station) times the forecast open lines of the stations open then (a station
        known to reopen brings its traffic back; one that closes takes it away)."""
        wait_s = dg.get("congestion_wait_s")
        if wait_s is None:
            self._hot_spots_snapshot(dg, minute, model)
            return
        x = np.asarray(wait_s, dtype=np.float64).ravel()
        self._area_recent.append(x)
        now5 = np.mean(self._area_recent, axis=0)
        n = x.size
        side = int(round(np.sqrt(n)))
        picks = [s for s in dg["stations"] if s["kind"] == "pick" and "area" in s]

        def activity(open_lines: dict[str, float]) -> np.ndarray:
            act = np.zeros(n)
            for s in picks:
                if s["id"] in open_lines:
                    act[s["area"][0] * side + s["area"][1]] += open_lines[s["id"]] + 1.0
            return act

        act_now = activity({s["id"]: float(s["open_lines"]) for s in picks if s["associates"] > 0})
        if self._area_level is None:
            self._area_level = np.full(n, np.nan)  # background per area
            self._area_rate = np.full(n, np.nan)  # seconds blocked per open line of its stations
            self._rate_pooled = None
        k = 1.0 - np.exp(-1.0 / 30.0)
        quiet = act_now == 0
        bg = self._area_level
        bg[quiet & np.isnan(bg)] = now5[quiet & np.isnan(bg)]
        bg[quiet] += k * (now5[quiet] - bg[quiet])
        bg_now = np.where(np.isnan(bg), 0.0, bg)
        busy = ~quiet
        rate_now = np.maximum(now5 - bg_now, 0.0) / np.where(busy, act_now, 1.0)
        fresh = busy & np.isnan(self._area_rate)
        self._area_rate[fresh] = rate_now[fresh]
        self._area_rate[busy] += k * (rate_now[busy] - self._area_rate[busy])
        if busy.any():
            pooled = float(np.mean(rate_now[busy]))
            self._rate_pooled = (
                pooled if self._rate_pooled is None else self._rate_pooled + k * (pooled - self._rate_pooled)
            )
        rate = np.where(np.isnan(self._area_rate), self._rate_pooled or 0.0, self._area_rate)
        hot_now = now5 >= self.hot_wait_s
        self._area_30.append(x)
        level30 = np.mean(self._area_30, axis=0)
        self._hot_seen.append((minute, hot_now.copy()))
        for h in HOT_HORIZONS_MIN:
            q = self._hot_pending[h]
            while q and q[0][0] <= minute:
                _, pred, pers, made, score = q.popleft()
                self.hot_scored[h].append((pred, pers, hot_now.copy(), made))
                self.hot_raw[h].append((score, hot_now.copy(), made))
            # the window event: hot at some minute within HOT_WINDOW_MIN of t + h (known once the
            # window has passed)
            q = self._hot_win_pending[h]
            while q and q[0][0] + h + HOT_WINDOW_MIN <= minute:
                made, pred, pers = q.popleft()
                lo, hi = made + h - HOT_WINDOW_MIN, made + h + HOT_WINDOW_MIN
                seen = [hn for m, hn in self._hot_seen if lo <= m <= hi]
                if seen:
                    self.hot_win_scored[h].append((pred, pers, np.any(seen, axis=0), made))
        for h in HOT_HORIZONS_MIN:
            j = HORIZONS_MIN.index(h) if h in HORIZONS_MIN else 0
            lines = {s["id"]: model[f"queue:{s['id']}"][j] for s in picks if f"queue:{s['id']}" in model}
            open_then = {sid: v for sid, v in lines.items() if self._open_at(dg, sid, h)}
            struct = bg_now + rate * activity(open_then)
            expect = HOT_BLEND * struct + (1.0 - HOT_BLEND) * now5
            self._hot_pending[h].append(
                (minute + h, expect >= self.hot_call_s, hot_now.copy(), minute, np.stack([struct, now5]))
            )
            a, b, call = self.hot_win_rule
            win = a * struct + b * level30 + (1.0 - a - b) * now5
            self._hot_win_pending[h].append((minute, win >= call, hot_now.copy()))

    def _open_at(self, dg: dict, sid: str, h: int) -> bool:
        staff = self._last_staff
        if staff is None or h - 1 >= len(staff):
            return any(s["id"] == sid and s["associates"] > 0 for s in dg["stations"])
        return staff[h - 1].get(sid, 0) > 0

    def _hot_spots_snapshot(self, dg: dict, minute: int, model: dict[str, list[float]]) -> None:
        waiting = dg.get("congestion_waiting")
        if waiting is None:
            return
        self._area_recent.append(np.asarray(waiting, dtype=np.float64).ravel())
        now5 = np.mean(self._area_recent, axis=0)
        if self._area_level is None:
            self._area_level = now5.copy()
        else:
            self._area_level += (1.0 - np.exp(-1.0 / 15.0)) * (now5 - self._area_level)
        hot_now = now5 >= self.hot_units
        for h in HOT_HORIZONS_MIN:
            q = self._hot_pending[h]
            while q and q[0][0] <= minute:
                _, pred, pers, made = q.popleft()
                self.hot_scored[h].append((pred, pers, hot_now.copy(), made))
        w_ref = self._recent["open_lines"].v or 1.0
        for k, h in enumerate(HOT_HORIZONS_MIN):
            ratio = float(np.clip((model["open_lines"][k] + 5.0) / (w_ref + 5.0), 0.5, 2.0))
            # the recent 5 minutes and the longer level, scaled by the forecast change of pick work
            expect = (0.5 * now5 + 0.5 * self._area_level) * ratio
            self._hot_pending[h].append((minute + h, expect >= self.hot_units, hot_now.copy(), minute))

    def hot_spot_scores(self, *, from_minute: int = 0, window: bool = False) -> dict[int, dict]:
        """Per horizon: precision and recall of the hot-spot forecast and of persistence (hot now ->
        hot then), over all areas and matured minutes from ``from_minute``; ``window``: of the
        window event (hot at some minute within ``HOT_WINDOW_MIN`` of t + h)."""
        out = {}
        for h, rows in (self.hot_win_scored if window else self.hot_scored).items():
            rows = [r for r in rows if r[3] >= from_minute]
            if not rows:
                continue
            pred = np.concatenate([r[0] for r in rows])
            pers = np.concatenate([r[1] for r in rows])
            act = np.concatenate([r[2] for r in rows])
            p, r = precision_recall(pred, act)
            pp, pr = precision_recall(pers, act)
            out[h] = {
                "precision": None if p is None else round(p, 4),
                "recall": None if r is None else round(r, 4),
                "persistence_precision": None if pp is None else round(pp, 4),
                "persistence_recall": None if pr is None else round(pr, 4),
                "hot_share": round(float(act.mean()), 4),
                "n": int(act.size),
            }
        return out

    # ------------------------------------------------------------------ the score

    def skill(self, *, from_minute: int = 0, pooled: bool = False) -> dict[str, dict[int, dict]]:
        """Per target and horizon: ``{"skill": 1 - SSE/SSE_persistence, "n": pairs}`` over the
        forecasts made at or after ``from_minute`` (60 leaves out the floor's first hour, when it
        fills up from empty and every model beats persistence). ``pooled``: the stations' queues
        pooled into one target ``queue``."""
        groups: dict[tuple[str, int], list] = {}
        for (target, h), rows in self.scored.items():
            key = ("queue" if pooled and target.startswith("queue:") else target, h)
            groups.setdefault(key, []).extend(rows)
        out: dict[str, dict[int, dict]] = {}
        for (target, h), rows in sorted(groups.items()):
            a = np.asarray([r[:3] for r in rows if r[3] >= from_minute], dtype=np.float64)
            if len(a) < 5:
                continue
            sk = skill_score(a[:, 0], a[:, 1], a[:, 2])
            out.setdefault(target, {})[h] = {"skill": None if sk is None else round(sk, 4), "n": len(a)}
        return out
