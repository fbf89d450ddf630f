"""The fleet host alone: its cost per lockstep tick, replaying a recorded command stream.

    python benchmarks/fleet_host_step.py record [--scene fc_2000] [--minutes 12] [--out FILE]
    python benchmarks/fleet_host_step.py replay [--file FILE] [--skip-minutes 6] [--profile N]
                                                [--world off|on]

``record`` runs the scene with the in-process link and writes every tick's `CommandBatch` (as the
dispatcher sent it) to a msgpack file. ``replay`` builds a fresh fleet host of the same scene and
seed, feeds it those batches as the fleet-host program does (``apply``, then the frame encoded into
its wire envelope, then the deferred world flush) and reports the time per tick spent in each part,
over the ticks after ``--skip-minutes`` (the floor is busy by then). It also checks that the frames
are those of the recording run (a digest of every frame), so a faster fleet host is shown to be the
same fleet host.

Wall-clock figures on a shared machine: the load average is printed beside them. ``--profile N``
prints the N functions with the most own time (shares of the fleet host's time hold under load).
Issue 21's goal is for the whole run (benchmarks/sim_speed.py); this isolates the fleet host's share:
fc_2000's ticks are 1.267 s, so 50x real time leaves the dispatcher and the fleet host together
about 25 ms a tick (they take turns on one CPU).
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

import msgspec

DEFAULT_FILE = Path(tempfile.gettempdir()) / "fctwin_fleet_host_stream.msgpack"


class Recording(msgspec.Struct):
    scene: str
    scene_data: bytes  # `Scene.as_data()`, msgpack: how the fleet-host program gets its scene
    batches: list[bytes]  # each a msgpack CommandBatch, in tick order
    frame_digests: list[str]  # sha1 of each frame's msgpack, in tick order
    # whether the run's fleet host reported (and its batches carried) columnar blocks, as `fctwin run`
    # chooses for the scene (`RunOptions.wire_columns`); the replay's host does the same
    wire_columns: bool = False


def record(scene: str, minutes: float, out: Path) -> None:
    from fctwin.sim.fleet_link_local import LocalFleetLink
    from fctwin.sim.run import RunOptions, run_fc

    batches: list[bytes] = []
    digests: list[str] = []
    scene_data: list[bytes] = []
    columns: list[bool] = []
    enc = msgspec.msgpack.Encoder()
    orig = LocalFleetLink.exchange

    def exchange(self, batch):
        if not scene_data:
            scene_data.append(enc.encode(self.host.scene.as_data()))
            columns.append(self.host.telemetry_columns)
        batches.append(enc.encode(batch))
        frame = orig(self, batch)
        digests.append(hashlib.sha1(enc.encode(frame)).hexdigest())
        return frame

    LocalFleetLink.exchange = exchange
    try:
        with tempfile.TemporaryDirectory() as tmp:
            res = run_fc(
                scene,
                RunOptions(hours=minutes / 60.0, link="local", runs_dir=Path(tmp), record_poses=False),
            )
    finally:
        LocalFleetLink.exchange = orig
    out.write_bytes(enc.encode(Recording(scene, scene_data[0], batches, digests, columns[0])))
    print(
        f"recorded {len(batches)} ticks of {scene} to {out};"
        f" utilisation {res.kpis['drive_unit_utilisation']:.1%}"
    )


def replay(path: Path, skip_minutes: float, profile: int, world: bool = False) -> None:
    from fctwin.network import protocol as p
    from fctwin.robots.messages import CommandBatch
    from fctwin.sim.fleet_host import FleetHost

    rec = msgspec.msgpack.decode(path.read_bytes(), type=Recording)
    dec = msgspec.msgpack.Decoder(CommandBatch)
    enc = msgspec.msgpack.Encoder()
    batches = [dec.decode(b) for b in rec.batches]
    t0 = time.perf_counter()
    host = FleetHost(msgspec.msgpack.decode(rec.scene_data), world=world, telemetry_columns=rec.wire_columns)
    scene = host.scene
    build_s = time.perf_counter() - t0
    host.defer_world_updates = True  # as the fleet-host program runs it
    host.initial_frame()
    skip = int(round(skip_minutes * 60.0 / scene.step_s))
    apply_s = encode_s = flush_s = 0.0
    cpu = {"apply": 0.0, "encode": 0.0, "flush": 0.0}  # this thread's CPU time: what load hides least
    mismatch = -1
    prof = cProfile.Profile() if profile else None
    load = os.getloadavg()
    for k, batch in enumerate(batches):
        if k == skip and prof is not None:
            prof.enable()
        ca, a = time.thread_time(), time.perf_counter()
        frame = host.apply(batch)
        cb, b = time.thread_time(), time.perf_counter()
        p.encode(p.TELEMETRY, frame, sender="fleet", seq=k + 1, t_sim_s=frame.t_s, ref_seq=k)
        cc, c = time.thread_time(), time.perf_counter()
        host.flush_world()
        cd, d = time.thread_time(), time.perf_counter()
        if k >= skip:
            apply_s += b - a
            encode_s += c - b
            flush_s += d - c
            cpu["apply"] += cb - ca
            cpu["encode"] += cc - cb
            cpu["flush"] += cd - cc
        if mismatch < 0 and hashlib.sha1(enc.encode(frame)).hexdigest() != rec.frame_digests[k]:
            mismatch = k
    if prof is not None:
        prof.disable()
    n = max(1, len(batches) - skip)
    per = 1e3 / n
    print(
        f"{rec.scene}: {len(host.titans)} drive units, {len(batches)} ticks of {scene.step_s:.3f} s,"
        f" timed over the last {n} (load average {load[0]:.2f} before, {os.getloadavg()[0]:.2f} after)"
    )
    print(f"  fleet host built in {build_s:.2f} s")
    print(
        f"  wall per tick: apply {apply_s * per:.2f} ms, frame encode {encode_s * per:.2f} ms,"
        f" world flush {flush_s * per:.2f} ms; total {(apply_s + encode_s + flush_s) * per:.2f} ms"
    )
    print(
        f"  CPU per tick: apply {cpu['apply'] * per:.2f} ms, frame encode {cpu['encode'] * per:.2f} ms,"
        f" world flush {cpu['flush'] * per:.2f} ms; total {sum(cpu.values()) * per:.2f} ms"
    )
    total_ms = sum(cpu.values()) * per
    print(
        f"  by CPU time the fleet host alone would run at {scene.step_s * 1e3 / total_ms:.0f}x real time"
        " (issue 21: the whole run >= 50x)"
    )
    print("  frames identical to the recording" if mismatch < 0 else f"  FRAME MISMATCH at tick {mismatch}")
    if prof is not None:
        pstats.Stats(prof).sort_stats("tottime").print_stats(profile)
    host.close()
    if mismatch >= 0:
        raise SystemExit(1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    r.add_argument("--scene", default="fc_2000")
    r.add_argument("--minutes", type=float, default=12.0)
    r.add_argument("--out", type=Path, default=DEFAULT_FILE)
    q = sub.add_parser("replay")
    q.add_argument("--file", type=Path, default=DEFAULT_FILE)
    q.add_argument("--skip-minutes", type=float, default=6.0)
    q.add_argument("--profile", type=int, default=0, help="print the N functions with the most own time")
    q.add_argument(
        "--world",
        choices=("off", "on"),
        default="off",
        help="build the PyBullet world: off as a headless `fctwin run` runs it (default), on as a GUI run",
    )
    args = ap.parse_args()
    if args.cmd == "record":
        record(args.scene, args.minutes, args.out)
    else:
        if not args.file.exists():
            ap.error(f"--file {args.file}: no recording (run the record subcommand first)")
        replay(args.file, args.skip_minutes, args.profile, world=args.world == "on")
    return 0


if __name__ == "__main__":
    sys.exit(main())
