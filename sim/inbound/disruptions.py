"""Typed disruptions, the published templates, the random lane-regime model, and their effect queries.

A disruption has a kind, a start, a duration and an intensity, and points at ports (by id or tag), lanes or a
chokepoint. Effects act on goods wherever they are when the disruption is live: a diversion lengthens
voyages of
vessels that have not yet reached the chokepoint (goods already at sea), a suspension holds them there, a
closed or
slowed port builds a backlog that vessels already on their way join on arrival (held at anchorage).

Port capacity is a fluid FIFO queue of all traffic (ours is a small share of it): background load
``utilization`` of
normal capacity. A closure of D days then takes ``D * u / (1 - u)`` days to clear; at u = 0.85 that is the
"each strike day is about 5-6 days of backlog" reported for the Oct 2024 US East/Gulf strike, from the
mechanism.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .scene import DisruptionSpec, InboundScene

__all__ = ["TEMPLATES", "Disruption", "DisruptionState", "template", "regime_disruptions"]

GRID_D = 0.25  # fluid-queue time step, days
TAIL_D = 400.0  # queue horizon beyond the run so late arrivals still get a wait
_OWN_WORK = 1e-3  # port-days of capacity our vessel needs: a closed port holds it even with no backlog
_CAPACITY_KINDS = {"port_closure", "strike", "weather", "capacity_cut"}


def _spec(**kw) -> DisruptionSpec:
    return DisruptionSpec(**kw)


def template(name: str, start_day: float) -> list[DisruptionSpec]:
    """Published disruption templates (FACTS.md, cross-border section), starting at ``start_day`` of the
    run."""
    s = float(start_day)
    if name == "lalb_congestion_2021":
        # LA/LB 2021: anchorage waits grew from about 8 d (Sep) to 17 d (Nov); dwell peaked at 8.4 d; 6-9
        # months.
        return [
            _spec(
                name=name,
                kind="anchorage_congestion",
                start_day=s,
                duration_d=225,
                intensity=8.0,
                intensity_end=17.0,
                port_tags=("us_west",),
            ),
        ]
    if name == "yantian_2021":
        # Yantian May-Jun 2021: about 4 weeks at 20-30 % capacity.
        return [
            _spec(
                name=name,
                kind="capacity_cut",
                start_day=s,
                duration_d=28,
                intensity=0.25,
                port_tags=("yantian",),
            )
        ]
    if name == "us_east_gulf_strike_2024":
        # ILA strike 1-3 Oct 2024: 3 days; the backlog (5-6 d per strike day) follows from port utilization.
        return [_spec(name=name, kind="strike", start_day=s, duration_d=3, port_tags=("us_east_gulf",))]
    if name == "red_sea_diversion":
        # Since Dec 2023: Suez routings go round the Cape, +10-14 d; ongoing, so it lasts to the end of the
        # run.
        return [
            _spec(
                name=name, kind="diversion", start_day=s, duration_d=3650, intensity=12.0, chokepoint="suez"
            )
        ]
    if name == "customs_surge":
        return [
            _spec(
                name=name,
                kind="customs_surge",
                start_day=s,
                duration_d=60,
                intensity=5.0,
                port_tags=("us_west", "us_east_gulf"),
            )
        ]
    raise KeyError(name)


TEMPLATES = (
    "lalb_congestion_2021",
    "yantian_2021",
    "us_east_gulf_strike_2024",
    "red_sea_diversion",
    "customs_surge",
    "regime",
)


@dataclass(frozen=True)
class Disruption:
    """A resolved disruption in model time (days since the start of warm-up)."""

    name: str
    kind: str
    start_d: float
    end_d: float
    intensity: float
    intensity_end: float
    ports: frozenset[str]
    lanes: frozenset[str]
    chokepoint: str | None

    def active(self, t_d: float) -> bool:
        return self.start_d <= t_d < self.end_d

    def value(self, t_d: float) -> float:
        frac = min(1.0, max(0.0, (t_d - self.start_d) / (self.end_d - self.start_d)))
        return self.intensity + (self.intensity_end - self.intensity) * frac

    def hits_lane(self, lane_id: str, chokepoint: str | None) -> bool:
        return lane_id in self.lanes or (self.chokepoint is not None and self.chokepoint == chokepoint)


def resolve(scene: InboundScene, specs: list[DisruptionSpec], offset_d: float) -> list[Disruption]:
    """Turn specs (run days, ports by tag) into model-time disruptions on concrete port and lane ids."""
    out = []
    for sp in specs:
        ports = set(sp.ports) | {p.id for p in scene.ports if set(p.tags) & set(sp.port_tags)}
        default_intensity = {"port_closure": 0.0, "strike": 0.0}.get(sp.kind, sp.intensity)
        inten = default_intensity if sp.kind in ("port_closure", "strike") else sp.intensity
        out.append(
            Disruption(
                name=sp.name or sp.kind,
                kind=sp.kind,
                start_d=sp.start_day + offset_d,
                end_d=sp.start_day + offset_d + sp.duration_d,
                intensity=inten,
                intensity_end=inten if sp.intensity_end is None else sp.intensity_end,
                ports=frozenset(ports),
                lanes=frozenset(sp.lanes),
                chokepoint=sp.chokepoint,
            )
        )
    return out


def regime_disruptions(scene: InboundScene, rng: np.random.Generator, horizon_d: int) -> list[DisruptionSpec]:
    """Random regime per lane (normal / congested / closed), as congestion delays and suspensions.

    The chain is drawn from its own stream, so every policy sees the same regime path (common random numbers).
    """
    if scene.regime is None:
        raise KeyError("regime")
    P = np.asarray(scene.regime.transition_per_day)
    cum = np.cumsum(P, axis=1)
    specs: list[DisruptionSpec] = []
    for lane_id in scene.regime.lanes:
        u = rng.random(horizon_d)
        state, start = 0, 0
        for day in range(horizon_d + 1):
            nxt = 0 if day == horizon_d else int(np.searchsorted(cum[state], u[day], side="right"))
            if nxt != state or day == horizon_d:
                if state == 1:
                    specs.append(
                        _spec(
                            name=f"regime congested {lane_id}",
                            kind="diversion",
                            start_day=start - scene.warmup_days,
                            duration_d=day - start,
                            intensity=scene.regime.congested_delay_d,
                            lanes=(lane_id,),
                        )
                    )
                elif state == 2:
                    specs.append(
                        _spec(
                            name=f"regime closed {lane_id}",
                            kind="route_suspension",
                            start_day=start - scene.warmup_days,
                            duration_d=day - start,
                            lanes=(lane_id,),
                        )
                    )
                state, start = nxt, day
    return specs


class DisruptionState:
    """Effect queries over the resolved disruptions; port waits from a precomputed fluid queue per port."""

    def __init__(self, scene: InboundScene, disruptions: list[Disruption], horizon_d: float):
        self.disruptions = disruptions
        # Per disruption (same order): how many times it changed a shipment's timing (``acted``) or
        # a planner's projection (``seen``). One that delayed no shipment is reported by the caller
        # instead of printing results "with" it (a lane the policy never ships on, a port no
        # shipment calls at). Counting never draws random numbers, so results are unchanged.
        self.acted = [0] * len(disruptions)
        self.seen = [0] * len(disruptions)
        self._index = {id(d): k for k, d in enumerate(disruptions)}
        self._util = {p.id: p.utilization for p in scene.ports}
        n = int((horizon_d + TAIL_D) / GRID_D) + 1
        self._grid_t = np.arange(n) * GRID_D
        self._queues: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for port in self._util:
            cuts = [d for d in disruptions if d.kind in _CAPACITY_KINDS and port in d.ports]
            if cuts:
                self._queues[port] = self._fluid(port, cuts)

    def _fluid(self, port: str, cuts: list[Disruption]) -> tuple[np.ndarray, np.ndarray]:
        t = self._grid_t
        factor = np.ones_like(t)
        for d in cuts:
            live = (t >= d.start_d) & (t < d.end_d)
            factor[live] *= d.intensity  # 0 for closures and strikes, remaining share for cuts and weather
        cap = factor / self._util[port]  # traffic arrives at 1 port-day per day
        backlog = np.zeros_like(t)
        b = 0.0
        for k in range(len(t) - 1):
            b = max(0.0, b + (1.0 - cap[k]) * GRID_D)
            backlog[k + 1] = b
        ccum = np.concatenate(([0.0], np.cumsum(cap[:-1] * GRID_D)))
        return backlog, ccum

    def _credit(self, counts: list[int], ds) -> None:
        for d in ds:
            counts[self._index[id(d)]] += 1

    def port_wait_d(self, port: str, t_d: float) -> float:
        """Days a vessel arriving at ``t_d`` waits for the traffic queued ahead of it (FIFO fluid)."""
        wait = self._port_wait_d(port, t_d)
        if wait > 0:
            self._credit(
                self.acted,
                [
                    d
                    for d in self.disruptions
                    if d.kind in _CAPACITY_KINDS and port in d.ports and d.start_d <= t_d
                ],
            )
        return wait

    def _port_wait_d(self, port: str, t_d: float) -> float:
        q = self._queues.get(port)
        if q is None:
            return 0.0
        backlog, ccum = q
        t = self._grid_t
        b = float(np.interp(t_d, t, backlog))
        c0 = float(np.interp(t_d, t, ccum))
        k = int(np.searchsorted(ccum, c0 + b + _OWN_WORK, side="left"))
        if k >= len(t):
            return float(t[-1] - t_d)
        # linear inside the grid step where the served work crosses c0 + b
        c_lo = ccum[k - 1] if k > 0 else 0.0
        frac = 0.0 if ccum[k] == c_lo else (c0 + b + _OWN_WORK - c_lo) / (ccum[k] - c_lo)
        s = t[k - 1] + frac * GRID_D if k > 0 else t[0]
        return max(0.0, float(s - t_d) - _OWN_WORK * self._util[port])

    def port_backlog_d(self, port: str, t_d: float) -> float:
        """Backlog in days of normal throughput at ``t_d`` (what a planner can observe)."""
        q = self._queues.get(port)
        if q is None:
            return 0.0
        return float(np.interp(t_d, self._grid_t, q[0])) * self._util[port]

    def anchorage_extra_d(self, port: str, t_d: float) -> float:
        hits = [
            d
            for d in self.disruptions
            if d.kind == "anchorage_congestion" and port in d.ports and d.active(t_d)
        ]
        self._credit(self.acted, hits)
        return sum(d.value(t_d) for d in hits)

    def exam_multiplier(self, port: str, t_d: float) -> float:
        m = 1.0
        for d in self.disruptions:
            if d.kind == "customs_surge" and (not d.ports or port in d.ports) and d.active(t_d):
                m *= d.value(t_d)
                self._credit(self.acted, [d])
        return m

    def suspended_until(self, lane_id: str, chokepoint: str | None, t_d: float) -> float | None:
        """End of the suspension covering this lane at ``t_d`` (chained if suspensions overlap), else None."""
        end = None
        probe = t_d
        while True:
            hits = [
                d
                for d in self.disruptions
                if d.kind == "route_suspension" and d.hits_lane(lane_id, chokepoint) and d.active(probe)
            ]
            if not hits:
                return end
            self._credit(self.acted, hits)
            end = probe = max(d.end_d for d in hits)

    def diversion_extra_d(self, lane_id: str, chokepoint: str | None, t_d: float) -> float:
        hits = [
            d
            for d in self.disruptions
            if d.kind == "diversion" and d.hits_lane(lane_id, chokepoint) and d.active(t_d)
        ]
        self._credit(self.acted, hits)
        return sum(d.value(t_d) for d in hits)

    def inactive(self) -> list[str]:
        """Names of the disruptions that delayed no shipment (``seen`` alone does not count: every
        policy's view projects every lane, used or not)."""
        return [d.name for k, d in enumerate(self.disruptions) if not self.acted[k]]

    def known(self, t_d: float) -> list[Disruption]:
        """Disruptions a planner knows about at ``t_d``: those that have started (with their announced
        end)."""
        return [d for d in self.disruptions if d.start_d <= t_d < d.end_d]

    def projected_delay_d(
        self, lane_id: str, chokepoint: str | None, origin: str, dest: str, t_d: float
    ) -> float:
        """Extra days a shipment booked now is expected to take, from what is known at ``t_d`` only."""
        extra = 0.0
        for d in self.known(t_d):
            before = extra
            if d.kind == "diversion" and d.hits_lane(lane_id, chokepoint):
                extra += d.value(t_d)
            elif d.kind == "route_suspension" and d.hits_lane(lane_id, chokepoint):
                extra += d.end_d - t_d
            elif d.kind == "anchorage_congestion" and dest in d.ports:
                extra += d.value(t_d)
            elif d.kind in _CAPACITY_KINDS and (origin in d.ports or dest in d.ports):
                extra += (d.end_d - t_d) * (1.0 - d.intensity)
            if extra != before:
                self._credit(self.seen, [d])
        return extra + self.port_backlog_d(origin, t_d) + self.port_backlog_d(dest, t_d)
