"""Candidate plans on the floor levers, for the agent's lookahead (`ElunaAgent.candidate_hooks`).

Enabled per scene with ``[agent] floor_levers = ["release", "traffic", "preposition"]`` (default:
none, so the agent's behaviour and the benchmark figures stand). Each generator proposes a plan
only when the mechanism it pulls is plausibly the bottleneck; the lookahead (common random
numbers, the agent's objective and service guard) decides whether it beats doing nothing, exactly
as for the staffing plans. Generators only read the digest and the dispatcher: advise mode leaves
the event log unchanged.

- **release**: weights proportional to each open pick station's capacity (rate model x staffing)
  when capacities differ by more than 20% (the default assignment balances open lines, not work
  per person), and back to none when they are even again; lifting a release limit when the
  backlog grows; holding release to the recent arrival rate when many units stand still on the
  floor (congestion) with a long backlog.
- **traffic**: the most congested aisle area (seconds units stood blocked in the minute, the
  digest's 4 x 4 areas, at the forecaster's hot-spot level; never a pick station's area, whose
  wait is its queue): its aisle rows made one-way, alternating directions (the fixed-highway
  idea, applied where the jam is); lifting the rules the agent set when no aisle area is hot.
- **preposition**: when the 30-minute forecast of open pick lines exceeds now by 20% and idle
  units are available, the pods the pick station with the most open lines will ask for next (its
  own waiting lines first: `fctwin.controller.preposition.station_sku_share`) next to it.
"""

from __future__ import annotations

import numpy as np

from fctwin.controller.eluna.floor_actions import ClearOneWay, PrepositionPods, SetOneWay, SetOrderRelease

KINDS = ("release", "traffic", "preposition")


def release_plans(agent, dg: dict) -> list[list]:
    d = agent.levers.d
    speed = agent.speed
    gate = d.policies.order_assignment
    cur = getattr(gate, "weights", {}) or {}
    limit = getattr(gate, "orders_per_min", None)
    plans: list[list] = []
    picks = [s for s in dg["stations"] if s["kind"] == "pick" and s["associates"] > 0]
    if len(picks) >= 2:
        cap = {
            s["id"]: speed(s["associates"]) / agent.service_s.get(s["id"], 1.0)
            if s["id"] in agent.service_s
            else None
            for s in picks
        }
        known = {k: v for k, v in cap.items() if v}
        if len(known) >= 2 and max(known.values()) > 1.2 * min(known.values()):
            top = max(known.values())
            w = tuple(sorted((k, round(v / top, 2)) for k, v in known.items()))
            if dict(w) != cur:
                plans.append([SetOrderRelease(limit, w)])
        elif cur and len(known) >= 2:
            # The capacities are even again (a person lent or back, a station reopened): weights set
            # for the old staffing would keep steering orders away from a station that is now as
            # fast as its peers; back to the scene's assignment. Before this nothing undid them.
            plans.append([SetOrderRelease(limit, ())])
    if limit is not None and dg["backlog_lines"] > 2 * max(1, dg["open_lines"]):
        plans.append([SetOrderRelease(None, None)])
    waiting = int(np.sum(dg["congestion_waiting"]))
    if limit is None and waiting > 0.3 * max(1, len(d.units)) and dg["backlog_orders"] > 10:
        per_min = max(1.0, dg["lines_arrived"] / max(1.0, dg["backlog_lines"] / max(1, dg["backlog_orders"])))
        plans.append([SetOrderRelease(round(per_min, 1), None)])
    return plans


