"""The charging threshold's candidate plans for the agent: raise it when the fleet runs low together,
and give it back to the plan once the fleet has recovered.

The lever is the dispatcher's opportunity-charging threshold (an idle unit at or below it goes to a
free pad, `SetChargeThreshold`). Raised, idle units top up early, so they do not all reach their
low level together and leave the floor at once (the battery wave: the whole fleet starting at 30%
on four pads). Raised for good, it costs: a unit idle at 65% then spends a pad's time charging to
95% instead of taking the next trip, and while pads are short the units that really need one wait
behind it. So the agent that raises it must be able to give it back, as the shift lead does
(`shiftlead.py`, rule 4): before this, the agent's raised threshold stayed until the shift's end.

Both directions use the same measure and a hysteresis band, so the two plans cannot chase each
other: the share of the fleet below 40% charge (the digest's first two battery bins). Raise when
it is over ``RAISE_SHARE`` and the plan's threshold is in force; back to the plan when it is under
half of that and the agent's raised threshold is in force. The raise is a bet (it must beat doing
nothing in the lookahead like any plan); the way back is the plan's own setting, so it is taken
whenever it keeps service (`ElunaAgent` treats it like a lent person going home).
"""

from __future__ import annotations

from fctwin.controller.eluna.actions import Action, SetChargeThreshold

RAISE_SHARE = 0.3  # raise when more than this share of the fleet is below LOW_FRAC
BACK_SHARE = RAISE_SHARE / 2  # back to the plan when under this share (hysteresis)
LOW_BINS = 2  # the digest's battery_hist has 5 bins of 20%: the first two are below 40% charge
RAISE_BY = 0.2  # the raised threshold: the plan's plus this, at most RAISE_MAX
RAISE_MAX = 0.8


def low_share(dg: dict) -> float:
    """Share of the fleet below 40% charge, from the digest's battery histogram."""
    hist = dg["battery_hist"]
    return sum(hist[:LOW_BINS]) / max(1, sum(hist))


def raised_frac(plan_frac: float) -> float:
    return min(RAISE_MAX, plan_frac + RAISE_BY)


def raise_plans(dg: dict, *, plan_frac: float, now_frac: float) -> list[list[Action]]:
    """Raise the threshold when the fleet runs low together and the plan's threshold is in force."""
    raised = raised_frac(plan_frac)
    if raised > plan_frac and abs(now_frac - plan_frac) < 1e-9 and low_share(dg) > RAISE_SHARE:
        return [[SetChargeThreshold(raised)]]
    return []


def back_to_plan_plans(dg: dict, *, plan_frac: float, now_frac: float) -> list[list[Action]]:
    """Give the threshold back to the plan once the agent has moved it and the fleet has recovered
    (under ``BACK_SHARE`` of it below 40% charge)."""
    if abs(now_frac - plan_frac) >= 1e-9 and low_share(dg) < BACK_SHARE:
        return [[SetChargeThreshold(plan_frac)]]
    return []


__all__ = [
    "BACK_SHARE",
    "RAISE_SHARE",
    "back_to_plan_plans",
    "low_share",
    "raise_plans",
    "raised_frac",
]
