"""What-if lookahead on the twin itself: `os.fork()` of the running, in-process run.

At a decision point (inside the run's minute process) each candidate plan runs in a forked child:
the child is the whole run at that instant (dispatcher, fleet host, SimPy clock and processes,
random streams, labour board), copied by the kernel on write, which is the cheapest exact snapshot
there is. The child applies the plan's actions, re-seeds every random stream (orders, cartons,
waves, station service times, drive units) with the same *fresh* seed for every plan of this
decision (common random numbers; never the run's own future), runs ``horizon_s`` of simulated
time, sends its KPIs back through a pipe as JSON and exits with `os._exit` (nothing of the parent
is flushed or closed twice; the child writes nothing to the run store). At most ``workers``
children run at once.

Exact only with the in-process link and a fleet host without PyBullet bodies (``world=False``):
a fork cannot share a ZeroMQ peer, and the world is not needed (nothing in a frame reads it).
`ForkLookahead.evaluate(..., key=None)` keeps the run's own streams: that is the snapshot
exactness test (the child continues with the parent's event log, bit for bit).
"""

from __future__ import annotations

import json
import os
import zlib

import numpy as np

from fctwin.controller.eluna.actions import open_work_units


class _NullStore:
    """Takes every run-store write of a lookahead child and keeps nothing."""

    def __getattr__(self, name):
        return _ignore


def _ignore(*args, **kwargs) -> None:
    return None


def fresh_generator(seed: int, key: str, name: str) -> np.random.Generator:
    spawn = (zlib.crc32(key.encode()), zlib.crc32(name.encode()))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy=seed, spawn_key=spawn)))


def cycle_p95_s(done_s: list[float], open_age_s: list[float] | None = None) -> float | None:
    """Order-cycle p95 over a horizon, in seconds (None when there is no order to count).

    ``done_s``: the cycle times of the orders finished within the horizon. ``open_age_s``: the ages
    at the horizon's end of the orders still open then, or None to leave them out (the p95 of
    finished orders alone). Counted at their age, the open orders make the measure monotone: with
    common random numbers every plan sees the same orders (open at the decision or arriving within
    the horizon), and an order finished earlier never raises it. Over finished orders alone, a plan
    that clears an old backlog finishes old orders doing nothing leaves open, and shows the higher
    p95 (eluna_misstaffed seed 12, 08:20: a stower lent to pick P4 cleared 87 units of open pick
    work on the second sampled future and was refused for an order-cycle p95 +102 s)."""
    values = list(done_s) + list(open_age_s or [])
    return round(float(np.percentile(values, 95)), 1) if values else None


class ServiceProbe:
    """The floor's own order cycles since a mark (`ElunaAgent.service_probe`): the all-orders p95
    over a recommendation's horizon, the finished at their cycle and the open at their age, as the
    lookahead child measures it (`cycle_p95_s`), to score a service move's realised effect."""

    def __init__(self, loop):
        self.loop = loop

    def mark(self) -> int:
        return len(self.loop.dispatcher.cycle_times_s)

    def p95_since(self, mark: int) -> float | None:
        d = self.loop.dispatcher
        t_end = self.loop.env.now
        return cycle_p95_s(d.cycle_times_s[mark:], [t_end - rec.order.t_s for rec in d.orders.values()])


