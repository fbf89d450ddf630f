"""Simulation speed at three scales: real-time factor, start-up, peak memory and how busy the fleet is.

    python benchmarks/sim_speed.py [--cases small,large,2000] [--hours-small 8] [--hours-large 1]
                                   [--hours-2000 1] [--cpu auto|off|N] [--json OUT.json]

Each case is the whole `fctwin run SCENE --hours H --json` command in its own process, as a user runs
it: imports, scene, the fleet host in its own process over ZeroMQ, the run, the run store. Measured:

- wall: the whole command; x real time = simulated time / wall (the issue's figure), and the run
  loop's own factor (first tick to last, what `fctwin run` prints);
- start-up: the command's wall minus the run loop's (imports, scene, fleet host and world, dispatcher
  and planner warm-up, the first frame; plus the few ms of the summary at the end);
- peak memory: the largest sum of the RSS of `fctwin run` and its fleet host, sampled every 0.1 s
  from /proc (Linux), and each one's own peak (``ru_maxrss``-like, from the same samples);
- drive-unit utilisation (share of unit-ticks with a trip: to a pod, lifting, carrying to a station,
  queued there with the pod, being served, returning it) and, from the run's event log, how a trip's
  time splits between those phases, so "busy" can be read for what it is.

Goals (issue 21): fc_small_peak (fc_small at saturation, the scene the 8-hour figure was always
measured on) 8 h in <= 20 s; fc_large >= 100x; fc_2000 >= 50x real time with >= 85% drive-unit
utilisation, start-up < 5 s, peak memory < 2 GB. Reference (docs/references.md): RAWSim-O simulated
1.5 h with 32 robots in 30 s of wall clock with its fastest planner (about 180x real time).

The machine is shared: the load average before and after each case is printed beside it; compare
figures only at similar load, and prefer CPU time (user + sys of both processes, also printed, and
the real-time factor it implies: the run's two processes take turns on one CPU, so on an idle CPU the
wall is about their CPU time), and the fleet host's share of it (sampled from /proc).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# name -> (scene, hours option, goals)
CASES = {
    "small": ("fc_small_peak", "hours_small", {"wall_s": 20.0}),
    "large": ("fc_large", "hours_large", {"x_real_time": 100.0}),
    "2000": (
        "fc_2000",
        "hours_2000",
        {"x_real_time": 50.0, "utilisation": 0.85, "startup_s": 5.0, "peak_mb": 2048.0},
    ),
}


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def _cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a live process so far (Linux /proc), None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_case(scene: str, hours: float, cpu: str, runs_dir: Path) -> dict:
    """Run one `fctwin run` command; return its figures."""
    cmd = [sys.executable, "-m", "fctwin.sim.cli", "run", scene, "--hours", str(hours), "--json"]
    cmd += ["--runs-dir", str(runs_dir), "--record-poses", "off", "--cpu", cpu]
    load_before = os.getloadavg()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT)
    peak_sum = peak_main = peak_host = 0
    host_cpu: dict[int, float] = {}  # each child's CPU at its last sample (it exits before the run)
    while proc.poll() is None:
        main = _rss_kb(proc.pid)
        kids = _children(proc.pid)
        host = sum(_rss_kb(c) for c in kids)
        for c in kids:
            if (used := _cpu_s(c)) is not None:
                host_cpu[c] = used
        peak_sum = max(peak_sum, main + host)
        peak_main, peak_host = max(peak_main, main), max(peak_host, host)
        time.sleep(0.1)
    wall_s = time.perf_counter() - t0
    out = proc.stdout.read()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed with exit code {proc.returncode}")
    k = json.loads(out)
    loop_s = float(k["wall_s"])
    return {
        "scene": scene,
        "hours": hours,
        "wall_s": round(wall_s, 2),
        "loop_s": round(loop_s, 2),
        "startup_s": round(wall_s - loop_s, 2),
        "x_real_time": round(hours * 3600 / wall_s, 1),
        "loop_x_real_time": k["realtime_factor"],
        "cpu_s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 1),
        # the fleet host's share, sampled every 0.1 s (its last 0.1 s before it exits is missed)
        "cpu_fleet_host_s": round(sum(host_cpu.values()), 1),
        # Both processes share one CPU (pinned) and take turns, so on an idle CPU the wall would be
        # about their CPU time: the factor a loaded machine's wall hides.
        "cpu_x_real_time": round(
            hours * 3600 / max(1e-9, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)),
            1,
        ),
        "peak_mb": round(peak_sum / 1024),
        "peak_dispatcher_mb": round(peak_main / 1024),
        "peak_fleet_host_mb": round(peak_host / 1024),
        "drive_units": k["drive_units"],
        "utilisation": k["drive_unit_utilisation"],
        "units_picked_per_h": k["units_picked_per_h"],
        "units_stowed_per_h": k["units_stowed_per_h"],
        "pick_station_utilisation": k["pick_station_utilisation"],
        "busy_split": busy_split(Path(k["db"])),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }


def busy_split(db_path: Path) -> dict[str, float]:
    """Share of the trips' unit-time in each phase, over trips that ended in the run.

    to_pod: assigned to lifted (driving to the pod, lifting it); to_station: lifted to at the station
    (carrying it there and queueing with it); at_station: being served; returning: back to storage
    and setting down.
    """
    db = sqlite3.connect(db_path)
    marks: dict[int, dict[str, float]] = {}
    kinds = ("trip_assigned", "lifted", "at_station", "leave_station", "trip_done")
    rows = db.execute(
        f"SELECT t_s, kind, a FROM events WHERE kind IN ({','.join('?' * len(kinds))}) ORDER BY id", kinds
    )
    for t_s, kind, trip in rows:
        marks.setdefault(int(trip), {}).setdefault(kind, float(t_s))
    db.close()
    phases = {"to_pod": 0.0, "to_station": 0.0, "at_station": 0.0, "returning": 0.0}
    for m in marks.values():
        if len(m) < len(kinds):
            continue
        phases["to_pod"] += m["lifted"] - m["trip_assigned"]
        phases["to_station"] += m["at_station"] - m["lifted"]
        phases["at_station"] += m["leave_station"] - m["at_station"]
        phases["returning"] += m["trip_done"] - m["leave_station"]
    total = sum(phases.values()) or 1.0
    return {k: round(v / total, 3) for k, v in phases.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default="small,large,2000", help="comma-separated: small, large, 2000")
    ap.add_argument("--hours-small", type=float, default=8.0)
    ap.add_argument("--hours-large", type=float, default=1.0)
    ap.add_argument("--hours-2000", type=float, default=1.0)
    ap.add_argument("--cpu", default="auto", help="auto (default, as fctwin run), off, or a CPU number")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    names = [c.strip() for c in args.cases.split(",") if c.strip()]
    for name in names:
        if name not in CASES:
            ap.error(f"unknown case {name!r} (small, large, 2000)")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            scene, hours_opt, goals = CASES[name]
            res = run_case(scene, getattr(args, hours_opt), args.cpu, Path(tmp))
            res["goals"] = goals
            results.append(res)
            print(_report(res), flush=True)
    print("reference: RAWSim-O, 32 robots, 1.5 h in 30 s wall = ~180x real time (docs/references.md)")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


def _report(r: dict) -> str:
    goals = r["goals"]

    def beside(key: str, text: str, better: str) -> str:
        if key not in goals:
            return text
        goal = goals[key]
        ok = r[key] <= goal if better == "low" else r[key] >= goal
        sign = "<=" if better == "low" else ">="
        return f"{text} (goal {sign} {goal:g}: {'met' if ok else 'NOT met'})"

    split = ", ".join(f"{k} {v:.0%}" for k, v in r["busy_split"].items())
    return "\n".join(
        [
            f"{r['scene']}: {r['drive_units']} drive units, {r['hours']:g} simulated h"
            f" (load average {r['load_before'][0]:.2f} before, {r['load_after'][0]:.2f} after)",
            "  " + beside("wall_s", f"wall {r['wall_s']:.1f} s", "low"),
            "  "
            + beside("x_real_time", f"{r['x_real_time']:.1f}x real time (whole command)", "high")
            + f"; run loop alone {r['loop_x_real_time']:.1f}x",
            "  " + beside("startup_s", f"start-up {r['startup_s']:.2f} s", "low"),
            "  "
            + beside("peak_mb", f"peak memory {r['peak_mb']} MB", "low")
            + f" (dispatcher {r['peak_dispatcher_mb']} MB, fleet host {r['peak_fleet_host_mb']} MB)",
            "  "
            + beside("utilisation", f"drive-unit utilisation {r['utilisation']:.1%}", "high")
            + f"; trip time: {split}",
            f"  units picked/h {r['units_picked_per_h']:.0f}, stowed/h {r['units_stowed_per_h']:.0f},"
            f" pick stations {r['pick_station_utilisation']:.0%} busy;"
            f" CPU {r['cpu_s']:.1f} s (both processes: {r['cpu_x_real_time']:.1f}x real time by CPU time;"
            f" fleet host {r['cpu_fleet_host_s']:.1f} s, the rest the dispatcher's)",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
