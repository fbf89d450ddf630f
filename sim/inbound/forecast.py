"""Forecasting baselines feeding the policies, vectorised over all series at once.

Every forecaster sees one day of demand at a time, an array of shape ``(N, S)`` (stock points x SKUs), and
offers
``next_day()`` (one-step-ahead forecast, for scoring) and ``mean_d()`` / ``std_d()`` (expected units per day
over
the coming lead time and the one-step error spread, what the policies size stock with).

- seasonal naive (weekly): tomorrow = the same weekday last week; the bar to beat (M5: only 35.8 % of teams
did).
- Holt-Winters: additive weekly season with damped trend.
- Croston, SBA (Syntetos-Boylan bias correction), TSB (Teunter-Syntetos-Babai, decays when demand stops) for
  intermittent SKUs; ``auto`` picks TSB where the share of days with demand is below 1/1.32 (ADI > 1.32).
"""

from __future__ import annotations

import numpy as np

__all__ = ["make_forecaster", "evaluate_forecasts", "FORECASTERS"]

_ERR_ALPHA = 0.05  # smoothing of squared one-step errors
_WEEK = 7


class _Base:
    def __init__(self, shape: tuple[int, int]):
        self.t = 0
        self._mse = np.zeros(shape)
        self._seen = np.zeros(shape)

    def _score(self, y: np.ndarray) -> None:
        if self.t > 0:
            e = y - self.next_day()
            self._mse += _ERR_ALPHA * (e * e - self._mse)
        self._seen += y

    def update(self, y: np.ndarray, expected: np.ndarray | None = None) -> None:
        self._score(y)
        self._update(y, expected)
        self.t += 1

    def std_d(self) -> np.ndarray:
        return np.sqrt(self._mse)

    def _update(self, y, expected):  # pragma: no cover - overridden
        raise NotImplementedError

    def next_day(self) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def mean_d(self) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError


class SeasonalNaive(_Base):
    def __init__(self, shape):
        super().__init__(shape)
        self._buf = np.zeros((_WEEK, *shape))

    def _update(self, y, expected):
        self._buf[self.t % _WEEK] = y

    def next_day(self):
        # the value seen 7 days before tomorrow; before a full week, the mean so far
        if self.t < _WEEK:
            return self._seen / max(self.t, 1)
        return self._buf[self.t % _WEEK]

    def mean_d(self):
        return self._buf.mean(axis=0) if self.t >= _WEEK else self._seen / max(self.t, 1)


class HoltWinters(_Base):
    def __init__(self, shape, alpha=0.1, beta=0.01, gamma=0.05, phi=0.9):
        super().__init__(shape)
        self.a, self.b, self.g, self.phi = alpha, beta, gamma, phi
        self.level = np.zeros(shape)
        self.trend = np.zeros(shape)
        self.season = np.zeros((_WEEK, *shape))

    def _update(self, y, expected):
        if self.t < _WEEK:  # first week: level is the running mean, season is learnt after
            self.level = self._seen / (self.t + 1)
            return
        i = self.t % _WEEK
        prev = self.level
        self.level = self.a * (y - self.season[i]) + (1 - self.a) * (prev + self.phi * self.trend)
        self.trend = self.b * (self.level - prev) + (1 - self.b) * self.phi * self.trend
        self.season[i] = self.g * (y - self.level) + (1 - self.g) * self.season[i]

    def next_day(self):
        return np.maximum(0.0, self.level + self.phi * self.trend + self.season[self.t % _WEEK])

    def mean_d(self):
        return np.maximum(0.0, self.level + self.phi * self.trend)


class Croston(_Base):
    """Croston's method; ``variant`` "sba" applies the (1 - alpha/2) debiasing."""

    def __init__(self, shape, alpha=0.1, variant="croston"):
        super().__init__(shape)
        self.a, self.variant = alpha, variant
        self.size = np.zeros(shape)
        self.interval = np.ones(shape)
        self.since = np.ones(shape)
        self.started = np.zeros(shape, dtype=bool)

    def _update(self, y, expected):
        hit = y > 0
        first = hit & ~self.started
        self.size = np.where(first, y, np.where(hit, self.a * y + (1 - self.a) * self.size, self.size))
        self.interval = np.where(
            first,
            self.since,
            np.where(hit, self.a * self.since + (1 - self.a) * self.interval, self.interval),
        )
        self.started |= hit
        self.since = np.where(hit, 1.0, self.since + 1.0)

    def next_day(self):
        f = self.size / self.interval
        return f * (1 - self.a / 2) if self.variant == "sba" else f

    mean_d = next_day


