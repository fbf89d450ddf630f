"""Customer demand per region, channel and SKU, one day at a time as numpy arrays.

Daily mean = SKU rate x regional weight x channel share x weekday x yearly season x trend x promotion;
counts are
Poisson, or gamma-Poisson (negative binomial) when ``dispersion_k`` is set. The demand stream is its own
seed child
and is drawn in the same shape every day whatever the policy does, so demand is identical across compared
policies.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from .scene import InboundScene

__all__ = ["DemandModel"]


class DemandModel:
    """Demand generator. Arrays are ``(R, C, S)``: regions x channels x SKUs, units per day."""

    def __init__(self, scene: InboundScene, rng: np.random.Generator):
        cat, dem = scene.catalogue, scene.demand
        S, R, C = cat.n_skus, len(scene.regions), len(scene.channels)
        self.shape = (R, C, S)
        self._rng = rng
        self._dem = dem
        self._day0 = scene.start_date - dt.timedelta(days=scene.warmup_days)
        z = rng.standard_normal(S)
        rate = cat.median_daily_units * np.exp(cat.sigma_daily_units * z)
        n_int = int(round(cat.intermittent_share * S))
        self.intermittent = np.zeros(S, dtype=bool)
        if n_int:
            idx = rng.choice(S, size=n_int, replace=False)
            self.intermittent[idx] = True
            rate[idx] = cat.intermittent_daily_units * np.exp(0.5 * rng.standard_normal(n_int))
        self.rate_units_per_day = rate  # (S,) all regions and channels
        self.unit_value_usd = cat.median_unit_value_usd * np.exp(
            cat.sigma_unit_value * rng.standard_normal(S)
        )
        share = np.array([r.demand_share for r in scene.regions])[:, None]
        w = share * np.exp(dem.regional_sigma * rng.standard_normal((R, S)))
        self.region_weight = w / w.sum(axis=0, keepdims=True)  # (R, S), sums to 1 per SKU
        ch = np.array([c.share for c in scene.channels])
        self.channel_share = ch / ch.sum()  # (C,)
        week = np.asarray(dem.weekly_profile, dtype=float)
        self._week = week / week.mean()
        horizon = scene.warmup_days + scene.days + 1
        # promotions: per SKU a Poisson number of windows at uniform starts (drawn once, up front)
        n_promo = rng.poisson(dem.promotions_per_year * horizon / 365.0, size=S)
        self._promo_sku = np.repeat(np.arange(S), n_promo)
        self._promo_start = rng.integers(0, horizon, size=self._promo_sku.size)
        order = np.argsort(self._promo_start, kind="stable")
        self._promo_sku, self._promo_start = self._promo_sku[order], self._promo_start[order]
        self._promo_until = np.full(S, -1, dtype=np.int64)
        self._promo_ptr = 0
        self._base = self.region_weight[:, None, :] * self.channel_share[None, :, None] * rate[None, None, :]

    def _factor(self, day: int) -> float:
        date = self._day0 + dt.timedelta(days=day)
        doy = date.timetuple().tm_yday
        dem = self._dem
        season = 1.0 + dem.yearly_amplitude * np.cos(2 * np.pi * (doy - dem.peak_day_of_year) / 365.0)
        trend = (1.0 + dem.trend_per_year) ** (day / 365.0)
        return float(self._week[date.weekday()] * season * trend)

    def mean(self, day: int) -> np.ndarray:
        """Expected units on model day ``day`` (days since warm-up start), (R, C, S) float; advances
        promotions.

        Must be called once per day in increasing order (promotions are a running state).
        """
        while self._promo_ptr < self._promo_start.size and self._promo_start[self._promo_ptr] <= day:
            s = self._promo_sku[self._promo_ptr]
            self._promo_until[s] = self._promo_start[self._promo_ptr] + self._dem.promo_length_d
            self._promo_ptr += 1
        m = self._base * self._factor(day)
        if self._dem.promo_lift > 1.0:
            m = m * np.where(self._promo_until > day, self._dem.promo_lift, 1.0)[None, None, :]
        return m

    def draw(self, mean: np.ndarray) -> np.ndarray:
        """Units demanded, (R, C, S) int64, from the day's expected units."""
        if self._dem.dispersion_k is not None:
            # one daily level shock per region and SKU, shared by its channels (a regional demand swing)
            k = self._dem.dispersion_k
            R, _, S = mean.shape
            mean = mean * self._rng.gamma(k, 1.0 / k, size=(R, 1, S))
        return self._rng.poisson(mean)
