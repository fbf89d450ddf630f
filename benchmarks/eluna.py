"""Eluna's gain, measured honestly (docs/eluna.md): paired by seed, 95% confidence intervals.

For every scene and seed, the same floor runs three times: (a) ``off``, the static plan; (b)
``reactive``, the frozen rule-based shift lead; and the agent in ``auto`` mode. Same seed, same
demand, service times and failures (common random numbers). Reported per scene: delivery
processing efficiency (units picked + stowed per labour hour), units per hour, order cycle p95,
open work at the end (units), with the paired difference of auto against (a) and (b) and its 95%
confidence interval (Student t); the agent's forecast skill at 30 minutes (open lines, cycle
time) and the share of applied recommendations whose realised effect had the predicted sign.

    python benchmarks/eluna.py                       # every Eluna scene, 10 seeds
    python benchmarks/eluna.py --scenes eluna_surge --seeds 3 --hours 2
    python benchmarks/eluna.py --tune                # the shift lead's threshold grid on the balanced scene

Reference bars (docs/eluna.md): published dynamic re-allocation gains +7.5% (JD.com simulation) to
+30-34% (bucket brigades vs static zones); "up to +25%" claimed for Eluna; against a tuned
reactive manager expect single digits. Never a timed assertion: these are reference numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from fctwin.sim.cli.overrides import assignment

ROOT = Path(__file__).resolve().parents[1]
SCENES = (
    "eluna_balanced",
    "eluna_surge",
    "eluna_outage",
    "eluna_inbound_wave",
    "eluna_port_strike",  # the inbound wave from the inbound-network model's port strike
    "eluna_misstaffed",
    "eluna_battery",
    "eluna_heldout",  # never tuned on (but looked at when tracing the agent: see docs/eluna.md)
    "eluna_unseen_a",  # authored 2026-12-07 before any agent run on it; never tuned on
    "eluna_unseen_b",  # the same
)
HELD_OUT = ("eluna_heldout", "eluna_unseen_a", "eluna_unseen_b")
MODES = ("off", "reactive", "auto")
AGENT_MODES = ("auto", "advise")  # the arms `--set` applies to
METRICS = ("units_per_labour_h", "units_per_h", "order_cycle_p95_s", "open_units_end")


def one_run(scene: str, seed: int, mode: str, hours: float | None, runs_dir: Path, overrides=None) -> dict:
    from fctwin.sim.run import RunOptions, run_fc

    opts = RunOptions(
        hours=hours,
        seed=seed,
        link="local",
        world=False,
        runs_dir=runs_dir,
        record_poses=False,
        agent=mode,
        overrides=dict(overrides or {}),
        cpu="off",
    )
    res = run_fc(ROOT / "scenes" / f"{scene}.toml", opts)
    k = res.kpis
    db = sqlite3.connect(res.db_path)
    last = db.execute("SELECT data FROM digest_minute ORDER BY minute DESC LIMIT 1").fetchone()
    db.close()
    dg = json.loads(last[0]) if last else {}
    el = k["eluna"]
    skill = el.get("forecast_skill_after_1h", {})  # the first hour (filling up from empty) left out
    return {
        "scene": scene,
        "seed": seed,
        "mode": mode,
        "units_per_labour_h": el["units_per_labour_h"],
        "units_per_h": el["units_per_h"],
        "order_cycle_p95_s": k["order_cycle_p95_s"],
        "open_units_end": _open_units_end(dg),
        "stockout_lines": k.get("lines_backordered"),
        "labour_h": el["labour_h"],
        "actions": el.get("actions_applied", 0),
        "sign_share": el.get("sign_as_predicted_share"),
        "scored": el.get("scored", 0),
        "skill": {t: {str(h): v.get("skill") for h, v in hs.items()} for t, hs in skill.items()},
        "hot_spots": {str(h): v for h, v in (el.get("hot_spots_after_1h") or {}).items()},
        "hot_spots_window": {str(h): v for h, v in (el.get("hot_spots_window_after_1h") or {}).items()},
        "lookahead_wall_s_per_plan": el.get("lookahead_wall_s_per_plan"),
        "wall_s": res.wall_s,
    }


def _open_units_end(dg: dict) -> float | None:
    if not dg:
        return None
    # lines and cartons in the digest; units: the scene's mean units per line is ~1.15, 12 per carton
    return round(dg["open_lines"] * 1.15 + dg["open_cartons"] * 12, 1)


def paired_ci(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Mean relative difference of x over y (paired), and its 95% CI, in %."""
    from scipy import stats

    rel = 100.0 * (x - y) / y
    m = float(rel.mean())
    if len(rel) < 2:
        return m, float("nan"), float("nan")
    h = float(stats.t.ppf(0.975, len(rel) - 1) * rel.std(ddof=1) / np.sqrt(len(rel)))
    return m, m - h, m + h


