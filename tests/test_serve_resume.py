"""`fctwin serve` with two external robot processes; the dispatcher is killed mid-run and resumed.

The story: serve runs a small scene whose T-01 and T-02 are external (`fctwin robot` processes on
tcp loopback). Serve is killed with SIGKILL part-way through. `fctwin serve --resume RUN_ID`
replays the run's journal through a fresh dispatcher, the robots reconnect by themselves, and the
run finishes. Nothing is done twice: command ids never repeat across the journal, no trip is lifted
or finished twice, no order completes twice, and units are conserved. Every wait is bounded.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from pathlib import Path

import msgspec
import pytest
from serve_procs import cli, free_port, run_kpis, stop  # tests/ is on sys.path (rootdir conftest)

from fctwin.robots.messages import CommandBatch

EXTERNAL = ("T-01", "T-02")
KILL_AFTER_STEPS = 120
HEARTBEAT_S = "0.2"


def _journal_steps(db: Path) -> int:
    if not db.exists():
        return -1
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            row = con.execute("SELECT MAX(step) FROM journal").fetchone()
        finally:
            con.close()
    except sqlite3.Error:
        return -1
    return row[0] if row and row[0] is not None else -1


@pytest.mark.slow
def test_serve_killed_mid_run_resumes_from_its_journal_and_nothing_is_done_twice(
    small_scene_dict, write_scene, tmp_path
):
    raw = dict(small_scene_dict)
    raw["run_hours"] = 0.12
    raw["fleet"] = [{**raw["fleet"][0], "external": list(EXTERNAL)}]
    scene = write_scene(raw)
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    runs = tmp_path / "runs"
    db = runs / "hil" / "run.sqlite"
    serve_args = [
        "serve",
        str(scene),
        "--bind",
        endpoint,
        "--runs-dir",
        str(runs),
        "--heartbeat-s",
        HEARTBEAT_S,
        "--fast",  # lockstep with robots emulating at 40x
    ]
    procs: list[subprocess.Popen] = []
    try:
        for uid in EXTERNAL:
            procs.append(
                cli(
                    "robot", "--id", uid, "--connect", endpoint, "--scene", str(scene), "--speedup", "40",
                    "--heartbeat-s", HEARTBEAT_S, "--duration-s", "400", log=tmp_path / f"{uid}.log",
                )
            )  # fmt: skip
        first = cli(*serve_args, "--run-id", "hil", log=tmp_path / "serve1.log")
        procs.append(first)
        deadline = time.monotonic() + 180
        while _journal_steps(db) < KILL_AFTER_STEPS and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.2)
        assert first.poll() is None, (tmp_path / "serve1.log").read_text()[-3000:]
        assert _journal_steps(db) >= KILL_AFTER_STEPS, "serve made no progress"
        os.kill(first.pid, signal.SIGKILL)  # mid-run, mid-tick: no chance to clean up
        first.wait(timeout=10)
        killed_at = _journal_steps(db)

        second = cli(*serve_args, "--resume", "hil", log=tmp_path / "serve2.log")
        procs.append(second)
        kpis = run_kpis(second, tmp_path / "serve2.log", timeout_s=300)
    finally:
        for proc in procs:
            stop(proc)

    con = sqlite3.connect(db)
    journal = con.execute("SELECT step, sent FROM journal WHERE step >= 0 ORDER BY step").fetchall()
    events = con.execute("SELECT kind, subject, a, b FROM events ORDER BY id").fetchall()
    con.close()
    dec = msgspec.msgpack.Decoder(CommandBatch)
    steps = [s for s, _ in journal]
    assert steps == list(range(steps[0], steps[0] + len(steps))) and steps[-1] > killed_at  # one run
    ids = [c.command_id for _, sent in journal for c in dec.decode(sent).commands]
    assert len(ids) == len(set(ids)) and ids == sorted(ids)  # the resumed dispatcher continued the ids
    twice = {
        kind: [k for k, n in Counter(key for key in keys).items() if n > 1]
        for kind, keys in {
            "lifted": [(s, a) for k, s, a, _ in events if k == "lifted"],
            "trip_done": [(s, a) for k, s, a, _ in events if k == "trip_done"],
            "order_done": [a for k, _, a, _ in events if k == "order_done"],
            "trip_created": [a for k, _, a, _ in events if k == "trip_created"],
        }.items()
    }
    assert twice == {"lifted": [], "trip_done": [], "order_done": [], "trip_created": []}
    assert kpis["units_conserved"] is True and kpis["collisions"] == 0
    assert kpis["orders_completed"] > 0
    assert kpis["simulated_h"] == pytest.approx(0.12)
    # the external robots' tasks complete (they lift, carry and set down pods like simulated units)
    assert {s for k, s, _, _ in events if k == "trip_done"} & set(EXTERNAL)
