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

    def candidates(self, dg: dict) -> list[Action]:
        """Feasible actions worth rolling forward, most promising first (at most ``max_candidates``)."""
        board = self.levers.board
        sts = [s for s in dg["stations"] if s["id"] in self.service_s]
        fc = self.last_forecast
        pres = pressures(dg, self.service_s, self.speed)
        for s in sts:  # the pick queues' 30-minute forecast where there is one
            q = fc.get(f"queue:{s['id']}", {}).get(30)
            if q is not None and s["associates"] > 0:
                pres[s["id"]] = max(
                    pres[s["id"]], q * self.service_s[s["id"]] / self.speed(s["associates"]) / 60.0
                )
            elif s["kind"] == "stow" and s["associates"] > 0:
                share = s["open_lines"] / max(1, dg["open_cartons"])
                c30 = fc.get("open_cartons", {}).get(30, dg["open_cartons"])
                pres[s["id"]] = max(
                    pres[s["id"]], c30 * share * self.service_s[s["id"]] / self.speed(s["associates"]) / 60.0
                )
        targets = sorted(
            (sid for sid in pres if sid not in board.down_until),
            key=lambda x: (-(pres[x] if math.isfinite(pres[x]) else 1e9), x),
        )[:3]
        sources = [POOL] if board.floaters > 0 else []
        sources += sorted((sid for sid in pres if board.staffed.get(sid, 0) > 0), key=lambda x: (pres[x], x))[
            :3
        ]
        out: list[Action] = []
        for t in targets:
            for s in sources:
                if s == t or (s != POOL and pres[s] >= pres[t]):
                    continue
                a = MoveAssociates(s, t, 1)
                if self.levers.infeasible(a) is None:
                    out.append(a)
        hist = dg["battery_hist"]
        if sum(hist[:2]) > 0.3 * max(1, sum(hist)):
            out.append(SetChargeThreshold(min(0.8, self.charge_frac + 0.2)))
        return out[: self.max_candidates]

    # ------------------------------------------------------------------ deciding

    def _decide(self, dg: dict) -> list[Recommendation]:
        cands = self.candidates(dg)
        if not cands:
            return []
        self.decisions += 1
        if self.lookahead is not None:
            w0 = time.perf_counter()
            results = self.lookahead.evaluate(
                [[]] + [[c] for c in cands], self.horizon_s, f"eluna.{dg['minute']}"
            )
            self.lookahead_wall_s += time.perf_counter() - w0
            self.lookahead_plans += len(cands) + 1
            js = [objective(r) for r in results]
            best = max(range(1, len(js)), key=lambda k: (js[k], -k))
            gain = js[best] - js[0]
            throughput0 = results[0]["units_picked"] + results[0]["units_stowed"]
            if gain <= self.min_gain * max(1.0, throughput0):
                return []
            action = cands[best - 1]
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
                        f"{k}:{as_dict(c)['kind']}": {**results[k + 1], "objective": round(js[k + 1], 2)}
                        for k, c in enumerate(cands)
                    },
                },
            }
        else:
            action, predicted, evidence = self._fluid_choice(dg, cands)
            if action is None:
                return []
        rec = self._recommend(dg, action, predicted, evidence)
        return [rec]

    def _fluid_choice(self, dg: dict, cands: list[Action]):
        """Without a twin to roll forward: the move from the least to the most pressed station."""
        sts = {s["id"]: s for s in dg["stations"]}
        for a in cands:
            if isinstance(a, MoveAssociates):
                t = sts[a.target]
                n = t["associates"]
                gain_rate = (self.speed(n + 1) - self.speed(n)) * 60.0 / self.service_s[a.target]  # lines/min
                minutes = max(0.0, (self.horizon_s - self.levers.board.config.walk_s) / 60.0)
                predicted = {
                    "objective": round(gain_rate * minutes, 2),
                    "open_lines_target": -round(gain_rate * minutes, 1),
                }
                return (
                    a,
                    predicted,
                    {"forecast": {k: v for k, v in self.last_forecast.items() if not k.startswith("queue:")}},
                )
        return None, None, None

    def _recommend(self, dg: dict, action: Action, predicted: dict, evidence: dict) -> Recommendation:
        t_s = dg["t_s"]
        board = self.levers.board
        if isinstance(action, MoveAssociates):
            delay = board.config.walk_s + (board.config.open_s if board.planned(action.target) == 0 else 0.0)
            eff = t_s + delay
            kinds = board.config.kinds
            src = "the pool" if action.source == POOL else f"{kinds[action.source]} {action.source}"
            text = (
                f"move {action.n} associate{'s' if action.n > 1 else ''} from {src} to "
                f"{kinds[action.target]} {action.target} by {clock(eff, self.start_hour)}"
            )
        else:
            eff = t_s
            text = (
                f"set the opportunity-charging threshold to {action.frac:.0%} now"
                if isinstance(action, SetChargeThreshold)
                else f"cap drive units on stow trips at {action.stow_unit_cap} now"
            )
        parts = [f"units processed {predicted.get('throughput_units', predicted['objective']):+.0f}"]
        if "open_units" in predicted:
            parts.append(f"open work {predicted['open_units']:+.0f} units")
        if predicted.get("cycle_p95_s") is not None:
            parts.append(f"order cycle p95 {predicted['cycle_p95_s']:+.0f} s")
        text += f"; predicted over {self.horizon_s / 60:.0f} min: " + ", ".join(parts)
        rec = Recommendation(
            rec_id=len(self.recommendations) + 1,
            t_s=t_s,
            kind=action.kind,
            action=as_dict(action),
            text=f"[{clock(t_s, self.start_hour)}] " + text,
            effective_s=eff,
            horizon_s=self.horizon_s,
            predicted=predicted,
            evidence=evidence,
        )
        rec._start = dict(self._cum)
        if self.mode == "auto":
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
