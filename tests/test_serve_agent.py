"""The Eluna agent under `fctwin serve` (hardware in the loop), with two reference robots
(`fctwin robot`) on tcp loopback: advise recommends and leaves the floor alone, auto applies its
recommendations through the levers; both publish them on the dispatcher's PUB socket (`--pub`).

A live run cannot be forked, so the agent judges its candidates on its fluid model's projection
there (docs/eluna.md); these tests check that it still recommends and acts; how well is measured
headless with ``[agent] lookahead = "model"``, the same path (tests/test_eluna_model_path.py).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time

import pytest
from serve_procs import cli, free_port, run_kpis, stop  # tests/ is on sys.path (rootdir conftest)

EXTERNAL = ("T-01", "T-02")
HEARTBEAT_S = "0.2"


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["advise", "auto"])
def test_the_agent_recommends_and_acts_under_serve_and_publishes_on_pub(
    small_scene_dict, write_scene, tmp_path, mode
):
    import zmq

    from fctwin.network import protocol as p

    raw = dict(small_scene_dict)
    raw["run_hours"] = 0.2
    raw["fleet"] = [{**raw["fleet"][0], "external": list(EXTERNAL)}]
    # a mis-staffed floor: two pick stations closed, stowers to spare
    raw["labour"] = {"pool": 8, "staffing": {"P1": 1, "P2": 1, "P3": 0, "P4": 0, "S1": 2, "S2": 2}}
    raw["agent"] = {"period_min": 4, "horizon_min": 10}
    scene = write_scene(raw)
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    pub_endpoint = f"tcp://127.0.0.1:{free_port()}"
    runs = tmp_path / "runs"
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.linger = 0
    sub.connect(pub_endpoint)  # connects whenever serve binds it
    procs: list[subprocess.Popen] = []
    got = []
    try:
        for uid in EXTERNAL:
            procs.append(
                cli(
                    "robot", "--id", uid, "--connect", endpoint, "--scene", str(scene), "--speedup", "40",
                    "--heartbeat-s", HEARTBEAT_S, "--duration-s", "600", log=tmp_path / f"{uid}.log",
                )
            )  # fmt: skip
        serve = cli(
            "serve", str(scene), "--bind", endpoint, "--pub", pub_endpoint, "--runs-dir", str(runs),
            "--run-id", "hil", "--heartbeat-s", HEARTBEAT_S, "--fast", "--agent", mode,
            log=tmp_path / "serve.log",
        )  # fmt: skip
        procs.append(serve)
        deadline = time.monotonic() + 400
        while serve.poll() is None and time.monotonic() < deadline:
            if sub.poll(200):
                got.append(p.decode(sub.recv(), allowed_types=p.PUB_TYPES))
        while sub.poll(500):
            got.append(p.decode(sub.recv(), allowed_types=p.PUB_TYPES))
        kpis = run_kpis(serve, tmp_path / "serve.log")
    finally:
        for proc in procs:
            stop(proc)
        sub.close()
        ctx.term()
    assert kpis["eluna"]["mode"] == mode
    db = sqlite3.connect(runs / "hil" / "run.sqlite")
    recs = db.execute("SELECT rec_id, text, applied, data FROM recommendations ORDER BY id").fetchall()
    staff = db.execute("SELECT t_s, subject, a FROM events WHERE kind = 'staff' ORDER BY id").fetchall()
    db.close()
    assert recs, "no recommendation under serve"
    # published as made: the same ids and texts, on the dispatcher's PUB socket
    recs_pub = [e.body for e in got if e.type == p.RECOMMENDATION]
    assert [(b.rec_id, b.text) for b in recs_pub] == [(r[0], r[1]) for r in recs][: len(recs_pub)]
    assert recs_pub and all(b.mode == mode for b in recs_pub)
    evidence = json.loads(recs[0][3])["evidence"]
    assert "lookahead" not in evidence and "model" in evidence  # the fluid model's projection
    at_start = [s for s in staff if s[0] == 0.0]
    if mode == "advise":
        assert not any(r[2] for r in recs) and staff == at_start  # nothing applied
    else:
        assert all(r[2] for r in recs) and len(staff) > len(at_start)
