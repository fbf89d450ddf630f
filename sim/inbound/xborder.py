"""The five cross-border models as flows, side by side on common random numbers.

Models (``xb_params.MODELS``), each one stock point per SKU with its own inbound leg, fees, capacity and
failure modes, serving two markets (the US regions of the scene pooled, and an Asian region):

- ``direct_ship``: parcels from the seller's warehouse in China straight to the consumer; no destination
  stock; each parcel clears US customs (duty-free under de minimis until 2 May 2025, then all duties + an
  entry fee, more exams); parcels can be lost.
- ``global_warehouse``: the seller sends goods to Amazon's global warehouse at origin; Amazon stores, sorts
  and ships cross-border express parcels (same US customs rules).
- ``asia_warehouse``: stock in an Asian warehouse that serves the Asian region in 1-3 days (US orders as
  parcels).
- ``fba_crossborder``: the seller ships to a designated domestic (Chinese) warehouse, Amazon moves containers
  to the US FCs over the scene's ocean lanes (every stage and disruption of the inbound network: origin port,
  weekly sailings, vessel delays, chokepoints, port queues, anchorage, customs exams, dwell, drayage, FC
  receiving); FBA fulfilment fees by size tier, monthly storage with the Oct-Dec peak rate, the aged-inventory
  surcharge.
- ``virtual_warehouse``: the same ocean leg to a third-party warehouse in the US that the seller manages
  through Amazon; 3PL pick/pack and carrier fees, a daily pick capacity (orders beyond it wait, then are
  cancelled) and a storage capacity (overflow at twice the rate).

Demand: the US demand is the inbound network's own demand stream (same seed child, summed over regions and
channels; a share of SKUs fades out over the year); Asian demand has its own stream with its own SKU mix and a
season that peaks on 11.11. An ``assign`` array (K markets, S SKUs) of model indices routes each SKU's market
to a model; single-model baselines assign everything to one. Demand an assigned model cannot serve is served
from any other model still holding stock of that SKU (draining stock after a re-decision).

Common random numbers: demand, conversion losses, delivery draws, shipment draws (keyed by model, day, region)
and vessel draws (keyed by lane and sailing, shared with the inbound network) are separate seed children,
drawn in the same shape every day whatever is assigned. Times are days since warm-up start; KPIs count from
``warmup_days``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .demand import DemandModel
from .disruptions import DisruptionState, resolve
from .forecast import make_forecaster
from .scene import DisruptionSpec, InboundScene
from .xb_params import MARKETS, MODELS, CrossBorderCfg

__all__ = ["SkuAttrs", "XBResult", "simulate_models", "sku_attrs", "COST_KEYS", "xb_kpis", "plan_p95_d"]

_STREAM_DEMAND, _STREAM_VESSEL = 0, 3  # shared with network.py: same US demand, same vessels
_STREAM_ATTR, _STREAM_ASIA, _STREAM_CONV, _STREAM_SHIP, _STREAM_DELIV, _STREAM_LIFT = 10, 11, 12, 13, 14, 15
DS, GW, AW, FBA, VW = range(5)
OCEAN = (FBA, VW)
PARCEL_US = (DS, GW, AW)
COST_KEYS = (
    "freight_in",
    "duties",
    "fees",
    "outbound",
    "storage",
    "aged_surcharge",
    "assistant_actions",
    "parcel_loss",
    "capital",
    "lost_margin",
)
_C = {k: i for i, k in enumerate(COST_KEYS)}
_BIN_D = 0.5
_NBINS = 1200


@dataclass(frozen=True)
class SkuAttrs:
    """Per-SKU attributes, arrays (S,): volume cu ft, weight lb, size tier (0 small standard, 1 large
    standard, 2 large bulky), promised delivery days, price and declared customs value $ per unit, fading
    demand."""

    volume_cuft: np.ndarray
    weight_lb: np.ndarray
    size_tier: np.ndarray
    promise_d: np.ndarray
    price_usd: np.ndarray
    customs_value_usd: np.ndarray
    fading: np.ndarray
    asia_weight: np.ndarray
    rate_units_per_day: np.ndarray


def sku_attrs(scene: InboundScene, demand: DemandModel, rng: np.random.Generator) -> SkuAttrs:
    cfg = scene.crossborder
    S = scene.catalogue.n_skus
    vol = cfg.median_volume_cuft * np.exp(cfg.sigma_volume * rng.standard_normal(S))
    wt = vol * cfg.density_lb_per_cuft * np.exp(0.3 * rng.standard_normal(S))
    tier = np.where((wt <= 1.0) & (vol <= 0.06), 0, np.where((vol > 2.0) | (wt > 50.0), 2, 1))
    shares = np.asarray(cfg.promise_shares, float)
    promise = np.asarray(cfg.promise_days)[rng.choice(len(shares), size=S, p=shares / shares.sum())]
    fading = rng.random(S) < cfg.fading_share
    aw = np.exp(cfg.asia_regional_sigma * rng.standard_normal(S))
    return SkuAttrs(
        volume_cuft=vol,
        weight_lb=wt,
        size_tier=tier,
        promise_d=promise,
        price_usd=demand.unit_value_usd,
        customs_value_usd=demand.unit_value_usd * cfg.customs_value_share,
        fading=fading,
        asia_weight=aw / aw.mean(),
        rate_units_per_day=demand.rate_units_per_day,
    )


def plan_p95_d(cfg: CrossBorderCfg) -> np.ndarray:
    """(M, K) planned p95 order-to-delivery days per model and market (what the customer is promised)."""
    out = np.zeros((len(MODELS), len(MARKETS)))
    for m, name in enumerate(MODELS):
        for k, mk in enumerate(MARKETS):
            ob = cfg.outbound(name, mk)
            out[m, k] = float(ob.delivery_d.ppf(0.95))
            if ob.parcel_customs and mk == "us":
                out[m, k] += float(cfg.parcel_release_d.ppf(0.95))
    return out


def outbound_usd(cfg: CrossBorderCfg, a: SkuAttrs) -> np.ndarray:
    """(M, K, S) $ per unit delivered: parcels, carrier, FBA / 3PL / global-warehouse fulfilment fees."""
    M, K, S = len(MODELS), len(MARKETS), a.volume_cuft.size
    out = np.zeros((M, K, S))
    for m, name in enumerate(MODELS):
        for k, mk in enumerate(MARKETS):
            ob = cfg.outbound(name, mk)
            out[m, k] = ob.usd_per_parcel + ob.usd_per_lb * a.weight_lb
    fba = np.select(
        [a.size_tier == 0, a.size_tier == 1],
        [
            np.full(S, cfg.fba_small_fee_usd),
            cfg.fba_large_fee_usd + cfg.fba_large_usd_per_lb * np.maximum(a.weight_lb - 1, 0),
        ],
        cfg.fba_bulky_fee_usd + cfg.fba_bulky_usd_per_lb * np.maximum(a.weight_lb - 1, 0),
    )
    out[FBA, 0] += fba
    out[FBA, 1] += fba  # FBA export: fulfilment fee plus the export parcel
    out[VW] += cfg.tpl_pick_pack_usd_per_unit
    out[GW] += cfg.global_wh_fee_usd_per_unit
    return out


def storage_usd_cuft_day(cfg: CrossBorderCfg, date: dt.date) -> np.ndarray:
    """(M,) storage tariff per cu ft per day at each model's stock point on ``date``."""
    fba = cfg.fba_storage_peak_usd_cuft_month if date.month >= 10 else cfg.fba_storage_usd_cuft_month
    per_month = np.array(
        [
            cfg.seller_wh_storage_usd_cuft_month,
            cfg.global_wh_storage_usd_cuft_month,
            cfg.asia_wh_storage_usd_cuft_month,
            fba,
            cfg.tpl_storage_usd_cuft_month,
        ]
    )
    return per_month * 12 / 365


