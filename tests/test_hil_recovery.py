"""Recovery of external robots that are lost while carrying a pod (B1, B2, B3), with real processes.

`fctwin serve` (fc_small, 12 units, T-01 and T-02 external, realtime x10) and two `fctwin robot`
processes on tcp loopback. Once T-01 carries a pod it is frozen (SIGSTOP) for 3 s: the dispatcher
declares it lost, its watchdog may stop it; thawed, it re-registers. Once T-02 carries a pod it is
killed (SIGKILL) and restarted 2.5 s later from its state file (where a real robot's
localisation says it is). Then T-01, carrying again, loses its uplink for 3 s (SIGUSR1: it sends
nothing but still hears the dispatcher and drives on). The story the run store must tell:

- each loss is recorded once (B3);
- each lost unit is recovered and moves again: a watchdog-stopped unit is resumed (B1);
- the pod it carried goes back to storage, by the same unit, and its trip's lines go back to the
  station (B2: no unit left carrying a pod it never sets down, no trip left open);
- units are conserved, no collision, and both robots exit on the run's bye.

Every wait is bounded; every process is reaped.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("hil_soak", ROOT / "benchmarks" / "hil_soak.py")
hil = sys.modules.setdefault("hil_soak", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(hil)


def _wait_until_carrying(rig, uid: str, timeout_s: float) -> bool:
    """Wait (bounded) until the journal shows ``uid`` carrying a pod."""
    deadline = time.monotonic() + timeout_s
    seen = 0
    while time.monotonic() < deadline and rig.serve.poll() is None:
        if hil.journal_steps(rig.db) > seen:
            ticks = hil.journal(rig.db)
            seen = ticks[-1][0]
            if any(u.unit_id == uid and u.pod_id >= 0 for u in ticks[-1][2].units):
                return True
        time.sleep(0.3)
    return False


@pytest.mark.slow
def test_robots_lost_while_carrying_a_pod_come_back_finish_the_pod_and_nothing_is_left_stuck(tmp_path):
    scene = hil.write_scene(tmp_path / "scene.toml", hours=0.15)  # 540 s simulated, ~54 s wall
    rig = hil.Rig(scene, tmp_path, speedup=10.0, heartbeat_s=0.5)
    try:
        rig.start_serve()
        assert rig.wait_for_log("serve", "waiting for external units", 120), rig.log("serve")
        for uid in hil.EXTERNAL:
            rig.start_robot(uid)
        assert _wait_until_carrying(rig, "T-01", 60), "T-01 never lifted a pod: " + rig.log("serve")[-2000:]
        proc = rig.robots["T-01"]
        os.kill(proc.pid, signal.SIGSTOP)  # > liveness (1.5 s) and > watchdog (2 s)
        time.sleep(3.0)
        os.kill(proc.pid, signal.SIGCONT)
        if _wait_until_carrying(rig, "T-02", 60):
            rig.robots["T-02"].kill()
            rig.robots.pop("T-02").wait(timeout=10)
            time.sleep(2.5)  # declared lost (1.5 s) before it is back
            rig.start_robot("T-02")  # from its state file: where it was, with its pod
        if _wait_until_carrying(rig, "T-01", 60):
            # silence while still listening: its uplink goes for 3 s, it still hears and drives
            os.kill(rig.robots["T-01"].pid, signal.SIGUSR1)
        rig.serve.wait(timeout=240)
        assert rig.serve.returncode == 0, rig.log("serve")[-3000:]
        for uid in hil.EXTERNAL:
            assert rig.robots[uid].wait(timeout=15) == 0, rig.log(uid)[-2000:]  # exited on bye
    finally:
        rig.stop_all()
    report = hil.analyse(rig.db, stuck_s=240.0)
    events = hil.events(rig.db)
    kinds = [(k, s) for _, k, s, *_ in events]
    lost = sorted({s for k, s in kinds if k == "unit_failed"})
    assert "T-01" in lost, "the freeze was not noticed"
    problems = {}
    if report["duplicate_unit_failed"]:  # B3: one loss, one record
        problems["B3 unit_failed recorded twice"] = report["duplicate_unit_failed"]
    not_back = [u for u in lost if ("unit_recovered", u) not in kinds]
    if not_back:  # B1: every lost unit is recovered (and resumed if its watchdog stopped it)
        problems["B1 lost units never recovered"] = not_back
    for uid in lost:
        back = [t for t, k, s, *_ in events if k == "unit_recovered" and s == uid]
        returned = [
            t for t, k, s, *_ in events if k == "pod_returned" and s == uid and back and t >= back[-1]
        ]
        if not returned:  # B2: the pod it carried is set down in storage by it
            problems.setdefault("B2 pod never set down after recovery", []).append(uid)
    if report["stuck"]:
        problems["stuck units at the end"] = report["stuck"]
    if report["unfinished_trips"]:
        problems["trips neither done nor handed back"] = report["unfinished_trips"]
    kpis = rig.kpis()
    if not (kpis["units_conserved"] is True and kpis["collisions"] == 0):
        problems["conservation/collisions"] = (kpis["units_conserved"], kpis["collisions"])
    assert problems == {}, problems
