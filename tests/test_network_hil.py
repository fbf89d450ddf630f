"""Hardware in the loop: two external robot processes beside a simulated fleet, one link.

The simulated part is the toy fleet host (no PyBullet) so the story stays about the wire: the
dispatcher side cannot tell external units from simulated ones, their commands are executed once,
and a killed external robot shows up as FAILED at its last cell, then comes back.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time

from fctwin.network import protocol as p
from fctwin.network.hil_link import HilFleetLink, HilOptions
from fctwin.network.robot_client import run_robot_process
from fctwin.robots.messages import Action, CommandBatch, Move, UnitMode

# The protocol's own interval: the robots are real processes on the real clock, and at 0.2 s a
# robot the machine left unscheduled for 0.6 s was taken for dead mid-test. The lost robot's
# FAILED state is waited for (bounded), never timed.
HEARTBEAT_S = p.HEARTBEAT_INTERVAL_S
STEP_S = 0.05
EXTERNAL = ("T-02", "T-03")


def _robot(endpoint: str, uid: str, row: int) -> multiprocessing.Process:
    proc = multiprocessing.get_context("spawn").Process(
        target=run_robot_process,
        kwargs={
            "endpoint": endpoint,
            "client_id": uid,
            "cell": (row, 0),
            "step_s": STEP_S,
            "heartbeat_interval_s": HEARTBEAT_S,
            "duration_s": 60.0,
        },
        daemon=True,
    )
    proc.start()
    return proc


def _forward_all(step: int) -> CommandBatch:
    cmds = [Move(100 * step + k, uid, int(Action.F), step) for k, uid in enumerate(("T-01", *EXTERNAL))]
    return CommandBatch(step=step, t_s=float(step), commands=cmds)


def test_external_robots_and_simulated_units_are_driven_alike_and_a_lost_robot_fails_then_returns():
    opts = HilOptions(
        bind="tcp://127.0.0.1:*",
        external_ids=frozenset(EXTERNAL),
        heartbeat_interval_s=HEARTBEAT_S,
        register_timeout_s=60.0,
        external_wait_s=5.0,
    )
    procs: list[multiprocessing.Process] = []
    link = None
    try:
        # robots connect to a fixed endpoint before the dispatcher is up: they retry with back-off
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        endpoint = f"tcp://127.0.0.1:{port}"
        procs = [_robot(endpoint, uid, row) for uid, row in zip(EXTERNAL, (1, 2), strict=True)]
        link = HilFleetLink(
            "toy:3",
            HilOptions(**{**opts.__dict__, "bind": endpoint}),
            link_kwargs={"host_factory": "fctwin.network.toy_fleet:ToyFleetHost"},
        )
        first = link.initial_frame()
        assert sorted(u.unit_id for u in first.units) == ["T-01", "T-02", "T-03"]
        frame = first
        for step in (1, 2, 3):
            frame = link.exchange(_forward_all(step))
        cols = {u.unit_id: u.col for u in frame.units}
        assert cols == {"T-01": 3, "T-02": 3, "T-03": 3}  # every unit moved three cells, once each
        # an external robot dies: reported FAILED where it was, with a failed event
        os.kill(procs[0].pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        failed = False
        while not failed and time.monotonic() < deadline:
            frame = link.exchange(CommandBatch(step=4, t_s=4.0, commands=[]))
            failed = any(e.kind == "failed" and e.unit_id == "T-02" for e in frame.events)
        assert failed
        t02 = next(u for u in frame.units if u.unit_id == "T-02")
        assert (t02.mode, t02.col) == (UnitMode.FAILED, 3)
        # it comes back (same id, at its cell) and is driven again
        procs.append(
            multiprocessing.get_context("spawn").Process(
                target=run_robot_process,
                kwargs={
                    "endpoint": endpoint,
                    "client_id": "T-02",
                    "cell": (1, 3),
                    "step_s": STEP_S,
                    "heartbeat_interval_s": HEARTBEAT_S,
                    "duration_s": 60.0,
                },
                daemon=True,
            )
        )
        procs[-1].start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            frame = link.exchange(CommandBatch(step=5, t_s=5.0, commands=[]))
            t02 = next(u for u in frame.units if u.unit_id == "T-02")
            if t02.mode != UnitMode.FAILED:
                break
        assert (t02.mode, t02.col) == (UnitMode.IDLE, 3)
        frame = link.exchange(CommandBatch(step=6, t_s=6.0, commands=[Move(600, "T-02", int(Action.F), 6)]))
        assert next(u for u in frame.units if u.unit_id == "T-02").col == 4
    finally:
        if link is not None:
            link.close()
        for proc in procs:
            if proc.is_alive():
                proc.kill()
            proc.join(timeout=5)