def _area_bounds(d, a: tuple[int, int], areas: int) -> tuple[int, int, int, int]:
    H, W = d.grid.shape
    ah, aw = max(1, -(-H // areas)), max(1, -(-W // areas))
    return a[0] * ah, min(H, (a[0] + 1) * ah), a[1] * aw, min(W, (a[1] + 1) * aw)


def _hot_aisle_areas(dg: dict) -> list[tuple[float, tuple[int, int]]]:
    """Floor areas where drive units stood blocked for `HOT_WAIT_S` seconds or more in the minute
    (the digest's sampled `congestion_wait_s`, the forecaster's hot-spot measure), leaving out the
    areas of open stations, most blocked first.

    A station's area is hot with its own queue (units holding pods in line for the person: the
    forecaster models the pick areas' wait as queue spill-back, the wait per open line of their
    stations), and a one-way aisle does not shorten a queue; a shift manager sets traffic rules
    where units block each other in the aisles. Before this the trigger was the minute snapshot of
    units standing where they stood a minute earlier, which on train_p8_wide seed 101 (fb7105b)
    never exceeded 5 in an area while the pick stations' areas had 84-91 s blocked a minute."""
    from fctwin.controller.eluna.forecast import HOT_WAIT_S

    wait = dg.get("congestion_wait_s")
    if wait is None:
        return []
    wait = np.asarray(wait, dtype=np.float64)
    queues = {tuple(s["area"]) for s in dg["stations"] if s["associates"] > 0 and "area" in s}
    hot = [
        (float(wait[a]), (int(a[0]), int(a[1])))
        for a in zip(*np.nonzero(wait >= HOT_WAIT_S), strict=True)
        if (int(a[0]), int(a[1])) not in queues
    ]
    return sorted(hot, reverse=True)


def traffic_plans(agent, dg: dict) -> list[list]:
    from fctwin.controller.floorplan import AISLE

    d = agent.levers.d
    plans: list[list] = []
    hot = _hot_aisle_areas(dg)
    mine = sorted(rid for rid in d.one_way if rid in d.lever_rules_by_agent)
    if mine and not hot:
        plans.append([ClearOneWay(rid) for rid in mine if rid in d.one_way])
        return [p for p in plans if p]
    if not hot:
        return plans
    a = hot[0][1]
    r0, r1, c0, c1 = _area_bounds(d, a, np.asarray(dg["congestion_wait_s"]).shape[0])
    aisle = d.grid == AISLE
    plan = []
    k = 0
    for r in range(r0, r1):
        run = [c for c in range(c0, c1) if aisle[r, c]]
        # a horizontal aisle: a run of aisle cells with storage or walls above and below
        if len(run) < 3 or run[-1] - run[0] + 1 != len(run):
            continue
        direction = "E" if k % 2 == 0 else "W"
        k += 1
        plan.append(SetOneWay(direction, tuple((r, c) for c in run)))
        if len(plan) >= 3:
            break
    if plan:
        plans.append(plan)
    return plans


def preposition_plans(agent, dg: dict) -> list[list]:
    from fctwin.controller.preposition import idle_units

    d = agent.levers.d
    ahead = agent.last_forecast.get("open_lines", {}).get(30)
    if ahead is None or ahead < 1.2 * max(1, dg["open_lines"]):
        return []
    idle = idle_units(d)
    if idle < 3:
        return []
    picks = [s for s in dg["stations"] if s["kind"] == "pick" and s["associates"] > 0]
    if not picks:
        return []
    target = max(picks, key=lambda s: (s["open_lines"], s["id"]))
    return [[PrepositionPods(target["id"], min(4, idle - 2))]]


GENERATORS = {"release": release_plans, "traffic": traffic_plans, "preposition": preposition_plans}


def hook_for(kinds) -> callable:
    """The candidate hook for the floor levers ``kinds`` (a subset of `KINDS`)."""
    bad = sorted(set(kinds) - set(KINDS))
    if bad:
        raise ValueError(f"unknown floor levers {bad}; known: {', '.join(KINDS)}")
    gens = [GENERATORS[k] for k in KINDS if k in kinds]

    def hook(agent, dg: dict) -> list[list]:
        plans: list[list] = []
        for g in gens:
            plans += g(agent, dg)
        return plans

    return hook
