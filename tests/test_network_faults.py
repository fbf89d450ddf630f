"""Faults with real robot processes on loopback: kill, freeze, dispatcher restart, watchdog.

The robots run on the real clock in their own processes. The dispatcher runs on a `HeldClock`:
real time while the robots work, held still once one is killed or frozen, then stepped by hand, so
"declared lost once silent for liveness x interval, at the first liveness check after that" is
checked in the dispatcher's clock time, not in whatever real time a loaded machine takes. The
heartbeat interval is the protocol's own (0.5 s): stepping costs no real time, and a robot process
the machine leaves unscheduled for a while is not taken for dead. Every wait is bounded; every
process is reaped.
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
from netclock import HeldClock, ManualClock, Wire  # tests/ is on sys.path (rootdir conftest)

from fctwin.network import protocol as p
from fctwin.network.dispatcher_side import (
    ClientLost,
    DispatcherServer,
    Received,
    Registered,
    ServerConfig,
    ServerEvent,
)
from fctwin.network.fleet_side import ClientConfig
from fctwin.network.robot_client import ReferenceRobot, RobotConfig, run_robot_process
from fctwin.robots.messages import Action, CommandBatch, Move, Resume, UnitMode, UnitState

HEARTBEAT_S = p.HEARTBEAT_INTERVAL_S
TICK_S = HEARTBEAT_S / 8  # the held clock's step; the server checks liveness every HEARTBEAT_S / 4
WATCHDOG_S = 1.0
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


def _server(endpoint: str, clock: HeldClock | ManualClock | None = None) -> DispatcherServer:
    cfg = ServerConfig(router_endpoint=endpoint, heartbeat_interval_s=HEARTBEAT_S, watchdog_s=WATCHDOG_S)
    return DispatcherServer(cfg, **({"clock": clock} if clock else {}))


def _lost_once_silent(
    server: DispatcherServer, clock: HeldClock, uid: str, fault: Callable[[], None]
) -> ClientLost:
    """Hold the dispatcher's clock, inject ``fault`` (kill or freeze ``uid``) and step the clock:
    ``uid`` must be declared lost at the first liveness check after liveness x interval of silence,
    in clock time. A message still on its way when the clock is held only moves 'last heard' (read
    before every step); however long the fault takes in real time, no clock time passes."""
    dead_after_s = p.HEARTBEAT_LIVENESS * HEARTBEAT_S
    clock.hold()
    try:
        fault()
        while True:
            silence_s = server.silence_s(uid)
            assert silence_s is not None, f"{uid} has no session"
            assert silence_s <= dead_after_s + HEARTBEAT_S / 4, f"{uid} silent for {silence_s} s, still kept"
            clock.advance(TICK_S)
            for ev in server.poll(0):
                if isinstance(ev, ClientLost) and ev.client_id == uid:
                    # silence at the check that declared it lost: more than liveness intervals
                    assert silence_s + TICK_S > dead_after_s, f"{uid} lost after only {silence_s + TICK_S} s"
                    return ev
    finally:
        clock.release()


def _wait(
    server: DispatcherServer, predicate: Callable[[ServerEvent], bool], timeout_s: float = 20.0
) -> ServerEvent:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for ev in server.poll(0.02):
            if predicate(ev):
                return ev
    raise AssertionError(f"no matching event within {timeout_s} s")


def _wait_stopped(pid: int, timeout_s: float = 10.0) -> None:
    """Until the kernel reports the process stopped (SIGSTOP is delivered asynchronously)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "T":
                return
        time.sleep(0.005)
    raise AssertionError(f"process {pid} not stopped within {timeout_s} s")


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


