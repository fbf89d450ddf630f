"""A stower off the floor when the drive units, not the people, set the stow rate.

On the Eluna floors a stow station serves what the pods bring: a person stows a carton in about
three minutes (20 cartons an hour), yet the four stow stations together stowed ~43 cartons an hour
at most, and the static plan's stowers were 43-60% busy. What a stow station waits for is a pod
with room (pods near their mass limit free room only as picks take units off them), so a fourth
stower adds little but labour. Measured with the static plan and one stow station closed all
shift (`labour.staffing = {S4 = 0}`, seeds 11-13): eluna_balanced +14.7% / +14.8% units per
labour hour at the same units per hour (every order and carton served either way), order cycle
p95 +4-5%; eluna_outage +16.5% at +0.4% units per hour. The agent's ordinary release
(`ElunaAgent._releases`) never proposed it before session 17: it wants the whole floor quiet an
hour ahead (pick included) and checked the stations left against the rate stations were *seen* to
serve, which on a floor that keeps up is the arriving rate shared over them (it now checks the
people's pace left, `ElunaAgent.people_keep_up`, and proposes it with its own service guard).

This generator proposes one person from a stow station to the pool when:

- pods rarely wait for stowers: over the last 30 minutes (a running mean, every minute), fewer
  than `MAX_PODS_WAITING` pods on average stood queued behind the one at a stow station's face,
  counted over the open stow stations, and none has more than one waiting now: people wait for
  pods, not pods for people (on the balanced floor 0-2 pods stand at a stow station at a time);
- the stow work now and forecast 30 and 60 minutes ahead stays under the agent's gate without
  them (the stow forecast carries the dock schedule);
- the stow stations left, at their people's pace (the rate model), cover the busiest known hour
  of cartons still to come (`ElunaAgent.arriving_peak`: the last hour, and the dock schedule's
  busiest hour ahead) with the people at most `POD_FED_SHARE` busy. The share is the floor's own
  figure: pod-fed stations serve about half their people's pace (43 of 4 x 20 cartons an hour on
  the balanced floor); 0.65 keeps three of four stations for the balanced floor's 36 cartons an
  hour and none less, and keeps all four when a trailer or a wave is on the schedule ahead;
- at least two stow stations stay open.

The station chosen is the one whose person adds least (a second person at a station before a
station's only one), then the one with the least waiting work (its cartons go to the others).
The plan is a release: the lookahead rolls it forward with the other candidates and its labour is
priced for the rest of the shift. Its service test (`StowRelease.guard`) is the agent's for pick
(units picked, open pick work, order-cycle p95 against doing nothing on the same sampled future)
and, for stow, what the stations left can clear: the stow work open at the horizon must be done
by them within `CLEAR_MIN` minutes at their people's pace. The agent's ordinary guard asks a
release to stow as many units within the 30-minute horizon as doing nothing did (one carton of
slack), which no stower release can show on a floor with any carton waiting: a carton stowed at
minute 35 instead of 25 counts as lost, though the stations left stow it later (the capacity rule
above is what keeps them able to). A stow side that becomes pressed later gets people back
through the agent's ordinary moves from the pool.
"""

from __future__ import annotations

from fctwin.controller.eluna.actions import MoveAssociates
from fctwin.controller.eluna.labour import POOL

POD_FED_SHARE = 0.65  # the most of its people's pace a pod-fed stow station is counted on for
MIN_EVIDENCE_S = 1800.0  # the last hour's carton rate needs this much of the run seen
MAX_PODS_WAITING = 1.0  # pods behind the face, summed over the open stow stations (30-minute mean)
WINDOW_MIN = 30.0
CLEAR_MIN = 20.0  # the stow work open at the horizon, at the people's pace after the release


