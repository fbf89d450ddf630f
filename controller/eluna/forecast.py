"""Forecasts from the digest: a fluid queueing model, corrected online, scored against persistence.

Targets (per the issue): open pick lines on the floor (``open_lines``), open stow cartons
(``open_cartons``), the pick queue of each station (``queue:<id>``: open lines there) and the
order cycle time (``cycle``: mean cycle of the orders completed in a minute), at 15, 30 and 60
minutes ahead.

The fluid model: work W (lines) evolves as dW/dt = lambda(t) - mu(W), where lambda is the arrival
rate seen over the last ``window_min`` minutes scaled by the scene's planned demand profile (the
plan is known; the future of the random streams is not), and mu is the service rate: the recent
throughput when the work is above what the floor holds in steady state, the arrival rate when it
is below (a drained queue serves what arrives). Cycle time by Little's law: open lines over the
line arrival rate. Open stow cartons (few, long jobs): reversion to the recent level with a
10-minute time constant, plus the drift when arrivals outrun service.

An online correction exists (``corrected_targets``): once ``min_pairs`` forecasts of a target
have matured, a least-squares blend ``a + b * fluid + c * now`` fitted on this run's matured
pairs. It made every target worse on the Eluna scenes (it learns the steady state and
extrapolates it through a regime change), so no target uses it by default. Skill against
persistence, per target and horizon: ``1 - SSE(forecast) / SSE(persistence)`` over matured
forecasts.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np

HORIZONS_MIN = (15, 30, 60)


class Forecaster:
    def __init__(
        self,
        *,
        plan_rate: Callable[[float], float] | None = None,
        station_cap_lines: int = 12,
        capacity: Callable[[dict], float] | None = None,
        window_min: int = 15,
        min_pairs: int = 30,
    ):
        self.plan_rate = plan_rate or (lambda t_s: 1.0)
        self.window_min = window_min
        self.station_cap_lines = station_cap_lines
        # pick lines per minute the digest's staffing can serve by the plan's service times (the
        # observed service rate is not the capacity on a floor that is not busy)
        self.capacity = capacity
        self.carton_tau_min = 10.0
        self.capacity_share = 0.75  # of the staffing's capacity reachable (pods must be brought)
        self.tau_min = 10.0  # how fast a stable queue returns to its recent level
        self.level_min = 30  # minutes the recent level is averaged over
        self.corrected_targets = ()  # the online correction hurt every target on the Eluna scenes: off
        self.min_pairs = min_pairs
        self.history: deque[dict] = deque(maxlen=max(HORIZONS_MIN) + window_min + 2)
        # target -> horizon -> list of (minute due, fluid, now) awaiting the actual value
        self.pending: dict[tuple[str, int], deque] = {}
        # target -> horizon -> arrays of matured (fluid, now, actual)
        self.matured: dict[tuple[str, int], list[tuple[float, float, float]]] = {}
        self.scored: dict[
            tuple[str, int], list[tuple[float, float, float]]
        ] = {}  # (forecast, persistence, actual)

    # ------------------------------------------------------------------ the model

    def _rates(self, key_in: str, key_out: str) -> tuple[float, float]:
        """Arrivals and service per minute over the recent window."""
        recent = list(self.history)[-self.window_min :]
        lam = float(np.mean([h[key_in] for h in recent])) if recent else 0.0
        # capacity, not throughput: a busy minute's service (the upper quintile of recent minutes)
        mu = float(np.percentile([h[key_out] for h in self.history], 80)) if recent else 0.0
        return lam, mu

    def _throughput(self, key: str) -> float:
        recent = list(self.history)[-self.window_min :]
        return float(np.mean([h[key] for h in recent])) if recent else 0.0

    @staticmethod
    def fluid(w0: float, lam_per_min: list[float], mu_max: float, level: float, tau_min: float) -> float:
        """Work after len(lam_per_min) minutes. A minute whose arrivals outrun the capacity
        ``mu_max`` adds the difference (the fluid queue grows); a minute with spare capacity pulls
        the work back towards ``level`` (the recent mean: a stable queue fluctuates around its
        steady state) with time constant ``tau_min``."""
        w = w0
        pull = float(np.exp(-1.0 / tau_min))
        for lam in lam_per_min:
            if lam > mu_max:
                w += lam - mu_max
            else:
                w = level + (w - level) * pull
        return max(0.0, w)

    def _fluid_targets(self, dg: dict) -> dict[str, list[float]]:
        """Fluid forecasts of every target at every horizon."""
        t_s = dg["t_s"]
        base = max(self.plan_rate(t_s), 1e-9)
        scale = [self.plan_rate(t_s + 60.0 * k) / base for k in range(1, max(HORIZONS_MIN) + 1)]
        out: dict[str, list[float]] = {}
        lam, mu = self._rates("lines_arrived", "lines_served_pick")
        mu_max = max(mu, 1e-6)
        if self.capacity is not None:
            mu_max = max(mu_max, self.capacity_share * self.capacity(dg))
        recent = list(self.history)[-self.level_min :]
        level = float(np.mean([h["open_lines"] for h in recent])) if recent else float(dg["open_lines"])
        lam_path = [lam * s for s in scale]
        lines = [
            self.fluid(dg["open_lines"], lam_path[:h], mu_max, level, self.tau_min) for h in HORIZONS_MIN
        ]
        out["open_lines"] = lines
        # Cycle time by Little's law (open lines / arrival rate). Tried: the throughput instead (better
        # in a surge, much worse elsewhere) and their geometric mean (worse on most scenes).
        out["cycle"] = [
            60.0 * w / max(lam_path[h - 1], 1e-6) for w, h in zip(lines, HORIZONS_MIN, strict=True)
        ]
        # Stow work comes in few, long cartons: a count that reverts to its recent level with the
        # time constant of a few cartons' service, plus the fluid drift when arrivals outrun service.
        level = float(np.mean([h["open_cartons"] for h in self.history])) if self.history else 0.0
        lam_c, mu_c = self._rates("cartons_arrived", "lines_served_stow")
        recent = list(self.history)[-self.window_min :]
        served_c = float(np.mean([h["lines_served_stow"] for h in recent])) if recent else 0.0
        out["open_cartons"] = [
            max(
                0.0,
                level
                + (dg["open_cartons"] - level) * float(np.exp(-h / self.carton_tau_min))
                + h * max(0.0, lam_c - max(served_c, 1e-6)),
            )
            for h in HORIZONS_MIN
        ]
        # A station holds at most its cap of open lines (the rest waits unassigned): the floor's
        # forecast work fills the open stations up to it, shared as they share it now.
        picks = [s for s in dg["stations"] if s["kind"] == "pick"]
        open_picks = [s for s in picks if s["associates"] > 0] or picks
        total_open = sum(s["open_lines"] for s in open_picks)
        cap_total = self.station_cap_lines * len(open_picks)
        for s in picks:
            share = s["open_lines"] / total_open if total_open else 1.0 / len(open_picks)
            if s not in open_picks:
                share = 0.0
            out[f"queue:{s['id']}"] = [min(w, cap_total) * share for w in lines]
        return out

    @staticmethod
    def actual(dg: dict, target: str) -> float | None:
        if target == "cycle":
            return dg["cycle_mean_s"]
        if target.startswith("queue:"):
            sid = target[6:]
            return float(next(s["open_lines"] for s in dg["stations"] if s["id"] == sid))
        return float(dg[target])

    # ------------------------------------------------------------------ each minute

    def observe(self, dg: dict) -> dict[str, dict[int, float]]:
        """Take this minute's digest; returns forecasts ``{target: {horizon_min: value}}``."""
        row = {
            "open_lines": dg["open_lines"],
            "open_cartons": dg["open_cartons"],
            "lines_arrived": dg["lines_arrived"],
            "cartons_arrived": dg["cartons_arrived"],
            "lines_served_pick": sum(s["lines_served"] for s in dg["stations"] if s["kind"] == "pick"),
            "lines_served_stow": sum(s["lines_served"] for s in dg["stations"] if s["kind"] == "stow"),
        }
        self.history.append(row)
        minute = dg["minute"]
        # mature what was due now
        for (target, h), q in self.pending.items():
            while q and q[0][0] <= minute:
                _, fluid, now, fc = q.popleft()
                act = self.actual(dg, target)
                if act is None or now is None:
                    continue
                self.matured.setdefault((target, h), []).append((fluid, now, act))
                self.scored.setdefault((target, h), []).append((fc, now, act, minute - h))
        fl = self._fluid_targets(dg)
        out: dict[str, dict[int, float]] = {}
        for target, values in fl.items():
            now = self.actual(dg, target)
            if target == "cycle" and now is None:
                now = self._last_cycle()
            out[target] = {}
            for h, fluid in zip(HORIZONS_MIN, values, strict=True):
                fc = self._corrected(target, h, fluid, now)
                out[target][h] = fc
                self.pending.setdefault((target, h), deque()).append((minute + h, fluid, now, fc))
        if dg["cycle_mean_s"] is not None:
            self._cycle_last = dg["cycle_mean_s"]
        return out

    def _last_cycle(self) -> float | None:
        return getattr(self, "_cycle_last", None)

    def _corrected(self, target: str, h: int, fluid: float, now: float | None) -> float:
        pairs = self.matured.get((target, h), [])
        if target not in self.corrected_targets or now is None or len(pairs) < self.min_pairs:
            return fluid
        a = np.asarray(pairs[-240:], dtype=np.float64)
        x = np.column_stack([np.ones(len(a)), a[:, 0], a[:, 1]])
        coef, *_ = np.linalg.lstsq(x, a[:, 2], rcond=None)
        return float(max(0.0, coef[0] + coef[1] * fluid + coef[2] * now))

    # ------------------------------------------------------------------ the score

    def skill(self, *, from_minute: int = 0) -> dict[str, dict[int, dict]]:
        """Per target and horizon: ``{"skill": 1 - SSE/SSE_persistence, "n": pairs}`` over the
        forecasts made at or after ``from_minute`` (60 leaves out the floor's first hour, when it
        fills up from empty and every model beats persistence)."""
        out: dict[str, dict[int, dict]] = {}
        for (target, h), rows in sorted(self.scored.items()):
            a = np.asarray([r[:3] for r in rows if r[3] >= from_minute], dtype=np.float64)
            if len(a) < 5:
                continue
            sse = float(np.sum((a[:, 0] - a[:, 2]) ** 2))
            sse_p = float(np.sum((a[:, 1] - a[:, 2]) ** 2))
            sk = 1.0 - sse / sse_p if sse_p > 0 else None
            out.setdefault(target, {})[h] = {"skill": None if sk is None else round(sk, 4), "n": len(a)}
        return out