def report(rows: list[dict]) -> str:
    out = []
    scenes = sorted({r["scene"] for r in rows}, key=lambda s: SCENES.index(s) if s in SCENES else 99)
    for sc in scenes:
        by = {(r["mode"], r["seed"]): r for r in rows if r["scene"] == sc}
        every = sorted({s for _, s in by})
        # only seeds with every arm: the columns are then paired like the differences
        seeds = [s for s in every if all((mo, s) in by for mo in MODES)]
        part = (
            f"; {len(every) - len(seeds)} more with some arms only, left out"
            if len(every) > len(seeds)
            else ""
        )
        out.append(f"\n## {sc} ({len(seeds)} seeds with every arm: {seeds}{part})")
        if not seeds:
            continue
        out.append(
            "| metric | (a) static | (b) reactive | auto | auto vs (a) % [95% CI] | auto vs (b) % [95% CI] |"
        )
        out.append("|---|---|---|---|---|---|")
        for m in METRICS:
            vals = {}
            for mode in MODES:
                v = [by[(mode, s)][m] for s in seeds if (mode, s) in by and by[(mode, s)][m] is not None]
                vals[mode] = v
            cells = [f"{np.mean(vals[mode]):.1f}" if vals[mode] else "-" for mode in MODES]
            diffs = []
            for base in ("off", "reactive"):
                ok = [s for s in seeds if all((mo, s) in by and by[(mo, s)][m] for mo in ("auto", base))]
                if ok:
                    x = np.array([by[("auto", s)][m] for s in ok], dtype=float)
                    y = np.array([by[(base, s)][m] for s in ok], dtype=float)
                    mean, lo, hi = paired_ci(x, y)
                    diffs.append(f"{mean:+.1f} [{lo:+.1f}, {hi:+.1f}]")
                else:
                    diffs.append("-")
            out.append(f"| {m} | " + " | ".join(cells) + " | " + " | ".join(diffs) + " |")
        auto = [by[("auto", s)] for s in seeds if ("auto", s) in by]
        if auto:
            scored = sum(r["scored"] for r in auto)
            right = sum(r["sign_share"] * r["scored"] for r in auto if r["sign_share"] is not None)
            la = [r["lookahead_wall_s_per_plan"] for r in auto if r["lookahead_wall_s_per_plan"]]
            nan = float("nan")
            out.append(
                f"\nauto: {np.mean([r['actions'] for r in auto]):.1f} actions/run; applied recommendations "
                f"with the predicted sign {right / scored if scored else nan:.2f} ({right:.0f} of {scored}); "
                f"lookahead {np.mean(la) if la else nan:.2f} s wall per plan; stock-out lines (a)/(b)/auto "
                + "/".join(
                    f"{np.mean([by[(mo, s)]['stockout_lines'] or 0 for s in seeds if (mo, s) in by]):.1f}"
                    for mo in MODES
                )
            )
        reac = [by[("reactive", s)] for s in seeds if ("reactive", s) in by]
        if reac:
            out.append(f"reactive: {np.mean([r['actions'] for r in reac]):.1f} actions/run")
    out.append(goals_report(rows))
    out.append(forecast_report(rows))
    return "\n".join(out)


TARGETS = ("open_lines", "queue", "cycle", "open_cartons")
HIGHER_IS_BETTER = {
    "units_per_labour_h": True,
    "units_per_h": True,
    "order_cycle_p95_s": False,
    "open_units_end": False,
}


def _paired(rows: list[dict], sc: str, metric: str, base: str) -> tuple[float, float, float, int] | None:
    by = {(r["mode"], r["seed"]): r for r in rows if r["scene"] == sc}
    seeds = sorted({s for m, s in by if m == "auto" and (base, s) in by})
    ok = [s for s in seeds if by[("auto", s)][metric] is not None and by[(base, s)][metric]]
    if not ok:
        return None
    x = np.array([by[("auto", s)][metric] for s in ok], dtype=float)
    y = np.array([by[(base, s)][metric] for s in ok], dtype=float)
    return (*paired_ci(x, y), len(ok))


def goals_report(rows: list[dict]) -> str:
    """The issue's goals beside the figures (paired means, 95% CIs)."""
    scenes = [s for s in SCENES if any(r["scene"] == s for r in rows)]
    stressed = [s for s in scenes if s not in ("eluna_balanced", *HELD_OUT)]
    out = ["\n## Goals"]
    eff_a = {sc: _paired(rows, sc, "units_per_labour_h", "off") for sc in stressed}
    hits = [sc for sc, v in eff_a.items() if v and v[0] >= 25.0]
    out.append(
        f"- >= +25% efficiency over (a) on at least two stressed scenes: {len(hits)} scene(s) "
        f"({', '.join(hits) or 'none'}) -> {'met' if len(hits) >= 2 else 'NOT met'}"
    )
    eff_b = [v[0] for sc in stressed if (v := _paired(rows, sc, "units_per_labour_h", "reactive"))]
    mean_b = float(np.mean(eff_b)) if eff_b else float("nan")
    out.append(
        f"- >= +10% over (b) averaged over the stressed scenes: {mean_b:+.1f}% -> "
        f"{'met' if mean_b >= 10 else 'NOT met'}"
    )
    worse, beyond = [], []
    for sc in scenes:
        for m, up in HIGHER_IS_BETTER.items():
            for base in ("off", "reactive"):
                v = _paired(rows, sc, m, base)
                if v and (v[0] < -1.0 if up else v[0] > 1.0):
                    name = f"{sc} {m} vs {'(a)' if base == 'off' else '(b)'}"
                    worse.append(f"{name} {v[0]:+.1f}%")
                    # the whole 95% interval past the 1% bound: a miss the seeds cannot explain away
                    if v[2] < -1.0 if up else v[1] > 1.0:
                        beyond.append(f"{name} {v[0]:+.1f}% [{v[1]:+.1f}, {v[2]:+.1f}]")
    out.append(
        "- never worse than (a) or (b) by more than 1% (mean paired difference, every scene and metric): "
        + ("met" if not worse else "NOT met: " + "; ".join(worse))
    )
    if worse:
        # the goal is judged on the means above; this line only says which misses are beyond the seeds' noise
        out.append(
            f"  - of those, {len(beyond)} of {len(worse)} with the whole 95% CI past 1%"
            + (": " + "; ".join(beyond) if beyond else "")
        )
    auto = [r for r in rows if r["mode"] == "auto"]
    scored = sum(r["scored"] for r in auto)
    right = sum(r["sign_share"] * r["scored"] for r in auto if r["sign_share"] is not None)
    share = right / scored if scored else float("nan")
    out.append(
        f"- >= 80% of applied recommendations with the predicted sign: {share:.0%} "
        f"({right:.0f} of {scored}) -> {'met' if share >= 0.8 else 'NOT met'}"
    )
    out.append(forecast_goal_lines(rows))
    return "\n".join(out)


