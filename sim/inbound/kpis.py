"""KPIs of one run, and their means with confidence intervals over replications (seeds).

Definitions (KPI window only, warm-up excluded):
- fill rate: units sold / units demanded (lost sales; per SKU, node, channel, total);
- in-stock rate: share of SKU-days an FC pool had sellable stock at the start of the day (after receiving);
  stockout days = the complement, in days per SKU and pool;
- days of supply: average on hand (all nodes) / average daily demand; inventory turns: annualised sales /
average
  on hand;
- landed cost: freight by mode, expedite premium (air minus primary-lane freight), inland, handling,
transfers,
  storage by node type, duties; per unit sold; lost margin reported beside it;
- lead times, units-weighted p50/p90: lane leg (door to the node it ships to: FC sellable for flow "direct",
  regional storage otherwise), door to sellable (lane leg plus the regional-storage-to-FC leg, paired at
  random
  with a fixed generator), dock to stock at the FC;
- time to recover: days from the first disruption's start until the trailing 7-day fill rate is back within
1 pp
  of its 28-day pre-disruption level, after first falling below it (0 when it never fell; NaN if not in the
  run);
- bullwhip: variance of weekly units ordered by a tier / variance of weekly units demanded (all SKUs
summed), and
  the median over SKUs of the per-SKU ratio.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from .network import RunResult

__all__ = ["run_kpis", "summarize", "paired", "flatten"]


def _wq(x: np.ndarray, w: np.ndarray, q: float) -> float:
    if x.size == 0:
        return float("nan")
    o = np.argsort(x, kind="stable")
    cw = np.cumsum(w[o])
    return float(x[o][min(int(np.searchsorted(cw, q * cw[-1])), x.size - 1)])


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b else float("nan")


def _recovery_d(res: RunResult) -> float:
    if not res.disruptions:
        return float("nan")
    d0 = min(d.start_d for d in res.disruptions)
    dem, sal = res.daily_demand, res.daily_sales
    start = int(d0)
    if start < 28 or start >= dem.size:
        return float("nan")
    base = _ratio(sal[start - 28 : start].sum(), dem[start - 28 : start].sum())
    roll = np.convolve(sal, np.ones(7), "full")[: dem.size] / np.maximum(
        np.convolve(dem, np.ones(7), "full")[: dem.size], 1
    )
    below = np.nonzero(roll[start:] < base - 0.01)[0]
    if below.size == 0:
        return 0.0
    first = start + int(below[0])
    back = np.nonzero(roll[first:] >= base - 0.01)[0]
    return float(first + back[0] - d0) if back.size else float("nan")


def _bullwhip(orders: np.ndarray, demand: np.ndarray) -> tuple[float, float]:
    if orders.shape[0] < 3:
        return float("nan"), float("nan")
    tot = _ratio(float(np.var(orders.sum(axis=1))), float(np.var(demand.sum(axis=1))))
    vd = demand.var(axis=0)
    ok = vd > 0
    per = np.median(orders.var(axis=0)[ok] / vd[ok]) if ok.any() else float("nan")
    return tot, float(per)


def run_kpis(res: RunResult) -> dict:
    """All KPIs of one run as a nested dict of floats (total, per node, per channel, per region) plus per-SKU
    arrays under ``"per_sku"`` (numpy, not JSON)."""
    sc = res.scene
    days = res.days
    dem, sal = res.demand_rcs, res.sales_rcs
    sold = float(sal.sum())
    demanded = float(dem.sum())
    avg_on_hand = float(res.onhand_sum_node.sum()) / days
    avg_demand_d = demanded / days
    costs = dict(res.costs_usd)
    landed = {k: v for k, v in costs.items() if k != "lost_margin_usd"}
    landed_total = sum(landed.values())
    storage = sum(v for k, v in costs.items() if k.startswith("storage"))
    ships = res.shipments
    lane = [s for s in ships if s[3] is not None]
    domestic_fc = [s for s in ships if s[3] is None and s[1] == "fc" and s[5] != "transfer"]
    fc_ships = [s for s in ships if s[1] == "fc" and not math.isnan(s[9])]

    def arr(rows, f):
        return np.array([f(s) for s in rows], dtype=float)

    lane_lt, lane_w = arr(lane, lambda s: s[8] - s[7]), arr(lane, lambda s: s[6])
    if sc.network.flow == "direct" or not domestic_fc or not lane:
        d2s, d2s_w = lane_lt, lane_w
    else:
        rng = np.random.default_rng(12345)
        dom_lt, dom_w = arr(domestic_fc, lambda s: s[8] - s[7]), arr(domestic_fc, lambda s: s[6])
        i = rng.choice(lane_lt.size, 4000, p=lane_w / lane_w.sum())
        j = rng.choice(dom_lt.size, 4000, p=dom_w / dom_w.sum())
        d2s, d2s_w = lane_lt[i] + dom_lt[j], np.ones(4000)
    d2s_lt = arr(fc_ships, lambda s: s[8] - s[9])
    d2s_lt_w = arr(fc_ships, lambda s: s[6])
    P = res.instock_days_ps.shape[0]
    instock_rate_ps = res.instock_days_ps / days
    total = {
        "fill_rate": _ratio(sold, demanded),
        "in_stock_rate": float(instock_rate_ps.mean()),
        "stockout_days_per_sku": float((days - res.instock_days_ps).sum(axis=0).mean() / P),
        "days_of_supply": _ratio(avg_on_hand, avg_demand_d),
        "inventory_turns": _ratio(sold / days * 365.0, avg_on_hand),
        "units_demanded": demanded,
        "units_sold": sold,
        "landed_cost_usd": landed_total,
        "landed_cost_usd_per_unit": _ratio(landed_total, sold),
        "storage_cost_usd": storage,
        "lost_margin_usd": costs["lost_margin_usd"],
        "air_share_of_lane_units": _ratio(sum(s[6] for s in lane if s[4] == "air"), sum(s[6] for s in lane)),
        "lane_lead_time_p50_d": _wq(lane_lt, lane_w, 0.5),
        "lane_lead_time_p90_d": _wq(lane_lt, lane_w, 0.9),
        "door_to_sellable_p50_d": _wq(d2s, d2s_w, 0.5),
        "door_to_sellable_p90_d": _wq(d2s, d2s_w, 0.9),
        "dock_to_stock_p50_d": _wq(d2s_lt, d2s_lt_w, 0.5),
        "dock_to_stock_p90_d": _wq(d2s_lt, d2s_lt_w, 0.9),
        "time_to_recover_d": _recovery_d(res),
    }
    for tier, orders in res.weekly_orders.items():
        tot, per = _bullwhip(orders, res.weekly_demand)
        total[f"bullwhip_{tier}"] = tot
        total[f"bullwhip_{tier}_sku_median"] = per
    for k, v in costs.items():
        total[f"cost.{k}"] = v
    nodes = {}
    for i, name in enumerate(res.node_names):
        avg = float(res.onhand_sum_node[i]) / days
        nodes[name] = {"avg_on_hand_units": avg, "days_of_supply": _ratio(avg, avg_demand_d)}
    for p in range(P):
        r = int(res.pool_region[p])
        chans = list(res.pool_channels[p])
        name = res.node_names[len(res.node_names) - P + p]
        nodes[name].update(
            {
                "fill_rate": _ratio(float(sal[r][chans].sum()), float(dem[r][chans].sum())),
                "in_stock_rate": float(instock_rate_ps[p].mean()),
            }
        )
    channels = {
        c.id: {"fill_rate": _ratio(float(sal[:, i].sum()), float(dem[:, i].sum()))}
        for i, c in enumerate(sc.channels)
    }
    regions = {
        rg.id: {"fill_rate": _ratio(float(sal[i].sum()), float(dem[i].sum()))}
        for i, rg in enumerate(sc.regions)
    }
    sku_dem = dem.sum(axis=(0, 1))
    per_sku = {
        "fill_rate": np.where(sku_dem > 0, sal.sum(axis=(0, 1)) / np.maximum(sku_dem, 1), 1.0),
        "stockout_days": (days - res.instock_days_ps).mean(axis=0),
        "in_stock_rate": instock_rate_ps.mean(axis=0),
        "days_of_supply": res.onhand_sum_s / days / np.maximum(sku_dem / days, 1e-9),
    }
    return {"total": total, "nodes": nodes, "channels": channels, "regions": regions, "per_sku": per_sku}


def flatten(k: dict) -> dict[str, float]:
    """Scalar KPIs as dotted keys (per-SKU arrays left out)."""
    out = {}
    for section in ("total", "nodes", "channels", "regions"):
        for key, val in k[section].items():
            if isinstance(val, dict):
                for k2, v2 in val.items():
                    out[f"{section}.{key}.{k2}"] = float(v2)
            else:
                out[f"{section}.{key}"] = float(val)
    return out


def _ci(x: np.ndarray, level: float = 0.95) -> dict[str, float]:
    x = x[~np.isnan(x)]
    if x.size == 0:
        return {"mean": float("nan"), "lo": float("nan"), "hi": float("nan"), "n": 0}
    m = float(x.mean())
    if x.size < 2:
        return {"mean": m, "lo": float("nan"), "hi": float("nan"), "n": 1}
    h = float(stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size))
    return {"mean": m, "lo": m - h, "hi": m + h, "n": int(x.size)}


def summarize(reps: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Mean and 95 % t-interval over replications of flattened KPIs."""
    keys = reps[0].keys()
    return {k: _ci(np.array([r.get(k, float("nan")) for r in reps], dtype=float)) for k in keys}


def paired(a: list[dict[str, float]], b: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Paired differences b - a over the same seeds (common random numbers), mean and 95 % interval; ``rel``
    is
    the mean relative change (b - a) / a."""
    out = {}
    for k in a[0]:
        x = np.array([ra[k] for ra in a], dtype=float)
        y = np.array([rb.get(k, float("nan")) for rb in b], dtype=float)
        d = _ci(y - x)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = _ci(np.where(x != 0, (y - x) / np.abs(x), np.nan))
        out[k] = {**d, "rel_mean": rel["mean"], "rel_lo": rel["lo"], "rel_hi": rel["hi"]}
    return out
