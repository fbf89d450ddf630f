"""`fctwin serve` and real `fctwin robot` processes on tcp loopback: what a robot vendor relies on.

- B5: serve refuses external units without ``--realtime`` (or an explicit ``--fast``).
- B6/B7/B8: a robot that registered hears the dispatcher at least once per heartbeat interval from
  its welcome (while the dispatcher waits for the fleet host and the other robots, and between
  paced ticks) to the run's ``bye``; then it exits by itself.
- B4: a hello from a wall cell, without a state, or on another unit's cell is refused with a typed
  ``pose`` error and opens no session; an ``ack`` for a command id never sent is refused with
  ``unknown_command``.

Heartbeat 0.2 s (liveness 0.6 s): a dispatcher silent between two paced ticks of 1 s is caught.
Every wait is bounded; every process is reaped.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zmq

from fctwin.network import protocol as p
from fctwin.robots.messages import UnitEvent, UnitState

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("hil_soak", ROOT / "benchmarks" / "hil_soak.py")
hil = sys.modules.setdefault("hil_soak", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(hil)


def _robot_session_lines(log: str) -> list[str]:
    """The robot's log lines from its first registration to the bye."""
    lines = log.splitlines()
    first = next(k for k, ln in enumerate(lines) if "registered (session" in ln)
    end = next((k for k, ln in enumerate(lines) if "said bye" in ln), len(lines))
    return lines[first:end]