FORECAST_GOAL = 0.3  # skill against persistence at 30 minutes (issue 16)
GOAL_TARGETS = {
    "open_lines": "station backlog (open lines)",
    "queue": "station queue",
    "cycle": "order cycle time",
}


def forecast_goal_lines(rows: list[dict]) -> str:
    """Forecast skill at 30 minutes per target beside the goal, over the runs of the stressed scenes
    (every scene but the balanced one, whose training seeds fitted the blend), and hot-spot precision
    and recall at 30 minutes beside persistence's."""
    stressed = [r for r in rows if r["scene"] != "eluna_balanced" and r.get("skill")]
    out = []
    for t, name in GOAL_TARGETS.items():
        v = [x for r in stressed if (x := r["skill"].get(t, {}).get("30")) is not None]
        if not v:
            out.append(f"- forecast skill >= {FORECAST_GOAL} at 30 min, {name}: no runs")
            continue
        m = float(np.mean(v))
        out.append(
            f"- forecast skill >= {FORECAST_GOAL} at 30 min, {name}: {m:+.2f} (mean of {len(v)} stressed "
            f"runs, min {min(v):+.2f}) -> {'met' if m >= FORECAST_GOAL else 'NOT met'}"
        )
    # the goal per scene, not only on average: every scene (the balanced one too) and every target
    misses = []
    scenes = sorted({r["scene"] for r in rows}, key=lambda s: SCENES.index(s) if s in SCENES else 99)
    for sc in scenes:
        for t in GOAL_TARGETS:
            v = [
                x
                for r in rows
                if r["scene"] == sc and (x := (r.get("skill") or {}).get(t, {}).get("30")) is not None
            ]
            if v and float(np.mean(v)) < FORECAST_GOAL:
                misses.append(f"{sc} {t} {np.mean(v):+.2f}")
    out.append(
        f"- forecast skill >= {FORECAST_GOAL} at 30 min on every scene and target (mean of its runs): "
        + ("met" if not misses else "NOT met: " + "; ".join(misses))
    )
    for key, name in (
        ("hot_spots_window", "hot at some minute within 7 min of t + 30"),
        ("hot_spots", "hot at the minute t + 30"),
    ):
        hs = [r[key]["30"] for r in stressed if (r.get(key) or {}).get("30")]

        def pooled(k: str, hs=hs) -> float | None:
            v = [x[k] for x in hs if x.get(k) is not None]
            return float(np.mean(v)) if v else None

        keys = ("precision", "recall", "persistence_precision", "persistence_recall")
        p, r_, pp, pr = (pooled(k) for k in keys)
        if p is None and r_ is None:
            out.append(f"- hot spots ({name}): no hot area in any stressed run")
            continue
        f = lambda x: "-" if x is None else f"{x:.2f}"  # noqa: E731
        better = None not in (p, r_, pp, pr) and p >= pp and r_ >= pr
        verdict = "beats persistence on both" if better else "does NOT beat persistence on both"
        out.append(
            f"- hot spots at 30 min ({name}; mean of {len(hs)} stressed runs): precision {f(p)}, recall "
            f"{f(r_)} against persistence's {f(pp)}, {f(pr)} -> {verdict}"
        )
    return "\n".join(out)


