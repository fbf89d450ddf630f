"""The cross-border inbound model: shipments as SimPy processes, inventory advanced by day in numpy arrays.

Stock points (arrays over all S SKUs):
  hub (S,)      source hub at origin, GWD-style; only with flow "hub"
  rs  (R, S)    regional storage per region, AWD-style; flows "awd" and "hub"
  fc  (P, S)    FC stock pools; P = R with channels pooled (MCF-style), R x C with separate inventories

A shipment carries a vector of SKU units (a container or consolidated batch) and is one SimPy process whose
stage
durations are drawn per shipment, so orders overtake each other. Vessel-level draws (transit, lateness) are
keyed
by lane and sailing, shipment-level draws by (tier, node, lane, day, kind): the same order gets the same
numbers
under any policy or disruption (common random numbers).

Time: days since warm-up start; KPI day 0 is ``warmup_days``. Tie-break: SimPy runs all events of day t
(times in
[t, t+1)), which only buffer arrivals; then the day step applies, in this fixed order: arrivals by (time,
shipment id) -> FC dock receiving (FIFO, capacity) -> goods becoming sellable -> demand -> forecasts ->
storage
cost -> FC-tier orders -> lane-tier orders -> hub orders -> records. Orders leave at t + 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import simpy

from .demand import DemandModel
from .disruptions import DisruptionState, regime_disruptions, resolve
from .forecast import make_forecaster
from .policies import LaneOption, MinMax, Order, TierView, make_policy
from .scene import DisruptionSpec, InboundScene, Lane

__all__ = ["Shipment", "RunResult", "simulate"]

_STREAM_DEMAND, _STREAM_REGIME, _STREAM_SHIP, _STREAM_VESSEL = 0, 1, 2, 3
_N_U = 12  # uniforms per shipment (stage draws)
_KIND_CODE = {"regular": 0, "expedite": 1, "transfer": 2}
_TIER_CODE = {"hub": 0, "rs": 1, "fc": 2}


@dataclass
class Shipment:
    """One container / consolidated batch. ``qty`` (S,) int64 units by SKU."""

    id: int
    to_tier: str
    dest: int
    lane: str | None
    mode: str
    kind: str
    qty: np.ndarray
    units: int
    dispatch_d: float
    eta_d: float
    lost: np.ndarray | None = None
    at_sea_done: bool = False
    arrive_d: float = float("nan")  # at the node (dock for FC)
    receive_d: float | None = None  # FC receive-to-sellable draw, days
    events: list[tuple[str, float]] = field(default_factory=list)


@dataclass
class RunResult:
    """Everything a run produced; KPIs are computed from it in kpis.py."""

    scene: InboundScene
    policy: str
    warmup_days: int
    days: int
    node_names: list[str]
    daily_on_hand: np.ndarray  # (T, nodes) units at end of day
    daily_in_transit: np.ndarray  # (T, nodes) units on the way to each node
    daily_demand: np.ndarray  # (T,) units
    daily_sales: np.ndarray  # (T,)
    conservation: np.ndarray  # (T, 5): units in, on hand, in transit, sold, lost (damaged)
    demand_rcs: np.ndarray  # (R, C, S) window demand
    sales_rcs: np.ndarray  # (R, C, S) window sales
    instock_days_ps: np.ndarray  # (P, S) window SKU-days in stock at the FC pools
    onhand_sum_s: np.ndarray  # (S,) sum over window days of on hand, all nodes
    onhand_sum_node: np.ndarray  # (nodes,) sum over window days of on hand
    pool_region: np.ndarray  # (P,) region of each FC pool
    pool_channels: list[tuple[int, ...]]
    costs_usd: dict[str, float]
    shipments: list[tuple]  # (id, to_tier, dest, lane, mode, kind, units, dispatch_d, available_d, dock_d)
    weekly_orders: dict[str, np.ndarray]  # tier -> (W, S) units ordered per week
    weekly_demand: np.ndarray  # (W, S)
    dock_arrivals: list[tuple[float, int, int, np.ndarray]]  # (t_d, shipment id, region, qty (S,))
    disruptions: list
    # names of the disruptions that changed no shipment and no planner's projection in this run
    inactive_disruptions: list
    forecast_history: np.ndarray | None  # (T, P, S_hist) pool demand for scoring baselines
    intermittent: np.ndarray
    unit_value_usd: np.ndarray


class InboundModel:
    """One replication of one policy. Build, then :meth:`run`."""

    def __init__(
        self,
        scene: InboundScene,
        *,
        seed_seq: np.random.SeedSequence,
        disruptions: list[DisruptionSpec] = (),
        policy: str | None = None,
        regime: bool = False,
        history_skus: int = 500,
    ):
        self.scene = sc = scene
        self.ss = seed_seq
        self.flow = sc.network.flow
        self.S, self.R, self.C = sc.catalogue.n_skus, len(sc.regions), len(sc.channels)
        self.W = sc.warmup_days
        self.T = sc.warmup_days + sc.days
        self.policy_name = policy or sc.policy.name
        self.policy = make_policy(self.policy_name)
        self.fc_policy = MinMax()
        self.env = simpy.Environment()
        self.lanes = {ln.id: ln for ln in sc.lanes}
        self.lane_idx = {ln.id: i for i, ln in enumerate(sc.lanes)}
        self.ports = {p.id: p for p in sc.ports}
        self.region_idx = {r.id: i for i, r in enumerate(sc.regions)}
        self.inland = {(leg.port, leg.region): leg for leg in sc.inland}
        self.fc_of = [next(f for f in sc.fcs if f.region == r.id) for r in sc.regions]
        self.rs_of = (
            [next(s for s in sc.regional_storage if s.region == r.id) for r in sc.regions]
            if self.flow != "direct"
            else []
        )
        specs = list(disruptions)  # scene [[disruptions]] are a library: the caller picks them by name
        if regime:
            specs += regime_disruptions(sc, np.random.default_rng(self._child(_STREAM_REGIME)), self.T)
        self.dis = DisruptionState(sc, resolve(sc, specs, self.W), self.T)
        self.demand = DemandModel(sc, np.random.default_rng(self._child(_STREAM_DEMAND)))
        # FC pools: one per region (pooled channels) or one per region x channel
        if sc.network.pool_channels:
            self.pool_region = np.arange(self.R)
            self.pool_channels = [tuple(range(self.C))] * self.R
        else:
            self.pool_region = np.repeat(np.arange(self.R), self.C)
            self.pool_channels = [(c,) for _ in range(self.R) for c in range(self.C)]
        self.P = len(self.pool_region)
        S, R, P = self.S, self.R, self.P
        i64 = np.int64
        self.hub = np.zeros(S, i64)
        self.rs = np.zeros((R, S), i64)
        self.fc = np.zeros((P, S), i64)
        self.pipe = {"hub": np.zeros((1, S), i64), "rs": np.zeros((R, S), i64), "fc": np.zeros((P, S), i64)}
        self.dock_queue: list[list] = [[] for _ in range(R)]  # per region: [shipment, remaining qty]
        self.receiving: list[tuple[int, int, int, np.ndarray, float, float]] = []
        self.arrived: list[tuple[float, int, Shipment]] = []
        self.active: dict[int, Shipment] = {}
        self.next_id = 0
        self.units_in = 0
        self.sold = 0
        self.lost = 0
        self.costs = dict.fromkeys(
            (
                "freight_ocean_usd",
                "freight_air_usd",
                "expedite_premium_usd",
                "inland_usd",
                "handling_usd",
                "transfer_usd",
                "storage_hub_usd",
                "storage_rs_usd",
                "storage_fc_usd",
                "duties_usd",
                "lost_margin_usd",
            ),
            0.0,
        )
        self._vessel_u: dict[tuple[int, int], np.ndarray] = {}
        self.meta: dict[int, tuple] = {}  # shipment id -> (lane, mode, kind, units, dispatch_d)
        # forecasters: FC pools always; regions and total for upper tiers (echelon demand)
        fname = sc.policy.forecast
        self.f_fc = make_forecaster(fname, (P, S))
        self.f_rs = make_forecaster(fname, (R, S)) if self.flow != "direct" else None
        self.f_hub = make_forecaster(fname, (1, S)) if self.flow == "hub" else None
        self.history_skus = min(history_skus, S)
        self._plan_leads()

    def _cost(self, key: str, t_d: float, usd: float) -> None:
        """Costs count inside the KPI window only (warm-up shipments are not charged)."""
        if t_d >= self.W:
            self.costs[key] += usd

    # ----------------------------------------------------------------- random streams
    def _child(self, *key: int) -> np.random.SeedSequence:
        return np.random.SeedSequence(self.ss.entropy, spawn_key=(*self.ss.spawn_key, *key))

    def _ship_uniforms(self, *key: int) -> np.random.Generator:
        return np.random.default_rng(self._child(_STREAM_SHIP, *key))

    def _vessel(self, lane_i: int, sailing: int) -> np.ndarray:
        u = self._vessel_u.get((lane_i, sailing))
        if u is None:
            u = np.random.default_rng(self._child(_STREAM_VESSEL, lane_i, sailing)).random(3)
            self._vessel_u[(lane_i, sailing)] = u
        return u

    # ----------------------------------------------------------------- planned lead times (policy inputs)
    def _customs_mean_d(self) -> float:
        cu = self.scene.customs
        tot = sum(e.share for e in cu.exams) or 1.0
        return cu.release_d.mean() + cu.exam_share * sum(
            e.share / tot * e.duration_d.mean() for e in cu.exams
        )

    def _lane_lead_d(self, ln: Lane, region: int, to_tier: str, from_seller: bool) -> float:
        sc = self.scene
        handling = (ln.handling_d or sc.origin.hub_handling_d).mean()
        lead = handling + (sc.origin.seller_to_hub_d.mean() if from_seller else 0.0)
        lead += ln.departure_every_d / 2 + ln.transit_d.mean() + (1 - ln.on_time_share) * ln.late_d.mean()
        dport = self.ports[ln.dest_port]
        lead += dport.anchorage_d.mean() + self._customs_mean_d() + dport.terminal_dwell_d.mean()
        lead += self.inland[(ln.dest_port, sc.regions[region].id)].transit_d.mean()
        if to_tier == "rs":
            lead += self.rs_of[region].receive_d.mean()
        else:
            lead += self.fc_of[region].receive_to_sellable_d.mean() + 1.0
        return lead

    def _plan_leads(self) -> None:
        sc = self.scene
        # FC leg: truck from regional storage, dock, receive to sellable, next-day availability
        self.fc_leg_d = [
            (self.rs_of[r].to_fc_d.mean() if self.rs_of else 0.0)
            + self.fc_of[r].receive_to_sellable_d.mean()
            + 1.0
            for r in range(self.R)
        ]
        self.lane_tier = "fc" if self.flow == "direct" else "rs"
        from_seller = self.flow != "hub"
        self.lane_lead = {}
        for r in range(self.R):
            down = self.fc_leg_d[r] if self.lane_tier == "rs" else 0.0
            for ln in sc.lanes:
                if (ln.dest_port, sc.regions[r].id) in self.inland:
                    self.lane_lead[(ln.id, r)] = self._lane_lead_d(ln, r, self.lane_tier, from_seller) + down
        prim = [self.lane_lead[(sc.regions[r].primary_lane, r)] for r in range(self.R)]
        # echelon lead of the hub: to the hub, then the lane leg, which the regional stores only order weekly
        self.hub_lead_d = sc.origin.seller_to_hub_d.mean() + float(np.mean(prim)) + sc.policy.review_d

    # ----------------------------------------------------------------- shipments
    def _new_shipment(
        self, to_tier: str, dest: int, lane: str | None, kind: str, qty: np.ndarray, day: int, eta_d: float
    ) -> Shipment:
        mode = self.lanes[lane].mode if lane else ("truck" if to_tier != "hub" else "pickup")
        sh = Shipment(
            id=self.next_id,
            to_tier=to_tier,
            dest=dest,
            lane=lane,
            mode=mode,
            kind=kind,
            qty=qty,
            units=int(qty.sum()),
            dispatch_d=float(day + 1),
            eta_d=eta_d,
        )
        self.next_id += 1
        self.active[sh.id] = sh
        self.meta[sh.id] = (lane, mode, kind, sh.units, sh.dispatch_d)
        self.pipe[to_tier][dest if to_tier != "hub" else 0] += qty
        return sh

    def _dispatch_intl(
        self, day: int, region: int, dest: int, order_lane: str, kind: str, qty: np.ndarray, from_seller: bool
    ) -> None:
        ln = self.lanes[order_lane]
        lead = self.lane_lead[(order_lane, region)]
        sh = self._new_shipment(self.lane_tier, dest, order_lane, kind, qty, day, day + 1 + lead)
        rng = self._ship_uniforms(
            _TIER_CODE[self.lane_tier], dest, self.lane_idx[order_lane], day, _KIND_CODE[kind]
        )
        u = rng.random(_N_U)
        if ln.damage_share > 0:
            sh.lost = rng.binomial(qty, ln.damage_share)
        units = sh.units
        freight = units * ln.freight_usd_per_unit
        key = "freight_air_usd" if ln.mode == "air" else "freight_ocean_usd"
        self._cost(key, self.env.now, freight)
        if kind == "expedite":
            primary = self.lanes[self.scene.regions[region].primary_lane]
            premium = max(0.0, ln.freight_usd_per_unit - primary.freight_usd_per_unit)
            self._cost("expedite_premium_usd", self.env.now, units * premium)
        self._cost("handling_usd", self.env.now, units * self.scene.origin.handling_usd_per_unit)
        if from_seller:
            self.units_in += units
        self.env.process(self._intl_process(sh, ln, region, u, from_seller))

    def _intl_process(self, sh: Shipment, ln: Lane, region: int, u: np.ndarray, from_seller: bool):
        env, sc, dis = self.env, self.scene, self.dis
        handling = ln.handling_d or sc.origin.hub_handling_d
        ready = env.now + float(handling.ppf(u[0]))
        if from_seller:
            ready += float(sc.origin.seller_to_hub_d.ppf(u[1]))
        ready += dis.port_wait_d(ln.origin_port, ready)  # origin port capacity (e.g. Yantian 2021)
        k = max(0, int(np.ceil((ready - ln.first_departure_d) / ln.departure_every_d - 1e-9)))
        dep = ln.first_departure_d + k * ln.departure_every_d
        while (until := dis.suspended_until(ln.id, None, dep)) is not None:  # lane suspended: later sailing
            k = int(np.ceil((until - ln.first_departure_d) / ln.departure_every_d - 1e-9))
            dep = ln.first_departure_d + k * ln.departure_every_d
        yield env.timeout(dep - env.now)
        sh.events.append(("sailed", env.now))
        uv = self._vessel(self.lane_idx[ln.id], k)
        transit = float(ln.transit_d.ppf(uv[0]))
        if uv[1] >= ln.on_time_share:
            transit += float(ln.late_d.ppf(uv[2]))
        # mid-voyage (the chokepoint, if any): goods already at sea meet suspensions and diversions here
        yield env.timeout(ln.chokepoint_at * transit)
        until = dis.suspended_until(ln.id, ln.chokepoint, env.now)
        if until is not None:
            yield env.timeout(until - env.now)  # paused at sea
        extra = dis.diversion_extra_d(ln.id, ln.chokepoint, env.now)
        if ln.chokepoint in self.ports:
            extra += dis.port_wait_d(ln.chokepoint, env.now)
        sh.eta_d += extra
        yield env.timeout((1 - ln.chokepoint_at) * transit + extra)
        sh.at_sea_done = True
        sh.events.append(("port", env.now))
        port = self.ports[ln.dest_port]
        wait = dis.port_wait_d(port.id, env.now) + dis.anchorage_extra_d(port.id, env.now)
        wait += float(port.anchorage_d.ppf(u[2]))
        sh.eta_d += max(0.0, wait - port.anchorage_d.mean())
        yield env.timeout(wait)
        cu = sc.customs
        clear = float(cu.release_d.ppf(u[3]))
        if cu.exams and u[4] < cu.exam_share * dis.exam_multiplier(port.id, env.now):
            shares = np.cumsum([e.share for e in cu.exams])
            exam = cu.exams[min(int(np.searchsorted(shares / shares[-1], u[5])), len(cu.exams) - 1)]
            clear += float(exam.duration_d.ppf(u[6]))
        yield env.timeout(clear)
        net = sh.qty - sh.lost if sh.lost is not None else sh.qty
        self._cost("duties_usd", self.env.now, cu.duty_rate * float(net @ self.demand.unit_value_usd))
        dwell = float(port.terminal_dwell_d.ppf(u[7])) if port.kind == "sea" else 0.0
        leg = self.inland[(port.id, sc.regions[region].id)]
        yield env.timeout(dwell + float(leg.transit_d.ppf(u[8])))
        self._cost("inland_usd", self.env.now, sh.units * leg.cost_usd_per_unit)
        if sh.to_tier == "rs":
            yield env.timeout(float(self.rs_of[region].receive_d.ppf(u[9])))
        sh.events.append(("arrived", env.now))
        self.arrived.append((env.now, sh.id, sh))

    def _dispatch_domestic(
        self,
        day: int,
        to_tier: str,
        dest: int,
        region_from: int,
        kind: str,
        qty: np.ndarray,
        dist,
        cost_per_unit: float,
        from_tier: str = "rs",
    ) -> None:
        sh = self._new_shipment(to_tier, dest, None, kind, qty, day, day + 1 + dist.mean())
        u = self._ship_uniforms(_TIER_CODE[to_tier], dest, 999 + region_from, day, _KIND_CODE[kind]).random()
        self._cost("transfer_usd", self.env.now, sh.units * cost_per_unit)
        self.env.process(self._domestic_process(sh, float(dist.ppf(u))))

    def _domestic_process(self, sh: Shipment, dur: float):
        yield self.env.timeout(dur)
        self.arrived.append((self.env.now, sh.id, sh))

    def _seller_to_hub(self, day: int, qty: np.ndarray) -> None:
        sh = self._new_shipment(
            "hub", 0, None, "regular", qty, day, day + 1 + self.scene.origin.seller_to_hub_d.mean()
        )
        u = self._ship_uniforms(0, 0, 998, day, 0).random()
        self.units_in += sh.units
        self._cost("transfer_usd", self.env.now, sh.units * self.scene.origin.hub_transfer_usd_per_unit)
        self.env.process(self._domestic_process(sh, float(self.scene.origin.seller_to_hub_d.ppf(u))))

    # ----------------------------------------------------------------- the day step
    def _apply_arrivals(self, day: int) -> None:
        self.arrived.sort(key=lambda a: (a[0], a[1]))
        for t_d, _, sh in self.arrived:
            net = sh.qty if sh.lost is None else sh.qty - sh.lost
            if sh.lost is not None:
                self.lost += int(sh.lost.sum())
            sh.arrive_d = t_d
            if sh.to_tier == "fc":
                region = int(self.pool_region[sh.dest])
                self.dock_queue[region].append([sh, net.copy()])
                self.dock_log.append((t_d, sh.id, region, sh.dest, net.copy()))
                if sh.lost is not None:
                    self.pipe["fc"][sh.dest] -= sh.lost
                continue
            self.pipe[sh.to_tier][sh.dest if sh.to_tier != "hub" else 0] -= sh.qty
            if sh.to_tier == "hub":
                self.hub += net
            else:
                self.rs[sh.dest] += net
            del self.active[sh.id]
            self._log_shipment(sh, t_d, float("nan"))
        self.arrived.clear()

    def _log_shipment(self, sh: Shipment, available_d: float, dock_d: float) -> None:
        if available_d >= self.W:
            self.ship_log.append(
                (
                    sh.id,
                    sh.to_tier,
                    sh.dest,
                    sh.lane,
                    sh.mode,
                    sh.kind,
                    sh.units,
                    sh.dispatch_d,
                    available_d,
                    dock_d,
                )
            )

    def _receive_dock(self, day: int) -> None:
        for r in range(self.R):
            cap = self.dock_cap[r]
            q = self.dock_queue[r]
            while q and cap > 0:
                sh, rem = q[0]
                n = int(rem.sum())
                if n <= cap:
                    take, cap = rem, cap - n
                    q.pop(0)
                else:  # partial: the same share of every SKU, floored
                    take = np.floor(rem * (cap / n)).astype(np.int64)
                    if not take.any():
                        break
                    cap -= int(take.sum())
                    rem -= take
                if sh.receive_d is None:
                    # keyed by what the shipment is (not its id, which shifts when decisions differ): paired
                    # runs
                    u = self._ship_uniforms(2, sh.dest, 997, int(sh.dispatch_d), _KIND_CODE[sh.kind]).random()
                    sh.receive_d = float(self.fc_of[r].receive_to_sellable_d.ppf(u))
                delay = sh.receive_d
                sellable = day + 1 + int(np.floor(delay))  # whole days: becomes sellable at a day step
                self.receiving.append((sellable, sh.id, sh.dest, take.copy(), sh.arrive_d, sh.dispatch_d))
                if not q or q[0][0] is not sh:
                    del self.active[sh.id]

    def _sellable(self, day: int) -> None:
        keep = []
        for item in self.receiving:
            sellable, sid, pool, qty, dock_d, dispatch_d = item
            if sellable > day:
                keep.append(item)
                continue
            self.fc[pool] += qty
            self.pipe["fc"][pool] -= qty
            if day >= self.W:
                self.sellable_log.append((sid, pool, int(qty.sum()), dispatch_d, dock_d, float(day)))
        self.receiving = keep

    def _view(self, day: int, tier: str) -> TierView:
        sc = self.scene
        kpi_day = day - self.W
        if tier == "fc":
            ids = tuple(
                f"{self.fc_of[r].id}/{'+'.join(sc.channels[c].id for c in ch)}"
                for r, ch in zip(self.pool_region, self.pool_channels, strict=True)
            )
            on_hand, pipe, down = self.fc, self.pipe["fc"], np.zeros_like(self.fc)
            f = self.f_fc
            regions = list(self.pool_region)
        elif tier == "rs":
            ids = tuple(s.id for s in self.rs_of)
            on_hand, pipe = self.rs, self.pipe["rs"]
            down = np.zeros_like(self.rs)
            np.add.at(down, self.pool_region, self.fc + self.pipe["fc"])
            f = self.f_rs
            regions = list(range(self.R))
        else:
            ids = ("hub",)
            on_hand, pipe = self.hub[None, :], self.pipe["hub"]
            down = (self.rs + self.pipe["rs"] + 0).sum(axis=0, keepdims=True)
            down = down + (self.fc + self.pipe["fc"]).sum(axis=0, keepdims=True)
            f = self.f_hub
            regions = []
        lane_tier = tier == self.lane_tier
        t_now = float(day + 1)

        def opt(lane_id: str | None, r: int) -> LaneOption | None:
            if lane_id is None:
                return None
            ln = self.lanes[lane_id]
            lead = self.lane_lead.get((lane_id, r))
            if lead is None:
                return None
            return LaneOption(
                lane_id=ln.id,
                mode=ln.mode,
                provider=ln.provider,
                lead_time_d=lead,
                projected_delay_d=self.dis.projected_delay_d(
                    ln.id, ln.chokepoint, ln.origin_port, ln.dest_port, t_now
                ),
                suspended=self.dis.suspended_until(ln.id, None, t_now) is not None,
                freight_usd_per_unit=ln.freight_usd_per_unit,
            )

        if lane_tier:
            primary = tuple(opt(sc.regions[r].primary_lane, r) for r in regions)
            expedite = tuple(opt(sc.regions[r].expedite_lane, r) for r in regions)
            alternates = tuple(
                tuple(o for lid in sc.regions[r].alternate_lanes if (o := opt(lid, r))) for r in regions
            )
        else:
            n = len(ids)
            primary, expedite, alternates = (None,) * n, (None,) * n, ((),) * n
        if tier == "fc":
            dom_lead = float(np.mean(self.fc_leg_d)) if self.lane_tier != "fc" else 0.0
            review_d, review_due = sc.policy.fc_review_d, day % sc.policy.fc_review_d == 0
        elif tier == "hub":
            dom_lead = self.hub_lead_d
            review_d = sc.origin.seller_review_d
            review_due = day % review_d == 0
        else:
            dom_lead = float(np.mean(self.fc_leg_d)) + sc.network.transfer_d.mean()
            review_d = sc.policy.review_d if self.flow == "hub" else sc.origin.seller_review_d
            review_due = day % review_d == 0
        if tier == "fc" and self.lane_tier == "fc":
            review_d = sc.origin.seller_review_d
            review_due = day % review_d == 0

        def due_within(h_d: float, tier=tier, N=len(ids)) -> np.ndarray:
            out = np.zeros((N, self.S), np.int64)
            horizon = t_now + h_d
            for sh in self.active.values():
                if sh.to_tier != tier:
                    continue
                eta = sh.eta_d
                if sh.lane is not None and not sh.at_sea_done:
                    ln = self.lanes[sh.lane]
                    eta += self.dis.projected_delay_d(
                        ln.id, ln.chokepoint, ln.origin_port, ln.dest_port, t_now
                    )
                if eta <= horizon:
                    out[sh.dest if tier != "hub" else 0] += sh.qty
            if tier == "fc":  # received at the dock, soon sellable
                for sellable, _sid, pool, qty, _dock, _disp in self.receiving:
                    if sellable <= horizon:
                        out[pool] += qty
            return out

        upstream = {
            "fc": "rs" if self.lane_tier != "fc" else "seller",
            "rs": "hub" if self.flow == "hub" else "seller",
            "hub": "seller",
        }[tier]
        return TierView(
            day=kpi_day,
            tier=tier,
            upstream=upstream,
            node_ids=ids,
            on_hand=on_hand,
            pipeline=pipe,
            downstream=down,
            mean_d=f.mean_d(),
            std_d=f.std_d(),
            review_d=review_d,
            review_due=review_due,
            primary=primary,
            expedite=expedite,
            alternates=alternates,
            domestic_lead_d=dom_lead,
            cfg=sc.policy,
            due_within=due_within,
        )

    def _execute(self, day: int, tier: str, orders: list[Order]) -> None:
        sc = self.scene
        total = 0
        if tier == "fc" and self.lane_tier != "fc":
            # allocate regional stock across the region's pools: proportional when short
            for r in range(self.R):
                mine = [o for o in orders if self.pool_region[o.node] == r and o.kind != "transfer"]
                if not mine:
                    continue
                want = np.stack([o.qty for o in mine])
                give = _allocate(want, self.rs[r])
                self.rs[r] -= give.sum(axis=0)
                for o, g in zip(mine, give, strict=True):
                    if g.any():
                        self._dispatch_domestic(
                            day,
                            "fc",
                            o.node,
                            r,
                            o.kind,
                            g,
                            self.rs_of[r].to_fc_d,
                            self.rs_of[r].to_fc_usd_per_unit,
                        )
                        total += int(g.sum())
        elif tier == self.lane_tier:
            regions = self.pool_region if tier == "fc" else np.arange(self.R)
            intl = [o for o in orders if o.kind != "transfer"]
            if self.flow == "hub" and intl:
                want = np.stack([o.qty for o in intl])
                give = _allocate(want, self.hub)
                self.hub -= give.sum(axis=0)
            else:
                give = [o.qty for o in intl]
            for o, g in zip(intl, give, strict=True):
                if g.any():
                    self._dispatch_intl(
                        day,
                        int(regions[o.node]),
                        o.node,
                        o.lane_id,
                        o.kind,
                        g.astype(np.int64),
                        from_seller=self.flow != "hub",
                    )
                    total += int(g.sum())
            for o in orders:
                if o.kind != "transfer":
                    continue
                stock = self.fc if tier == "fc" else self.rs
                g = np.minimum(o.qty, stock[o.from_node])
                if g.any():
                    stock[o.from_node] -= g
                    self._dispatch_domestic(
                        day,
                        tier,
                        o.node,
                        int(regions[o.from_node]),
                        "transfer",
                        g,
                        sc.network.transfer_d,
                        sc.network.transfer_usd_per_unit,
                    )
        elif tier == "hub":
            for o in orders:
                if o.qty.any():
                    self._seller_to_hub(day, o.qty)
                    total += int(o.qty.sum())
        if day >= self.W:
            w = (day - self.W) // 7
            if w < self.weekly_orders[tier].shape[0]:
                self.weekly_orders[tier][w] += sum(
                    (o.qty for o in orders if o.kind != "transfer"), np.zeros(self.S, np.int64)
                )

    def _initial_stock(self) -> None:
        """Start near steady state so warm-up is short: each node holds its expected cycle + pipeline
        cover."""
        sc = self.scene
        base = self.demand._base  # (R, C, S) expected units/day before season and promotions
        region_mean = base.sum(axis=1)
        pool_mean = np.stack(
            [
                base[r][list(ch)].sum(axis=0)
                for r, ch in zip(self.pool_region, self.pool_channels, strict=True)
            ]
        )
        if self.flow == "direct":
            lead = np.array([self.lane_lead[(sc.regions[r].primary_lane, r)] for r in self.pool_region])
            cover = lead + sc.origin.seller_review_d
            self.fc += np.ceil(pool_mean * cover[:, None]).astype(np.int64)
        else:
            self.fc += np.ceil(pool_mean * (np.mean(self.fc_leg_d) + sc.policy.fc_cover_d)).astype(np.int64)
            review = sc.policy.review_d if self.flow == "hub" else sc.origin.seller_review_d
            lead = np.array([self.lane_lead[(sc.regions[r].primary_lane, r)] for r in range(self.R)])
            self.rs += np.ceil(region_mean * (lead + review)[:, None]).astype(np.int64)
            if self.flow == "hub":
                self.hub += np.ceil(
                    region_mean.sum(axis=0) * (self.hub_lead_d + sc.origin.seller_review_d)
                ).astype(np.int64)
        self.units_in += int(self.hub.sum() + self.rs.sum() + self.fc.sum())

    def run(self, progress: Callable[[int], None] | None = None) -> RunResult:
        sc = self.scene
        S, R, C, P, T, W = self.S, self.R, self.C, self.P, self.T, self.W
        self.dock_cap = [f.dock_capacity_units_per_day for f in self.fc_of]
        self.dock_log: list = []
        self.ship_log: list = []
        self.sellable_log: list = []
        n_weeks = (sc.days + 6) // 7
        tiers = ["fc"] + (["rs"] if self.flow != "direct" else []) + (["hub"] if self.flow == "hub" else [])
        self.weekly_orders = {t: np.zeros((n_weeks, S), np.int64) for t in tiers}
        weekly_demand = np.zeros((n_weeks, S), np.int64)
        node_names = (
            (["hub"] if self.flow == "hub" else [])
            + [s.id for s in self.rs_of]
            + [
                f"{self.fc_of[r].id}/{'+'.join(sc.channels[c].id for c in ch)}"
                for r, ch in zip(self.pool_region, self.pool_channels, strict=True)
            ]
        )
        daily_on_hand = np.zeros((T, len(node_names)))
        daily_in_transit = np.zeros((T, len(node_names)))
        daily_demand = np.zeros(T)
        daily_sales = np.zeros(T)
        conservation = np.zeros((T, 5), np.int64)
        demand_rcs = np.zeros((R, C, S), np.int64)
        sales_rcs = np.zeros((R, C, S), np.int64)
        instock = np.zeros((P, S), np.int64)
        onhand_sum_s = np.zeros(S)
        onhand_sum_node = np.zeros(len(node_names))
        hist = np.zeros((sc.days, P, self.history_skus), np.int32) if self.history_skus else None
        margin = self.demand.unit_value_usd * sc.catalogue.margin_share
        tariffs = (
            sc.origin.hub_storage_usd_per_unit_day,
            np.array([s.storage_usd_per_unit_day for s in self.rs_of]),
            np.array([f.storage_usd_per_unit_day for f in self.fc_of])[self.pool_region],
        )
        pooled = sc.network.pool_channels and C > 1
        self._initial_stock()
        for day in range(T):
            self.env.run(until=day + 1)
            self._apply_arrivals(day)
            self._receive_dock(day)
            self._sellable(day)
            # demand: (R, C, S) -> pools (P, S); sales are first come first served inside a pool
            mean_rcs = self.demand.mean(day)
            d_rcs = self.demand.draw(mean_rcs)
            if pooled:
                d_pool, m_pool = d_rcs.sum(axis=1), mean_rcs.sum(axis=1)
            elif sc.network.pool_channels:
                d_pool, m_pool = d_rcs[:, 0, :], mean_rcs[:, 0, :]
            else:
                d_pool, m_pool = d_rcs.reshape(P, S), mean_rcs.reshape(P, S)
            in_stock = self.fc > 0
            sales = np.minimum(self.fc, d_pool)
            self.fc -= sales
            n_sold = int(sales.sum())
            self.sold += n_sold
            window = day >= W
            if window:
                k = day - W
                lost_units = d_pool - sales
                self._cost("lost_margin_usd", self.env.now, float((lost_units.sum(axis=0)) @ margin))
                if pooled:  # split pool sales back to channels in proportion to their demand
                    share = np.divide(sales, np.maximum(d_pool, 1))
                    ch_sales = np.floor(d_rcs[:, 1:, :] * share[:, None, :]).astype(np.int64)
                    sales_rcs[:, 1:, :] += ch_sales
                    sales_rcs[:, 0, :] += sales - ch_sales.sum(axis=1)
                elif sc.network.pool_channels:  # a single channel
                    sales_rcs[:, 0, :] += sales
                else:
                    sales_rcs += sales.reshape(R, C, S)
                demand_rcs += d_rcs
                instock += in_stock
                if hist is not None:
                    hist[k] = d_pool[:, : self.history_skus]
                if k // 7 < n_weeks:
                    weekly_demand[k // 7] += d_pool.sum(axis=0)
            # forecasts see the demand of their stock points (echelon demand above the FC)
            self.f_fc.update(d_pool, m_pool)
            if self.f_rs is not None:
                d_reg = d_rcs.sum(axis=1)
                self.f_rs.update(d_reg, mean_rcs.sum(axis=1))
                if self.f_hub is not None:
                    self.f_hub.update(d_reg.sum(axis=0, keepdims=True), mean_rcs.sum(axis=(0, 1))[None, :])
            # storage, charged on end-of-day stock
            if window:
                self._cost("storage_hub_usd", self.env.now, tariffs[0] * float(self.hub.sum()))
                if self.flow != "direct":
                    self._cost("storage_rs_usd", self.env.now, float(tariffs[1] @ self.rs.sum(axis=1)))
                self._cost("storage_fc_usd", self.env.now, float(tariffs[2] @ self.fc.sum(axis=1)))
            # decisions: FC tier, then the lane tier, then the hub
            for tier in tiers:
                self._execute(day, tier, self._decide(day, tier))
            # records
            per_node_oh = (
                ([self.hub.sum()] if self.flow == "hub" else [])
                + list(self.rs.sum(axis=1)[: len(self.rs_of)])
                + list(self.fc.sum(axis=1))
            )
            per_node_it = (
                ([self.pipe["hub"].sum()] if self.flow == "hub" else [])
                + list(self.pipe["rs"].sum(axis=1)[: len(self.rs_of)])
                + list(self.pipe["fc"].sum(axis=1))
            )
            daily_on_hand[day] = per_node_oh
            daily_in_transit[day] = per_node_it
            daily_demand[day] = d_pool.sum()
            daily_sales[day] = n_sold
            on_hand_total = int(self.hub.sum() + self.rs.sum() + self.fc.sum())
            in_transit_total = int(sum(p.sum() for p in self.pipe.values()))
            conservation[day] = (self.units_in, on_hand_total, in_transit_total, self.sold, self.lost)
            if window:
                onhand_sum_s += self.hub + self.rs.sum(axis=0) + self.fc.sum(axis=0)
                onhand_sum_node += per_node_oh
            if progress is not None:
                progress(day)
        shipments = list(self.ship_log)
        # FC-bound shipments: available when their last part became sellable
        done: dict[int, list] = {}
        for sid, pool, _units, dispatch_d, dock_d, sell_d in self.sellable_log:
            rec = done.setdefault(sid, [pool, dispatch_d, dock_d, sell_d])
            rec[3] = max(rec[3], sell_d)
        for sid, (pool, dispatch_d, dock_d, sell_d) in done.items():
            lane, mode, kind, units, _ = self.meta[sid]
            shipments.append((sid, "fc", pool, lane, mode, kind, units, dispatch_d, sell_d, dock_d))
        shipments.sort(key=lambda s: s[0])
        return RunResult(
            scene=sc,
            policy=self.policy_name,
            warmup_days=W,
            days=sc.days,
            node_names=node_names,
            daily_on_hand=daily_on_hand,
            daily_in_transit=daily_in_transit,
            daily_demand=daily_demand,
            daily_sales=daily_sales,
            conservation=conservation,
            demand_rcs=demand_rcs,
            sales_rcs=sales_rcs,
            instock_days_ps=instock,
            onhand_sum_s=onhand_sum_s,
            onhand_sum_node=onhand_sum_node,
            pool_region=self.pool_region,
            pool_channels=self.pool_channels,
            costs_usd=dict(self.costs),
            shipments=shipments,
            weekly_orders=self.weekly_orders,
            weekly_demand=weekly_demand,
            dock_arrivals=[(t, sid, r, q) for t, sid, r, _p, q in self.dock_log],
            disruptions=self.dis.disruptions,
            inactive_disruptions=self.dis.inactive(),
            forecast_history=hist,
            intermittent=self.demand.intermittent,
            unit_value_usd=self.demand.unit_value_usd,
        )

    def _decide(self, day: int, tier: str) -> list[Order]:
        view = self._view(day, tier)
        if tier == "fc" and self.lane_tier != "fc":
            return self.fc_policy.decide(view)
        if tier == "hub":
            from .policies import BaseStock

            return BaseStock().decide(view)
        return self.policy.decide(view)


def _allocate(want: np.ndarray, avail: np.ndarray) -> np.ndarray:
    """Split ``avail`` (S,) over requests ``want`` (K, S): all when enough, else proportional, floored."""
    tot = want.sum(axis=0)
    short = tot > avail
    if not short.any():
        return want
    scale = np.where(short, avail / np.maximum(tot, 1), 1.0)
    return np.floor(want * scale[None, :]).astype(np.int64)


def simulate(
    scene: InboundScene,
    *,
    seed: int,
    rep: int = 0,
    disruptions: list[DisruptionSpec] = (),
    policy: str | None = None,
    regime: bool = False,
    progress: Callable[[int], None] | None = None,
    history_skus: int = 500,
) -> RunResult:
    """Run one replication. Replication ``rep`` uses child ``rep`` of ``SeedSequence(seed)``; every policy and
    disruption variant with the same (seed, rep) sees the same demand and the same stage draws."""
    ss = np.random.SeedSequence(seed, spawn_key=(rep,))
    model = InboundModel(
        scene,
        seed_seq=ss,
        disruptions=list(disruptions),
        policy=policy,
        regime=regime,
        history_skus=history_skus,
    )
    return model.run(progress)
