"""Parameters of the five cross-border models (the ``[crossborder]`` scene section), with their sources.

Every default is either from the public record (FACTS.md, Amazon's US fee pages, the 2025 executive orders on
de minimis) or a named assumption; docs/inbound.md has the table. Money is US dollars, volumes cubic feet,
weights pounds, times days.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from .dists import Const, Dist, Uniform

__all__ = ["CrossBorderCfg", "Outbound", "MODELS", "MARKETS"]

MODELS = ("direct_ship", "global_warehouse", "asia_warehouse", "fba_crossborder", "virtual_warehouse")
MARKETS = ("us", "asia")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _u(lo: float, hi: float) -> Uniform:
    return Uniform(dist="uniform", low=lo, high=hi)


class Outbound(_Frozen):
    """Delivery of one order (one unit) from a model's stock point to a customer in one market."""

    delivery_d: Dist
    usd_per_parcel: float = Field(ge=0)
    usd_per_lb: float = Field(ge=0)
    parcel_customs: bool = Field(default=False, description="crosses a border as a parcel (US market)")


class CrossBorderCfg(_Frozen):
    # --- SKU physical attributes and customer promise (assumptions: a small-goods seller's catalogue)
    median_volume_cuft: float = Field(default=0.1, gt=0, description="0.1 cu ft/unit as the storage tariffs")
    sigma_volume: float = Field(default=0.9, ge=0, le=3)
    density_lb_per_cuft: float = Field(default=8.0, gt=0)
    promise_days: tuple[int, ...] = (2, 5, 10, 20)
    promise_shares: tuple[float, ...] = (0.35, 0.30, 0.20, 0.15)
    late_promise_loss: float = Field(
        default=0.20, ge=0, le=1, description="demand lost when p95 delivery exceeds the SKU's promise"
    )
    customs_value_share: float = Field(
        default=0.40, gt=0, le=1, description="declared (factory) value / selling price"
    )
    fading_share: float = Field(default=0.15, ge=0, le=1, description="SKUs whose demand fades (end of life)")
    fading_to: float = Field(default=0.2, ge=0, le=1, description="demand left after one year of fading")
    # --- the Asian demand region (served by the Asia warehouse); its season peaks on 11.11
    asia_demand_share: float = Field(default=0.25, ge=0, description="Asian demand / US demand")
    asia_peak_day_of_year: int = Field(default=315, ge=0, le=365)
    asia_yearly_amplitude: float = Field(default=0.35, ge=0, lt=1)
    asia_regional_sigma: float = Field(default=0.6, ge=0, le=3, description="SKU mix differs from the US")
    asia_duty_rate: float = Field(default=0.08, ge=0, le=1, description="assumption: VAT/GST-like import tax")
    # --- US customs for parcels (de minimis): EO 14256, Section 321 ended for China/HK origin 2 May 2025
    de_minimis_end: dt.date = dt.date(2025, 5, 2)
    de_minimis_usd: float = 800.0
    parcel_entry_fee_usd: float = Field(default=2.5, ge=0, description="assumption: broker/entry per parcel")
    parcel_release_d: Dist = _u(0.2, 1.0)
    parcel_exam_share_before: float = Field(default=0.01, ge=0, le=1, description="assumption")
    parcel_exam_share_after: float = Field(default=0.05, ge=0, le=1, description="assumption")
    parcel_exam_d: Dist = _u(3.0, 10.0)
    parcel_loss_share: float = Field(default=0.005, ge=0, le=0.2, description="assumption: lost parcels")
    # --- replenishment of every stock point
    review_d: int = Field(default=7, ge=1, le=90)
    service_z: float = Field(default=1.65, ge=0, le=5)
    capital_rate_per_year: float = Field(default=0.10, ge=0, le=1, description="cost of working capital")
    # --- inbound legs (to each model's stock point)
    factory_to_seller_wh_d: Dist = _u(3.0, 7.0)  # direct ship: seller's own warehouse in China
    seller_wh_storage_usd_cuft_month: float = 0.30  # assumption
    global_wh_receive_d: Dist = _u(1.0, 3.0)  # after origin.seller_to_hub_d
    global_wh_storage_usd_cuft_month: float = 0.40  # assumption
    global_wh_fee_usd_per_unit: float = 1.0  # assumption: storage/sort/handover by Amazon
    asia_wh_inbound_d: Dist = _u(3.0, 10.0)  # short-sea / truck from the factory
    asia_wh_inbound_usd_per_cuft: float = 1.0  # assumption
    asia_wh_storage_usd_cuft_month: float = 0.40  # assumption
    ocean_usd_per_cuft: float = 3.5  # scene: 0.35 $/unit at 0.1 cu ft (~$3,500 per 40 ft HC)
    fba_storage_usd_cuft_month: float = 0.78  # Amazon FBA monthly storage, standard size, Jan-Sep (2024)
    fba_storage_peak_usd_cuft_month: float = 2.40  # Oct-Dec
    fba_placement_usd_per_unit: float = (
        0.27  # assumption (2024 inbound placement fee, minimal split ~0.2-0.7)
    )
    fba_small_fee_usd: float = (
        3.22  # FBA fulfillment fee 2024, small standard (approximation of the rate card)
    )
    fba_large_fee_usd: float = 3.86  # large standard, first lb
    fba_large_usd_per_lb: float = 0.64  # large standard, per lb over 1 (approximation: $0.16 per 4 oz)
    fba_bulky_fee_usd: float = 9.61  # large bulky, first lb
    fba_bulky_usd_per_lb: float = 0.38
    # FBA aged-inventory surcharge, US, from 15 Apr 2023 (FACTS.md): (from age d, $ per cu ft), assessed on
    # the 15th
    aged_tiers: tuple[tuple[int, float], ...] = (
        (181, 0.50),
        (211, 1.00),
        (241, 1.50),
        (271, 3.80),
        (301, 4.00),
        (331, 4.20),
        (366, 6.90),
    )
    aged_min_usd_per_unit_over_365: float = 0.15
    tpl_receive_d: Dist = _u(1.0, 3.0)
    tpl_receive_usd_per_unit: float = 0.25  # assumption
    tpl_storage_usd_cuft_month: float = 0.60  # assumption (US 3PL pallet rates ~ $15-25/pallet/month)
    tpl_capacity_units_per_day: float = Field(default=1200.0, gt=0, description="3PL pick/pack limit")
    tpl_storage_capacity_cuft: float = Field(default=4000.0, gt=0, description="3PL space; overflow 2x")
    tpl_max_backlog_d: float = Field(default=3.0, gt=0, description="orders waiting longer are cancelled")
    # --- outbound per model and market (assumptions unless named)
    direct_ship_us: Outbound = Outbound(
        delivery_d=_u(7.0, 15.0), usd_per_parcel=2.5, usd_per_lb=4.0, parcel_customs=True
    )
    direct_ship_asia: Outbound = Outbound(delivery_d=_u(4.0, 8.0), usd_per_parcel=1.5, usd_per_lb=2.0)
    global_warehouse_us: Outbound = Outbound(
        delivery_d=_u(4.0, 8.0), usd_per_parcel=3.0, usd_per_lb=3.6, parcel_customs=True
    )
    global_warehouse_asia: Outbound = Outbound(delivery_d=_u(2.0, 5.0), usd_per_parcel=2.0, usd_per_lb=1.8)
    asia_warehouse_us: Outbound = Outbound(
        delivery_d=_u(6.0, 12.0), usd_per_parcel=3.0, usd_per_lb=4.0, parcel_customs=True
    )
    asia_warehouse_asia: Outbound = Outbound(delivery_d=_u(1.0, 3.0), usd_per_parcel=2.0, usd_per_lb=0.5)
    fba_crossborder_us: Outbound = Outbound(delivery_d=_u(1.0, 2.0), usd_per_parcel=0.0, usd_per_lb=0.0)
    fba_crossborder_asia: Outbound = Outbound(delivery_d=_u(7.0, 14.0), usd_per_parcel=5.0, usd_per_lb=3.0)
    virtual_warehouse_us: Outbound = Outbound(delivery_d=_u(2.0, 5.0), usd_per_parcel=6.0, usd_per_lb=0.6)
    virtual_warehouse_asia: Outbound = Outbound(delivery_d=_u(7.0, 14.0), usd_per_parcel=5.0, usd_per_lb=3.0)
    tpl_pick_pack_usd_per_unit: float = 2.5  # assumption
    # --- the seller assistant (aged inventory)
    assistant_horizon_d: int = Field(default=45, ge=1, description="warn this long before a tier is reached")
    awd_storage_usd_cuft_month: float = 0.48  # Amazon AWD 2024
    awd_transfer_usd_per_unit: float = 0.40  # assumption (scene transfer cost)
    removal_fee_usd_per_unit: float = 1.04  # FBA removal order fee 2024, small standard, first 0.5 lb
    discount_share: float = Field(default=0.15, ge=0, lt=1)
    price_elasticity: float = Field(default=2.0, ge=0, description="assumption: demand lift (1-d)^-e")
    redecide_d: int = Field(default=28, ge=1, description="the chooser re-decides this often")
    zero_d: Dist = Const(dist="const", value=0.0)

    def outbound(self, model: str, market: str) -> Outbound:
        return getattr(self, f"{model}_{market}")