def forecast_report(rows: list[dict]) -> str:
    """Forecast skill against persistence per target and horizon (after the first hour), mean over
    the runs of every arm, per scene and over all scenes; hot-spot precision and recall."""
    out = ["\n## Forecast skill vs persistence (1 - SSE/SSE_persistence, after the first hour, mean of runs)"]
    hs = ("15", "30", "60")
    out.append("| scene | " + " | ".join(f"{t} {h}" for t in TARGETS for h in hs) + " |")
    out.append("|---|" + "---|" * (len(TARGETS) * len(hs)))
    scenes = sorted({r["scene"] for r in rows}, key=lambda s: SCENES.index(s) if s in SCENES else 99)
    for sc in [*scenes, "all"]:
        mine = [r for r in rows if sc in ("all", r["scene"]) and r.get("skill")]
        cells = []
        for t in TARGETS:
            for h in hs:
                v = [r["skill"].get(t, {}).get(h) for r in mine]
                v = [x for x in v if x is not None]
                cells.append(f"{np.mean(v):+.2f}" if v else "-")
        out.append(f"| {sc} ({len(mine)} runs) | " + " | ".join(cells) + " |")
    for key, name in (
        ("hot_spots_window", "hot at some minute within 7 min of t + h"),
        ("hot_spots", "hot at the minute t + h"),
    ):
        out.append(
            f"\nHot spots ({name}; hot = units stood blocked >= 30 s a minute, 5-min mean), mean of runs:"
        )
        for h in ("15", "30"):
            vals = [r[key][h] for r in rows if (r.get(key) or {}).get(h)]

            def m(k, vals=vals):
                v = [x[k] for x in vals if x.get(k) is not None]
                return f"{np.mean(v):.2f}" if v else "-"

            out.append(
                f"- {h} min: precision {m('precision')}, recall {m('recall')} (persistence: precision "
                f"{m('persistence_precision')}, recall {m('persistence_recall')}); hot share {m('hot_share')}"
            )
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenes", nargs="*", default=list(SCENES))
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--seed0", type=int, default=1)
    p.add_argument("--modes", nargs="*", default=list(MODES))
    p.add_argument("--hours", type=float, default=None, help="simulated hours (default: the scene's)")
    p.add_argument("--workers", type=int, default=2, help="runs in parallel (processes; at most 2 here)")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="append every finished run's row here (JSON lines); rerun with the same file to resume: "
        "cells already in it are not run again",
    )
    p.add_argument(
        "--reuse-from",
        type=Path,
        default=None,
        help="copy rows of --reuse-modes (scene, seed, hours matching) from this earlier rows file instead "
        "of running them again (when only the agent changed since, the static plan and the shift lead "
        "give the same rows)",
    )
    p.add_argument("--reuse-modes", nargs="*", default=["off", "reactive"])
    p.add_argument(
        "--set",
        nargs="*",
        action="extend",  # `--set a=1 --set b=2` keeps both (a repeated flag used to keep only the last)
        default=[],
        metavar="FIELD=VALUE",
        help="scene field overrides for the agent's arms only (auto, advise), e.g. agent.stow_release=true "
        "(values as JSON); the static plan and the shift lead run the scene as it is, so their rows "
        "may still be reused",
    )
    p.add_argument(
        "--tune", action="store_true", help="grid over the shift lead's thresholds (balanced scene)"
    )
    p.add_argument(
        "--tune-grid",
        choices=("staged", "joint"),
        default="staged",
        help="--tune's grid: staged (thresholds with rule 5 off, then rule 5's load; session 17) or joint "
        "(rule 5 on with every lo threshold)",
    )
    p.add_argument(
        "--fit-forecast",
        action="store_true",
        help="fit the forecaster's blend with persistence on the balanced scene (use --seed0 101 --seeds 3)",
    )
    p.add_argument(
        "--lookahead-speed", action="store_true", help="wall time of a 30-minute fork lookahead of fc_small"
    )
    p.add_argument(
        "--replay-forecast",
        type=Path,
        default=None,
        metavar="DIR",
        help="replay the digests of the run stores under DIR (an earlier benchmark's runs) through this "
        "checkout's forecaster and report its skill (--scenes, --seed0/--seeds, --modes filter them); "
        "no new runs",
    )
    p.add_argument(
        "--forecast-self",
        action="store_true",
        help="--replay-forecast: with the forecaster's self-calibration on (its own blend weights at "
        "15 and 30 minutes and the pick curve's height, docs/eluna_s14_fcast14.md)",
    )
    p.add_argument(
        "--forecast-opt",
        nargs="*",
        default=None,
        metavar="ATTR=JSON",
        type=assignment,  # the CLI's FIELD=VALUE parser: a bad item is a usage error, not a traceback
        help="--replay-forecast: forecaster options set on every replayed run's forecaster, e.g. "
        "fleet_units_curve=true (docs/eluna_s15_fcast15.md)",
    )
    args = p.parse_args(argv)
    bad = [sc for sc in args.scenes if not (ROOT / "scenes" / f"{sc}.toml").exists()]
    if bad:
        print(f"--scenes: no scene {', '.join(bad)} in scenes/", file=sys.stderr)
        return 2
    if args.workers < 1:
        print("--workers: at least 1", file=sys.stderr)
        return 2
    if args.seeds < 1:  # no run to pair (and --tune's table would have nothing to choose from)
        print("--seeds: at least 1", file=sys.stderr)
        return 2
    if args.hours is not None and not args.hours > 0:
        print("--hours: must be positive (omit it for the scene's own)", file=sys.stderr)
        return 2
    agent_set = {}
    for item in args.set:
        field, eq, value = item.partition("=")
        try:
            if not eq or not field:
                raise ValueError("expected FIELD=VALUE")
            agent_set[field] = json.loads(value)
        except ValueError as e:
            print(f"--set {item}: {e}", file=sys.stderr)
            return 2
    tmp = Path(tempfile.mkdtemp(prefix="eluna-bench-"))
    if args.tune:
        return tune(args, tmp, tune_grid(args.tune_grid))
    if args.lookahead_speed:
        return lookahead_speed(tmp)
    if args.fit_forecast:
        return fit_forecast(args, tmp)
    if args.replay_forecast:
        return replay_forecast(args)
    rows = load_rows(args.out) if args.out else []
    done = {cell_key(r) for r in rows}
    if args.reuse_from:
        for r in load_rows(args.reuse_from):
            if r["mode"] in args.reuse_modes and cell_key(r) not in done:
                r = {**r, "reused_from": str(args.reuse_from)}
                rows.append(r)
                done.add(cell_key(r))
                if args.out:
                    append_row(args.out, r)
    t0 = time.perf_counter()
    jobs = plan_jobs(args.scenes, range(args.seed0, args.seed0 + args.seeds), args.modes, args.hours, done)
    load0 = _load()
    print(
        f"{len(jobs)} runs to do ({len(done)} cells already in {args.out or 'no file'}), "
        f"{args.workers} worker(s), load average {load0}",
        file=sys.stderr,
        flush=True,
    )
    failed: list[str] = []
    run_wall = 0.0
    for k, (job, r) in enumerate(_run_all([(*j, str(tmp), agent_set) for j in jobs], args.workers), 1):
        elapsed = time.perf_counter() - t0
        eta = elapsed / k * (len(jobs) - k)
        if "error" in r:
            failed.append(f"{job[0]} seed {job[1]} {job[2]}: {r['error']}")
            print(f"[{k}/{len(jobs)}] FAILED {failed[-1]}", file=sys.stderr, flush=True)
            continue
        rows.append(r)
        run_wall += r["wall_s"]
        if args.out:
            append_row(args.out, r)
        print(
            f"[{k}/{len(jobs)} {elapsed:.0f} s, ~{eta:.0f} s left] "
            f"{r['scene']} seed {r['seed']} {r['mode']}: "
            f"{r['units_per_labour_h']:.1f} u/labour-h, {r['units_per_h']:.0f} u/h, "
            f"p95 {r['order_cycle_p95_s']}, open {r['open_units_end']}, {r['actions']} actions "
            f"({r['wall_s']:.1f} s)",
            file=sys.stderr,
            flush=True,
        )
    wall = time.perf_counter() - t0
    print(report(rows))
    print(
        f"\n(wall {wall:.0f} s for {len(jobs) - len(failed)} runs with {args.workers} worker(s), "
        f"{run_wall:.0f} s of run time summed; load average {load0} at the start, {_load()} at the end)"
    )
    if failed:
        print(f"\n{len(failed)} run(s) FAILED (rerun with the same --out to retry them):")
        for f in failed:
            print(f"- {f}")
        return 1
    return 0


