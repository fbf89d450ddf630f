"""Where the agent's open work at the end of the run comes from, against the shift lead (b).

Reads the benchmark's rows (`benchmarks/eluna.py --out`), runs nothing. Per scene and seed: the open
work at the end of each arm (units), the labour (b) paid beyond the agent's, and what it bought:
(b)'s extra units over its extra labour hours (its *marginal* units per labour hour, beside the
agent's run average). With common random numbers both arms see the same orders and cartons, so the
units one arm processed more are, to a carton or two, the open work it left less. Per scene: the
paired difference in units with its 95% t interval, the benchmark's mean relative difference, and
how many seeds a paired test would need to resolve a 1% difference at that spread.
With ``--runs DIR`` (run stores, e.g. /work/runs13/all) the end gap is split into pick and stow
units and each arm's people moves are listed (``--seeds``/``--scenes`` to narrow).

    python benchmarks/eluna_backlog.py benchmarks/results/eluna_s13_seeds11-20.jsonl
    python benchmarks/eluna_backlog.py rows.jsonl --scenes eluna_outage --runs /work/runs13/all --seeds 12 16
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

import numpy as np

TRAINING = (
    "eluna_balanced",
    "eluna_surge",
    "eluna_outage",
    "eluna_inbound_wave",
    "eluna_port_strike",
    "eluna_misstaffed",
    "eluna_battery",
)
UNITS_PER_LINE = 1.15  # as benchmarks/eluna.py counts open work (`_open_units_end`)
UNITS_PER_CARTON = 12


def marginal_units_per_labour_h(lead: dict, agent: dict) -> float | None:
    """(b)'s units beyond the agent's per labour hour beyond the agent's (None under 3 minutes)."""
    extra_h = lead["labour_h"] - agent["labour_h"]
    if abs(extra_h) < 0.05:
        return None
    return (lead["units_per_h"] - agent["units_per_h"]) * _hours(lead) / extra_h


def _hours(row: dict) -> float:
    return row["units_per_labour_h"] * row["labour_h"] / row["units_per_h"]


def paired(xs: list[float]) -> tuple[float, float, float]:
    """Mean and 95% Student t interval."""
    from scipy import stats

    x = np.asarray(xs, float)
    m = float(x.mean())
    if len(x) < 2:
        return m, float("nan"), float("nan")
    h = float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return m, m - h, m + h


def seeds_to_resolve(rel_pct: list[float], bound_pct: float = 1.0) -> float:
    """Seeds a paired t test needs for a 95% interval of half-width ``bound_pct`` at this spread."""
    return float((1.96 * np.std(rel_pct, ddof=1) / bound_pct) ** 2)


def scene_table(rows: list[dict], scene: str) -> tuple[list[str], dict]:
    by = {(r["mode"], r["seed"]): r for r in rows if r["scene"] == scene}
    seeds = sorted(s for m, s in by if m == "auto" and ("reactive", s) in by and ("off", s) in by)
    head = "seed | open (a) / (b) / auto | auto - (b) | (b) labour h beyond auto | its units | marginal u/lh"
    lines = [head + " | auto u/lh"]
    diff, rel = [], []
    for s in seeds:
        a, b, x = by[("off", s)], by[("reactive", s)], by[("auto", s)]
        d = x["open_units_end"] - b["open_units_end"]
        diff.append(d)
        rel.append(100.0 * d / b["open_units_end"])
        extra_units = (b["units_per_h"] - x["units_per_h"]) * _hours(b)
        mr = marginal_units_per_labour_h(b, x)
        lines.append(
            f"{s} | {a['open_units_end']:.0f} / {b['open_units_end']:.0f} / {x['open_units_end']:.0f}"
            f" | {d:+.0f}"
            f" | {b['labour_h'] - x['labour_h']:+.2f} | {extra_units:+.0f}"
            f" | {'-' if mr is None else f'{mr:.0f}'} | {x['units_per_labour_h']:.1f}"
        )
    m, lo, hi = paired(diff) if seeds else (float("nan"),) * 3
    summary = {
        "seeds": len(seeds),
        "units": (m, lo, hi),
        "relative_pct": float(np.mean(rel)) if rel else float("nan"),
        "worse_by_a_carton": sum(1 for v in diff if v > UNITS_PER_CARTON),
        "better_by_a_carton": sum(1 for v in diff if v < -UNITS_PER_CARTON),
        "seeds_to_resolve_1pct": seeds_to_resolve(rel) if len(rel) > 1 else float("nan"),
    }
    return lines, summary


def end_split(runs: Path, scene: str, seed: int) -> dict[str, dict]:
    """Per arm: open pick lines and cartons at the end, and the people moves applied (minute, text)."""
    out = {}
    for db_path in sorted(runs.glob("*/run.sqlite")):
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("scene_name") != scene or int(meta.get("seed", -1)) != seed:
            db.close()
            continue
        last = db.execute("SELECT data FROM digest_minute ORDER BY minute DESC LIMIT 1").fetchone()
        dg = json.loads(last[0])
        moves = [
            (t_s / 60.0, text)
            for t_s, text in db.execute(
                "SELECT t_s, text FROM recommendations WHERE applied = 1 ORDER BY t_s"
            )
        ]
        db.close()
        out[meta.get("agent", "?")] = {
            "lines": dg["open_lines"],
            "cartons": dg["open_cartons"],
            "moves": moves,
        }
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("rows", type=Path)
    p.add_argument("--scenes", nargs="*", default=list(TRAINING))
    p.add_argument("--runs", type=Path, default=None, help="run stores to split the end gap by kind")
    p.add_argument("--seeds", nargs="*", type=int, default=None, help="with --runs: these seeds only")
    args = p.parse_args(argv)
    try:
        text = args.rows.read_text()
    except OSError as exc:
        print(f"eluna_backlog: cannot read the rows file {args.rows}: {exc.strerror}", file=sys.stderr)
        return 2
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            print(f"eluna_backlog: {args.rows}:{n}: not a JSON row ({exc.msg})", file=sys.stderr)
            return 2
    if args.runs is not None and not args.runs.is_dir():
        print(f"eluna_backlog: --runs {args.runs} is not a directory of run stores", file=sys.stderr)
        return 2
    for sc in args.scenes:
        lines, s = scene_table(rows, sc)
        if not s["seeds"]:
            continue
        m, lo, hi = s["units"]
        print(f"## {sc} ({s['seeds']} seeds)")
        print(*lines, sep="\n")
        print(
            f"auto - (b) open units at the end: {m:+.1f} [{lo:+.1f}, {hi:+.1f}];"
            f" mean relative {s['relative_pct']:+.1f}%;"
            f" worse by more than a carton on {s['worse_by_a_carton']} seeds,"
            f" better on {s['better_by_a_carton']};"
            f" seeds to resolve +-1%: ~{s['seeds_to_resolve_1pct']:.0f}\n"
        )
        if args.runs is None:
            continue
        for seed in args.seeds or sorted({r["seed"] for r in rows if r["scene"] == sc}):
            arms = end_split(args.runs, sc, seed)
            if "auto" not in arms or "reactive" not in arms:
                continue
            x, b = arms["auto"], arms["reactive"]
            pick = (x["lines"] - b["lines"]) * UNITS_PER_LINE
            stow = (x["cartons"] - b["cartons"]) * UNITS_PER_CARTON
            print(f"seed {seed}: end gap auto - (b): pick {pick:+.0f} units, stow {stow:+.0f} units")
            for who in ("reactive", "auto"):
                for minute, text in arms[who]["moves"]:
                    print(f"  {who:8s} {minute:5.0f} min  {text[:140]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