def test_serve_refuses_external_units_without_realtime(tmp_path):
    scene = hil.write_scene(tmp_path / "scene.toml", hours=0.01)
    out = subprocess.run(
        [sys.executable, "-m", "fctwin.sim.cli", "serve", str(scene), "--bind", "tcp://127.0.0.1:1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode != 0 and "--realtime" in out.stderr


@pytest.mark.slow
def test_a_registered_robot_hears_the_dispatcher_until_bye_and_then_exits(tmp_path):
    from fctwin.sim.scene import load_scene

    scene = hil.write_scene(tmp_path / "scene.toml", hours=0.004)  # 14.4 s at hardware speed
    # Both robots start parked under a stored pod and no orders come: they get no command at all,
    # only heartbeats, so every paced wait between ticks is a wait the dispatcher must fill.
    homes = [tuple(map(int, c)) for c in load_scene(scene).pods.home_cells[:2]]
    quiet = ("--set", "orders.rate_per_h=0.001", "--set", "inbound.cartons_per_h=0.001")
    rig = hil.Rig(scene, tmp_path, speedup=1.0, heartbeat_s=0.2)
    try:
        rig.start_serve(*quiet)
        assert rig.wait_for_log("serve", "waiting for external units", 120), rig.log("serve")
        rig.start_robot("T-01", "--cell", ",".join(map(str, homes[0])))  # while the fleet host starts
        assert rig.wait_for_log("T-01", "registered (session", 60), rig.log("T-01")
        time.sleep(2.0)  # the dispatcher waits for T-02: more than three liveness windows
        rig.start_robot("T-02", "--cell", ",".join(map(str, homes[1])))
        rig.serve.wait(timeout=180)
        assert rig.serve.returncode == 0, rig.log("serve")[-3000:]
        # both robots heard bye and exited by themselves, with success
        for uid in ("T-01", "T-02"):
            try:
                code = rig.robots[uid].wait(timeout=15)
            except subprocess.TimeoutExpired:
                pytest.fail(f"{uid} did not exit after the run: " + rig.log(uid)[-2000:])
            assert code == 0, rig.log(uid)[-2000:]
    finally:
        rig.stop_all()
    for uid in ("T-01", "T-02"):
        session = _robot_session_lines(rig.log(uid))
        assert "said bye (run finished)" in rig.log(uid)
        trouble = [ln for ln in session if re.search("reconnecting|watchdog|unknown_client", ln)]
        assert trouble == [], f"{uid} lost its dispatcher during the run:\n" + "\n".join(trouble)
    assert rig.kpis()["units_conserved"] is True


def _dealer(ctx: zmq.Context, endpoint: str, uid: str) -> zmq.Socket:
    s = ctx.socket(zmq.DEALER)
    s.linger = 0
    s.setsockopt_string(zmq.IDENTITY, uid)
    s.connect(endpoint)
    return s


def _ask(sock: zmq.Socket, msg_type: str, body, uid: str, seq: int) -> p.Envelope:
    """Send one message; return the first reply that is not a heartbeat (bounded wait)."""
    sock.send(p.encode(msg_type, body, sender=uid, seq=seq))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if sock.poll(100, zmq.POLLIN):
            env = p.decode(sock.recv())
            if env.type != p.HEARTBEAT:
                return env
    raise AssertionError(f"no reply to {msg_type}")


def _hello(uid: str, state: UnitState | None) -> p.Hello:
    return p.Hello(client_id=uid, role=p.ROLE_ROBOT, units=[p.UnitInfo(uid, "titan", state=state)])


@pytest.mark.slow
def test_impossible_poses_and_unknown_command_ids_get_typed_errors(tmp_path):
    from fctwin.sim.scene import load_scene

    scene_path = hil.write_scene(tmp_path / "scene.toml", hours=0.01)
    scene = load_scene(scene_path)
    start = {u.unit_id: u for u in scene.units}
    rig = hil.Rig(scene_path, tmp_path, speedup=1.0, heartbeat_s=0.2)
    ctx = zmq.Context()
    try:
        rig.start_serve("--wait-s", "60")
        assert rig.wait_for_log("serve", "waiting for external units", 120), rig.log("serve")
        # the reference robot told to stand in the wall (row 0 is the outer wall): refused, keeps asking
        rig.start_robot("T-02", "--cell", "0,3")
        assert rig.wait_for_log("T-02", "pose", 60), rig.log("T-02")
        assert "registered (session" not in rig.log("T-02")
        rig.robots.pop("T-02").kill()
        sock = _dealer(ctx, rig.endpoint, "T-01")
        t01 = start["T-01"]

        def state(cell, heading=0) -> UnitState:
            return UnitState("T-01", "titan", 0, cell[0], cell[1], heading)

        # no state at all
        reply = _ask(sock, p.HELLO, _hello("T-01", None), "T-01", 1)
        assert (reply.type, reply.body.code) == (p.ERROR, p.ErrorCode.POSE), reply
        # off the floor, and on the cell of a simulated unit
        reply = _ask(sock, p.HELLO, _hello("T-01", state((-1, 4))), "T-01", 2)
        assert reply.body.code == p.ErrorCode.POSE and "off the floor" in reply.body.detail
        t05 = start["T-05"].cell
        reply = _ask(sock, p.HELLO, _hello("T-01", state(t05)), "T-01", 3)
        assert reply.body.code == p.ErrorCode.POSE and "held by unit T-05" in reply.body.detail
        # where it really is: welcomed, with the floor's cell codes
        reply = _ask(sock, p.HELLO, _hello("T-01", state(t01.cell, t01.heading)), "T-01", 4)
        assert reply.type == p.WELCOME and reply.body.floor is not None
        assert reply.body.floor.code(*t01.cell) == int(scene.grid[t01.cell])
        assert reply.body.floor.rows * reply.body.floor.cols == scene.grid.size
        # telemetry placing it in a wall: refused, the dispatcher keeps its last valid pose
        from fctwin.robots.messages import TelemetryFrame

        wall = TelemetryFrame(step=0, t_s=0.0, units=[state((0, 3))])
        reply = _ask(sock, p.TELEMETRY, wall, "T-01", 5)
        assert reply.body.code == p.ErrorCode.POSE and "wall" in reply.body.detail
        # ack and done for a command id the dispatcher never sent
        for seq, kind in ((6, p.ACK), (7, p.DONE)):
            reply = _ask(sock, kind, UnitEvent("T-01", kind, 0.0, 987654), "T-01", seq)
            assert reply.body.code == p.ErrorCode.UNKNOWN_COMMAND, reply
        sock.close()
    finally:
        ctx.destroy(linger=0)
        rig.stop_all()