def cell_key(r: dict) -> tuple:
    """A benchmark cell: scene, seed, arm and simulated hours (None: the scene's own)."""
    return (r["scene"], int(r["seed"]), r["mode"], r.get("hours"))


def load_rows(path: Path) -> list[dict]:
    """Rows of an earlier (possibly interrupted) run: every complete JSON line; a torn last line
    (the process killed while writing it) is dropped, its cell runs again."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            print(f"{path}: skipping a torn line ({len(line)} characters)", file=sys.stderr)
    return rows


def append_row(path: Path, row: dict) -> None:
    """One finished cell, appended and flushed to disk at once (an interrupted run keeps it)."""
    torn = False
    if path.exists() and path.stat().st_size:
        with path.open("rb") as f:
            f.seek(-1, os.SEEK_END)
            torn = f.read(1) != b"\n"
    with path.open("a") as f:
        if torn:
            f.write("\n")  # after a torn line: start a fresh one
        f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


# relative cost of an arm (the agent forks its lookahead): the longest first within a seed, so the
# two workers finish a seed together
_MODE_COST = {"auto": 0, "advise": 1, "reactive": 2, "off": 3}


def plan_jobs(scenes, seeds, modes, hours, done) -> list[tuple]:
    """Cells still to run, seeds outermost (a cut-short run still covers every scene with every
    arm for the seeds it finished), the agent's arm first within a seed."""
    jobs = []
    for seed in seeds:
        cells = [(sc, seed, mode, hours) for sc in scenes for mode in modes]
        cells.sort(key=lambda c: _MODE_COST.get(c[2], 9))
        jobs += [c for c in cells if c not in done]
    return jobs


def _load() -> str:
    try:
        return "/".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


def _job(job: tuple) -> dict:
    sc, seed, mode, hours, tmp, agent_set = job
    overrides = agent_set if mode in AGENT_MODES else {}
    try:
        row = one_run(sc, seed, mode, hours, Path(tmp), overrides)
    except Exception as e:  # noqa: BLE001 - one failed cell must not take the others with it
        return {"error": f"{type(e).__name__}: {e}"}
    row["hours"] = hours
    if overrides:
        row["overrides"] = overrides
    return row


