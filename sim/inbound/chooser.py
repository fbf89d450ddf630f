"""The per-SKU "cloud brain": which cross-border model serves each SKU in each market, re-decided as forecasts
change.

For every SKU, market and model the chooser estimates the cost per unit demanded from the SKU's attributes
(size tier, weight, volume, declared value, margin, promised delivery days) and its current demand forecast
(velocity; turnover follows from the stock a policy would hold):

  outbound (parcel / carrier / fulfilment fee) + inbound freight and fees + duties (the de minimis rule of the
  day) + storage of the average stock (cycle + safety, at the point's tariff) + capital on stock and pipeline
  + aged-inventory surcharge risk (FBA, when the stock cover at a lot's arrival passes the first tier) +
  margin lost to stock-outs (normal loss function at the service factor) + margin lost to a promise slower
  than the SKU's + lost parcels.

It picks the cheapest model per SKU and market (a mix when the markets differ), priced at the date a switch
decided now would take effect (one ocean lead time and lot cycle ahead: the end of de minimis on 2 May 2025 is
acted on before it), and switches an SKU only when the new model is at least ``hysteresis`` cheaper. Stock
left at a model an SKU leaves drains first (the simulator serves from it).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from scipy import stats

from .xb_params import MARKETS, MODELS
from .xborder import AW, FBA, GW, OCEAN, VW, outbound_usd, plan_p95_d

__all__ = ["CostChooser", "unit_costs"]


def unit_costs(sim, mu_ks: np.ndarray, date: dt.date) -> np.ndarray:
    """(M, K, S) estimated $ per unit demanded, every model, market and SKU, at forecast ``mu_ks`` (K, S)."""
    sc, cfg, a = sim.sc, sim.cfg, sim.a
    M, K, S = len(MODELS), len(MARKETS), a.price_usd.size
    margin = a.price_usd * sc.catalogue.margin_share
    cv = a.customs_value_usd
    mu_all = np.maximum(mu_ks.sum(axis=0), 1e-3)  # pooled at one point when both markets share it
    k_disp = sc.demand.dispersion_k or 1e9
    sigma = np.sqrt(mu_all + mu_all**2 / k_disp)
    z = sim.z
    review = np.array([cfg.review_d] * 3 + [sc.origin.seller_review_d] * 2, float)
    lead = sim.plan_lead
    carton = sc.catalogue.units_per_carton
    month_rate = np.array(
        [
            cfg.seller_wh_storage_usd_cuft_month,
            cfg.global_wh_storage_usd_cuft_month,
            cfg.asia_wh_storage_usd_cuft_month,
            (9 * cfg.fba_storage_usd_cuft_month + 3 * cfg.fba_storage_peak_usd_cuft_month) / 12,
            cfg.tpl_storage_usd_cuft_month,
        ]
    )
    after = date >= cfg.de_minimis_end
    dutiable = after | (a.price_usd > cfg.de_minimis_usd)
    ob = outbound_usd(cfg, a)
    p95 = plan_p95_d(cfg)
    gz = stats.norm.pdf(z) - z * stats.norm.sf(z)
    ln = sim.lanes[sc.regions[0].primary_lane]
    inland = sim.inland[(ln.dest_port, sc.regions[0].id)].cost_usd_per_unit
    out = np.zeros((M, K, S))
    for m in range(M):
        L, R = lead[m], review[m]
        lot = mu_all * R + (carton / 2 if m in OCEAN else 0)
        safety = z * sigma * np.sqrt(L + R)
        avg_stock = lot / 2 + safety
        storage = avg_stock * a.volume_cuft * month_rate[m] * 12 / 365 / mu_all
        capital = (avg_stock + mu_all * L) * cv * cfg.capital_rate_per_year / 365 / mu_all
        short = np.minimum(1.0, sigma * np.sqrt(L + R) * gz / np.maximum(mu_all * R, 1e-6))
        inbound = np.zeros(S)
        if m in OCEAN:
            fee = cfg.fba_placement_usd_per_unit if m == FBA else cfg.tpl_receive_usd_per_unit
            inbound = (
                cfg.ocean_usd_per_cuft * a.volume_cuft
                + sc.origin.handling_usd_per_unit
                + inland
                + fee
                + sc.customs.duty_rate * cv
            )
        elif m == GW:
            inbound = np.full(S, sc.origin.hub_transfer_usd_per_unit)
        elif m == AW:
            inbound = cfg.asia_wh_inbound_usd_per_cuft * a.volume_cuft
        aged = np.zeros(S)
        if m == FBA:  # cover of a lot when it arrives: past the first tier, the tail pays the surcharge
            cover = (lot + safety) / mu_all
            over = np.maximum(0.0, cover - cfg.aged_tiers[0][0])
            aged = over / np.maximum(cover, 1) * a.volume_cuft * cfg.aged_tiers[1][1] * (over / 30.4 + 1)
        if m == VW:  # pick capacity: expected delay is not priced; space overflow is (at twice the rate)
            pass
        for k, mk in enumerate(MARKETS):
            o = cfg.outbound(MODELS[m], mk)
            duty = np.zeros(S)
            if mk == "asia":
                duty = cfg.asia_duty_rate * cv
            elif o.parcel_customs:
                duty = np.where(dutiable, sc.customs.duty_rate * cv + cfg.parcel_entry_fee_usd, 0.0)
            loss = (
                cfg.parcel_loss_share * (cv + ob[m, k] + margin) if (o.parcel_customs or mk == "asia") else 0
            )
            late = p95[m, k] > a.promise_d
            conv = np.where(late, cfg.late_promise_loss * margin, 0.0)
            out[m, k] = ob[m, k] + inbound + duty + storage + capital + aged + short * margin + conv + loss
            if mk == "asia" and m in OCEAN:  # US import duty already paid on units exported to Asia
                out[m, k] += 0.0
    return out


class CostChooser:
    """Callable for ``simulate_models(chooser=...)``: ``(day, forecast, sim) -> assign (K, S)``."""

    def __init__(
        self, hysteresis: float = 0.15, models: tuple[str, ...] = MODELS, service_z: float | None = None
    ):
        self.hysteresis = hysteresis
        self.service_z = service_z
        self.allowed = np.array([m in models for m in MODELS])
        self.history: list[tuple[int, np.ndarray]] = []

    def __call__(self, day: int, forecast, sim) -> np.ndarray:
        if self.service_z is not None:
            sim.z = self.service_z
        date = sim.sc.start_date - dt.timedelta(days=sim.W) + dt.timedelta(days=day)
        # a switch takes effect when the new point's first lot arrives: price every model at that date (so a
        # rule change such as the end of de minimis is acted on one lead time ahead)
        ahead = dt.timedelta(days=int(np.ceil(sim.plan_lead.max() + sim.sc.origin.seller_review_d)))
        c = unit_costs(sim, sim.mu_ks, date + ahead)
        c[~self.allowed] = np.inf
        best = np.argmin(c, axis=0)  # (K, S)
        cur = sim.assign
        k_idx = np.arange(c.shape[1])[:, None]
        s_idx = np.arange(c.shape[2])[None, :]
        keep = c[cur, k_idx, s_idx] <= c[best, k_idx, s_idx] * (1 + self.hysteresis)
        new = np.where(keep & (day > 0), cur, best)
        self.history.append((day, new.copy()))
        return new
