"""Calibrate the fast station models from physics trials and write them as JSON.

`calibrate(trials=..., sku_sizes_m=..., sku_mass_kg=...)` runs Vulcan stow and pick trials in the
PyBullet cell, the Blue Jay cell with 1-4 arms, and Sequoia store/retrieve cycles on the rack, fits a
gamma distribution (mean, cv by moments) per unit type, line kind and item class, and returns the
table `fctwin.robots.data` reads. Without a scene catalogue Vulcan's items come from
`fctwin.robots.data.item_mix` (an assumed FC-like size and packaging mix); ``vulcan_summary`` and
``bluejay_summary`` carry the figures to compare with the public record.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from fctwin.robots.data import item_class
from fctwin.robots.data.item_mix import kind_of_sku, sample_catalogue

__all__ = [
    "POD_FILL_FRAC",
    "POD_TRIALS",
    "PUBLIC_RANGES",
    "calibrate",
    "STATION_TYPES",
    "calibrate_bluejay",
    "fit_gamma",
    "pick_checks",
    "pooled_intervals",
    "stack_sweep",
    "vulcan_figures",
    "vulcan_intervals",
    "write_models",
]

STATION_TYPES = ("vulcan", "bluejay", "sequoia")  # what `calibrate(only=...)` can run
POD_FILL_FRAC = 0.5  # share of each bin's width filled when a pod arrives (assumed; docs/stations.md)


def fit_gamma(samples_s) -> dict:
    """A ``{"dist": "gamma", "mean", "cv"}`` mapping fitted by moments to positive samples (s)."""
    x = np.asarray(samples_s, dtype=np.float64)
    mean = float(x.mean())
    cv = float(x.std() / mean) if len(x) > 1 and x.std() > 0 else 0.05
    return {"dist": "gamma", "mean": round(mean, 3), "cv": round(max(cv, 0.02), 3)}


def _entry(durations, successes) -> dict:
    ok = [d for d, s in zip(durations, successes, strict=True) if s]
    bad = [d for d, s in zip(durations, successes, strict=True) if not s]
    out = {"success_rate": round(float(np.mean(successes)), 3), "trials": len(durations)}
    out["cycle_s"] = fit_gamma(ok or durations)
    out["fail_s"] = fit_gamma(bad or durations)
    return out


def _split_entry(rows, all_rows) -> dict:
    """The refusals apart from the attempts, for a station that knows its SKUs (`VulcanStation`).

    Which item types the arm refuses depends only on the item (`fctwin.robots.vulcan_params.
    refusal_reason`), so a fast station decides it per SKU of its own catalogue; folding refusals
    into a class's success rate carried the calibration mix's refusal share into every scene (the
    medium class refused 40% of the mix's items, 4% of fc_stations'). ``attempts``: what the arm
    did with the items it tried, overall (``all``) and per packaging; ``refused_s``: the time a
    refusal costs (from this class's refusals, else the line kind's).
    """
    refused = [r[0] for r in rows if r[2].startswith("refused")]
    refused = refused or [r[0] for r in all_rows if r[2].startswith("refused")] or [r[0] for r in rows]
    tried = [r for r in rows if not r[2].startswith("refused")]
    out: dict = {"refused_s": fit_gamma(refused)}
    if tried:
        attempts = {"all": _entry([r[0] for r in tried], [r[1] for r in tried])}
        for packaging in sorted({r[3] for r in tried}):
            mine = [r for r in tried if r[3] == packaging]
            attempts[packaging] = _entry([r[0] for r in mine], [r[1] for r in mine])
        out["attempts"] = attempts
    return out


POD_TRIALS = 8  # Vulcan trials per pod: each pod is an episode of its own (its own cell and stream)


def _vulcan_pod(job) -> list[tuple]:
    """One pod's Vulcan trials: ``[(item class, stow row, pick row or None), ...]``.

    A fresh cell and a stream seeded by ``(seed, pod index)``: a pod's outcome does not depend on
    which process ran it, or on the pods before it, so ``jobs`` never changes the table.
    """
    from fctwin.robots.physics.vulcan_cell import VulcanCell

    seed, pod, n, sizes_m, mass_kg, kinds = job
    rng = np.random.default_rng([seed, pod])
    cell = VulcanCell(seed=int(rng.integers(2**31)))
    cell.load_pod(rng, fill_frac=POD_FILL_FRAC)
    out = []
    for _ in range(n):
        sku = int(rng.integers(len(sizes_m)))
        size = tuple(sorted(sizes_m[sku].tolist()))
        mass, kind = float(mass_kg[sku]), kinds[sku]
        res = cell.stow(size, mass, kind=kind)
        stow = (res.duration_s, res.success, res.reason, kind)
        # Pick the same SKU back from the pod: refused types go to a person without an attempt.
        refused = cell.refusal(size, mass, kind)
        pick = grasp = None
        if refused:
            pick = (cell.perceive_s(), False, f"refused: {refused}", kind)
        else:
            stack = bool(cell.rng.random() < cell.params.stack_share)
            item_id = cell.place_for_pick(size, mass, kind, stack=stack)
            if item_id is not None:
                stacked = cell.last_stacked  # drawn and there was room on top for it
                pres = cell.pick(item_id)
                why = pres.reason
                if why == "dropped" and pres.break_phase:  # where along the pull the seal broke
                    why = f"dropped: {pres.break_phase}"
                pick = (pres.duration_s, pres.success, why, kind)
                held = None if np.isnan(pres.held_kg) else round(pres.held_kg, 4)
                grasp = (
                    pres.first_grasp_ok,
                    pres.regrasps,
                    pres.reseats,
                    {
                        "stacked": stacked,
                        "ok": pres.success,
                        "reason": pres.reason,
                        "mass_kg": round(mass, 4),
                        "held_kg": held,
                        "weight_flag": pres.weight_flag,
                        "dragged_where": list(pres.dragged_where),
                    },
                )
        out.append((item_class(size), stow, pick, grasp if pick is not None and not refused else None))
    cell.close()
    return out


def pick_checks(attempts) -> dict:
    """What the pick's checks saw, from per-attempt details (`_vulcan_pod`'s fourth grasp field).

    * ``stacked`` / ``not_stacked``: attempts with an item lying on the picked one (placed, not only
      drawn: a bin too low for it gets none) and their success, the two rates `stack_sweep` mixes;
    * ``multi_picks``: attempts that dragged another item out of the bin, by where it ended;
    * ``weight_check``: the wrist F/T weighing at the carry pose against the catalogue mass
      (`VulcanCell.weigh_kg`): multi-picks it flags, false alarms (flagged with nothing dragged), and
      the reading's error on clean successful picks. It is a reading: no outcome depends on it.
    """
    rows = [a for a in attempts if a is not None]

    def rate(sel) -> dict:
        return {"picks": len(sel), "success": sum(a["ok"] for a in sel)}

    multi = [a for a in rows if a["dragged_where"]]
    where: dict[str, int] = {}
    for a in multi:
        for w in a["dragged_where"]:
            where[w] = where.get(w, 0) + 1
    riding = [a for a in multi if "on the tool" in a["dragged_where"]]
    clean_ok = [a for a in rows if a["ok"] and a["held_kg"] is not None]
    err = np.array([(a["held_kg"] - a["mass_kg"]) / a["mass_kg"] for a in clean_ok], dtype=np.float64)
    return {
        "stacked": rate([a for a in rows if a["stacked"]]),
        "not_stacked": rate([a for a in rows if not a["stacked"]]),
        "multi_picks": len(multi),
        "multi_pick_from_stacked": sum(a["stacked"] for a in multi),
        "dragged_where": dict(sorted(where.items())),
        "weight_check": {
            "multi_picks_riding": len(riding),
            "flagged_multi_picks": sum(a["weight_flag"] for a in multi),
            "flagged_riding": sum(a["weight_flag"] for a in riding),
            "false_alarms": sum(a["weight_flag"] for a in rows if not a["dragged_where"]),
            "weighed": sum(a["held_kg"] is not None for a in rows),
            "clean_error_frac_median": round(float(np.median(err)), 3) if err.size else None,
            "clean_error_frac_p5_p95": (
                [round(float(x), 3) for x in np.percentile(err, [5, 95])] if err.size else None
            ),
        },
    }


def stack_sweep(checks: dict, shares=(0.0, 0.05, 0.1, 0.15, 0.2, 0.3)) -> list[tuple[float, float]]:
    """Pick success if a share ``s`` of picks had an item lying on top: ``(1 - s) p0 + s p1``.

    ``p0`` and ``p1`` are the measured success rates of picks without and with one (`pick_checks`);
    the share itself (`VulcanCellParams.stack_share`) is an assumption no public figure grounds.
    """
    p0 = checks["not_stacked"]["success"] / max(1, checks["not_stacked"]["picks"])
    p1 = checks["stacked"]["success"] / max(1, checks["stacked"]["picks"])
    return [(float(s), round((1 - s) * p0 + s * p1, 4)) for s in shares]


def _pool_map(fn, jobs_list: list, jobs: int) -> list:
    """``[fn(j) for j in jobs_list]``, in ``jobs`` processes when jobs > 1 (same results either way)."""
    if jobs <= 1 or len(jobs_list) <= 1:
        return [fn(j) for j in jobs_list]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn: every worker starts its own PyBullet clients, nothing inherited from this process
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as ex:
        return list(ex.map(fn, jobs_list))


def calibrate(
    *,
    trials: int = 20,
    seed: int = 0,
    sku_sizes_m=None,
    sku_mass_kg=None,
    bluejay_sim_s: float = 60.0,
    jobs: int = 1,
    rack_fill_frac: float | None = None,
    only=None,
) -> dict:
    """Run the physics and return the model table (``schema_version`` 1).

    ``only``: the station types to run (a subset of `STATION_TYPES`; None: all). A table of only
    some types is partial (``source.only`` says which): it pools with others (`pooled_intervals`)
    but is not a table a fast run can use in place of the shipped one.

    ``jobs``: processes for the Vulcan pods and the Blue Jay arm counts (the table is the same for
    any value: each pod and each arm count has its own seeded stream). ``rack_fill_frac``: how full
    Sequoia's rack is while its store cycles are measured (a scene's ``pods.initial_fill_frac``;
    default the stations' `fctwin.robots.sequoia.RACK_FILL_FRAC`).
    """
    run = set(STATION_TYPES if only is None else only)
    if not run or run - set(STATION_TYPES):
        raise ValueError(f"only: station types are {', '.join(STATION_TYPES)}, not {sorted(run)}")
    if rack_fill_frac is None:
        from fctwin.robots.sequoia import RACK_FILL_FRAC

        rack_fill_frac = RACK_FILL_FRAC
    rng = np.random.default_rng(seed)
    if sku_sizes_m is None:
        # Not the scene schema's catalogue ranges (up to 40 x 30 x 30 cm, uniform): almost none of
        # those fit a 13-21 cm cubby. The default is an FC-like item mix with packaging (boxes,
        # polybags, fragile items; see robots.data.item_mix).
        sku_sizes_m, sku_mass_kg, sku_kinds = sample_catalogue(rng, 400)
    else:  # a scene catalogue has sizes and masses only: packaging fixed per SKU id from the mix
        sku_kinds = [kind_of_sku(k) for k in range(len(sku_sizes_m))]
    sku_sizes_m = np.asarray(sku_sizes_m, dtype=np.float64)
    sku_mass_kg = np.asarray(sku_mass_kg, dtype=np.float64)
    results: dict[str, dict[str, tuple[list, list]]] = {"stow": {}, "pick": {}}
    stows: list[tuple[float, bool, str, str]] = []  # (duration_s, success, reason, kind)
    picks: list[tuple[float, bool, str, str]] = []
    pods = (
        [
            (seed, k, min(POD_TRIALS, trials - k * POD_TRIALS), sku_sizes_m, sku_mass_kg, list(sku_kinds))
            for k in range((trials + POD_TRIALS - 1) // POD_TRIALS)
        ]
        if "vulcan" in run
        else []
    )
    grasps: list[tuple] = []  # per pick attempt: (first grasp held, regrasps, reseats, details)
    by_pod: list[tuple[list, list]] = []  # (stows, picks) of each pod, for the intervals
    rows: dict[str, dict[str, list]] = {"stow": {}, "pick": {}}  # per unit: (s, ok, reason, packaging)
    for pod in _pool_map(_vulcan_pod, pods, jobs):
        by_pod.append(([r[1] for r in pod], [r[2] for r in pod if r[2] is not None]))
        for cls, stow, pick, grasp in pod:
            if grasp is not None:
                grasps.append(grasp)
            stows.append(stow)
            rows["stow"].setdefault(cls, []).append(stow)
            d, s = results["stow"].setdefault(cls, ([], []))
            d.append(stow[0])
            s.append(stow[1])
            if pick is not None:
                picks.append(pick)
                rows["pick"].setdefault(cls, []).append(pick)
                d, s = results["pick"].setdefault(cls, ([], []))
                d.append(pick[0])
                s.append(pick[1])
    table: dict = {
        "schema_version": 1,
        "source": {"trials": trials, "seed": seed, "sim_hz": 240},
        "models": {},
    }
    if only is not None:
        table["source"]["only"] = sorted(run)
    if "vulcan" in run:
        table["models"]["vulcan"], table["vulcan_summary"] = _vulcan_table(
            stows, picks, grasps, by_pod, rows, results, seed
        )
    if "bluejay" in run:
        bluejay_models, curve, bluejay_summary = calibrate_bluejay(sim_s=bluejay_sim_s, seed=seed, jobs=jobs)
        table["models"]["bluejay"] = bluejay_models
        table["bluejay_arms_units_per_h"] = curve
        table["bluejay_summary"] = bluejay_summary
    if "sequoia" in run:
        models, cycles = _sequoia(trials, seed, rack_fill_frac)
        table["models"]["sequoia"] = models
        table["sequoia_cycle_s"] = cycles
    return table


def _vulcan_table(stows, picks, grasps, by_pod, rows, results, seed) -> tuple[dict, dict]:
    """The Vulcan part of the table: (fitted entries per line kind and class, the summary)."""
    from fctwin.robots.vulcan import PERSON_HANDOFF_S

    vulcan_summary = vulcan_figures(stows, picks, handoff_s=PERSON_HANDOFF_S)
    if grasps:
        # The first grasp held the item to the carry pose (before the multi-pick and clear-of-pod
        # checks, so it bounds the success a pick without re-grasps could have had from above).
        vulcan_summary["pick_first_grasp_held_rate"] = round(float(np.mean([g[0] for g in grasps])), 3)
        vulcan_summary["pick_regrasps"] = int(sum(g[1] for g in grasps))
        vulcan_summary["pick_reseats"] = int(sum(g[2] for g in grasps))
        vulcan_summary["pick_attempts"] = [g[3] for g in grasps]  # pooled by `pick_checks` across tables
        vulcan_summary["pick_checks"] = pick_checks([g[3] for g in grasps])
    vulcan_summary["intervals_95"] = vulcan_intervals(by_pod, handoff_s=PERSON_HANDOFF_S, seed=seed)
    # Every trial by pod ([s, ok, reason, packaging]): tables of several seeds pool into one interval
    # (`pooled_intervals`), resampling the pods of all of them.
    vulcan_summary["pods"] = [
        [[[round(float(r[0]), 3), bool(r[1]), r[2], r[3]] for r in rows_] for rows_ in pod] for pod in by_pod
    ]
    vulcan = {kind: {cls: _entry(*v) for cls, v in per.items()} for kind, per in results.items()}
    for kind, per in rows.items():
        for cls, unit_rows in per.items():
            vulcan[kind][cls].update(_split_entry(unit_rows, [r for rs in per.values() for r in rs]))
    for per in vulcan.values():
        if "medium" not in per and per:
            per["medium"] = next(iter(per.values()))
    return vulcan, vulcan_summary


def _sequoia(trials: int, seed: int, rack_fill_frac: float) -> tuple[dict, dict]:
    """Sequoia's fitted entries (per line kind) and the gantry cycles, from the rack in physics."""
    from fctwin.robots.physics.sequoia_rack import SequoiaRack
    from fctwin.robots.sequoia import DECANT_PER_UNIT_S, PICK_PER_UNIT_S, stock_rack

    # Store cycles in a rack held at the storage fill a run starts with (``rack_fill_frac``): each
    # store is followed by an (untimed) retrieval of another tote, so the fill stays put. The table
    # used to average stores into an empty rack filling up, while the stations started empty.
    rack = SequoiaRack()
    rack_rng = np.random.default_rng([seed, 0x5E9])
    stock_rack(rack, rack_fill_frac, rack_rng)
    store_s = []
    target = max(1, round(rack_fill_frac * rack.free.size))
    for _ in range(min(trials, rack.free.size - 1)):
        t, slot = rack.store()
        store_s.append(t)
        others = sorted(s for s in rack.totes if s != slot)
        if others and (len(rack.totes) > target or not rack.free.any()):
            rack.retrieve(others[int(rack_rng.integers(len(others)))])
    rack.close()
    rack = SequoiaRack()
    stock_rack(rack, 1.0, rack_rng)  # a pick port's rack is stocked: retrievals from anywhere in it
    slots = sorted(rack.totes)
    retrieve_s = [rack.retrieve(slot) for slot in slots[: max(1, trials // 2)]]
    rack.close()

    # Per unit: the person's decant or pick time at the port; per line: one tote move (a stow line
    # is one carton decanted into one tote and stored; a pick line brings one tote to the port), as
    # the physics station charges it. Both line kinds used to carry the move in every unit's time.
    def port(per_unit_s: float, moves_s: list) -> dict:
        const = {"dist": "constant", "value": per_unit_s}
        return {
            "success_rate": 1.0,
            "trials": len(moves_s),
            "cycle_s": const,
            "fail_s": const,
            "tote_move_s": fit_gamma(moves_s),
        }

    sequoia = {
        "stow": {"medium": port(DECANT_PER_UNIT_S, store_s)},
        "pick": {"medium": port(PICK_PER_UNIT_S, retrieve_s)},
    }
    cycles = {
        "rack_fill_frac": rack_fill_frac,
        "store_mean": float(np.mean(store_s)),
        "retrieve_mean": float(np.mean(retrieve_s)),
    }
    return sequoia, cycles


def vulcan_figures(stows, picks, *, handoff_s: float) -> dict:
    """The figures to compare with the public record, from per-unit (duration_s, success, reason, kind).

    ``stow_success_rate`` and ``pick_success_rate`` are over the units the arm attempted (refused
    item types never reach the arm: the public success rates are over attempts); ``to_person_share``
    is over every unit (refusals plus failures). ``stow_units_per_h`` counts every unit through the
    station per arm-hour, hand-offs included (each costs ``handoff_s``), as the fast model moves
    them; ``robot_stows_per_h`` only those the arm stowed itself.
    """

    def reasons(rows) -> dict:
        out: dict[str, int] = {}
        for _, ok, why, _ in rows:
            if not ok:
                out[why] = out.get(why, 0) + 1
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

    def by_kind(rows) -> dict:
        out = {}
        for kind in sorted({r[3] for r in rows}):
            mine = [r for r in rows if r[3] == kind]
            tried = [r for r in mine if not r[2].startswith("refused")]
            out[kind] = {
                "units": len(mine),
                "refused": len(mine) - len(tried),
                "success_rate": round(float(np.mean([r[1] for r in tried])), 3) if tried else None,
            }
        return out

    def rate(rows) -> float:
        tried = [ok for _, ok, why, _ in rows if not why.startswith("refused")]
        return round(float(np.mean(tried)), 3) if tried else float("nan")

    arm_s = sum(d for d, *_ in stows) + handoff_s * sum(not ok for _, ok, *_ in stows)
    n = max(1, len(stows))
    return {
        "stow_trials": len(stows),
        "stow_attempted": sum(not why.startswith("refused") for _, _, why, _ in stows),
        "stow_success_rate": rate(stows),
        "to_person_share": round(sum(not ok for _, ok, *_ in stows) / n, 3),
        "refused_share": round(sum(why.startswith("refused") for _, _, why, _ in stows) / n, 3),
        "stow_units_per_h": round(3600.0 * len(stows) / max(arm_s, 1e-9), 1),
        "robot_stows_per_h": round(3600.0 * sum(ok for _, ok, *_ in stows) / max(arm_s, 1e-9), 1),
        "stow_success_cycle_mean_s": round(float(np.mean([d for d, ok, *_ in stows if ok] or [0.0])), 3),
        "to_person_reasons": reasons(stows),
        "stow_by_kind": by_kind(stows),
        "pick_trials": len(picks),
        "pick_attempted": sum(not why.startswith("refused") for _, _, why, _ in picks),
        "pick_success_rate": rate(picks),
        "pick_to_person_share": round(sum(not ok for _, ok, *_ in picks) / max(1, len(picks)), 3),
        "pick_cycle_mean_s": round(float(np.mean([d for d, *_ in picks] or [0.0])), 3),
        "pick_failure_reasons": reasons(picks),
        "pick_by_kind": by_kind(picks),
    }


# The public ranges the headline figures are compared with (docs/stations.md has the sources).
PUBLIC_RANGES = {
    "robot_stows_per_h": (224.0, 300.0),
    "stow_success_rate": (0.80, 0.90),
    "to_person_share": (0.20, 0.30),
    "pick_success_rate": (0.86, 0.96),
}


def vulcan_intervals(by_pod, *, handoff_s: float, seed: int = 0, resamples: int = 2000) -> dict:
    """95% intervals of the headline figures, bootstrapping whole pods, and whether they call the range.

    Pods are the unit of resampling: the trials of one pod share its fill and its bins, so they are
    not independent draws (an interval over single trials would be too narrow). Per figure:
    ``[low, high]``, ``verdict`` ("in range", "out of range", or "undecided" when the interval
    straddles an edge of the public range) and ``trials_to_decide``: the trials an interval would need
    (its width shrinks as 1/sqrt(trials)) to lie on one side of the nearest edge, with the estimate
    where it is now.
    """
    rng = np.random.default_rng([seed, 7919])
    n_pods = len(by_pod)
    figures = vulcan_figures(
        [r for st, _ in by_pod for r in st], [r for _, pk in by_pod for r in pk], handoff_s=handoff_s
    )
    trials = figures["stow_trials"]
    samples: dict[str, list[float]] = {k: [] for k in PUBLIC_RANGES}
    for _ in range(resamples):
        take = rng.integers(n_pods, size=n_pods)
        f = vulcan_figures(
            [r for k in take for r in by_pod[k][0]],
            [r for k in take for r in by_pod[k][1]],
            handoff_s=handoff_s,
        )
        for k in PUBLIC_RANGES:
            samples[k].append(f[k])
    out = {"resampled": "pods", "pods": n_pods, "trials": trials}
    for k, (lo_pub, hi_pub) in PUBLIC_RANGES.items():
        x = np.asarray(samples[k], dtype=np.float64)
        x = x[np.isfinite(x)]
        lo, hi = (float(v) for v in np.percentile(x, [2.5, 97.5]))
        est = float(figures[k])
        if lo >= lo_pub and hi <= hi_pub:
            verdict = "in range"
        elif hi < lo_pub or lo > hi_pub:
            verdict = "out of range"
        else:
            verdict = "undecided"
        edge = min(abs(est - lo_pub), abs(est - hi_pub))
        half = (hi - lo) / 2
        need = int(np.ceil(trials * (half / edge) ** 2)) if edge > 0 else None
        out[k] = {
            "estimate": est,
            "low": round(lo, 3),
            "high": round(hi, 3),
            "public": [lo_pub, hi_pub],
            "verdict": verdict,
            "trials_to_decide": need,
        }
    return out


def pooled_intervals(tables, *, handoff_s: float | None = None) -> dict:
    """`vulcan_intervals` over the pods of several calibration tables (e.g. two seeds), pooled."""
    from fctwin.robots.vulcan import PERSON_HANDOFF_S

    by_pod = []
    for table in tables:
        pods = table["vulcan_summary"].get("pods")
        if pods is None:
            raise ValueError("a table without per-pod trials (calibrated before they were kept)")
        by_pod += [([tuple(r) for r in st], [tuple(r) for r in pk]) for st, pk in pods]
    h = PERSON_HANDOFF_S if handoff_s is None else handoff_s
    return vulcan_intervals(by_pod, handoff_s=h, seed=len(by_pod))


def _bluejay_arms(job) -> tuple[int, list, list, dict]:
    """The Blue Jay cell with ``arms`` arms for ``sim_s``: (arms, gaps_s, successes, summary)."""
    from fctwin.robots.physics.bluejay_cell import BlueJayCell

    arms, sim_s, seed = job
    cell = BlueJayCell(arms=arms, seed=seed + arms)
    gaps_s, oks = [], []
    while cell.pc.t_s < sim_s:
        dt_s, done, failed = cell.run_units(1, max_s=sim_s)
        n = done + failed  # arms that finished in the same step share the gap
        if n == 0:
            break
        gaps_s += [dt_s / n] * n
        oks += [True] * done + [False] * failed
    units_per_h = round(3600.0 * len(gaps_s) / cell.pc.t_s, 1)
    summary = {
        "sim_s": round(cell.pc.t_s, 2),
        "units": len(gaps_s),
        "success_rate": round(float(np.mean(oks)), 3),
        "units_per_arm_h": round(units_per_h / arms, 1),
        "arm_contact_steps": cell.arm_contact_steps,
        "zone_wait_share": round(cell.wait_steps / (arms * cell.pc.steps), 3),
        "units_per_h": units_per_h,
    }
    cell.close()
    return arms, gaps_s, oks, summary


def calibrate_bluejay(*, sim_s: float = 60.0, seed: int = 0, jobs: int = 1) -> tuple[dict, dict, dict]:
    """Measure the Blue Jay cell with 1-4 arms for ``sim_s`` simulated seconds each.

    Returns (models ``{kind: {"medium": entry}}`` for the default 3-arm cell: the time between
    successive units the cell finishes; ``{"1".."4": units_per_h}``; a summary with contact counts).
    """
    curve: dict[str, float] = {}
    summary: dict[str, dict] = {}
    entry = None
    for arms, gaps_s, oks, summ in _pool_map(_bluejay_arms, [(a, sim_s, seed) for a in (1, 2, 3, 4)], jobs):
        curve[str(arms)] = summ.pop("units_per_h")
        summary[str(arms)] = summ
        if arms == 3:
            entry = _entry(gaps_s, oks)
    # Pick, stow and consolidation moves are one mix in the cell; both line kinds use it.
    return {"pick": {"medium": entry}, "stow": {"medium": entry}}, curve, summary


def write_models(table: dict, path: str | Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path
