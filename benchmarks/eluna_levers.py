"""What the agent does with the floor levers (docs/eluna_s17_levers17.md): how often each lever's
candidate is proposed, rolled forward, kept by the service guard, beats doing nothing, is applied,
and its predicted against realised effect; paired by seed against the default agent.

Runs the agent's arm in this process (one worker: the lookahead forks its own children), with the
candidate generators, the service guard and the gain wrapped to count (they only read), and writes
one benchmark row per run (`benchmarks/eluna.py`'s format, mode ``auto``) plus a ``trace`` field:

    python benchmarks/eluna_levers.py --scenes ../benchmarks/eluna_train/train_p3_short --seeds 4 \\
        --seed0 101 --set 'agent.floor_levers=["release"]' --out /tmp/rel.jsonl
    python benchmarks/eluna_levers.py --report /tmp/rel.jsonl --against /tmp/default.jsonl

``--report`` pairs the rows of the first file (an arm with the levers) with the ``auto`` rows of
``--against`` (the default agent) by scene and seed, and prints the KPI differences with their 95%
intervals and the levers' counts. Never a timed assertion: these are reference numbers.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import eluna  # noqa: E402 - the benchmark beside this file

FLOOR_KINDS = {
    "order_release": "release",
    "one_way": "traffic",
    "clear_one_way": "traffic",
    "close_cells": "traffic",
    "open_cells": "traffic",
    "preposition": "preposition",
}


def _lever_of(plan) -> str | None:
    kinds = {FLOOR_KINDS.get(getattr(a, "kind", "")) for a in plan}
    kinds.discard(None)
    return "+".join(sorted(kinds)) if kinds else None


def _first(agent, r0) -> bool:
    """Whether ``r0`` is the decision's first sample (the confirmation's doing nothing is a new dict)."""
    if getattr(agent, "_trace_r0", None) is None:
        agent._trace_r0 = id(r0)
    return agent._trace_r0 == id(r0)


class Tracer:
    """Wraps the agent's floor-lever path for one run; the lists fill in the parent only (the
    lookahead's children decide nothing)."""

    def __init__(self):
        self.proposed: Counter = Counter()  # lever -> plans its generator proposed (decisions x plans)
        self.rolled: Counter = Counter()  # lever -> plans rolled forward (within extra_candidates)
        self.kept: Counter = Counter()  # lever -> first-sample service guard passed
        self.beat: Counter = Counter()  # lever -> first-sample gain over min_gain (kept plans)
        self.gains: dict[str, list] = defaultdict(list)  # lever -> first-sample gain / throughput
        self._patches: list = []

    def _patch(self, obj, name, new):
        self._patches.append((obj, name, getattr(obj, name)))
        setattr(obj, name, new)

    def __enter__(self):
        from fctwin.controller.eluna import floor_candidates as fc
        from fctwin.controller.eluna.agent import ElunaAgent

        tr = self
        gens = dict(fc.GENERATORS)

        def counting(kind, g):
            def gen(agent, dg):
                plans = g(agent, dg)
                tr.proposed[kind] += len(plans)
                return plans

            return gen

        self._patch(fc, "GENERATORS", {k: counting(k, g) for k, g in gens.items()})
        candidates = ElunaAgent.candidates
        keeps = ElunaAgent._keeps
        gain_of = ElunaAgent._gain_of

        def cand(agent, dg):
            plans = candidates(agent, dg)
            agent._trace_r0 = None  # the first sample's doing nothing (the confirmation's is another)
            for p in plans:
                lv = _lever_of(p)
                if lv:
                    tr.rolled[lv] += 1
            return plans

        def kept(agent, r, r0, plan):
            v = keeps(agent, r, r0, plan)
            lv = _lever_of(plan)
            if lv and _first(agent, r0):
                tr.kept[lv] += bool(v)
            return v

        def gain(agent, r, r0, plan, price):
            g = gain_of(agent, r, r0, plan, price)
            lv = _lever_of(plan)
            if lv and _first(agent, r0):
                thr = max(1.0, r0["units_picked"] + r0["units_stowed"])
                tr.gains[lv].append(round(g / thr, 4))
                if g > agent.min_gain * thr:
                    tr.beat[lv] += 1
            return g

        self._patch(ElunaAgent, "candidates", cand)
        self._patch(ElunaAgent, "_keeps", kept)
        self._patch(ElunaAgent, "_gain_of", gain)
        return self

    def __exit__(self, *exc):
        for obj, name, old in reversed(self._patches):
            setattr(obj, name, old)

    def record(self) -> dict:
        return {
            "proposed": dict(self.proposed),
            "rolled": dict(self.rolled),
            "kept": dict(self.kept),
            "beat_min_gain": dict(self.beat),
            "gain_share": {k: v for k, v in self.gains.items()},
        }


def applied_levers(db_path: Path) -> list[dict]:
    """The applied recommendations with a floor lever in them: time, lever, text, predicted and
    realised objective effect."""
    db = sqlite3.connect(db_path)
    out = []
    for (data,) in db.execute("SELECT data FROM recommendations WHERE applied = 1 ORDER BY id"):
        rec = json.loads(data)
        acts = rec.get("action", {}).get("actions", [])
        kinds = sorted({FLOOR_KINDS[a["kind"]] for a in acts if a.get("kind") in FLOOR_KINDS})
        if not kinds:
            continue
        real = rec.get("realised") or {}
        pred = rec.get("predicted") or {}
        svc = pred.get("service_move")  # taken for service: the sign is the p95's
        out.append(
            {
                "t_s": rec["t_s"],
                "lever": "+".join(kinds),
                "text": rec["text"],
                "predicted": pred.get("objective"),
                "realised": real.get("effect"),
                "sign": real.get("sign_as_predicted"),
                "service": svc,
                "service_realised": real.get("service_move"),
            }
        )
    db.close()
    return out


