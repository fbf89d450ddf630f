"""`fctwin conformance` against the reference robot (`fctwin robot`): every checklist item passes.

And against a client that registers and heartbeats but never reports telemetry or executes a
command: the run says which items fail and stops there, it does not pass a broken client.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading

import pytest

from fctwin.network import protocol as p
from fctwin.network.conformance import CHECKLIST, Conformance, ConformanceOptions
from fctwin.network.fleet_side import ClientConfig, FleetClient
from fctwin.robots.messages import UnitState


def _endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def _cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "fctwin.sim.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_the_reference_robot_passes_every_conformance_item():
    endpoint = _endpoint()
    checker = _cli("conformance", "--bind", endpoint, "--id", "T-07", "--json")
    robot = _cli("robot", "--id", "T-07", "--cell", "3,4", "--connect", endpoint, "--speedup", "4")
    import json

    try:
        out, err = checker.communicate(timeout=240)
        robot_code = robot.wait(timeout=30)  # the checklist ends with bye: the robot exits by itself
    finally:
        for proc in (checker, robot):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    items = json.loads(out)
    assert [it["key"] for it in items] == [k for k, _, _ in CHECKLIST]
    failed = {it["key"]: it["detail"] for it in items if it["status"] != "PASS"}
    assert failed == {}, err[-3000:]
    assert checker.returncode == 0 and robot_code == 0


def test_a_client_that_only_heartbeats_fails_from_telemetry_on():
    endpoint = _endpoint()
    stop = threading.Event()

    def lazy_client() -> None:
        state = UnitState("T-09", "titan", 0, 2, 2, 0)
        client = FleetClient(
            ClientConfig(endpoint=endpoint, client_id="T-09"),
            lambda: [p.UnitInfo("T-09", "titan", state=state)],
        )
        try:
            while not stop.is_set():
                client.poll(0.05)  # registers and heartbeats; executes and reports nothing
        finally:
            client.close()

    thread = threading.Thread(target=lazy_client, daemon=True)
    thread.start()
    try:
        opts = ConformanceOptions(bind=endpoint, client_id="T-09", timeout_s=1.5, connect_timeout_s=20)
        items = {it.key: it for it in Conformance(opts).run()}
    finally:
        stop.set()
        thread.join(timeout=10)
    assert [items[k].status for k in ("C01", "C02", "C04")] == ["PASS"] * 3
    assert items["C05"].status == "FAIL" and items["C06"].status == "FAIL"
    assert {items[k].status for k in ("C07", "C12", "C18")} == {"SKIP"}
