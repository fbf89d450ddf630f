"""A stower lent to pick and held there through the charging wave, decided on what the floor shows.

Scene ``[agent] charging_lend`` (`ElunaAgent.charging_lend`; off by default: docs/eluna_s17_battery17.md).

When the fleet's charge runs out together, drive units queue for the pads for about two hours
(eluna_battery: 16-24 units waiting for 4 pads) and orders pile up (200-300 open lines). The shift
lead (b) lends a stower to pick then and keeps them there; with no floater that lend alone bought
order-cycle p95 -7% to -12% against the static plan at no labour cost (docs/eluna_s13_lead13.md).
The agent rolls the same lend forward but never takes it: at one decision its effect over 30
minutes is about -1% of p95 against a paired noise of 7.5% (docs/eluna_s16_svc16.md), so no
per-decision proof can see what the lend buys over the two hours it is held.

**Why it helps (measured before the rule, docs/eluna_s17_battery17.md).** On the two charging
training floors (train_p5_lowcharge, train_p3_deepcharge, seeds 101-104), a fixed manager that moves
one person only while units wait for the pads: a stower lent to pick cut the p95 on 8 of 8 seeds
(-3% to -13%) at the same or more units an hour; the same stower sent off the floor instead (fewer
stow trips, no extra picker) raised it on 7 of 8; a floater added to pick (an extra picker, stow
untouched) cut it like the lend. During the wave pods still queue at every pick station (2.4-3.4 on
average): the pickers, not the drive units, hold the pods, and a second person at a station sends
its units back sooner. The lend does *not* free drive units from stow trips: with a stow station
closed, its cartons queue at the others, and the units on stow trips rose on three seeds and stayed
within 0.2 on five.

**The rule.** Every decision, from the digest:
- the charging wave shows (`on_wave`): at least as many units wait for a pad as there are pads;
- pick is pressed: pick's work now or 30 minutes ahead over the agent's gate (the agent's pressure);
- pick's people are the bound (`people_bound`): pods queue (`PODS_QUEUED` or more) at an open pick
  station, as the shift lead's rule reads it;
- a stower stands without a pod (`choose`): a stow station with people, no pod queued, and another
  stow station open; the agent's own lend check holds (stow stays under the gate an hour ahead
  without them, `ElunaAgent._lend_ok`);
- nobody is held by this rule already (`MAX_HELD`).

Then one stower goes from the stow station with the fewest pods coming to the open pick station
with the fewest people (then the most pods queued). No lookahead proof is asked; the lookahead may
still veto it on efficiency (`kept`): a lend costs no labour, so efficiency is units, and the lend
is refused when its 30-minute units fall more than one sample's noise (`VETO_UNITS_SHARE`) below
doing nothing's.

**The hold and the way home.** The person is in the agent's ``lent`` list, so the ordinary ways
home apply (`ElunaAgent._return_plans`), with one change: while the wave shows, "the kind they went
to is quiet without them" does not send them home (the backlog comes back as long as units queue
for the pads). Stow pressed an hour ahead sends them home at once, wave or not; once no unit waits
for a pad the ordinary rule brings them home when pick is quiet without them.

**Prediction and score.** The recommendation predicts a shorter order cycle over the wave: the
order-cycle p95 of every order the floor sees from the decision to the wave's projected end
(`Forecaster.pad_queue_path`, at least the ordinary horizon, at most `SCORE_CAP_MIN`), the finished
at their cycle and the open at their age, below that of the run's own future without the lend (the
paired fork that scores every applied recommendation). It is scored on that sign
(`service_move.realised_sign`), not on J: a lend held for service has a J gain inside the noise.
"""

from __future__ import annotations

from fctwin.controller.eluna.actions import MoveAssociates

# Pods queued at an open pick station: its people are the bound, another person there serves more
# (the shift lead's ``pods_waiting``; below it a person waits for robots).
PODS_QUEUED = 2
# People held at pick by this rule at once. The mechanism was measured with one (training floors);
# a second was not measured.
MAX_HELD = 1
# The lookahead's veto: the lend's units over the ordinary horizon at least this share of doing
# nothing's on the same sampled future. One sample's paired noise of the lend's units over 30
# minutes on the battery floor: sd 28.6 units of ~650 (4.4%, docs/eluna_s16_svc16.md), so a lend is
# refused only on a loss past about one deviation, never on the noise of an even future.
VETO_UNITS_SHARE = 0.95
# The prediction is scored over the wave's projected end, capped (the charging-wave horizon's cap,
# `agent.CHARGING_WAVE_CAP_MIN`: beyond two hours the rest of the floor has changed too much).
SCORE_CAP_MIN = 120
# what the recommendation's ``predicted`` carries (`ElunaAgent._score_service` reads it)
KEY = "charging_lend"