def _run_all(jobs: list[tuple], workers: int):
    """Every run as (job, row), in ``workers`` forked processes (each auto run forks its own
    lookahead children), rows as they finish. A run that raises gives ``{"error": ...}``."""
    if workers <= 1:
        for j in jobs:
            yield j, _job(j)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork")) as pool:
        futures = {pool.submit(_job, j): j for j in jobs}
        try:
            for f in as_completed(futures):
                try:
                    row = f.result()
                except Exception as e:  # noqa: BLE001 - a worker died (killed, out of memory)
                    row = {"error": f"{type(e).__name__}: {e}"}
                yield futures[f], row
        finally:
            for f in futures:
                f.cancel()


def fit_forecast(args, tmp: Path) -> int:
    """The forecaster's blend weights with persistence: the model alone (``blend={}``) replayed on
    the digests of static-plan runs of the balanced scene (training seeds, never the benchmark's),
    ``w`` per target and horizon by least squares (`fit_blend`). Paste the printed dict into
    `fctwin.controller.eluna.forecast.BLEND`."""
    from fctwin.controller.eluna.forecast import fit_blend
    from fctwin.sim.eluna.manager import forecaster_for
    from fctwin.sim.run import RunOptions, run_fc
    from fctwin.sim.scene import load_scene

    path = ROOT / "scenes" / "eluna_balanced.toml"
    pairs: dict[tuple[str, int], list] = {}
    for seed in range(args.seed0, args.seed0 + args.seeds):
        opts = RunOptions(seed=seed, link="local", world=False, runs_dir=tmp, record_poses=False, cpu="off")
        res = run_fc(path, opts)
        db = sqlite3.connect(res.db_path)
        digests = [json.loads(d) for (d,) in db.execute("SELECT data FROM digest_minute ORDER BY minute")]
        db.close()
        fc = forecaster_for(load_scene(path), blend={})
        fc.self_blend = fc.self_scale = False  # the model alone, not the run's own blend of it
        for dg in digests:
            fc.observe(dg)
        for (target, h), rows in fc.scored.items():
            kind = "queue" if target.startswith("queue:") else target
            pairs.setdefault((kind, h), []).extend(r for r in rows if r[3] >= 60)
    blend = {}
    for key, rows in sorted(pairs.items()):
        a = np.asarray([(r[4], r[1], r[2]) for r in rows], dtype=np.float64)
        blend[key] = round(fit_blend(a[:, 0], a[:, 1], a[:, 2]), 2)
    print(blend)
    return 0


def replay_rows(
    runs_dir: Path, scenes, seeds, modes, self_calibrate: bool = False, opts: dict | None = None
) -> list[dict]:
    """Forecast rows (skill and hot spots after the first hour, as `one_run` reports them) from the
    digests recorded in the run stores under ``runs_dir``, replayed through this checkout's
    forecaster: the forecaster only reads the digests, so on the same runs this is what it would have
    scored (the trajectory is the recorded one: in auto mode the agent read the recorded forecasts)."""
    from fctwin.sim.eluna.manager import forecaster_for
    from fctwin.sim.scene import load_scene

    rows, loaded = [], {}
    for db_path in sorted(runs_dir.glob("*/run.sqlite")):
        db = sqlite3.connect(db_path)
        try:
            summ = dict(db.execute("SELECT key, value FROM summary").fetchall())
            if "eluna" not in summ:
                continue
            scene, seed = json.loads(summ["scene"]), int(summ["seed"])
            mode = json.loads(summ["eluna"])["mode"]
            if scene not in scenes or seed not in seeds or mode not in modes:
                continue
            digests = [json.loads(d) for (d,) in db.execute("SELECT data FROM digest_minute ORDER BY minute")]
        finally:
            db.close()
        if scene not in loaded:
            loaded[scene] = load_scene(ROOT / "scenes" / f"{scene}.toml")
        fc = forecaster_for(loaded[scene])
        fc.self_blend = fc.self_scale = self_calibrate
        for attr, value in (opts or {}).items():
            if not hasattr(fc, attr):
                raise SystemExit(f"--forecast-opt: the forecaster has no option {attr!r}")
            setattr(fc, attr, value)
        for dg in digests:
            fc.observe(dg)
        skill = fc.skill(from_minute=60, pooled=True)
        rows.append(
            {
                "scene": scene,
                "seed": seed,
                "mode": mode,
                "skill": {t: {str(h): v.get("skill") for h, v in hs.items()} for t, hs in skill.items()},
                "hot_spots": {str(h): v for h, v in fc.hot_spot_scores(from_minute=60).items()},
                "hot_spots_window": {
                    str(h): v for h, v in fc.hot_spot_scores(from_minute=60, window=True).items()
                },
            }
        )
    return rows