class StowRelease:
    """The candidate generator (``hook(agent, digest)``) with the minute observer it needs
    (``observe(agent, digest)``, called every minute by the agent)."""

    def __init__(self, units_per_carton: float = 12.0):
        self.units_per_carton = units_per_carton  # the scene's (a stow line is a carton)
        self.pods_waiting: float | None = None  # running mean over about `WINDOW_MIN` minutes
        self.mine: list = []  # the plans proposed at the last decision (the guard's to judge)

    def observe(self, agent, dg: dict) -> None:
        now = _pods_waiting(agent, dg)
        a = 1.0 / WINDOW_MIN
        self.pods_waiting = (
            now if self.pods_waiting is None else self.pods_waiting + a * (now - self.pods_waiting)
        )

    def __call__(self, agent, dg: dict) -> list[list]:
        if self.pods_waiting is None or self.pods_waiting >= MAX_PODS_WAITING:
            self.mine = []
            return []
        self.mine = stow_release_plans(agent, dg)
        return self.mine

    def guard(self, agent, plan: list, r: dict, r0: dict) -> bool | None:
        """The service test for this generator's plans (None for any other plan): pick as the
        agent's guard (units picked, open pick work, order-cycle p95 against doing nothing), and
        the stow work open at the horizon cleared by the stations left within `CLEAR_MIN` minutes
        at their people's pace."""
        if plan not in self.mine:
            return None
        if r["units_picked"] < 0.995 * r0["units_picked"]:
            return False
        if r["open_pick_units"] > 1.05 * r0["open_pick_units"] + 5:
            return False
        p, p0 = r.get("cycle_p95_s"), r0.get("cycle_p95_s")
        if p is not None and p0 is not None and p > 1.02 * p0 + 5.0:
            return False
        board = agent.levers.board
        staffed = {sid: board.planned(sid) for sid in board.staffed}
        for a in plan:
            staffed[a.source] -= a.n
        stows = _open_stows(agent, staffed)
        units_per_min = sum(
            60.0 * agent.speed(staffed[x]) / agent.service_s[x] * self.units_per_carton for x in stows
        )
        return r.get("open_stow_units", 0.0) <= CLEAR_MIN * units_per_min


def _open_stows(agent, staffed: dict[str, int]) -> list[str]:
    board = agent.levers.board
    kinds = board.config.kinds
    return [
        sid
        for sid in staffed
        if kinds.get(sid) == "stow"
        and sid in agent.service_s
        and staffed[sid] > 0
        and board.staffed.get(sid, 0) > 0
        and sid not in board.down_until
    ]


def _pods_waiting(agent, dg: dict) -> float:
    """Pods queued behind the one at the face, summed over the open stow stations."""
    board = agent.levers.board
    open_now = set(_open_stows(agent, {sid: board.planned(sid) for sid in board.staffed}))
    return float(sum(max(0, s.get("queued_pods", 0) - 1) for s in dg["stations"] if s["id"] in open_now))


def stow_release_plans(agent, dg: dict) -> list[list]:
    """At most one plan: one person from a stow station to the pool (the module's rules, but the
    30-minute mean of pods waiting, which `StowRelease` checks)."""
    board = agent.levers.board
    kinds = board.config.kinds
    if dg["t_s"] < MIN_EVIDENCE_S or "stow" not in getattr(agent, "_arriving", {}):
        return []
    speed = agent.speed
    by_id = {s["id"]: s for s in dg["stations"]}
    staffed = {sid: board.planned(sid) for sid in board.staffed}
    stows = [sid for sid in staffed if kinds.get(sid) == "stow" and sid in agent.service_s]
    open_now = _open_stows(agent, staffed)
    if len(open_now) < 2:
        return []
    if any(by_id.get(sid, {}).get("queued_pods", 0) >= 3 for sid in open_now):
        return []  # pods wait for people there now: the people are the bottleneck
    work60 = agent.kind_work(dg, (30, 60))
    if "stow" not in work60:
        return []
    # the scene's planned carton stream is known from the start; the last hour's rate needs an hour
    peak_per_min = max(agent.arriving_peak("stow"), getattr(agent, "_dock_stream_per_min", 0.0))
    best = None
    for sid in open_now:
        after = dict(staffed)
        after[sid] -= 1
        still_open = [x for x in stows if after[x] > 0 and x not in board.down_until]
        if len(still_open) < 2:
            continue
        cap_per_min = sum(60.0 * speed(after[x]) / agent.service_s[x] for x in still_open)
        if peak_per_min > POD_FED_SHARE * cap_per_min:
            continue
        if agent._max_pressure({"stow": work60["stow"]}, after) >= agent.gate_min:
            continue
        s = by_id.get(sid, {})
        key = (-staffed[sid], s.get("pending", 0) + s.get("queued_pods", 0), sid)
        if best is None or key < best[0]:
            best = (key, sid)
    if best is None:
        return []
    return [[MoveAssociates(best[1], POOL, 1)]]
