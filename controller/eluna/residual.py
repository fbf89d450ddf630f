"""A learned correction of the fluid forecast: per target kind and horizon, a ridge regression of the
forecast's residual on features of the digest that do not name a floor (docs/eluna_s16_fcast16.md).

The forecast of record is ``fc`` (the fluid model blended with persistence, `Forecaster._blend`).
With `Forecaster.learned_residual` on it becomes ``max(0, now + w(x) * (fc - now))``: the forecast's
change from now (persistence) scaled by a weight linear in the features ``x`` below, fitted
(`ResidualModel`) by ``benchmarks/eluna_train/fit_residual.py`` on the training floors only (never a
benchmark scene) to the residual ``actual - fc`` in units of the target's floor scale ``S``, and kept
in ``forecast_residual.json``.

Every feature is a ratio, so a floor with twice the stations, lines or units reads alike:
- a count of lines is divided by the floor's scale ``S``: open lines by the pick stations times the
  stations' dispatch cap, a station's queue by the cap, a cycle by the floor's own recent cycle;
- rates by the staffing's plan capacity, units by the usable fleet, stations by the pick stations.
Nothing raw (a count of lines, units or stations) enters: `tests/test_eluna_residual.py` checks that
a floor scaled up reads the same features.
"""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path

import numpy as np

KINDS = ("open_lines", "queue", "cycle")
COEF_PATH = Path(__file__).with_name("forecast_residual.json")
HIST_MIN = 16  # minutes of each target kept for the slopes (now and 15 minutes back)

# Names of the features, in order (x[0] is the intercept).
FEATURES = (
    "one",
    "now",  # the value now / S
    "fc_minus_now",  # the forecast of record's change / S
    "model_minus_now",  # the fluid model's change (before the blend) / S
    "slope5",  # change over the last 5 minutes / S
    "slope15",  # change over the last 15 minutes / S
    "dev15",  # now less the 15-minute mean / S
    "saturated10",  # share of the last 10 minutes with lines waiting unassigned
    "sat_x_fc",  # saturated10 * fc_minus_now: the model's change where the floor is saturated
    "load15",  # lines arrived a minute (15-minute mean) / the staffing's plan capacity
    "served15",  # lines served a minute (15-minute mean) / the staffing's plan capacity
    "plan_ahead",  # the planned demand at t + h over now, less 1
    "staff_ahead",  # the pick people's plan capacity at t + h over now, less 1
    "down_share",  # pick stations with nobody / pick stations
    "idle_share",  # usable drive units standing idle / usable units
    "pad_share",  # units waiting for or on a pad / usable units
    "floor_rel",  # queue only: the station's queue less its open peers' mean / S (0 otherwise)
    "level_gap",  # the unsaturated open-lines level the model pulls to, less the open lines now / S
    "age",  # minutes run / AGE_FULL_MIN, at most 1: how much of the floor the model has seen
)
AGE_FULL_MIN = 120.0


def floor_scale(kind: str, *, n_pick: int, cap_lines: float, cycle_level_s: float | None) -> float:
    """The scale ``S`` a target's lines (seconds) are divided by: open lines by the pick stations'
    total dispatch cap, a queue by one station's cap, a cycle by the floor's recent cycle (s)."""
    if kind == "open_lines":
        return max(1.0, n_pick * cap_lines)
    if kind == "queue":
        return max(1.0, cap_lines)
    return max(1.0, cycle_level_s or 1.0)


def kind_of(target: str) -> str:
    return "queue" if target.startswith("queue:") else target