def replay_forecast(args) -> int:
    """``--replay-forecast DIR``: this checkout's forecaster on recorded digests, no new runs; the
    skill table and the forecast goals, for all the seeds and for each half of them apart (rules
    chosen on the first seeds are then checked on the rest)."""
    if not args.replay_forecast.is_dir():
        print(f"--replay-forecast: {args.replay_forecast} is not a directory", file=sys.stderr)
        return 2
    seeds = list(range(args.seed0, args.seed0 + args.seeds))
    rows = replay_rows(
        args.replay_forecast,
        set(args.scenes),
        set(seeds),
        set(args.modes),
        self_calibrate=args.forecast_self,
        opts=dict(args.forecast_opt or []),
    )
    if not rows:
        print(f"--replay-forecast: no matching run store under {args.replay_forecast}", file=sys.stderr)
        return 2
    print(f"{len(rows)} recorded runs replayed from {args.replay_forecast} (load average {_load()})")
    halves = [("all seeds", seeds)]
    if len(seeds) >= 4:
        k = len(seeds) * 2 // 5 or 1  # the first ~40% (11-14 of 11-20) and the rest
        halves += [
            (f"seeds {seeds[0]}-{seeds[k - 1]}", seeds[:k]),
            (f"seeds {seeds[k]}-{seeds[-1]}", seeds[k:]),
        ]
    for name, part in halves:
        mine = [r for r in rows if r["seed"] in part]
        print(f"\n# {name} ({len(mine)} runs)")
        print(forecast_goal_lines(mine))
        print(forecast_report(mine))
    return 0


def lookahead_speed(tmp: Path) -> int:
    """A 30-minute lookahead of fc_small (the balanced default) from minute 30: 4 plans with one
    worker, then 4 with two (wall seconds per plan). Goal (issue 16): under 1 s per candidate."""
    import fctwin.sim.eluna.manager as mgr
    from fctwin.sim.eluna.lookahead import ForkLookahead
    from fctwin.sim.run import RunOptions, run_fc

    build, on_minute = mgr.FloorManager.build.__func__, mgr.FloorManager.on_minute
    out = {}

    def keep_host(cls, loop, *, mode, host=None, lookahead_ok=False):
        m = build(cls, loop, mode=mode, host=host, lookahead_ok=lookahead_ok)
        m.host = host
        return m

    def measure(self, minute, t_s):
        made = on_minute(self, minute, t_s)
        if minute == 30:
            for workers in (1, 2):
                la = ForkLookahead(self.loop, self.host, self.levers, workers=workers)
                w0 = time.perf_counter()
                la.evaluate([[]] * 4, 1800.0, key="speed")
                out[workers] = (time.perf_counter() - w0) / 4
        return made

    mgr.FloorManager.build = classmethod(keep_host)
    mgr.FloorManager.on_minute = measure
    opts = RunOptions(hours=0.6, link="local", world=False, runs_dir=tmp, record_poses=False, cpu="off")
    res = run_fc(ROOT / "scenes" / "fc_small.toml", opts)
    print(f"fc_small: 1 h simulated at {3600 * 0.6 / res.wall_s:.0f}x real time in this run")
    for workers, per in out.items():
        print(
            f"30-min lookahead of fc_small, {workers} worker(s): {per:.2f} s wall per candidate (goal < 1 s)"
        )
    return 0


# The shift lead's grid (ELUNA.md: thresholds tuned once on the balanced default scene, then frozen).
# Around the mechanism's values (shiftlead.FROZEN's comment): pick hi/lo in minutes of waiting pick work
# per person, stow hi/lo as pairs in the frozen 30/12 ratio (a dock piling up / a dock with slack).
TUNE_PICK_HI = (3.0, 4.0, 6.0)
TUNE_PICK_LO = (0.5, 0.75, 1.5)
TUNE_STOW_HI_LO = ((20.0, 8.0), (30.0, 12.0), (45.0, 18.0))
# rule 5 (send one home from a quiet kind): off, or the load the people left may carry
TUNE_RELEASE_LOAD = (0.5, 0.6, 0.7, 0.8)


# the joint grid's rule-5 loads: the staged grid's best two and the load beside them
TUNE_JOINT_RELEASE_LOAD = (0.6, 0.7, 0.8)


def tune_grid(kind: str = "staged") -> list[dict]:
    """Every set of the grid, as ShiftLeadRules keyword arguments.

    ``staged``: the thresholds with rule 5 off, then rule 5's loads at the mechanism's thresholds
    (the full product is five times the runs). ``joint``: rule 5 on at each of
    `TUNE_JOINT_RELEASE_LOAD` with every ``lo`` (pick and the stow pairs), pick ``hi`` at the
    mechanism's 4 minutes. Rule 5 reads the ``lo`` the thresholds set (a kind below it for two checks
    may give a person), so with rule 5 on the ``lo`` values are no longer flat on the balanced floor
    the way the staged grid found them with it off (session 17: the balanced floor never makes the
    lead move anyone without rule 5)."""
    if kind == "joint":
        return [
            {"pick_hi_min": 4.0, "pick_lo_min": pl, "stow_hi_min": sh, "stow_lo_min": sl, "release_load": x}
            for pl in TUNE_PICK_LO
            for sh, sl in TUNE_STOW_HI_LO
            for x in TUNE_JOINT_RELEASE_LOAD
        ]
    grid = [
        {"pick_hi_min": ph, "pick_lo_min": pl, "stow_hi_min": sh, "stow_lo_min": sl, "release_load": None}
        for ph in TUNE_PICK_HI
        for pl in TUNE_PICK_LO
        for sh, sl in TUNE_STOW_HI_LO
    ]
    from fctwin.controller.eluna.shiftlead import FROZEN

    # rule 5's loads at the frozen thresholds (session 17: the mechanism's 30 / 12; session 22's
    # joint grid moved stow to 45 / 18)
    names = ("pick_hi_min", "pick_lo_min", "stow_hi_min", "stow_lo_min")
    mech = {n: getattr(FROZEN, n) for n in names}
    return grid + [{**mech, "release_load": x} for x in TUNE_RELEASE_LOAD]