def on_wave(dg: dict) -> bool:
    """Whether the floor shows the charging wave: at least as many drive units wait for a pad as
    there are pads (the digest's ``fleet``)."""
    fl = dg.get("fleet") or {}
    pads = int(fl.get("pads", 0) or 0)
    return pads > 0 and int(fl.get("waiting_pad", 0) or 0) >= pads


def people_bound(dg: dict, kinds: dict[str, str]) -> bool:
    """Whether pods queue for people at an open pick station (`PODS_QUEUED` or more)."""
    return any(
        kinds.get(s["id"]) == "pick" and s["associates"] > 0 and s.get("queued_pods", 0) >= PODS_QUEUED
        for s in dg["stations"]
    )


def choose(
    dg: dict, staffed: dict[str, int], kinds: dict[str, str], down: set[str], max_per_station: int
) -> MoveAssociates | None:
    """The lend: from the stow station with people and no pod queued that has the fewest pods on
    the way (then the fewest cartons open, then the last by id: the plan's stations are filled in
    order), to the open pick station with the fewest people (then the most pods queued, then the
    first by id). None when no stower stands without a pod, the lend would close the last open stow
    station, or no open pick station has room."""
    st = {s["id"]: s for s in dg["stations"]}
    open_stow = [s for s, n in staffed.items() if kinds.get(s) == "stow" and n > 0 and s not in down]
    if len(open_stow) < 2 and not any(staffed[s] >= 2 for s in open_stow):
        return None
    sources = [s for s in open_stow if st.get(s, {}).get("queued_pods", 0) == 0]
    if len(open_stow) < 2:  # one open stow station with 2 or more people: it stays open
        sources = [s for s in sources if staffed[s] >= 2]
    targets = [
        s
        for s, n in staffed.items()
        if kinds.get(s) == "pick" and 0 < n < max_per_station and s not in down and s in st
    ]
    if not sources or not targets:
        return None

    def src_key(s: str) -> tuple:
        x = st.get(s, {})
        return (x.get("pods_on_way", 0), x.get("open_lines", 0), [-ord(c) for c in s])

    src = min(sources, key=src_key)
    dst = min(targets, key=lambda s: (staffed[s], -st[s].get("queued_pods", 0), s))
    return MoveAssociates(src, dst, 1)


def kept(r: dict, r0: dict) -> bool:
    """The lookahead's veto, on one sampled future: the lend's units over the horizon at least
    `VETO_UNITS_SHARE` of doing nothing's (a lend costs no labour: efficiency is units)."""
    units = r["units_picked"] + r["units_stowed"]
    return units >= VETO_UNITS_SHARE * (r0["units_picked"] + r0["units_stowed"])


def score_horizon_min(queue: list[float] | None, pads: int, base_min: int, period_min: int) -> int:
    """Minutes over which the lend's prediction is scored: until the projected pad queue (one value
    a minute, `Forecaster.pad_queue_path`) falls below the pads, rounded up to the decision period,
    at least ``base_min`` (the ordinary horizon) and at most `SCORE_CAP_MIN`."""
    if not queue:
        return base_min
    gone = next((k + 1 for k, n in enumerate(queue) if n < pads), len(queue))
    gone = period_min * -(-gone // period_min)
    return max(base_min, min(SCORE_CAP_MIN, gone))


def predicted(horizon_min: int, r: dict, r0: dict) -> dict:
    """What the lend predicts (the sign the score reads: the all-orders p95 over ``horizon_min``
    below the run's own future without it), with the 30-minute lookahead's sample beside it
    (``r`` the lend's, ``r0`` doing nothing's; evidence, not the prediction)."""
    return {
        "predicts": "order-cycle p95 of every order seen over the horizon lower than without the lend",
        "horizon_min": horizon_min,
        "lookahead_cycle_p95_all_s": r.get("cycle_p95_all_s"),
        "lookahead_nothing_cycle_p95_all_s": r0.get("cycle_p95_all_s"),
        "lookahead_open_pick_units": r.get("open_pick_units"),
        "lookahead_nothing_open_pick_units": r0.get("open_pick_units"),
    }


def describe(pred: dict) -> str:
    """The recommendation's words for it."""
    return (
        f"charging wave: held at pick until the wave clears; predicted: order cycle p95 over the next "
        f"{pred['horizon_min']} min lower than without the lend, at no labour cost"
    )
