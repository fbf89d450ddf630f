"""`fctwin serve --agent auto` killed mid-run and resumed: the agent's decisions survive the restart.

The replay re-runs the agent on the journaled frames. Its actions change the dispatcher's command
batches, so a replay that decided differently would stop with a mismatch; this checks that it
does not, that the recommendations made before the kill are kept exactly (same ids, times, texts)
and never written twice, and that a resume with another agent mode is refused up front with an
error naming the field (a different mode would replay different batches).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from serve_procs import cli, free_port, run_kpis, stop  # tests/ is on sys.path (rootdir conftest)

EXTERNAL = ("T-01", "T-02")
HEARTBEAT_S = "0.2"


def _read(db: Path, sql: str) -> list:
    if not db.exists():
        return []
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()
    except sqlite3.Error:
        return []


@pytest.mark.slow
def test_serve_with_the_agent_resumes_and_keeps_its_recommendations_once(
    small_scene_dict, write_scene, tmp_path
):
    raw = dict(small_scene_dict)
    raw["run_hours"] = 0.2
    raw["fleet"] = [{**raw["fleet"][0], "external": list(EXTERNAL)}]
    # a mis-staffed floor, so the agent has people to move (as in test_serve_agent.py)
    raw["labour"] = {"pool": 8, "staffing": {"P1": 1, "P2": 1, "P3": 0, "P4": 0, "S1": 2, "S2": 2}}
    raw["agent"] = {"period_min": 4, "horizon_min": 10}
    scene = write_scene(raw)
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    runs = tmp_path / "runs"
    db = runs / "hil" / "run.sqlite"
    serve_args = [
        "serve", str(scene), "--bind", endpoint, "--runs-dir", str(runs),
        "--heartbeat-s", HEARTBEAT_S, "--fast",
    ]  # fmt: skip
    procs: list[subprocess.Popen] = []
    try:
        for uid in EXTERNAL:
            procs.append(
                cli(
                    "robot", "--id", uid, "--connect", endpoint, "--scene", str(scene), "--speedup", "40",
                    "--heartbeat-s", HEARTBEAT_S, "--duration-s", "600", log=tmp_path / f"{uid}.log",
                )
            )  # fmt: skip
        first = cli(*serve_args, "--run-id", "hil", "--agent", "auto", log=tmp_path / "serve1.log")
        procs.append(first)
        # kill once an applied recommendation is in the store and a few more ticks went by
        deadline = time.monotonic() + 300
        applied_at = None
        while time.monotonic() < deadline and first.poll() is None:
            step = (_read(db, "SELECT MAX(step) FROM journal") or [(None,)])[0][0] or -1
            if applied_at is None and _read(db, "SELECT 1 FROM recommendations WHERE applied = 1"):
                applied_at = step
            if applied_at is not None and step >= applied_at + 30:
                break
            time.sleep(0.1)
        assert first.poll() is None, (tmp_path / "serve1.log").read_text()[-3000:]
        assert applied_at is not None, "the agent applied nothing before the kill"
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        before = _read(db, "SELECT rec_id, t_s, kind, text, applied FROM recommendations ORDER BY id")
        staff_before = _read(db, "SELECT t_s, subject, a FROM events WHERE kind = 'staff' ORDER BY id")
        assert before and staff_before

        # another agent mode is refused before anything is touched: the store stays as it is
        wrong = cli(*serve_args, "--resume", "hil", "--agent", "advise", log=tmp_path / "wrong.log")
        assert wrong.wait(timeout=120) == 2
        said = (tmp_path / "wrong.log").read_text()
        assert "agent" in said and "Traceback" not in said, said[-2000:]
        assert _read(db, "SELECT rec_id, t_s, kind, text, applied FROM recommendations ORDER BY id") == before

        second = cli(*serve_args, "--resume", "hil", log=tmp_path / "serve2.log")
        procs.append(second)
        kpis = run_kpis(second, tmp_path / "serve2.log", timeout_s=400)
    finally:
        for proc in procs:
            stop(proc)

    after = _read(db, "SELECT rec_id, t_s, kind, text, applied FROM recommendations ORDER BY id")
    staff_after = _read(db, "SELECT t_s, subject, a FROM events WHERE kind = 'staff' ORDER BY id")
    ids = [r[0] for r in after]
    assert [k for k, n in Counter(ids).items() if n > 1] == []  # none written twice
    assert after[: len(before)] == before  # the replay made the same decisions at the same times
    assert staff_after[: len(staff_before)] == staff_before
    assert kpis["eluna"]["mode"] == "auto" and kpis["eluna"]["actions_applied"] >= len(
        [r for r in before if r[4]]
    )
    assert kpis["units_conserved"] is True and kpis["collisions"] == 0
    assert kpis["simulated_h"] == pytest.approx(0.2)