class ResidualTracker:
    """What the features need of the past: each target's last ``HIST_MIN`` values, the floor's
    recent arrivals and service, and the minutes with lines waiting unassigned."""

    def __init__(self) -> None:
        self.values: dict[str, deque] = {}
        self.arrived: deque[float] = deque(maxlen=15)
        self.served: deque[float] = deque(maxlen=15)
        self.backlog: deque[bool] = deque(maxlen=10)
        self.cycles: deque[float] = deque(maxlen=30)

    def observe(self, dg: dict, values: dict[str, float | None]) -> None:
        """Take this minute's digest and the targets' values now (persistence's)."""
        for target, v in values.items():
            if v is not None:
                self.values.setdefault(target, deque(maxlen=HIST_MIN)).append(float(v))
        self.arrived.append(float(dg["lines_arrived"]))
        self.served.append(float(sum(s["lines_served"] for s in dg["stations"] if s["kind"] == "pick")))
        self.backlog.append(dg.get("backlog_lines", 0) > 0)
        if dg.get("cycle_mean_s") is not None:
            self.cycles.append(float(dg["cycle_mean_s"]))

    def context(
        self, dg: dict, *, cap_lines: float, capacity_per_min: float | None, level_lines: float | None
    ) -> dict:
        """The floor's features this minute (shared by every target and horizon)."""
        picks = [s for s in dg["stations"] if s["kind"] == "pick"]
        n_pick = max(len(picks), 1)
        cap = capacity_per_min if capacity_per_min and capacity_per_min > 0 else None
        fl = dg.get("fleet") or {}
        usable = float(fl.get("usable", 0) or 0)
        open_q = [float(s["open_lines"]) for s in picks if s["associates"] > 0]
        return {
            "n_pick": n_pick,
            "cap_lines": float(cap_lines),
            "cycle_level_s": float(np.mean(self.cycles)) if self.cycles else None,
            "saturated10": float(np.mean(self.backlog)) if self.backlog else 0.0,
            "load15": min(3.0, float(np.mean(self.arrived)) / cap) if cap else 1.0,
            "served15": min(3.0, float(np.mean(self.served)) / cap) if cap else 1.0,
            "down_share": sum(1 for s in picks if s["associates"] <= 0) / n_pick,
            "idle_share": float(fl.get("usable_idle", 0)) / usable if usable > 0 else 0.0,
            "pad_share": (float(fl.get("waiting_pad", 0)) + float(fl.get("on_pad", 0))) / usable
            if usable > 0
            else 0.0,
            "open_mean": float(np.mean(open_q)) if open_q else 0.0,
            "level_gap": (level_lines - float(dg["open_lines"])) / (n_pick * max(cap_lines, 1.0))
            if level_lines is not None
            else 0.0,
            "age": min(float(dg["minute"]) / AGE_FULL_MIN, 1.0),
        }

    def features(
        self,
        target: str,
        *,
        now: float,
        model: float,
        fc: float,
        ctx: dict,
        plan_ahead: float,
        staff_ahead: float,
    ) -> tuple[np.ndarray, float]:
        """The feature vector (`FEATURES`) of one forecast and its scale ``S``."""
        kind = kind_of(target)
        s = floor_scale(
            kind, n_pick=ctx["n_pick"], cap_lines=ctx["cap_lines"], cycle_level_s=ctx["cycle_level_s"]
        )
        hist = self.values.get(target) or deque([now])
        past = list(hist)
        v5 = past[-6] if len(past) >= 6 else past[0]
        v15 = past[0]
        d_fc = (fc - now) / s
        floor_rel = (now - ctx["open_mean"]) / s if kind == "queue" else 0.0
        x = (
            1.0,
            now / s,
            d_fc,
            (model - now) / s,
            (now - v5) / s,
            (now - v15) / s,
            (now - float(np.mean(past))) / s,
            ctx["saturated10"],
            ctx["saturated10"] * d_fc,
            ctx["load15"],
            ctx["served15"],
            plan_ahead,
            staff_ahead,
            ctx["down_share"],
            ctx["idle_share"],
            ctx["pad_share"],
            floor_rel,
            ctx["level_gap"],
            ctx["age"],
        )
        return np.asarray(x, dtype=np.float64), s


class ResidualModel:
    """Fitted coefficients per (kind, horizon) over the features it names (``used``, a subset of
    `FEATURES`): the forecast's change from now is scaled by ``w = 1 + beta . ((x - mean) / std)``
    (the intercept's mean 0, std 1), kept within ``w_bounds``. A weight, not an added amount: where
    the forecast of record sees no change, neither does the correction, so a floor whose levels lie
    outside the training floors' cannot be moved by a level the fit never saw."""

    def __init__(self, coef: dict[tuple[str, int], np.ndarray], used, mean, std, w_bounds=(0.0, 1.5)):
        self.coef = coef
        self.idx = np.asarray([FEATURES.index(n) for n in used], dtype=np.int64)
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)
        self.w_bounds = (float(w_bounds[0]), float(w_bounds[1]))

    @classmethod
    def load(cls, path: Path = COEF_PATH) -> ResidualModel:
        data = json.loads(Path(path).read_text())
        unknown = [n for n in data["used"] if n not in FEATURES]
        if unknown:
            raise ValueError(f"{path}: features {unknown} are not this module's (FEATURES)")
        coef = {
            (k, int(h)): np.asarray(b, dtype=np.float64)
            for k, hs in data["coef"].items()
            for h, b in hs.items()
        }
        return cls(coef, data["used"], data["mean"], data["std"], tuple(data["w_bounds"]))

    def weight(self, kind: str, h: int, x: np.ndarray) -> float:
        """The factor on the forecast's change from now for one forecast (1 where unfitted)."""
        b = self.coef.get((kind, h))
        if b is None:
            return 1.0
        z = (x[self.idx] - self.mean) / self.std
        return float(np.clip(1.0 + z @ b, *self.w_bounds))

    def apply(self, kind: str, h: int, x: np.ndarray, *, now: float, fc: float) -> float:
        """The corrected forecast: ``now + w * (fc - now)``, at least 0."""
        return max(0.0, now + self.weight(kind, h, x) * (fc - now))