def run_one(scene: str, seed: int, overrides: dict, tmp: Path) -> dict:
    from fctwin.sim.run import run_fc

    captured = {}
    real_run_fc = run_fc

    def keep_db(path, opts):
        res = real_run_fc(path, opts)
        captured["db"] = res.db_path
        return res

    import fctwin.sim.run as simrun

    simrun.run_fc = keep_db
    try:
        with Tracer() as tr:
            row = eluna.one_run(scene, seed, "auto", None, tmp, overrides)
    finally:
        simrun.run_fc = real_run_fc
    row["hours"] = None
    if overrides:
        row["overrides"] = overrides
    row["trace"] = tr.record()
    row["trace"]["applied"] = applied_levers(captured["db"])
    row["event_log"] = event_log_hash(captured["db"])
    return row


def event_log_hash(db_path: Path) -> str:
    import hashlib

    db = sqlite3.connect(db_path)
    h = hashlib.sha256()
    for row in db.execute("SELECT t_s, kind, subject, a, b, c FROM events ORDER BY id"):
        h.update(repr(row).encode())
    db.close()
    return h.hexdigest()[:16]


def report(rows: list[dict], base: list[dict]) -> str:
    by = {(r["scene"], int(r["seed"])): r for r in base if r["mode"] == "auto"}
    lines = []
    for sc in sorted({r["scene"] for r in rows}):
        mine = sorted(
            (r for r in rows if r["scene"] == sc and (sc, int(r["seed"])) in by), key=lambda r: r["seed"]
        )
        if not mine:
            continue
        lines.append(f"\n{sc} ({len(mine)} seeds: {', '.join(str(r['seed']) for r in mine)})")
        for m in eluna.METRICS:
            pairs = [(r[m], by[(sc, int(r["seed"]))][m]) for r in mine]
            pairs = [(x, y) for x, y in pairs if x is not None and y is not None and y != 0]
            if not pairs:
                continue
            x, y = (np.array(v, dtype=float) for v in zip(*pairs, strict=True))
            mean, lo, hi = eluna.paired_ci(x, y)
            lines.append(f"  {m}: {x.mean():.1f} against {y.mean():.1f}: {mean:+.1f}% [{lo:+.1f}, {hi:+.1f}]")
        same = sum(r.get("event_log") == by[(sc, int(r["seed"]))].get("event_log") for r in mine)
        lines.append(f"  event log equal to the default's: {same} of {len(mine)} (where recorded)")
        tot = defaultdict(Counter)
        for r in mine:
            for k in ("proposed", "rolled", "kept", "beat_min_gain"):
                tot[k].update(r["trace"][k])
        applied = [a for r in mine for a in r["trace"]["applied"]]
        for k in ("proposed", "rolled", "kept", "beat_min_gain"):
            lines.append(f"  {k}: {dict(tot[k])}")
        gains = defaultdict(list)
        for r in mine:
            for lv, g in r["trace"]["gain_share"].items():
                gains[lv] += g
        for lv, g in sorted(gains.items()):
            g = np.array(g)
            lines.append(
                f"  {lv} first-sample gain / throughput: n {len(g)}, median {np.median(g):+.3f}, "
                f"max {g.max():+.3f}"
            )
        lines.append(f"  applied: {len(applied)}, actions/run {np.mean([r['actions'] for r in mine]):.1f}")
        for a in applied:
            svc = ""
            if a.get("service"):
                sr = a.get("service_realised") or {}
                svc = (
                    f" [service: p95 {a['service']['nothing_cycle_p95_all_s']} -> "
                    f"{a['service']['cycle_p95_all_s']} predicted; realised {sr.get('cycle_p95_all_s')} "
                    f"against {sr.get('nothing_cycle_p95_all_s')}]"
                )
            lines.append(
                f"    {a['lever']} at {a['t_s'] / 60:.0f} min: predicted J {a['predicted']}, realised "
                f"{a['realised']}, sign {a['sign']}{svc} ({a['text'][:100]})"
            )
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenes", nargs="*", default=[])
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--seed0", type=int, default=101)
    ap.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--report", type=Path, help="rows with the levers to report")
    ap.add_argument("--against", type=Path, help="the default agent's rows (mode auto)")
    args = ap.parse_args(argv)
    if args.report:
        print(report(eluna.load_rows(args.report), eluna.load_rows(args.against)))
        return 0
    overrides = {}
    for item in args.set:
        field, _, value = item.partition("=")
        overrides[field] = json.loads(value)
    done = {(r["scene"], int(r["seed"])) for r in eluna.load_rows(args.out)} if args.out else set()
    tmp = Path(tempfile.mkdtemp(prefix="eluna-levers-"))
    for seed in range(args.seed0, args.seed0 + args.seeds):
        for sc in args.scenes:
            if (sc, seed) in done:
                continue
            t0 = time.perf_counter()
            row = run_one(sc, seed, overrides, tmp)
            t = row["trace"]
            print(
                f"{sc} seed {seed}: {row['units_per_labour_h']:.1f} u/labour-h, "
                f"{row['units_per_h']:.0f} u/h, "
                f"p95 {row['order_cycle_p95_s']}, open {row['open_units_end']}, {row['actions']} actions, "
                f"proposed {t['proposed']}, rolled {t['rolled']}, kept {t['kept']}, "
                f"beat {t['beat_min_gain']}, applied {len(t['applied'])} ({time.perf_counter() - t0:.0f} s, "
                f"load {eluna._load()})",
                file=sys.stderr,
                flush=True,
            )
            if args.out:
                eluna.append_row(args.out, row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
