"""Station pressure: minutes of work waiting at a station at its current staffing.

Both managers (the agent and the reactive shift lead) read the same number: open lines (pick) or
open cartons (stow) times the plan's service time per line or carton, divided by the staffing's
speed (`RateModel.speed`); a closed station has infinite pressure if work waits there.
"""

from __future__ import annotations

import math


def station_pressure(st: dict, service_s: dict[str, float], speed, backlog_share: float = 0.0) -> float:
    """Minutes of work at station ``st`` (a digest entry); ``backlog_share``: lines of the floor's
    unassigned orders counted against it (a pick station only holds a few lines; the rest waits
    unassigned, and a shift lead sees it as the pick queue)."""
    work_s = (st["open_lines"] + backlog_share) * service_s.get(st["id"], 15.0)
    n = st["associates"]
    if n <= 0:
        return math.inf if work_s > 0 else 0.0
    return work_s / speed(n) / 60.0


def pressures(dg: dict, service_s: dict[str, float], speed) -> dict[str, float]:
    """Every person-worked station's pressure; open pick stations share the unassigned lines."""
    sts = [s for s in dg["stations"] if s["id"] in service_s]
    open_picks = [s for s in sts if s["kind"] == "pick" and s["associates"] > 0]
    cap = sum(speed(s["associates"]) for s in open_picks)
    out = {}
    for s in sts:
        share = dg["backlog_lines"] * speed(s["associates"]) / cap if s in open_picks and cap > 0 else 0.0
        out[s["id"]] = station_pressure(s, service_s, speed, share)
    return out


def kind_pressure(dg: dict, kind: str, service_s: dict[str, float], speed) -> float:
    """Minutes of work of one kind (pick includes unassigned orders) per open station of it."""
    sts = [s for s in dg["stations"] if s["kind"] == kind and s["id"] in service_s]
    if not sts:
        return 0.0
    work_s = sum(s["open_lines"] * service_s[s["id"]] for s in sts)
    if kind == "pick":
        work_s += dg["backlog_lines"] * (sum(service_s[s["id"]] for s in sts) / len(sts))
    cap = sum(speed(s["associates"]) for s in sts)
    return math.inf if cap <= 0 and work_s > 0 else (work_s / cap / 60.0 if cap > 0 else 0.0)