def tune_choice(means: dict[tuple, dict], frozen: tuple) -> tuple:
    """ELUNA.md's rule: the best mean units per labour hour among the sets that keep 99% of the best
    units per hour. Sets within 0.1% of that best efficiency are a tie (the grid cannot tell them
    apart on this floor); a re-freeze must buy something, so the frozen set wins a tie it is part
    of, and otherwise the tie goes to the set that changes the fewest of the frozen set's values,
    then to the lower p95. (Session 22's joint grid: pick ``lo`` is flat on the balanced floor,
    0.5, 0.75 and 1.5 give the same runs; without the second rule the tie went to 0.5 by the
    order of the keys, a change that bought nothing.)"""
    best_uph = max(m["units_per_h"] for m in means.values())
    ok = {k: m for k, m in means.items() if m["units_per_h"] >= 0.99 * best_uph}
    best_eff = max(m["units_per_labour_h"] for m in ok.values())
    tied = [k for k, m in ok.items() if m["units_per_labour_h"] >= best_eff * (1 - 1e-3)]
    if frozen in tied:
        return frozen
    was = dict(frozen)

    def changed(k: tuple) -> int:
        return sum(1 for name, v in k if was.get(name, v) != v)

    return min(tied, key=lambda k: (changed(k), ok[k]["order_cycle_p95_s"], k))


def _tune_job(job: tuple) -> tuple:
    key, seed, hours, tmp = job
    import dataclasses

    import fctwin.controller.eluna.shiftlead as sl
    import fctwin.sim.eluna.manager as mgr

    # a forked worker: the lead reads the module's FROZEN when the run builds its floor manager
    sl.FROZEN = mgr.FROZEN = dataclasses.replace(sl.ShiftLeadRules(), **dict(key))
    return key, one_run("eluna_balanced", seed, "reactive", hours, Path(tmp))


def tune(args, tmp: Path, grid: list[dict] | None = None) -> int:
    """The shift lead's thresholds: the grid on the balanced scene (seeds --seed0.., at most 5), each
    set's means, the chosen set (`tune_choice`) and where the frozen set stands."""
    import dataclasses
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    from fctwin.controller.eluna.shiftlead import FROZEN

    grid = tune_grid() if grid is None else grid
    names = list(grid[0])
    frozen = tuple((n, getattr(FROZEN, n)) for n in names)
    seeds = range(args.seed0, args.seed0 + min(args.seeds, 5))
    keys = [tuple(sorted(g.items(), key=lambda kv: names.index(kv[0]))) for g in grid]
    for k in keys:  # a bad field name fails here, before any run
        dataclasses.replace(FROZEN, **dict(k))
    jobs = [(k, s, args.hours, str(tmp)) for k in keys for s in seeds]
    got: dict[tuple, list[dict]] = {}
    with ProcessPoolExecutor(max_workers=max(1, args.workers), mp_context=mp.get_context("fork")) as pool:
        for key, row in pool.map(_tune_job, jobs):
            got.setdefault(key, []).append(row)
    if args.out:  # every run's row, with its set, before the table (a crash below loses nothing)
        with open(args.out, "a") as f:
            for k, vals in got.items():
                for v in vals:
                    f.write(json.dumps({**v, "lead_rules": dict(k)}) + "\n")
    metrics = ("units_per_labour_h", "units_per_h", "order_cycle_p95_s", "actions")
    means = {k: {m: float(np.mean([v[m] for v in vals])) for m in metrics} for k, vals in got.items()}
    chosen = tune_choice(means, frozen)
    print(f"eluna_balanced, seeds {list(seeds)}, reactive, {len(keys)} threshold sets")
    print("| " + " | ".join(names) + " | units/labour-h | units/h | p95 s | actions/run | |")
    print("|" + "---|" * (len(names) + 5))
    for k in keys:
        m = means[k]
        mark = ("chosen" if k == chosen else "") + (" frozen" if k == frozen else "")
        print(
            "| "
            + " | ".join("off" if v is None else f"{v:g}" for _, v in k)
            + f" | {m['units_per_labour_h']:.1f} | {m['units_per_h']:.0f} | {m['order_cycle_p95_s']:.0f}"
            f" | {m['actions']:.1f} | {mark.strip()} |",
            flush=True,
        )
    if frozen in means:
        verdict = "is the grid's choice" if chosen == frozen else "is NOT the grid's choice"
        print(f"the frozen set {dict(frozen)} {verdict}; chosen: {dict(chosen)}")
    else:
        print(f"chosen: {dict(chosen)} (the frozen set {dict(frozen)} is not on this grid)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
