"""Eluna: the agent that predicts bottlenecks, recommends, acts and scores itself.

Every simulated minute the run hands it the state digest; it forecasts (`Forecaster`). Every
``period_min`` minutes it builds candidate actions from the levers (people towards the stations
whose pressure, now or forecast, is highest; from the pool or the least loaded stations; the
charging threshold when the fleet runs low), rolls each forward on a copy of the twin
(`Lookahead`, common random numbers: every candidate sees the same fresh future, never the run's
own) together with "do nothing", and chooses by the objective

    J = units picked + units stowed over the horizon - 0.5 * units of work open at its end

(throughput now, and not leaving work for later). The best candidate becomes a `Recommendation`
when it beats doing nothing by ``min_gain`` (relative to do-nothing's throughput); in ``auto``
mode it is applied at once through `Levers` (with the levers' physical delays), in ``advise`` mode
only recorded. After the horizon each recommendation gets its realised effect: the J the floor
actually reached minus the J the lookahead predicted for doing nothing, beside the predicted
effect (J of the action minus J of doing nothing).

Without a lookahead (a fleet over the network) the agent ranks candidates by the fluid model:
moving one person changes the service rates and the forecast work at both stations.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from fctwin.controller.eluna.actions import (
    POOL,
    Action,
    Levers,
    MoveAssociates,
    SetChargeThreshold,
    as_dict,
)
from fctwin.controller.eluna.forecast import Forecaster
from fctwin.controller.eluna.pressure import pressures

OPEN_WORK_WEIGHT = 0.5


class Lookahead(Protocol):
    """Rolls the twin forward from now once per plan (a list of actions; [] is do nothing).

    Returns per plan: ``units_picked``, ``units_stowed``, ``open_pick_units``,
    ``open_stow_units`` (at the horizon's end), ``cycle_p95_s`` (None when no order finished).
    Every plan sees the same fresh random future (common random numbers), keyed by ``key``.
    """

    def evaluate(self, plans: list[list[Action]], horizon_s: float, key: str) -> list[dict]: ...


def objective(r: dict) -> float:
    return (
        r["units_picked"]
        + r["units_stowed"]
        - OPEN_WORK_WEIGHT * (r["open_pick_units"] + r["open_stow_units"])
    )


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


def describe_short(a: Action) -> str:
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
        gate_min: float = 3.0,
        start_hour: int = 8,
        charge_frac: float = 0.5,
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

    @property
    def speed(self) -> Callable[[int], float]:
        return self.levers.board.config.rate.speed

    # ------------------------------------------------------------------ each minute

    def on_minute(self, dg: dict, open_work: tuple[int, int]) -> list[Recommendation]:
        """Take the minute's digest; returns the recommendations made now (applied in auto mode)."""
        self._cum["units_picked"] += dg["units_picked"]
        self._cum["units_stowed"] += dg["units_stowed"]
        self.last_forecast = self.forecaster.observe(dg)
        self._score_matured(dg["t_s"], open_work)
        if dg["minute"] % self.period_min:
            return []
        return self._decide(dg)

    def _score_matured(self, t_s: float, open_work: tuple[int, int]) -> None:
        for rec in [r for r in self._open if r.t_s + r.horizon_s <= t_s + 1e-6]:
            self._open.remove(rec)
            real = {
                "units_picked": self._cum["units_picked"] - rec._start["units_picked"],
                "units_stowed": self._cum["units_stowed"] - rec._start["units_stowed"],
                "open_pick_units": open_work[0],
                "open_stow_units": open_work[1],
            }
            j_real = objective(real)
            j_nothing = (
                rec.evidence["lookahead"]["nothing"]["objective"] if "lookahead" in rec.evidence else None
            )
            realised = {"objective": round(j_real, 2), **real}
            if j_nothing is not None:
                delta = j_real - j_nothing
                realised["objective_vs_predicted_nothing"] = round(delta, 2)
                realised["sign_as_predicted"] = (delta > 0) == (rec.predicted["objective"] > 0)
            rec.realised = realised

    # ------------------------------------------------------------------ candidates

    def projected_pressure(self, dg: dict) -> dict[str, float]:
        """Each station's pressure (minutes of work at its staffing), the larger of now and the
        30-minute forecast (pick: the floor's open lines shared by capacity; stow: open cartons)."""
        sts = [s for s in dg["stations"] if s["id"] in self.service_s]
        fc = self.last_forecast
        pres = pressures(dg, self.service_s, self.speed)
        pick_cap = sum(self.speed(s["associates"]) for s in sts if s["kind"] == "pick")
        stow_cap = sum(self.speed(s["associates"]) for s in sts if s["kind"] == "stow")
        lines30 = fc.get("open_lines", {}).get(30)
        cartons30 = fc.get("open_cartons", {}).get(30)
        for s in sts:
            if s["associates"] <= 0:
                continue
            if s["kind"] == "pick" and lines30 is not None and pick_cap > 0:
                f = lines30 * self.service_s[s["id"]] / pick_cap / 60.0
            elif s["kind"] == "stow" and cartons30 is not None and stow_cap > 0:
                f = cartons30 * self.service_s[s["id"]] / stow_cap / 60.0
            else:
                continue
            pres[s["id"]] = max(pres[s["id"]], f)
        return pres

    def candidates(self, dg: dict) -> list[list[Action]]:
        """Plans (lists of actions) worth rolling forward, most promising first (at most
        ``max_candidates``): single moves from the pool or the least pressed stations to the most
        pressed ones, and a rebalancing plan (greedy moves until pressures are even); the charging
        threshold when the fleet runs low. Every plan is feasible now, its actions in order.
        Nothing when no station is pressed (``gate_min``): the agent then does not roll forward."""
        board = self.levers.board
        pres = self.projected_pressure(dg)

        def finite(x: float) -> float:
            return x if math.isfinite(x) else 1e6

        plans: list[list[Action]] = []
        hot = [sid for sid in pres if finite(pres[sid]) >= self.gate_min and sid not in board.down_until]
        if hot:
            targets = sorted(hot, key=lambda x: (-finite(pres[x]), x))[:3]
            sources = [POOL] if board.floaters > 0 else []
            sources += sorted(
                (sid for sid in pres if board.staffed.get(sid, 0) > 0 and sid not in targets),
                key=lambda x: (pres[x], x),
            )[:3]
            for t in targets:
                for src in sources:
                    if src != POOL and finite(pres[src]) * 2 >= finite(pres[t]):
                        continue
                    a = MoveAssociates(src, t, 1)
                    if self.levers.infeasible(a) is None:
                        plans.append([a])
            rebalance = self._rebalance(dg, pres)
            if len(rebalance) > 1:
                plans.insert(0, rebalance)
        hist = dg["battery_hist"]
        if sum(hist[:2]) > 0.3 * max(1, sum(hist)):
            plans.append([SetChargeThreshold(min(0.8, self.charge_frac + 0.2))])
        return plans[: self.max_candidates]

    def _rebalance(self, dg: dict, pres: dict[str, float]) -> list[Action]:
        """Greedy: move one person at a time from the least to the most pressed station while the
        most pressed has more than twice the pressure (plus a minute) of the least; at most 4 moves."""
        board = self.levers.board
        staffed = {sid: board.planned(sid) for sid in pres}
        work = {
            sid: (pres[sid] if math.isfinite(pres[sid]) else 0.0) * self.speed(max(1, staffed[sid]))
            for sid in pres
        }
        for sid in pres:  # a closed station with work waiting: its work in one person's minutes
            if staffed[sid] == 0 and not math.isfinite(pres[sid]):
                st = next(s for s in dg["stations"] if s["id"] == sid)
                work[sid] = st["open_lines"] * self.service_s[sid] / 60.0
        floaters = board.floaters
        moves: list[MoveAssociates] = []

        def p(sid: str) -> float:
            n = staffed[sid]
            return work[sid] / self.speed(n) if n > 0 else (1e6 if work[sid] > 0 else 0.0)

        kinds = board.config.kinds
        for _ in range(4):
            open_ = [x for x in pres if x not in board.down_until]
            t = max(open_, key=lambda x: (p(x), x))
            if staffed[t] >= board.config.max_per_station or p(t) < self.gate_min:
                break
            if floaters > 0:
                src = POOL
            else:
                donors = [
                    x
                    for x in pres
                    if x != t
                    and staffed[x] > 0
                    and staffed[x] - sum(m.n for m in moves if m.source == x) > 0
                    and not (
                        staffed[x] == 1
                        and sum(1 for y in pres if kinds[y] == kinds[x] and staffed[y] > 0) <= 1
                    )
                ]
                if not donors:
                    break
                src = min(donors, key=lambda x: (p(x), x))
                if p(t) <= 2.0 * p(src) + 1.0:
                    break
            moves.append(MoveAssociates(src, t, 1))
            if src == POOL:
                floaters -= 1
            else:
                staffed[src] -= 1
            staffed[t] += 1
        # the same plan, checked action by action against a board that has applied the earlier ones
        ok: list[Action] = []
        pool_left = board.floaters
        left = {sid: board.staffed.get(sid, 0) for sid in pres}
        for m in moves:
            have = pool_left if m.source == POOL else left[m.source]
            if have < 1 or m.target in board.down_until:
                break
            if m.source == POOL:
                pool_left -= 1
            else:
                left[m.source] -= 1
            ok.append(m)
        return ok

    # ------------------------------------------------------------------ deciding

    def _decide(self, dg: dict) -> list[Recommendation]:
        cands = self.candidates(dg)
        if not cands:
            return []
        self.decisions += 1
        if self.lookahead is not None:
            w0 = time.perf_counter()
            results = self.lookahead.evaluate([[]] + cands, self.horizon_s, f"eluna.{dg['minute']}")
            self.lookahead_wall_s += time.perf_counter() - w0
            self.lookahead_plans += len(cands) + 1
            js = [objective(r) for r in results]
            best = max(range(1, len(js)), key=lambda k: (js[k], -k))
            gain = js[best] - js[0]
            throughput0 = results[0]["units_picked"] + results[0]["units_stowed"]
            if gain <= self.min_gain * max(1.0, throughput0):
                return []
            plan = cands[best - 1]
            r0, rb = results[0], results[best]
            predicted = {
                "objective": round(gain, 2),
                "throughput_units": rb["units_picked"] + rb["units_stowed"] - throughput0,
                "open_units": rb["open_pick_units"]
                + rb["open_stow_units"]
                - r0["open_pick_units"]
                - r0["open_stow_units"],
                "cycle_p95_s": None
                if rb.get("cycle_p95_s") is None or r0.get("cycle_p95_s") is None
                else round(rb["cycle_p95_s"] - r0["cycle_p95_s"], 1),
            }
            evidence = {
                "forecast": {k: v for k, v in self.last_forecast.items() if not k.startswith("queue:")},
                "lookahead": {
                    "nothing": {**r0, "objective": round(js[0], 2)},
                    **{
                        " + ".join(describe_short(a) for a in c): {
                            **results[k + 1],
                            "objective": round(js[k + 1], 2),
                        }
                        for k, c in enumerate(cands)
                    },
                },
            }
        else:
            plan, predicted, evidence = self._fluid_choice(dg, cands)
            if plan is None:
                return []
        rec = self._recommend(dg, plan, predicted, evidence)
        return [rec]

    def _fluid_choice(self, dg: dict, cands: list[list[Action]]):
        """Without a twin to roll forward: the first single move from the pool or the least to the most
        pressed station, its effect from the rate model (the lines per minute one more person adds)."""
        sts = {s["id"]: s for s in dg["stations"]}
        for plan in cands:
            a = plan[0]
            if len(plan) == 1 and isinstance(a, MoveAssociates):
                t = sts[a.target]
                n = t["associates"]
                gain_rate = (self.speed(n + 1) - self.speed(n)) * 60.0 / self.service_s[a.target]  # lines/min
                minutes = max(0.0, (self.horizon_s - self.levers.board.config.walk_s) / 60.0)
                predicted = {
                    "objective": round(gain_rate * minutes, 2),
                    "open_lines_target": -round(gain_rate * minutes, 1),
                }
                return (
                    plan,
                    predicted,
                    {"forecast": {k: v for k, v in self.last_forecast.items() if not k.startswith("queue:")}},
                )
        return None, None, None

    def _recommend(self, dg: dict, plan: list[Action], predicted: dict, evidence: dict) -> Recommendation:
        t_s = dg["t_s"]
        board = self.levers.board
        parts_text = []
        eff = t_s
        planned = {}
        for action in plan:
            if isinstance(action, MoveAssociates):
                n_there = planned.get(action.target, board.planned(action.target))
                delay = board.config.walk_s + (board.config.open_s if n_there == 0 else 0.0)
                planned[action.target] = n_there + action.n
                eff = max(eff, t_s + delay)
                kinds = board.config.kinds
                src = "the pool" if action.source == POOL else f"{kinds[action.source]} {action.source}"
                parts_text.append(
                    f"move {action.n} associate{'s' if action.n > 1 else ''} from {src} to "
                    f"{kinds[action.target]} {action.target} by {clock(t_s + delay, self.start_hour)}"
                )
            elif isinstance(action, SetChargeThreshold):
                parts_text.append(f"set the opportunity-charging threshold to {action.frac:.0%} now")
            else:
                parts_text.append(f"cap drive units on stow trips at {action.stow_unit_cap} now")
        text = "; ".join(parts_text)
        parts = [f"units processed {predicted.get('throughput_units', predicted['objective']):+.0f}"]
        if "open_units" in predicted:
            parts.append(f"open work {predicted['open_units']:+.0f} units")
        if predicted.get("cycle_p95_s") is not None:
            parts.append(f"order cycle p95 {predicted['cycle_p95_s']:+.0f} s")
        text += f"; predicted over {self.horizon_s / 60:.0f} min: " + ", ".join(parts)
        rec = Recommendation(
            rec_id=len(self.recommendations) + 1,
            t_s=t_s,
            kind=plan[0].kind if len(plan) == 1 else "plan",
            action={"actions": [as_dict(a) for a in plan]},
            text=f"[{clock(t_s, self.start_hour)}] " + text,
            effective_s=eff,
            horizon_s=self.horizon_s,
            predicted=predicted,
            evidence=evidence,
        )
        rec._start = dict(self._cum)
        if self.mode == "auto":
            for action in plan:
                self.levers.apply(action, t_s)
            rec.applied = True
        self.recommendations.append(rec)
        self._open.append(rec)
        return rec

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