class ForkLookahead:
    """The `fctwin.controller.eluna.Lookahead` of an in-process run (a `RunLoop` with a local link).

    ``p95_open_orders`` (scene ``[agent] p95_open_orders``): each plan's order-cycle p95 counts the
    orders still open at the horizon's end at their age then (`cycle_p95_s`); off: finished orders
    only, as before."""

    def __init__(self, loop, host, levers, *, workers: int = 2, p95_open_orders: bool = False):
        self.loop = loop
        self.host = host
        self.levers = levers
        self.workers = max(1, workers)
        self.p95_open_orders = p95_open_orders
        self._events = True

    def streams(self) -> dict[str, np.random.Generator]:
        """Every random stream of the run, by name."""
        out = dict(self.loop.streams)
        for s in self.host.stations:
            out[f"station.{s.unit_id}"] = s.rng
        for t in self.host.titans:
            out[f"unit.{t.unit_id}"] = t.rng
        return out

    def evaluate(self, plans: list[list], horizon_s: float, key: str | None) -> list[dict]:
        results: list[dict | None] = [None] * len(plans)
        todo = list(range(len(plans)))
        running: list[tuple[int, int, int]] = []  # (plan index, pid, read fd)
        while todo or running:
            while todo and len(running) < self.workers:
                k = todo.pop(0)
                r, w = os.pipe()
                pid = os.fork()
                if pid == 0:  # the child: never returns, whatever fails
                    # The write is inside the `finally` too: when the parent has died (killed
                    # mid-run) the pipe is broken, and a BrokenPipeError raised out of here used to
                    # carry the child on into the parent's code, an orphan running the parent's run.
                    code = 2  # the result could not be sent
                    try:
                        os.close(r)
                        try:
                            data = json.dumps(self._child(plans[k], horizon_s, key)).encode()
                            ok = 0
                        except BaseException as exc:  # report, never fall back into the parent's code
                            data = json.dumps({"error": repr(exc)}).encode()
                            ok = 1
                        view = memoryview(data)
                        while view:
                            n = os.write(w, view)
                            view = view[n:]
                        os.close(w)
                        code = ok
                    finally:
                        os._exit(code)
                os.close(w)
                running.append((k, pid, r))
            k, pid, r = running.pop(0)
            chunks = []
            while chunk := os.read(r, 1 << 16):
                chunks.append(chunk)
            os.close(r)
            os.waitpid(pid, 0)
            out = json.loads(b"".join(chunks) or b'{"error": "child sent nothing"}')
            if "error" in out:
                raise RuntimeError(f"lookahead child for plan {k} failed: {out['error']}")
            results[k] = out
        return results  # type: ignore[return-value]

    def counterfactual(self, horizon_s: float) -> dict:
        """Doing nothing for ``horizon_s`` on the run's own random streams: the future the run would
        have had without the decision being made now (to score its realised effect, never to decide)."""
        self._events = False
        try:
            return self.evaluate([[]], horizon_s, key=None)[0]
        finally:
            self._events = True

    def _child(self, plan: list, horizon_s: float, key: str | None) -> dict:
        loop = self.loop
        loop.state["forked"] = True  # no pose rows, no publishing
        # The child must write nothing where the parent writes: the run store (its SQLite
        # connection is the parent's: a child's minutes, events and recommendations landed in the
        # run's database when a decision fell on the run's last minute) and the progress callback.
        loop.store = _NullStore()
        loop.progress = None
        advice = loop.opts.advice  # an operator's decision waiting now is the parent's to apply
        if advice is not None:
            advice.pending = False
            advice._items = []
        d = loop.dispatcher
        t0 = loop.env.now
        for action in plan:
            self.levers.apply(action, t0)
        if key is not None:
            seed = loop.scene.seed
            for name, rng in self.streams().items():
                rng.bit_generator.state = fresh_generator(seed, key, name).bit_generator.state
        start_p, start_s = d.stats["units_picked"], d.stats["units_stowed"]
        board = self.levers.board if self.levers is not None else None
        paid0 = board.paid_s if board is not None else 0.0
        n_cycles = len(d.cycle_times_s)
        log_start = len(d.log)
        loop.env.run(until=t0 + horizon_s)
        loop._receive_pending()
        pick, stow = open_work_units(d)
        ct = d.cycle_times_s[n_cycles:]
        # Every order the horizon saw, finished or not: the ones done at their cycle, the ones still
        # open at their age at the end. On the same sampled future every plan sees the same orders,
        # so this p95 is paired; the p95 of the finished ones alone rises when a plan clears old
        # orders (they finish inside the horizon, with their long wait), which is the plan working.
        t_end = loop.env.now
        ages = [t_end - rec.order.t_s for rec in d.orders.values()]
        out = {
            "units_picked": d.stats["units_picked"] - start_p,
            "units_stowed": d.stats["units_stowed"] - start_s,
            "open_pick_units": pick,
            "open_stow_units": stow,
            "cycle_p95_s": cycle_p95_s(ct, ages if self.p95_open_orders else None),
            "cycle_p95_all_s": cycle_p95_s(ct, ages),
            "orders_done": len(ct),
            # the orders the all-orders p95 was taken over (a service move's margin: `service_move`)
            "orders_seen": len(ct) + len(ages),
            "labour_h": round((board.paid_s - paid0) / 3600.0, 5) if board is not None else None,
        }
        if key is None and self._events:  # the exactness test reads the child's event log
            out["events"] = [list(e) for e in d.log[log_start:]]
        return out