def aged_rate(cfg: CrossBorderCfg, age_d: np.ndarray) -> np.ndarray:
    """$ per cu ft of the aged-inventory surcharge for units of ``age_d`` days on an assessment date."""
    rate = np.zeros_like(age_d, dtype=float)
    for lo, usd in cfg.aged_tiers:
        rate = np.where(age_d >= lo, usd, rate)
    return rate


@dataclass
class XBResult:
    scene: InboundScene
    attrs: SkuAttrs
    assign: np.ndarray  # (K, S) final assignment
    days: int
    demand_ks: np.ndarray  # (K, S) window demand (before conversion losses)
    conv_lost_ks: np.ndarray  # (K, S) demand lost to a promise slower than the SKU's
    sales_mks: np.ndarray  # (M, K, S)
    costs_mcs: np.ndarray  # (M, len(COST_KEYS), S) $ in the window
    revenue_s: np.ndarray  # (S,) $ after discounts
    hist_o2d: np.ndarray  # (M, K, bins) units by order-to-delivery days
    hist_d2c: np.ndarray  # (M, K, bins) units by door (seller) to customer days
    instock_ms: np.ndarray  # (M, S) SKU-days in stock while assigned
    assigned_ms: np.ndarray  # (M, S) SKU-days assigned
    onhand_sum_ms: np.ndarray  # (M, S) unit-days on hand
    wc_sum_usd: float  # sum over window days of (on hand + in transit + AWD) x customs value
    aged_units_181: float  # unit-assessments in a surcharge tier (FBA)
    actions: dict[str, float] = field(default_factory=dict)
    assign_changes: int = 0