class TSB(_Base):
    def __init__(self, shape, alpha=0.1, alpha_p=0.05):
        super().__init__(shape)
        self.a, self.ap = alpha, alpha_p
        self.size = np.zeros(shape)
        self.prob = np.zeros(shape)

    def _update(self, y, expected):
        hit = y > 0
        if self.t == 0:
            self.prob = hit.astype(float)
            self.size = y.astype(float)
            return
        self.prob = self.ap * hit + (1 - self.ap) * self.prob
        self.size = np.where(
            hit, np.where(self.size == 0, y, self.a * y + (1 - self.a) * self.size), self.size
        )

    def next_day(self):
        return self.prob * self.size

    mean_d = next_day


class Auto(_Base):
    """Holt-Winters for smooth SKUs, TSB for intermittent ones (share of demand days below 1/1.32)."""

    def __init__(self, shape):
        super().__init__(shape)
        self.hw, self.tsb = HoltWinters(shape), TSB(shape)
        self._days_with = np.zeros(shape)

    def _update(self, y, expected):
        self.hw.update(y)
        self.tsb.update(y)
        self._days_with += y > 0

    def _intermittent(self):
        return self._days_with < (self.t + 1) / 1.32

    def next_day(self):
        return np.where(self._intermittent(), self.tsb.next_day(), self.hw.next_day())

    def mean_d(self):
        return np.where(self._intermittent(), self.tsb.mean_d(), self.hw.mean_d())


class Oracle(_Base):
    """Knows the expected demand (for analytic checks and as an upper bar); the spread is Poisson."""

    def __init__(self, shape):
        super().__init__(shape)
        self._exp = np.zeros(shape)

    def _update(self, y, expected):
        self._exp = np.zeros_like(y, dtype=float) if expected is None else expected

    def next_day(self):
        return self._exp

    mean_d = next_day

    def std_d(self):
        return np.sqrt(self._exp)


FORECASTERS = {
    "seasonal_naive": SeasonalNaive,
    "holt_winters": HoltWinters,
    "croston": Croston,
    "sba": lambda shape: Croston(shape, variant="sba"),
    "tsb": TSB,
    "auto": Auto,
    "oracle": Oracle,
}


def make_forecaster(name: str, shape: tuple[int, int]):
    return FORECASTERS[name](shape)


def evaluate_forecasts(history: np.ndarray, score_from: int, intermittent: np.ndarray | None = None) -> dict:
    """One-step-ahead WAPE and MASE of every baseline on a demand history.

    Args:
        history: (T, N, S) units per day.
        score_from: first day scored (earlier days only train).
        intermittent: optional (S,) mask; scores are also given for that class and its complement.
    Returns:
        ``{method: {"all": {"wape": .., "mase": .., "wape_vs_snaive": ..}, "smooth": .., "intermittent":
        ..}}``.
        MASE scales by the in-sample mean absolute error of the weekly seasonal naive on the scored window.
    """
    T, N, S = history.shape
    y = history[score_from:]
    naive_err = np.abs(history[score_from:] - history[score_from - _WEEK : T - _WEEK]).sum(axis=(0, 1))
    out = {}
    masks = {"all": np.ones(S, dtype=bool)}
    if intermittent is not None:
        masks["smooth"], masks["intermittent"] = ~intermittent, intermittent
    preds = {}
    for name in ("seasonal_naive", "holt_winters", "croston", "sba", "tsb", "auto"):
        f = make_forecaster(name, (N, S))
        err = np.zeros(S)
        for t in range(T):
            if t >= score_from:
                err += np.abs(history[t] - f.next_day()).sum(axis=0)
            f.update(history[t])
        preds[name] = err
    tot = y.sum(axis=(0, 1))
    for name, err in preds.items():
        out[name] = {}
        for cls, m in masks.items():
            if not m.any() or tot[m].sum() == 0:
                continue
            wape = float(err[m].sum() / tot[m].sum())
            out[name][cls] = {"wape": wape, "mase": float(err[m].sum() / max(naive_err[m].sum(), 1e-9))}
    for name in out:
        for cls in out[name]:
            base = out["seasonal_naive"][cls]["wape"]
            out[name][cls]["wape_vs_snaive"] = out[name][cls]["wape"] / base if base else float("nan")
    return out
