"""A manual clock and an in-process wire for liveness tests that do not depend on machine load.

`DispatcherServer`, `FleetClient` and `ReferenceRobot` take a ``clock``; with a `ManualClock` their
heartbeat, liveness, back-off and watchdog decisions happen in counted clock time. `Wire` moves that
clock only when the wire is quiet: every message one side sent has been read by the other and
every live client's connection is up. So a message is never "late" in clock time however long the
machine takes to deliver it, and a test can assert "lost after exactly three intervals" without a
real-time bound. Real time bounds only how long we wait for a delivery (generous: seconds).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import zmq

from fctwin.network.dispatcher_side import DispatcherServer, ServerEvent
from fctwin.network.fleet_side import FleetClient
from fctwin.network.robot_client import ReferenceRobot

# Real seconds to wait for messages to cross loopback before the clock moves on regardless (only a
# message lost with a dropped connection never arrives: then the test goes on after this long).
PATIENCE_S = 10.0


class ManualClock:
    """Monotonic seconds that move only when told. Start and steps are binary-exact (1000.0, 1/16 s),
    so sums of steps compare exactly with heartbeat intervals."""

    def __init__(self, start_s: float = 1000.0) -> None:
        self.now_s = start_s

    def __call__(self) -> float:
        return self.now_s

    def advance(self, dt_s: float) -> None:
        assert dt_s >= 0, "a monotonic clock does not go back"
        self.now_s += dt_s


class Wire:
    """One dispatcher and its FleetClients in this process, on one `ManualClock`.

    A `ReferenceRobot` joins with `add_robot`: its client is then run by the robot's ``tick(0)``
    (commands executed, telemetry sent) instead of a bare ``poll(0)``. ``frozen`` clients are not
    polled (a stopped process): they neither send nor read, so while one is frozen only the
    client-to-dispatcher direction must be quiet before the clock moves.
    """

    def __init__(
        self, clock: ManualClock, server: DispatcherServer, clients: Iterable[FleetClient] = ()
    ) -> None:
        self.clock = clock
        self.server = server
        self.clients = list(clients)
        self.frozen: set[int] = set()
        self._ticks: dict[int, Callable[[], None]] = {}
        self.gave_up = 0  # settles that ran out of patience (a message lost with its connection)
        self.rebase()

    def rebase(self) -> None:
        """Count from here: after a new server, or a client that dropped what it had not read."""
        s = self.server.counters
        self._up0 = sum(c.counters["sent"] for c in self.clients) - s["received"]
        self._down0 = s["sent"] - sum(c.counters["received"] for c in self.clients)

    def add_robot(self, robot: ReferenceRobot) -> None:
        self.clients.append(robot.client)
        self._ticks[id(robot.client)] = lambda: robot.tick(0)
        self.rebase()

    def freeze(self, client: FleetClient) -> None:
        self.frozen.add(id(client))

    def thaw(self, client: FleetClient) -> None:
        self.frozen.discard(id(client))

    def _active(self) -> list[FleetClient]:
        return [c for c in self.clients if id(c) not in self.frozen and c.sock is not None]

    def _quiet(self) -> bool:
        s = self.server.counters
        up = sum(c.counters["sent"] for c in self.clients) - s["received"] - self._up0
        if up > 0:
            return False
        if not self.frozen:
            down = s["sent"] - sum(c.counters["received"] for c in self.clients) - self._down0
            if down > 0:
                return False
        # With IMMEDIATE a DEALER is writable only once its connection is up: a hello or heartbeat
        # due at the next step will go out, not be dropped for a connection still being made.
        return all(c.sock.poll(0, zmq.POLLOUT) for c in self._active())

    def poll_once(self) -> list[ServerEvent]:
        for c in self._active():
            tick = self._ticks.get(id(c))
            if tick is None:
                c.poll(0)
            else:
                tick()
        return self.server.poll(0)

    def settle(self) -> list[ServerEvent]:
        """Serve at the current clock time until the wire is quiet (bounded by `PATIENCE_S`)."""
        events = self.poll_once()
        give_up = time.monotonic() + PATIENCE_S
        while not self._quiet():
            if time.monotonic() > give_up:
                self.gave_up += 1
                break
            time.sleep(0.0005)
            events += self.poll_once()
        return events

    def step(self, dt_s: float) -> list[ServerEvent]:
        """Move the clock by ``dt_s``, let everyone act on it, and wait for the wire to be quiet."""
        self.clock.advance(dt_s)
        return self.settle()

    def run_until(
        self, done: Callable[[list[ServerEvent]], bool], *, step_s: float, max_clock_s: float
    ) -> list[ServerEvent]:
        """Step until ``done(events seen so far)``; fail if that takes more than ``max_clock_s``."""
        start = self.clock()
        seen = self.settle()
        while not done(seen):
            assert self.clock() - start < max_clock_s, (
                f"not done after {max_clock_s} clock s; saw {seen}; server {self.server.counters}, "
                f"clients {[c.counters for c in self.clients]}, gave up {self.gave_up}"
            )
            seen += self.step(step_s)
        return seen


class HeldClock:
    """Real monotonic time that a test can hold still and then move by hand, for a dispatcher whose
    peers are real processes on their own clocks: hold it once a robot is killed or frozen, step
    it to check when the robot is declared lost, release it to go on in real time (no jump)."""

    def __init__(self) -> None:
        self._offset_s = 0.0
        self._held_s: float | None = None

    def __call__(self) -> float:
        return self._held_s if self._held_s is not None else time.monotonic() + self._offset_s

    def hold(self) -> None:
        self._held_s = self()

    def advance(self, dt_s: float) -> None:
        assert self._held_s is not None and dt_s >= 0, "hold() first; time does not go back"
        self._held_s += dt_s

    def release(self) -> None:
        assert self._held_s is not None
        self._offset_s = self._held_s - time.monotonic()
        self._held_s = None