class _Sim:
    def __init__(
        self,
        scene: InboundScene,
        *,
        seed_seq: np.random.SeedSequence,
        disruptions: list[DisruptionSpec],
        assign: np.ndarray | None,
        chooser: Callable | None,
        assistant: bool,
    ):
        self.sc = sc = scene
        self.cfg = sc.crossborder
        self.ss = seed_seq
        self.S = S = sc.catalogue.n_skus
        self.M, self.K = len(MODELS), len(MARKETS)
        self.W, self.T = sc.warmup_days, sc.warmup_days + sc.days
        self.dm = DemandModel(sc, np.random.default_rng(self._child(_STREAM_DEMAND)))
        self.a = sku_attrs(sc, self.dm, np.random.default_rng(self._child(_STREAM_ATTR)))
        self.dis = DisruptionState(sc, resolve(sc, list(disruptions), self.W), self.T)
        self.lanes = {ln.id: ln for ln in sc.lanes}
        self.lane_idx = {ln.id: i for i, ln in enumerate(sc.lanes)}
        self.ports = {p.id: p for p in sc.ports}
        self.inland = {(leg.port, leg.region): leg for leg in sc.inland}
        self.fc_of = [next(f for f in sc.fcs if f.region == r.id) for r in sc.regions]
        share = np.array([r.demand_share for r in sc.regions])
        self.region_share = share / share.sum()
        self.assign = (
            np.full((self.K, S), FBA, np.int64) if assign is None else np.asarray(assign, np.int64).copy()
        )
        self.chooser = chooser
        self.assistant = assistant
        self.z = self.cfg.service_z  # a chooser may set its own service factor
        self._vessel_u: dict[tuple[int, int], np.ndarray] = {}
        self.plan_lead = np.array([self._plan_lead(m) for m in range(self.M)])
        self.p95 = plan_p95_d(self.cfg)
        self.ob_usd = outbound_usd(self.cfg, self.a)
        # what a chooser sees of demand: an EWMA of each market's demand per SKU, started at the plan
        self.asia_base = self.a.rate_units_per_day * self.cfg.asia_demand_share * self.a.asia_weight
        self.mu_ks = np.stack([self.a.rate_units_per_day, self.asia_base])
        self.day = 0

    def _child(self, *key: int) -> np.random.SeedSequence:
        return np.random.SeedSequence(self.ss.entropy, spawn_key=(*self.ss.spawn_key, *key))

    def _vessel(self, lane_i: int, sailing: int) -> np.ndarray:
        u = self._vessel_u.get((lane_i, sailing))
        if u is None:
            u = np.random.default_rng(self._child(_STREAM_VESSEL, lane_i, sailing)).random(3)
            self._vessel_u[(lane_i, sailing)] = u
        return u

    # ------------------------------------------------------------------ inbound legs
    def _ocean_lead(self, m: int, region: int, t0: float, u: np.ndarray) -> float:
        """Door (seller) to sellable at the stock point over the region's primary lane, with disruptions."""
        sc, dis, cfg = self.sc, self.dis, self.cfg
        ln = self.lanes[sc.regions[region].primary_lane]
        handling = ln.handling_d or sc.origin.hub_handling_d
        ready = t0 + float(handling.ppf(u[0])) + float(sc.origin.seller_to_hub_d.ppf(u[1]))
        ready += dis.port_wait_d(ln.origin_port, ready)
        k = max(0, int(np.ceil((ready - ln.first_departure_d) / ln.departure_every_d - 1e-9)))
        dep = ln.first_departure_d + k * ln.departure_every_d
        while (until := dis.suspended_until(ln.id, None, dep)) is not None:
            k = int(np.ceil((until - ln.first_departure_d) / ln.departure_every_d - 1e-9))
            dep = ln.first_departure_d + k * ln.departure_every_d
        uv = self._vessel(self.lane_idx[ln.id], k)
        transit = float(ln.transit_d.ppf(uv[0]))
        if uv[1] >= ln.on_time_share:
            transit += float(ln.late_d.ppf(uv[2]))
        t = dep + ln.chokepoint_at * transit
        until = dis.suspended_until(ln.id, ln.chokepoint, t)
        if until is not None:
            t = until
        extra = dis.diversion_extra_d(ln.id, ln.chokepoint, t)
        if ln.chokepoint in self.ports:
            extra += dis.port_wait_d(ln.chokepoint, t)
        t += (1 - ln.chokepoint_at) * transit + extra
        port = self.ports[ln.dest_port]
        t += (
            dis.port_wait_d(port.id, t)
            + dis.anchorage_extra_d(port.id, t)
            + float(port.anchorage_d.ppf(u[2]))
        )
        cu = sc.customs
        clear = float(cu.release_d.ppf(u[3]))
        if cu.exams and u[4] < cu.exam_share * dis.exam_multiplier(port.id, t):
            shares = np.cumsum([e.share for e in cu.exams])
            exam = cu.exams[min(int(np.searchsorted(shares / shares[-1], u[5])), len(cu.exams) - 1)]
            clear += float(exam.duration_d.ppf(u[6]))
        t += clear
        dwell = float(port.terminal_dwell_d.ppf(u[7])) if port.kind == "sea" else 0.0
        t += dwell + float(self.inland[(port.id, sc.regions[region].id)].transit_d.ppf(u[8]))
        if m == FBA:
            t += float(self.fc_of[region].receive_to_sellable_d.ppf(u[9])) + 1.0
        else:
            t += float(cfg.tpl_receive_d.ppf(u[9]))
        return t - t0

    def _lead(self, m: int, region: int, t0: float, u: np.ndarray) -> float:
        cfg, sc = self.cfg, self.sc
        if m in OCEAN:
            return self._ocean_lead(m, region, t0, u)
        if m == DS:
            return float(cfg.factory_to_seller_wh_d.ppf(u[0]))
        if m == GW:
            return float(sc.origin.seller_to_hub_d.ppf(u[0])) + float(cfg.global_wh_receive_d.ppf(u[1]))
        return float(cfg.asia_wh_inbound_d.ppf(u[0]))

    def _plan_lead(self, m: int) -> float:
        """Planned mean lead time: the mean of 200 undisrupted draws (fixed generator)."""
        rng = np.random.default_rng(2025 + m)
        saved, self.dis = self.dis, DisruptionState(self.sc, [], self.T)
        try:
            return float(np.mean([self._lead(m, 0, 100.0 + 3.3 * i, rng.random(12)) for i in range(200)]))
        finally:
            self.dis = saved

    # ------------------------------------------------------------------ the day loop
    def run(self) -> XBResult:
        sc, cfg, a = self.sc, self.cfg, self.a
        S, M, K, W, T = self.S, self.M, self.K, self.W, self.T
        days = sc.days
        day0 = sc.start_date - dt.timedelta(days=W)
        rng_asia = np.random.default_rng(self._child(_STREAM_ASIA))
        rng_conv = np.random.default_rng(self._child(_STREAM_CONV))
        rng_del = np.random.default_rng(self._child(_STREAM_DELIV))
        rng_lift = np.random.default_rng(self._child(_STREAM_LIFT))
        on_hand = np.zeros((M, S), np.int64)
        pipe = np.zeros((M, S), np.int64)
        awd = np.zeros(S, np.int64)  # assistant: FBA units moved to AWD
        awd_pipe = np.zeros(S, np.int64)
        arrivals: dict[int, list] = {}
        cohorts: list[list] = []  # FBA: [arrival day, qty (S,)], oldest first
        last_lead = self.plan_lead.copy()
        f = make_forecaster(sc.policy.forecast if sc.policy.forecast != "oracle" else "auto", (M, S))
        z = self.z
        R = cfg.review_d
        # ocean models: sellers ship production lots every origin.seller_review_d days (as the network's
        # flows)
        review = np.array([R, R, R, sc.origin.seller_review_d, sc.origin.seller_review_d])
        carton = sc.catalogue.units_per_carton
        margin = a.price_usd * sc.catalogue.margin_share
        cv = a.customs_value_usd
        demand_ks = np.zeros((K, S), np.int64)
        conv_lost_ks = np.zeros((K, S), np.int64)
        sales_mks = np.zeros((M, K, S), np.int64)
        costs = np.zeros((M, len(COST_KEYS), S))
        revenue = np.zeros(S)
        hist_o2d = np.zeros((M, K, _NBINS))
        hist_d2c = np.zeros((M, K, _NBINS))
        instock = np.zeros((M, S))
        assigned_days = np.zeros((M, S))
        onhand_sum = np.zeros((M, S))
        wc_sum = 0.0
        aged_units = 0.0
        actions = dict.fromkeys(("stop_replenishing", "move_to_awd", "remove", "discount"), 0.0)
        actions.update({"surcharge_usd_projected_avoided": 0.0})
        stop = np.zeros(S, bool)
        phase_until = np.full((M, S), -1.0)
        switched_at = np.full((M, S), -1000)
        phase_mu = np.zeros((M, S))
        discount_until = np.full(S, -1)
        backlog = 0.0
        changes = 0
        fade_slope = np.where(a.fading, (1 - cfg.fading_to) / 365.0, 0.0)
        asia_base = self.asia_base
        k_disp = sc.demand.dispersion_k
        s_idx = np.arange(S)
        # start near steady state: cover for lead + review at each assigned point
        mu0 = (
            np.stack([np.where(self.assign[k] == m, 1.0, 0.0) for m in range(M) for k in range(K)]).reshape(
                M, K, S
            )
            * np.stack([a.rate_units_per_day, asia_base])[None]
        )
        on_hand += np.ceil(mu0.sum(axis=1) * (self.plan_lead + review)[:, None]).astype(np.int64)
        cohorts.append([0, on_hand[FBA].copy()])
        for t in range(T):
            date = day0 + dt.timedelta(days=t)
            window = t >= W
            # arrivals
            for m, qty, lead in arrivals.pop(t, ()):
                if lead == 3.0 and m == FBA:
                    awd_pipe -= np.minimum(awd_pipe, qty)
                on_hand[m] += qty
                pipe[m] -= qty
                last_lead[m] = lead
                if m == FBA:
                    cohorts.append([t, qty.copy()])
            # re-decide the assignment
            if self.chooser is not None and t % cfg.redecide_d == 0 and t > 0:
                new = self.chooser(t, f.mean_d(), self)
                moved = new != self.assign
                changes += int(moved.sum())
                for k in range(K):  # the point left keeps ordering until the new one's first lot arrives
                    ks = s_idx[moved[k]]
                    old = self.assign[k, ks]
                    phase_until[old, ks] = t + self.plan_lead[new[k, ks]] + review[new[k, ks]]
                    phase_mu[old, ks] = self.mu_ks[k, ks]
                    switched_at[new[k, ks], ks] = t
                self.assign = new
            assigned_any = np.zeros((M, S), bool)
            for k in range(K):
                assigned_any[self.assign[k], s_idx] = True
            ordering = assigned_any | (phase_until > t)
            # demand: US from the network's stream, Asia its own; fading SKUs lose demand linearly
            fade = np.maximum(cfg.fading_to, 1.0 - fade_slope * t)
            mean_rcs = self.dm.mean(t) * fade[None, None, :]
            us = self.dm.draw(mean_rcs).sum(axis=(0, 1))
            doy = date.timetuple().tm_yday
            season = 1 + cfg.asia_yearly_amplitude * np.cos(
                2 * np.pi * (doy - cfg.asia_peak_day_of_year) / 365
            )
            promo = np.where(self.dm._promo_until > t, sc.demand.promo_lift, 1.0)
            m_asia = asia_base * season * fade * promo
            if k_disp is not None:
                m_asia = m_asia * rng_asia.gamma(k_disp, 1.0 / k_disp, size=S)
            d = np.stack([us, rng_asia.poisson(m_asia)])
            self.mu_ks += 0.03 * (d - self.mu_ks)
            self.day = t
            # discount lift (assistant): extra demand drawn every day, used where a discount runs
            lift = (1 - cfg.discount_share) ** (-cfg.price_elasticity) - 1
            extra = rng_lift.poisson(np.stack([mean_rcs.sum(axis=(0, 1)), m_asia]) * lift)
            disc = discount_until > t
            d = d + np.where(disc[None, :] & (self.assign == FBA), extra, 0)
            # conversion: a promise slower than the SKU's costs a share of its demand
            u_conv = rng_conv.random((K, S))
            late = self.p95[self.assign, np.arange(K)[:, None]] > a.promise_d[None, :]
            lost_conv = np.where(late, np.floor(d * cfg.late_promise_loss + u_conv), 0).astype(np.int64)
            conv = d - lost_conv
            # serve from the assigned point, then from any point still holding the SKU
            if window:  # in stock: the assigned point, or a point it is moving from, holds the SKU
                any_stock = (np.where(ordering, on_hand, 0).sum(axis=0) > 0)[None, :]
                instock += assigned_any & any_stock
            assigned_days += assigned_any if window else 0
            before = on_hand.copy()
            served = np.zeros((M, K, S), np.int64)
            for k in range(K):
                for m in range(M):
                    mask = self.assign[k] == m
                    take = np.where(mask, np.minimum(on_hand[m], conv[k]), 0)
                    served[m, k] = take
                    on_hand[m] -= take
            unmet = conv - served.sum(axis=0)
            for m in range(M):
                for k in range(K):
                    take = np.minimum(np.where(assigned_any[m], 0, on_hand[m]), unmet[k])
                    served[m, k] += take
                    on_hand[m] -= take
                    unmet[k] -= take
            # 3PL pick capacity: a backlog delays orders; beyond tpl_max_backlog_d they are cancelled
            cap = cfg.tpl_capacity_units_per_day
            backlog += float(served[VW].sum())
            backlog = max(0.0, backlog - cap)
            delay_vw = backlog / cap
            if delay_vw > cfg.tpl_max_backlog_d:
                cancel_n = backlog - cfg.tpl_max_backlog_d * cap
                tot = served[VW].sum()
                cancel = np.floor(served[VW] * min(1.0, cancel_n / max(tot, 1))).astype(np.int64)
                served[VW] -= cancel
                on_hand[VW] += cancel.sum(axis=0)
                backlog -= float(cancel.sum())
                delay_vw = cfg.tpl_max_backlog_d
            sales = served.sum(axis=0)
            # delivery draws (always the same shape: common random numbers)
            u_del = rng_del.random((4, M, K, S))
            if window:
                demand_ks += d
                conv_lost_ks += lost_conv
                sales_mks += served
                revenue += a.price_usd * sales.sum(axis=0)  # at list price; discounts are an action cost
                costs[FBA, _C["assistant_actions"]] += np.where(disc, cfg.discount_share * a.price_usd, 0) * (
                    served[FBA].sum(axis=0)
                )
                after = date >= cfg.de_minimis_end
                exam_share = cfg.parcel_exam_share_after if after else cfg.parcel_exam_share_before
                us_port = self.lanes[sc.regions[0].primary_lane].dest_port
                exam_share *= self.dis.exam_multiplier(us_port, float(t))
                cover = before / np.maximum(f.mean_d(), 0.05)
                for m, name in enumerate(MODELS):
                    for k, mk in enumerate(MARKETS):
                        w = served[m, k]
                        if not w.any():
                            continue
                        ob = cfg.outbound(name, mk)
                        o2d = ob.delivery_d.ppf(u_del[0, m, k])
                        if ob.parcel_customs:
                            o2d = o2d + cfg.parcel_release_d.ppf(u_del[1, m, k])
                            o2d = o2d + np.where(
                                u_del[2, m, k] < exam_share, cfg.parcel_exam_d.ppf(u_del[3, m, k]), 0.0
                            )
                        if m == VW:
                            o2d = o2d + delay_vw
                        d2c = o2d + last_lead[m] + np.minimum(cover[m], 365.0)
                        nz = w > 0
                        np.add.at(hist_o2d[m, k], np.minimum(o2d[nz] / _BIN_D, _NBINS - 1).astype(int), w[nz])
                        np.add.at(hist_d2c[m, k], np.minimum(d2c[nz] / _BIN_D, _NBINS - 1).astype(int), w[nz])
                        costs[m, _C["outbound"]] += w * self.ob_usd[m, k]
                        if mk == "asia":
                            costs[m, _C["duties"]] += w * cfg.asia_duty_rate * cv
                        elif ob.parcel_customs:
                            dutiable = after | (a.price_usd > cfg.de_minimis_usd)
                            costs[m, _C["duties"]] += w * np.where(
                                dutiable, sc.customs.duty_rate * cv + cfg.parcel_entry_fee_usd, 0.0
                            )
                        if ob.parcel_customs or mk == "asia":
                            costs[m, _C["parcel_loss"]] += (
                                w * cfg.parcel_loss_share * (cv + self.ob_usd[m, k] + margin)
                            )
                # lost margin, charged to the assigned model of each market
                for k in range(K):
                    lost = (d[k] - sales[k]).astype(float) * margin
                    np.add.at(costs[:, _C["lost_margin"]], (self.assign[k], s_idx), lost)
            # FIFO out of FBA cohorts
            sold_fba = before[FBA] - on_hand[FBA]
            if sold_fba.any() and cohorts:
                rem = sold_fba.clip(min=0)
                for c in cohorts:
                    take = np.minimum(c[1], rem)
                    c[1] -= take
                    rem -= take
                    if not rem.any():
                        break
                cohorts = [c for c in cohorts if c[1].any()]
            # the FBA on-hand above must match the cohorts (returns from cancelled 3PL orders never touch FBA)
            # storage and capital, end of day
            if window:
                rate = storage_usd_cuft_day(cfg, date)
                costs[:, _C["storage"]] += on_hand * a.volume_cuft[None, :] * rate[:, None]
                tpl_cuft = float(on_hand[VW] @ a.volume_cuft)
                if tpl_cuft > cfg.tpl_storage_capacity_cuft:
                    over = (tpl_cuft - cfg.tpl_storage_capacity_cuft) / tpl_cuft
                    costs[VW, _C["storage"]] += over * on_hand[VW] * a.volume_cuft * rate[VW]
                costs[FBA, _C["storage"]] += awd * a.volume_cuft * cfg.awd_storage_usd_cuft_month * 12 / 365
                costs[:, _C["capital"]] += (on_hand + pipe) * cv[None, :] * cfg.capital_rate_per_year / 365.0
                onhand_sum += on_hand
                wc_sum += float(((on_hand + pipe).sum(axis=0) + awd) @ cv)
                if date.day == 15 and cohorts:  # aged-inventory surcharge, assessed on the 15th
                    for arr_t, qty in cohorts:
                        age = t - arr_t
                        if age < cfg.aged_tiers[0][0]:
                            continue
                        r = float(aged_rate(cfg, np.array([age]))[0])
                        usd = qty * a.volume_cuft * r
                        if age >= 366:
                            usd = np.maximum(usd, qty * cfg.aged_min_usd_per_unit_over_365)
                        costs[FBA, _C["aged_surcharge"]] += usd
                        aged_units += float(qty.sum())
            # forecasts see the converted demand routed to each point
            routed = np.zeros((M, S))
            for k in range(K):
                np.add.at(routed, (self.assign[k], s_idx), conv[k])
            f.update(routed)
            mu, sd = f.mean_d(), f.std_d()
            fresh = (
                t - switched_at < 56
            )  # a point new to a SKU has no history yet: plan on the market's demand
            if fresh.any():
                plan = np.zeros((M, S))
                for k in range(K):
                    np.add.at(plan, (self.assign[k], s_idx), self.mu_ks[k])
                kd = k_disp or 1e9
                mu = np.where(fresh, np.maximum(mu, plan), mu)
                sd = np.where(fresh, np.maximum(sd, np.sqrt(plan + plan**2 / kd)), sd)
            phasing = (phase_until > t) & ~assigned_any  # the point left serves until the new one has stock
            if phasing.any():
                mu = np.where(phasing, np.maximum(mu, phase_mu), mu)
                sd = np.where(phasing, np.maximum(sd, np.sqrt(phase_mu + phase_mu**2 / (k_disp or 1e9))), sd)
            # the seller assistant: weekly look at FBA cohorts that will reach a surcharge tier
            if self.assistant and t % 7 == 0 and cohorts:
                self._assist(t, cohorts, mu[FBA], on_hand, awd, stop, discount_until, actions, costs, window)
            # AWD auto-replenishment to the FC (weekly): moved units come back as fresh FC receipts in 4 days
            if awd.any() and t % 7 == 0:
                cover = mu[FBA] * 11 + z * sd[FBA] * np.sqrt(11)
                pull = np.minimum(
                    awd, np.maximum(0, np.ceil(cover - on_hand[FBA] - awd_pipe)).astype(np.int64)
                )
                if pull.any():
                    awd -= pull
                    awd_pipe += pull
                    pipe[FBA] += pull
                    arrivals.setdefault(t + 4, []).append((FBA, pull, 3.0))
                    if window:
                        costs[FBA, _C["assistant_actions"]] += pull * cfg.awd_transfer_usd_per_unit
            # replenishment: order up to mu (L + R) + z sd sqrt(L + R) for the points a SKU is assigned to
            due = t % review == 0
            if due.any():
                L, Rv = self.plan_lead[:, None], review[:, None]
                level = mu * (L + Rv) + z * sd * np.sqrt(L + Rv)
                level = np.where(ordering & due[:, None], level, 0.0)
                pos = on_hand + pipe
                pos[FBA] += awd
                q = np.maximum(0, np.ceil(level - pos)).astype(np.int64)
                q[list(OCEAN)] = np.where(q[list(OCEAN)] > 0, -(-q[list(OCEAN)] // carton) * carton, 0)
                if self.assistant and due[FBA]:
                    # stop replenishing: the next lot carries no safety stock while aged units are on hand
                    Lf, Rf = self.plan_lead[FBA], review[FBA]
                    lean = np.ceil(mu[FBA] * (Lf + Rf) - pos[FBA])
                    lean = np.where(lean > 0, -(-lean.astype(np.int64) // carton) * carton, 0)
                    q[FBA] = np.where(stop, np.minimum(q[FBA], lean), q[FBA])
                    stop[:] = False  # re-raised by the next weekly look if units are still at risk
                for m in range(M):
                    if due[m] and q[m].any():
                        self._dispatch(m, t, q[m], arrivals, pipe, costs, window)
        return XBResult(
            scene=sc,
            attrs=a,
            assign=self.assign,
            days=days,
            demand_ks=demand_ks,
            conv_lost_ks=conv_lost_ks,
            sales_mks=sales_mks,
            costs_mcs=costs,
            revenue_s=revenue,
            hist_o2d=hist_o2d,
            hist_d2c=hist_d2c,
            instock_ms=instock,
            assigned_ms=assigned_days,
            onhand_sum_ms=onhand_sum,
            wc_sum_usd=wc_sum,
            aged_units_181=aged_units,
            actions=actions,
            assign_changes=changes,
        )

    def _dispatch(self, m, t, qty, arrivals, pipe, costs, window) -> None:
        sc, cfg, a = self.sc, self.cfg, self.a
        cv = a.customs_value_usd
        parts = [(0, qty)]
        if m in OCEAN and len(sc.regions) > 1:  # split over the regions' primary lanes by demand share
            parts, left = [], qty.copy()
            for r in range(1, len(sc.regions)):
                part = np.floor(qty * self.region_share[r]).astype(np.int64)
                parts.append((r, part))
                left -= part
            parts.insert(0, (0, left))
        for r, part in parts:
            if not part.any():
                continue
            u = np.random.default_rng(self._child(_STREAM_SHIP, m, t, r)).random(12)
            lead = self._lead(m, r, float(t + 1), u)
            arrivals.setdefault(max(t + 1, int(np.floor(t + 1 + lead))), []).append((m, part, lead))
            pipe[m] += part
            if not window:
                continue
            if m in OCEAN:
                ln = self.lanes[sc.regions[r].primary_lane]
                leg = self.inland[(ln.dest_port, sc.regions[r].id)]
                costs[m, _C["freight_in"]] += part * (
                    cfg.ocean_usd_per_cuft * a.volume_cuft
                    + sc.origin.handling_usd_per_unit
                    + leg.cost_usd_per_unit
                )
                costs[m, _C["duties"]] += part * sc.customs.duty_rate * cv
                fee = cfg.fba_placement_usd_per_unit if m == FBA else cfg.tpl_receive_usd_per_unit
                costs[m, _C["fees"]] += part * fee
            elif m == GW:
                costs[m, _C["freight_in"]] += part * sc.origin.hub_transfer_usd_per_unit
            elif m == AW:
                costs[m, _C["freight_in"]] += part * cfg.asia_wh_inbound_usd_per_cuft * a.volume_cuft

    def _assist(self, t, cohorts, mu, on_hand, awd, stop, discount_until, actions, costs, window) -> None:
        """Aged-inventory alerts ahead of the surcharge tiers, with an action per SKU.

        For each FBA cohort, the units still there when it turns ``aged_tiers[0]`` days old are projected with
        the forecast (first in, first out). SKUs with such units within ``assistant_horizon_d`` stop
        replenishing; then the cheapest of keep / discount / move to AWD / remove is taken for the projected
        aged units, comparing the surcharges that keeping them would cost until they sell with each action's
        cost.
        """
        cfg, a = self.cfg, self.a
        first_tier = cfg.aged_tiers[0][0]
        ahead = np.zeros_like(mu)
        risk = np.zeros_like(mu)
        risk_age = np.zeros_like(mu)
        for arr_t, qty in cohorts:
            age = t - arr_t
            cum = ahead + qty
            d_to = max(0, first_tier - age)
            if d_to <= cfg.assistant_horizon_d:
                left = np.clip(cum - mu * d_to, 0, qty)
                risk += left
                risk_age = np.where(left > 0, np.maximum(risk_age, age), risk_age)
            ahead = cum
        risk = np.floor(risk).astype(np.int64)
        hit = risk > 0
        if not hit.any():
            return
        stop |= hit
        actions["stop_replenishing"] += float(hit.sum())
        # months the aged units would stay, and what they would pay meanwhile (first tiers) vs each action
        months = np.minimum(risk / np.maximum(mu * 30.4, 1e-6), 12.0)
        n_t = len(cfg.aged_tiers)
        cum = np.cumsum([cfg.aged_tiers[min(i, n_t - 1)][1] for i in range(12)])  # $/cu ft after i+1 months
        # the at-risk units sell one after another over `months`: on average half of the cumulative tiers
        avg_cum = np.cumsum(cum) / np.arange(1, 13)
        keep = a.volume_cuft * avg_cum[np.clip(np.ceil(months).astype(int) - 1, 0, 11)]
        keep = np.where(months > 0, keep, 0.0)
        lift = (1 - cfg.discount_share) ** (-cfg.price_elasticity)
        disc_days = np.minimum(risk / np.maximum(mu * (lift - 1), 1e-6), 60.0)
        # a discount is paid on every unit sold while it runs, not only on the extra ones it brings
        discount = cfg.discount_share * a.price_usd * lift / max(lift - 1, 1e-6)
        move = cfg.awd_transfer_usd_per_unit * 2 + a.volume_cuft * cfg.awd_storage_usd_cuft_month * months
        remove = cfg.removal_fee_usd_per_unit + a.customs_value_usd
        options = np.stack([keep, discount, move, remove])
        best = np.argmin(options, axis=0)
        for code, name in ((1, "discount"), (2, "move_to_awd"), (3, "remove")):
            sel = hit & (best == code)
            if not sel.any():
                continue
            actions[name] += float(risk[sel].sum())
            actions["surcharge_usd_projected_avoided"] += float((risk * (keep - options[code]))[sel].sum())
            if code == 1:
                discount_until[sel] = t + np.ceil(disc_days[sel]).astype(int)
                continue
            # take the oldest units out of the FC (they leave the cohorts oldest first)
            n = np.where(sel, np.minimum(risk, on_hand[FBA]), 0)
            on_hand[FBA] -= n
            rem = n.copy()
            for c in cohorts:
                take = np.minimum(c[1], rem)
                c[1] -= take
                rem -= take
            if code == 2:
                awd += n
                if window:
                    costs[FBA, _C["assistant_actions"]] += n * cfg.awd_transfer_usd_per_unit
            elif window:
                costs[FBA, _C["assistant_actions"]] += n * remove


def simulate_models(
    scene: InboundScene,
    *,
    seed: int,
    rep: int = 0,
    disruptions: list[DisruptionSpec] = (),
    assign: np.ndarray | None = None,
    model: str | None = None,
    chooser: Callable | None = None,
    assistant: bool = False,
) -> XBResult:
    """One replication. ``model`` assigns every SKU and market to that model; ``assign`` (K, S) routes each;
    ``chooser(day, forecast_mean (M, S), sim) -> assign`` re-decides every ``crossborder.redecide_d`` days.
    Replication ``rep`` is child ``rep`` of ``SeedSequence(seed)`` as in the inbound network."""
    S = scene.catalogue.n_skus
    if model is not None:
        assign = np.full((len(MARKETS), S), MODELS.index(model), np.int64)
    ss = np.random.SeedSequence(seed, spawn_key=(rep,))
    sim = _Sim(
        scene, seed_seq=ss, disruptions=list(disruptions), assign=assign, chooser=chooser, assistant=assistant
    )
    if chooser is not None:
        sim.assign = chooser(0, None, sim)
    return sim.run()


def _wq(hist: np.ndarray, q: float) -> float:
    c = np.cumsum(hist)
    if c[-1] <= 0:
        return float("nan")
    return float((np.searchsorted(c, q * c[-1]) + 0.5) * _BIN_D)


def xb_kpis(res: XBResult, sku_mask: np.ndarray | None = None) -> dict[str, float]:
    """Scalar KPIs of a run (optionally over a subset of SKUs).

    fill rate = units sold / demand that converted (availability); conversion loss = demand lost to a slower
    promise than the SKU's; stockout days per SKU = assigned SKU-days with no stock at the assigned point;
    days of inventory = average units on hand / average daily demand; working capital = average (on hand + in
    transit) at declared value; landed cost per unit = all costs but lost margin / units sold; total cost =
    all costs including lost margin; lead times are unit-weighted over deliveries.
    """
    m = np.ones(res.attrs.price_usd.size, bool) if sku_mask is None else sku_mask
    days = res.days
    dem = float(res.demand_ks[:, m].sum())
    conv = dem - float(res.conv_lost_ks[:, m].sum())
    sold = float(res.sales_mks[:, :, m].sum())
    costs = res.costs_mcs[:, :, m].sum(axis=(0, 2))
    landed = float(costs[: _C["lost_margin"]].sum())
    out = {
        "fill_rate": sold / conv if conv else float("nan"),
        "conversion_loss_share": 1 - conv / dem if dem else float("nan"),
        "served_share": sold / dem if dem else float("nan"),
        "stockout_days_per_sku": float((res.assigned_ms - res.instock_ms)[:, m].sum() / max(m.sum(), 1)),
        "days_of_inventory": float(res.onhand_sum_ms[:, m].sum() / days) / (dem / days)
        if dem
        else float("nan"),
        "working_capital_usd": res.wc_sum_usd / days if sku_mask is None else float("nan"),
        "landed_cost_usd": landed,
        "landed_cost_usd_per_unit": landed / sold if sold else float("nan"),
        "lost_margin_usd": float(costs[_C["lost_margin"]]),
        "total_cost_usd": float(costs.sum()),
        "total_cost_usd_per_unit_demanded": float(costs.sum()) / dem if dem else float("nan"),
        "revenue_usd": float(res.revenue_s[m].sum()),
        "profit_usd": float(
            res.revenue_s[m].sum()
            - res.sales_mks[:, :, m].sum(axis=(0, 1)) @ res.attrs.customs_value_usd[m]
            - landed
        ),
        "aged_surcharge_usd": float(costs[_C["aged_surcharge"]]),
    }
    if sku_mask is None:
        h, d2c = res.hist_o2d.sum(axis=(0, 1)), res.hist_d2c.sum(axis=(0, 1))
        out.update(
            {
                "order_to_delivery_p50_d": _wq(h, 0.5),
                "order_to_delivery_p95_d": _wq(h, 0.95),
                "door_to_customer_p50_d": _wq(d2c, 0.5),
                "door_to_customer_p95_d": _wq(d2c, 0.95),
            }
        )
    for key in COST_KEYS:
        out[f"cost.{key}"] = float(costs[_C[key]])
    return out