def test_killed_robot_is_lost_after_three_silent_heartbeats_then_comes_back_and_resumes(endpoint, robots):
    clock = HeldClock()
    server = _server(endpoint, clock)
    try:
        proc = robots(endpoint, "T-01", (2, 0))
        _wait(server, _registered("T-01"))
        assert (_move(server, "T-01", 1, 101).col, _move(server, "T-01", 2, 102).col) == (1, 2)
        server.send_commands(
            "T-01", CommandBatch(step=3, t_s=3.0, commands=[Move(103, "T-01", int(Action.F), 3)])
        )

        def kill() -> None:  # mid-task
            os.kill(proc.pid, signal.SIGKILL)
            proc.join(timeout=10)

        lost = _lost_once_silent(server, clock, "T-01", kill)
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
    clock = HeldClock()
    server = _server(endpoint, clock)
    try:
        proc = robots(endpoint, "T-02")
        _wait(server, _registered("T-02"))

        def freeze() -> None:
            os.kill(proc.pid, signal.SIGSTOP)
            _wait_stopped(proc.pid)

        lost = _lost_once_silent(server, clock, "T-02", freeze)
        assert (lost.client_id, lost.reason) == ("T-02", "heartbeat")
        os.kill(proc.pid, signal.SIGCONT)
        assert _wait(server, _registered("T-02")).resumed
        assert _move(server, "T-02", 1, 201).col == 1
    finally:
        server.close()


def test_watchdog_stops_a_robot_that_hears_nothing_and_a_restarted_dispatcher_repeats_nothing(endpoint):
    """In this process, dispatcher and reference robot on one manual clock (the watchdog is the
    robot's own timer: here it is checked in clock time, to the tick)."""
    clock = ManualClock()
    robot = ReferenceRobot(
        RobotConfig(
            client=ClientConfig(
                endpoint=endpoint, client_id="T-03", heartbeat_interval_s=HEARTBEAT_S, reconnect_min_s=TICK_S
            ),
            step_s=STEP_S,
        ),
        clock=clock,
    )
    server = _server(endpoint, clock)
    wire = Wire(clock, server)
    wire.add_robot(robot)

    def wait(predicate: Callable[[ServerEvent], bool]) -> ServerEvent:
        seen = wire.run_until(
            lambda evs: any(map(predicate, evs)), step_s=TICK_S, max_clock_s=10 * HEARTBEAT_S
        )
        return next(ev for ev in seen if predicate(ev))

    def move(step: int, command_id: int) -> UnitState:
        batch = CommandBatch(
            step=step, t_s=float(step), commands=[Move(command_id, "T-03", int(Action.F), step)]
        )
        assert server.send_commands("T-03", batch)
        return wait(_telemetry("T-03", step)).envelope.body.units[0]

    try:
        wait(_registered("T-03"))
        assert move(1, 301).col == 1
        server.close(bye=False)  # the dispatcher process dies; the robot hears nothing any more
        # the robot stops at its first control tick after watchdog_s of silence, not before
        while not robot.watchdog_stopped:
            silence_s = robot.client.silence_s()
            assert silence_s <= WATCHDOG_S, "the watchdog did not fire"
            clock.advance(TICK_S)
            robot.tick(0)
        assert silence_s + TICK_S > WATCHDOG_S and robot.unit.mode == UnitMode.STOPPED
        wire.server = server = _server(endpoint, clock)  # restarted on the same endpoint
        wire.rebase()
        back = wait(_registered("T-03"))
        assert back.units[0].state.mode == UnitMode.STOPPED  # its watchdog stopped it
        assert (back.units[0].state.row, back.units[0].state.col) == (0, 1)
        # the restarted dispatcher replays the last command from its run store: acknowledged, not re-run
        server.send_commands(
            "T-03", CommandBatch(step=1, t_s=1.0, commands=[Move(301, "T-03", int(Action.F), 1)])
        )
        ack = wait(lambda ev: isinstance(ev, Received) and ev.envelope.type == p.ACK)
        assert (ack.envelope.body.command_id, ack.envelope.body.data) == (301, {"duplicate": 1})
        # stopped until the dispatcher says otherwise
        server.send_commands("T-03", CommandBatch(step=2, t_s=2.0, commands=[Resume(302, "T-03")]))
        assert move(3, 303).col == 2
        assert wire.gave_up == 0
    finally:
        robot.client.close(bye=False)
        if not server.router.closed:  # the first one, if the test stopped before the restart
            server.close()
