"""Training floors for the forecaster (docs/eluna_s14_fcast14.md, eluna_s15_fcast15.md): run, replay them.

The floors here are eluna_balanced with other station counts, fleet sizes and demand (never a
benchmark scene); with eluna_balanced's training seeds (101 and up) they are what the forecaster's
few numbers were chosen on. fcast14's eight: 3, 5 or 6 pick stations, 30 units, 250 or 480
orders/h, unplanned outages. fcast15's six: an unplanned outage during a planned rise
(train_p5_rise_down), stations at 2 people with one short (train_p3_short), 8 pick stations on a
wider floor (train_p8_wide), fleets starting low on charge (train_p5_lowcharge, the deep wave
train_p3_deepcharge, the wide wave train_p6_wave). fcast17's (docs/eluna_s17_fcast17.md): a plan
with 3 of 5 pick stations closed, saturated from the first minutes (train_p5_closed). The
benchmark's seeds (11-20) and the held-out scenes are never used.

    python benchmarks/eluna_train/train_floors.py run --runs-dir /tmp/fcast14-train --seeds 101 102
    python benchmarks/eluna_train/train_floors.py replay --runs-dir /tmp/fcast14-train [--opt attr=json ...]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

import numpy as np

from fctwin.sim.cli.overrides import assignment

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FLOORS = sorted(p.stem for p in HERE.glob("train_*.toml"))


def scene_path(name: str) -> Path:
    p = HERE / f"{name}.toml"
    return p if p.exists() else ROOT / "scenes" / f"{name}.toml"


def run(args) -> int:
    from fctwin.sim.run import RunOptions, run_fc

    for name in args.floors:
        for seed in args.seeds:
            out = args.runs_dir / f"{name}-s{seed}-{args.mode}"
            if (out / "done").exists():
                continue
            out.mkdir(parents=True, exist_ok=True)
            opts = RunOptions(
                seed=seed,
                link="local",
                world=False,
                runs_dir=out,
                record_poses=False,
                agent=args.mode,
                cpu="off",
            )
            res = run_fc(scene_path(name), opts)
            (out / "done").write_text(str(res.db_path))
            print(name, seed, args.mode, res.kpis["eluna"]["units_per_labour_h"], flush=True)
    return 0


def replay(args) -> int:
    from fctwin.sim.eluna.manager import forecaster_for
    from fctwin.sim.scene import load_scene

    opts = dict(args.opt or [])
    if not args.runs_dir.is_dir():
        print(
            f"replay: --runs-dir {args.runs_dir} is not a directory (run `train_floors.py run` first)",
            file=sys.stderr,
        )
        return 2
    per: dict[str, list[dict]] = {}
    for done in sorted(args.runs_dir.glob("*/done")):
        db_path = Path(done.read_text())
        db = sqlite3.connect(db_path)
        summ = dict(db.execute("SELECT key, value FROM summary").fetchall())
        scene = json.loads(summ["scene"])
        if args.floors and scene not in args.floors:
            db.close()
            continue
        digests = [json.loads(d) for (d,) in db.execute("SELECT data FROM digest_minute ORDER BY minute")]
        db.close()
        fc = forecaster_for(load_scene(scene_path(scene)))
        for k, v in opts.items():
            if not hasattr(fc, k):
                print(f"replay: --opt {k}: the forecaster has no such option", file=sys.stderr)
                return 2
            setattr(fc, k, v)
        for dg in digests:
            fc.observe(dg)
        sk = fc.skill(from_minute=60, pooled=True)
        per.setdefault(scene, []).append(sk)
    if not per:
        print(f"replay: no finished training-floor run under {args.runs_dir}", file=sys.stderr)
        return 2
    cols = [("open_lines", h) for h in (15, 30, 60)] + [("queue", h) for h in (15, 30, 60)]
    cols += [("cycle", h) for h in (15, 30, 60)]
    print("scene (runs) | " + " ".join(f"{t[:4]}{h}" for t, h in cols))
    allv: dict[tuple, list] = {}
    for scene, rows in sorted(per.items()):
        vals = []
        for t, h in cols:
            xs = [r[t][h]["skill"] for r in rows if t in r and h in r[t] and r[t][h]["skill"] is not None]
            allv.setdefault((t, h), []).append(np.mean(xs) if xs else np.nan)
            vals.append(f"{np.mean(xs):+.2f}" if xs else "  -  ")
        print(f"{scene} ({len(rows)}) | " + "  ".join(vals))
    print("mean of floors | " + "  ".join(f"{np.nanmean(v):+.2f}" for v in allv.values()))
    print("min of floors  | " + "  ".join(f"{np.nanmin(v):+.2f}" for v in allv.values()))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cmd", choices=("run", "replay"))
    ap.add_argument("--runs-dir", type=Path, required=True)
    ap.add_argument("--floors", nargs="*", default=None)
    ap.add_argument("--seeds", nargs="*", type=int, default=[101, 102])
    ap.add_argument("--mode", default="off")
    ap.add_argument("--opt", nargs="*", type=assignment, default=None, metavar="ATTR=VALUE")
    args = ap.parse_args(argv)
    if args.cmd == "run":
        args.floors = args.floors or ["eluna_balanced", *FLOORS]
        return run(args)
    return replay(args)


if __name__ == "__main__":
    sys.exit(main())
