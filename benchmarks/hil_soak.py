"""Hardware-in-the-loop soak (issue 15): `fctwin serve` with external `fctwin robot` processes under faults.

    python benchmarks/hil_soak.py                       # 1 simulated hour at realtime x10, 2 robots
    python benchmarks/hil_soak.py --hours 0.25 --speedup 20 --fault-every-s 90 --seed 3

`serve` runs fc_small (12 drive units, two of them external) paced to the wall clock; two
reference robots (`fctwin robot --state-file ...`, so a killed robot restarts where it was, as a real
one reads back its localisation) drive T-01 and T-02 over tcp loopback. Every ``--fault-every-s``
simulated seconds (randomised +-50 %) one robot, chosen at random, gets one fault (freeze 40 %,
kill 40 %, mute 20 %):

- ``freeze``: SIGSTOP for 1-4 wall seconds (longer than the 1.5 s liveness, often longer than the
  2 s watchdog), then SIGCONT;
- ``kill``: SIGKILL, restarted 0.5-3 wall seconds later from its state file;
- ``mute``: SIGUSR1: the robot sends nothing for 3 wall seconds while it still receives and drives
  (silence while still listening).

After the run it reads the run store (the tick journal has every batch and frame) and prints:
faults injected, losses the dispatcher declared (``unit_failed``), recoveries (``unit_recovered``),
trips completed (all units, and by the external ones), trips of external units that neither
completed nor were handed back, stuck units at the end (an external unit reported failed or
stopped, or carrying a pod it has not set down for ``--stuck-s`` simulated seconds), units
conserved, and whether every robot exited on the run's ``bye``. Exit code 0 only if nothing is
stuck, nothing is lost and units are conserved.

The helpers (`write_scene`, `Rig`, `analyse`) are what `tests/test_hil_recovery.py` drives too.
Never a test by itself: it takes wall-clock hours / speedup (6 minutes by default).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

ROOT = Path(__file__).resolve().parents[1]
EXTERNAL = ("T-01", "T-02")
FAILED, STOPPED = 7, 6


# ------------------------------------------------------------------------------------------ set-up


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fmt(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_fmt(x)}" for k, x in v.items()) + " }"
    return repr(v)


def write_scene(
    path: Path, *, external=EXTERNAL, units: int = 12, hours: float = 1.0, seed: int | None = None
) -> Path:
    """fc_small with ``units`` drive units, ``external`` of them served on the wire."""
    raw = tomllib.loads((ROOT / "scenes" / "fc_small.toml").read_text())
    raw["fleet"][0]["count"] = units
    raw["fleet"][0]["external"] = list(external)
    raw["run_hours"] = hours
    if seed is not None:
        raw["seed"] = seed
    lines, tables = [], []
    for k, v in raw.items():
        if isinstance(v, dict) or (isinstance(v, list) and v and all(isinstance(x, dict) for x in v)):
            tables.append((k, v))
        else:
            lines.append(f"{k} = {_fmt(v)}")
    for k, v in tables:
        for item in v if isinstance(v, list) else [v]:
            lines.append(f"[[{k}]]" if isinstance(v, list) else f"[{k}]")
            lines += [f"{a} = {_fmt(b)}" for a, b in item.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class Rig:
    """`fctwin serve` and its robots as processes, with their logs in ``workdir``."""

    scene: Path
    workdir: Path
    speedup: float = 10.0
    heartbeat_s: float = 0.5
    serve_args: tuple[str, ...] = ()
    endpoint: str = ""
    run_id: str = "hil"
    serve: subprocess.Popen | None = None
    robots: dict[str, subprocess.Popen] = field(default_factory=dict)
    exited: list[tuple[str, int]] = field(default_factory=list)  # (robot, exit code) as they end
    starts: Counter = field(default_factory=Counter)
    state_files: bool = True  # robots keep their pose in a file (off: robots that predate --state-file)

    def __post_init__(self) -> None:
        self.endpoint = self.endpoint or f"tcp://127.0.0.1:{free_port()}"
        self.workdir.mkdir(parents=True, exist_ok=True)

    @property
    def db(self) -> Path:
        return self.workdir / "runs" / self.run_id / "run.sqlite"

    def _cli(self, args: list[str], log: Path) -> subprocess.Popen:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        out = log.open("a")
        return subprocess.Popen(
            [sys.executable, "-m", "fctwin.sim.cli", *args], cwd=self.workdir, env=env, stdout=out, stderr=out
        )

    def start_serve(self, *extra: str) -> subprocess.Popen:
        args = [
            "serve", str(self.scene), "--bind", self.endpoint, "--runs-dir", str(self.workdir / "runs"),
            "--run-id", self.run_id, "--heartbeat-s", str(self.heartbeat_s), *self.serve_args, *extra,
        ]  # fmt: skip
        if "--fast" not in args and "--realtime" not in args:
            args += ["--realtime", "--speedup", str(self.speedup)]
        self.serve = self._cli(args, self.workdir / "serve.log")
        return self.serve

    def start_robot(self, uid: str, *extra: str) -> subprocess.Popen:
        self.starts[uid] += 1
        args = [
            "robot", "--id", uid, "--connect", self.endpoint, "--scene", str(self.scene),
            "--speedup", str(self.speedup), "--heartbeat-s", str(self.heartbeat_s), *extra,
        ]  # fmt: skip
        if self.state_files:
            args += ["--state-file", str(self.workdir / f"{uid}.state.json")]
        proc = self._cli(args, self.workdir / f"{uid}.log")
        self.robots[uid] = proc
        return proc

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text() if path.exists() else ""

    def wait_for_log(self, name: str, text: str, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if text in self.log(name):
                return True
            if self.serve is not None and self.serve.poll() is not None and name != "serve":
                return text in self.log(name)
            time.sleep(0.1)
        return False

    def reap(self) -> None:
        """Note robots that exited (by themselves: bye, or by a fault)."""
        for uid, proc in list(self.robots.items()):
            if proc.poll() is not None:
                self.exited.append((uid, proc.returncode))
                del self.robots[uid]

    def stop_all(self) -> None:
        procs = [*self.robots.values(), *([self.serve] if self.serve else [])]
        for proc in procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGCONT)
                proc.kill()
            proc.wait(timeout=10)

    def kpis(self) -> dict:
        text = self.log("serve")
        start = text.rfind('{\n  "run_id"')
        return json.loads(text[start : text.index("\n}", start) + 2]) if start >= 0 else {}


# ------------------------------------------------------------------------------------------ analysis

_batch = None
_frame = None


def journal(db: Path):
    """(step, CommandBatch or None, TelemetryFrame) for every journaled tick, in order."""
    global _batch, _frame
    from fctwin.robots.messages import CommandBatch, TelemetryFrame

    _batch = _batch or msgspec.msgpack.Decoder(CommandBatch)
    _frame = _frame or msgspec.msgpack.Decoder(TelemetryFrame)
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        rows = con.execute("SELECT step, sent, received FROM journal ORDER BY step").fetchall()
    finally:
        con.close()
    return [(s, _batch.decode(b) if b else None, _frame.decode(r)) for s, b, r in rows]


def journal_steps(db: Path) -> int:
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


def events(db: Path) -> list[tuple]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute("SELECT t_s, kind, subject, a, b, c FROM events ORDER BY id").fetchall()
    finally:
        con.close()


def analyse(db: Path, external=EXTERNAL, *, stuck_s: float = 300.0) -> dict:
    """What the run store says about the external units: losses, recoveries, trips, stuck units."""
    ticks = journal(db)
    evs = events(db)
    ext = set(external)
    failed = [(t, s) for t, k, s, *_ in evs if k == "unit_failed" and s in ext]
    recovered = [(t, s) for t, k, s, *_ in evs if k == "unit_recovered" and s in ext]
    done = [(t, s, a) for t, k, s, a, *_ in evs if k == "trip_done"]
    assigned = [(t, s, a) for t, k, s, a, *_ in evs if k == "trip_assigned" and s in ext]
    handed_back = [(t, s, a) for t, k, s, a, *_ in evs if k == "trip_handed_back" and s in ext]
    # A trip of an external unit ends done, or handed back (its lines re-queued when the unit was
    # lost); the unit's last trip may still be running when the run ends.
    closed = {a for _, _, a in done} | {a for _, _, a in handed_back}
    open_trips: dict[str, list[int]] = {}
    for _, s, a in assigned:
        if a not in closed:
            open_trips.setdefault(s, []).append(a)
    unfinished = {s: ids[:-1] for s, ids in open_trips.items() if len(ids) > 1}
    # Stuck at the end: reported failed/stopped, or carrying a pod unchanged for stuck_s.
    last = {u.unit_id: u for u in ticks[-1][2].units} if ticks else {}
    t_end = ticks[-1][2].t_s if ticks else 0.0
    pod_since: dict[str, float] = {}
    prev_pod: dict[str, int] = {}
    for _, _, frame in ticks:
        for u in frame.units:
            if u.unit_id in ext and prev_pod.get(u.unit_id) != u.pod_id:
                prev_pod[u.unit_id] = u.pod_id
                pod_since[u.unit_id] = frame.t_s
    stuck = {}
    for uid in external:
        u = last.get(uid)
        if u is None:
            stuck[uid] = "never reported"
        elif u.mode in (FAILED, STOPPED):
            stuck[uid] = "failed" if u.mode == FAILED else "stopped"
        elif u.pod_id >= 0 and t_end - pod_since.get(uid, 0.0) >= stuck_s:
            stuck[uid] = f"carrying pod {u.pod_id} since t={pod_since[uid]:.0f} s"
    same_instant = Counter(failed)
    return {
        "ticks": len(ticks),
        "losses": len(failed),
        "duplicate_unit_failed": sum(n - 1 for n in same_instant.values() if n > 1),
        "recoveries": len(recovered),
        "trips_completed": len(done),
        "trips_completed_external": sum(1 for _, s, _ in done if s in ext),
        "trips_handed_back": len(handed_back),
        "unfinished_trips": unfinished,
        "stuck": stuck,
        "final": {uid: (u.mode, u.row, u.col, u.pod_id) for uid, u in last.items() if uid in ext},
    }


# ------------------------------------------------------------------------------------------ soak


def soak(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    workdir = Path(args.workdir or f"/tmp/fctwin-hil-soak-{os.getpid()}")
    workdir.mkdir(parents=True, exist_ok=True)
    scene = write_scene(workdir / "scene.toml", hours=args.hours)
    rig = Rig(scene, workdir, speedup=args.speedup, heartbeat_s=args.heartbeat_s)
    faults: Counter = Counter()
    wall_budget_s = args.hours * 3600 / args.speedup
    print(
        f"soak: {args.hours} h at x{args.speedup} (~{wall_budget_s:.0f} s wall), logs in {workdir}",
        flush=True,
    )
    try:
        rig.start_serve()
        if not rig.wait_for_log("serve", "waiting for external units", 120):
            raise SystemExit("serve did not start:\n" + rig.log("serve")[-2000:])
        for uid in EXTERNAL:
            rig.start_robot(uid)
        while journal_steps(rig.db) < 0 and rig.serve.poll() is None:
            time.sleep(0.2)
        restart_at: dict[str, float] = {}
        next_fault = time.monotonic() + _gap(rng, args)
        while rig.serve.poll() is None:
            time.sleep(0.1)
            now = time.monotonic()
            for uid, at in list(restart_at.items()):
                if now >= at:
                    del restart_at[uid]
                    rig.start_robot(uid)
            rig.reap()
            if now < next_fault:
                continue
            next_fault = now + _gap(rng, args)
            live = [u for u in EXTERNAL if u in rig.robots and u not in restart_at]
            if not live:
                continue
            uid = rng.choice(live)
            proc = rig.robots[uid]
            roll = rng.random()
            if roll < 0.2:
                faults["mute"] += 1
                print(f"  t={journal_steps(rig.db)} steps: SIGUSR1 {uid} (uplink silent 3 s)", flush=True)
                os.kill(proc.pid, signal.SIGUSR1)
            elif roll < 0.6:
                hold = rng.uniform(1.0, 4.0)
                faults["freeze"] += 1
                print(f"  t={journal_steps(rig.db)} steps: SIGSTOP {uid} for {hold:.1f} s", flush=True)
                os.kill(proc.pid, signal.SIGSTOP)
                time.sleep(hold)
                os.kill(proc.pid, signal.SIGCONT)
            else:
                faults["kill"] += 1
                print(f"  t={journal_steps(rig.db)} steps: SIGKILL {uid}", flush=True)
                proc.kill()
                proc.wait()
                del rig.robots[uid]
                restart_at[uid] = now + rng.uniform(0.5, 3.0)
        # the run is over: every robot should have heard bye and exited by itself
        deadline = time.monotonic() + 10
        while rig.robots and time.monotonic() < deadline:
            rig.reap()
            time.sleep(0.1)
        still_running = sorted(rig.robots)
    finally:
        rig.stop_all()
    kpis = rig.kpis()
    if rig.serve.returncode != 0 or not kpis:
        print(rig.log("serve")[-3000:])
        return 1
    report = analyse(rig.db, stuck_s=args.stuck_s)
    figures = {
        "simulated_h": kpis.get("simulated_h"),
        "speedup": args.speedup,
        "faults_injected": sum(faults.values()),
        "faults": dict(faults),
        "losses_declared": report["losses"],
        "duplicate_unit_failed": report["duplicate_unit_failed"],
        "recoveries": report["recoveries"],
        "trips_completed": report["trips_completed"],
        "trips_completed_by_external": report["trips_completed_external"],
        "trips_handed_back": report["trips_handed_back"],
        "unfinished_trips": report["unfinished_trips"],
        "stuck_units": len(report["stuck"]),
        "stuck": report["stuck"],
        "units_conserved": kpis.get("units_conserved"),
        "collisions": kpis.get("collisions"),
        "robots_exited_on_bye": not still_running,
        "robot_starts": dict(rig.starts),
        "final_external_states": report["final"],
    }
    print(json.dumps(figures, indent=2))
    ok = (
        not report["stuck"]
        and not report["unfinished_trips"]
        and kpis.get("units_conserved")
        and not still_running
        and report["duplicate_unit_failed"] == 0
    )
    return 0 if ok else 1


def _gap(rng: random.Random, args: argparse.Namespace) -> float:
    return rng.uniform(0.5, 1.5) * args.fault_every_s / args.speedup


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hours", type=float, default=1.0, help="simulated hours (default 1)")
    ap.add_argument("--speedup", type=float, default=10.0, help="realtime factor (default 10)")
    ap.add_argument("--fault-every-s", type=float, default=180.0, help="simulated seconds between faults")
    ap.add_argument("--heartbeat-s", type=float, default=0.5, help="heartbeat interval (default 0.5)")
    ap.add_argument("--stuck-s", type=float, default=300.0, help="a pod held this long counts as stuck")
    ap.add_argument("--seed", type=int, default=1, help="fault schedule seed")
    ap.add_argument("--workdir", help="where logs and the run store go (default /tmp/fctwin-hil-soak-PID)")
    return soak(ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
