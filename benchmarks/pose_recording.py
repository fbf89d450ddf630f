"""What recording poses costs a big fleet: run-store size and run time, fc_large, on vs off.

    python benchmarks/pose_recording.py [--scene fc_large] [--hours 0.5] [--repeats 3]

Fleets over 100 units record their poses delta-encoded by default (`fctwin.sim.runstore.POSE_DELTA`),
so `fctwin view` replays any run. Runs alternate recording on and off (in-process link); printed:
the poses' share of the run store (bytes per step and per simulated hour), the wall-time medians,
and the recording's own cost measured inside the process (building the pose array, encoding,
inserting: it does not depend on machine load), beside the goal: a few percent of the run at most.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from fctwin.sim.run import RunOptions, run_fc
from fctwin.sim.run.tracker import Tracker
from fctwin.sim.runstore import RunStore

ROOT = Path(__file__).resolve().parents[1]


class _Timed:
    """Adds the wall time of calls to `Tracker.poses` and `RunStore.add_pose` to ``spent_s``."""

    def __init__(self) -> None:
        self.spent_s = 0.0
        self.calls = 0

    def wrap(self, cls, name: str) -> None:
        orig = getattr(cls, name)

        def timed(*a, **kw):
            t0 = time.perf_counter()
            try:
                return orig(*a, **kw)
            finally:
                self.spent_s += time.perf_counter() - t0
                self.calls += name == "add_pose"

        setattr(cls, name, timed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scene", default="fc_large")
    ap.add_argument("--hours", type=float, default=0.5)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    timer = _Timed()
    timer.wrap(Tracker, "poses")
    timer.wrap(RunStore, "add_pose")
    walls: dict[bool, list[float]] = {True: [], False: []}
    shares, pose_bytes, steps = [], 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeats):
            for rec in (True, False) if k % 2 == 0 else (False, True):
                timer.spent_s, timer.calls = 0.0, 0
                opts = RunOptions(hours=args.hours, link="local", runs_dir=Path(tmp), record_poses=rec)
                r = run_fc(ROOT / "scenes" / f"{args.scene}.toml", opts)
                walls[rec].append(r.wall_s)
                if rec:
                    shares.append(timer.spent_s / r.wall_s)
                    db = sqlite3.connect(r.db_path)
                    pose_bytes, steps = db.execute("SELECT sum(length(data)), count(*) FROM poses").fetchone()
                    db.close()
                    per_step_ms = 1000 * timer.spent_s / max(timer.calls, 1)
    on, off = statistics.median(walls[True]), statistics.median(walls[False])
    per_h = pose_bytes / args.hours
    print(f"{args.scene} {args.hours:g} h, {steps} recorded steps, load average {os.getloadavg()}")
    print(f"  poses: {pose_bytes / steps:,.0f} bytes/step, {per_h / 1e6:.2f} MB per simulated hour")
    print(f"  wall: recording {on:.2f} s vs off {off:.2f} s median (ratio {on / off:.3f};")
    print(f"        runs {[round(x, 2) for x in walls[True]]} vs {[round(x, 2) for x in walls[False]]})")
    print(
        f"  recording's own cost: {per_step_ms:.3f} ms/step, {100 * statistics.median(shares):.1f}% of the"
        " run's wall time (goal: a few percent at most)"
    )


if __name__ == "__main__":
    main()
