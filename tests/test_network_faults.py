"""Faults with real robot processes on loopback: kill, freeze, dispatcher restart, watchdog.

Heartbeat interval in these tests: 0.2 s, liveness 3, so a dead or frozen robot must be declared
lost within 0.6 s of its last heartbeat (asserted with 0.6 s of scheduling slack: a behaviour
bound, not a speed test). Every wait is bounded; every process is reaped.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator

import pytest

from fctwin.network import protocol as p
from fctwin.network.dispatcher_side import (
    ClientLost,
    DispatcherServer,
    Received,
    Registered,
    ServerConfig,
    ServerEvent,
)
from fctwin.network.robot_client import run_robot_process
from fctwin.robots.messages import Action, CommandBatch, Move, Resume, UnitMode, UnitState

HEARTBEAT_S = 0.2
WATCHDOG_S = 1.0
DETECTION_BOUND_S = p.HEARTBEAT_LIVENESS * HEARTBEAT_S + 0.6
STEP_S = 0.05


@pytest.fixture
def endpoint() -> Iterator[str]:
    d = tempfile.mkdtemp(prefix="fct-")  # short: ipc paths are limited to ~100 bytes
    yield f"ipc://{d}/dispatcher.sock"
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def robots() -> Iterator[Callable[..., multiprocessing.Process]]:
    procs: list[multiprocessing.Process] = []
    ctx = multiprocessing.get_context("spawn")

    def spawn(endpoint: str, uid: str, cell: tuple[int, int] = (0, 0)) -> multiprocessing.Process:
        proc = ctx.Process(
            target=run_robot_process,
            kwargs={
                "endpoint": endpoint,
                "client_id": uid,
                "cell": cell,
                "step_s": STEP_S,
                "heartbeat_interval_s": HEARTBEAT_S,
                "duration_s": 60.0,
            },
            daemon=True,
        )
        proc.start()
        procs.append(proc)
        return proc

    yield spawn
    for proc in procs:
        if proc.is_alive():
            os.kill(proc.pid, signal.SIGCONT)
            proc.kill()
        proc.join(timeout=5)


def _server(endpoint: str) -> DispatcherServer:
    return DispatcherServer(
        ServerConfig(router_endpoint=endpoint, heartbeat_interval_s=HEARTBEAT_S, watchdog_s=WATCHDOG_S)
    )


def _wait(
    server: DispatcherServer, predicate: Callable[[ServerEvent], bool], timeout_s: float = 20.0
) -> ServerEvent:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for ev in server.poll(0.02):
            if predicate(ev):
                return ev
    raise AssertionError(f"no matching event within {timeout_s} s")


def _registered(uid: str) -> Callable[[ServerEvent], bool]:
    return lambda ev: isinstance(ev, Registered) and ev.client_id == uid


def _telemetry(uid: str, step: int) -> Callable[[ServerEvent], bool]:
    return lambda ev: (
        isinstance(ev, Received)
        and ev.envelope.type == p.TELEMETRY
        and ev.envelope.body.step >= step
        and ev.envelope.body.units[0].unit_id == uid
    )


def _move(server: DispatcherServer, uid: str, step: int, command_id: int) -> UnitState:
    """Command one forward move and return the state reported once it is executed."""
    assert server.send_commands(
        uid, CommandBatch(step=step, t_s=float(step), commands=[Move(command_id, uid, int(Action.F), step)])
    )
    return _wait(server, _telemetry(uid, step)).envelope.body.units[0]


def test_killed_robot_is_lost_within_three_heartbeats_then_comes_back_and_resumes(endpoint, robots):
    server = _server(endpoint)
    try:
        proc = robots(endpoint, "T-01", (2, 0))
        _wait(server, _registered("T-01"))
        assert (_move(server, "T-01", 1, 101).col, _move(server, "T-01", 2, 102).col) == (1, 2)
        server.send_commands(
            "T-01", CommandBatch(step=3, t_s=3.0, commands=[Move(103, "T-01", int(Action.F), 3)])
        )
        os.kill(proc.pid, signal.SIGKILL)  # mid-task
        killed_at = time.monotonic()
        lost = _wait(server, lambda ev: isinstance(ev, ClientLost))
        assert time.monotonic() - killed_at <= DETECTION_BOUND_S
        assert (lost.client_id, lost.unit_ids, lost.reason) == ("T-01", ("T-01",), "heartbeat")
        assert server.owner_of("T-01") is None and server.send_commands("T-01", CommandBatch(4, 4.0, [])) == 0
        # the robot restarts where its sensors say it is; it re-registers and reports that pose
        robots(endpoint, "T-01", (2, 2))
        back = _wait(server, _registered("T-01"))
        assert back.resumed and (back.units[0].state.row, back.units[0].state.col) == (2, 2)
        assert _move(server, "T-01", 4, 104).col == 3
    finally:
        server.close()


def test_frozen_robot_is_lost_the_same_way_and_re_registers_when_thawed(endpoint, robots):
    server = _server(endpoint)
    try:
        proc = robots(endpoint, "T-02")
        _wait(server, _registered("T-02"))
        os.kill(proc.pid, signal.SIGSTOP)
        frozen_at = time.monotonic()
        lost = _wait(server, lambda ev: isinstance(ev, ClientLost))
        assert lost.client_id == "T-02" and time.monotonic() - frozen_at <= DETECTION_BOUND_S
        os.kill(proc.pid, signal.SIGCONT)
        assert _wait(server, _registered("T-02")).resumed
        assert _move(server, "T-02", 1, 201).col == 1
    finally:
        server.close()


def test_watchdog_stops_a_robot_that_hears_nothing_and_a_restarted_dispatcher_repeats_nothing(
    endpoint, robots
):
    server = _server(endpoint)
    robots(endpoint, "T-03")
    _wait(server, _registered("T-03"))
    assert _move(server, "T-03", 1, 301).col == 1
    server.close(bye=False)  # the dispatcher process dies; the robot hears nothing any more
    time.sleep(WATCHDOG_S + 0.5)
    server = _server(endpoint)  # restarted on the same endpoint
    try:
        back = _wait(server, _registered("T-03"))
        assert back.units[0].state.mode == UnitMode.STOPPED  # its watchdog stopped it
        assert (back.units[0].state.row, back.units[0].state.col) == (0, 1)
        # the restarted dispatcher replays the last command from its run store: acknowledged, not re-run
        server.send_commands(
            "T-03", CommandBatch(step=1, t_s=1.0, commands=[Move(301, "T-03", int(Action.F), 1)])
        )
        ack = _wait(server, lambda ev: isinstance(ev, Received) and ev.envelope.type == p.ACK)
        assert (ack.envelope.body.command_id, ack.envelope.body.data) == (301, {"duplicate": 1})
        # stopped until the dispatcher says otherwise
        server.send_commands("T-03", CommandBatch(step=2, t_s=2.0, commands=[Resume(302, "T-03")]))
        assert _move(server, "T-03", 3, 303).col == 2
    finally:
        server.close()
