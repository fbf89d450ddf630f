"""Fit the forecaster's learned correction (`fctwin.controller.eluna.residual`) on the training floors.

Only the training floors' recorded runs are read (``train_floors.py run``: benchmarks/eluna_train/*.toml
and eluna_balanced on seeds 101 and up); never a benchmark scene, a benchmark seed or a held-out floor.

    # 1. replay each run's digests through the forecaster as it is, keeping every forecast's features
    python benchmarks/eluna_train/fit_residual.py collect --runs-dir /tmp/fcast14-train /tmp/fcast15-train \\
        --out /tmp/fcast16-rows.npz
    # 2. leave-one-floor-out: fit on all training floors but one, score skill on the one left out
    python benchmarks/eluna_train/fit_residual.py lofo --rows /tmp/fcast16-rows.npz
    # 3. fit on every training floor and write the package's coefficients
    python benchmarks/eluna_train/fit_residual.py fit --rows /tmp/fcast16-rows.npz \\
        --out controller/eluna/forecast_residual.json

The fit is closed-form ridge (no random draw): the same rows give the same coefficients.
Skill is scored as `Forecaster.skill(from_minute=60, pooled=True)` does, per run, then averaged over
a floor's runs (as ``train_floors.py replay`` prints).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

import numpy as np

from fctwin.controller.eluna.forecast import HORIZONS_MIN, Forecaster, skill_score
from fctwin.controller.eluna.residual import FEATURES, KINDS, ResidualModel, kind_of

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FROM_MINUTE = 60  # as the skill of record: the floor's first hour (filling from empty) is left out
LAMBDA = 1.0  # relative ridge penalty (docs/eluna_s16_fcast16.md: 0.1 and 1 measured)
# The features the weight reads: the rest of `FEATURES` carried nothing more out of sample (leave one
# floor out, docs/eluna_s16_fcast16.md), so they are collected but not fitted.
USED = ("one", "saturated10", "load15", "level_gap", "age")
W_BOUNDS = (0.0, 1.5)  # the factor on the forecast's change from now: never reversed, at most 1.5x


def scene_path(name: str) -> Path:
    p = HERE / f"{name}.toml"
    return p if p.exists() else ROOT / "scenes" / f"{name}.toml"


def collect(args) -> int:
    from fctwin.sim.eluna.manager import forecaster_for
    from fctwin.sim.scene import load_scene

    cols: dict[str, list] = {k: [] for k in ("floor", "run", "kind", "target", "h", "minute", "fc", "now")}
    cols |= {"scale": [], "act": [], "x": []}
    for runs_dir in args.runs_dir:
        for done in sorted(Path(runs_dir).glob("*/done")):
            db = sqlite3.connect(Path(done.read_text()))
            summ = dict(db.execute("SELECT key, value FROM summary").fetchall())
            scene = json.loads(summ["scene"])
            digests = [json.loads(d) for (d,) in db.execute("SELECT data FROM digest_minute ORDER BY minute")]
            db.close()
            fc = forecaster_for(load_scene(scene_path(scene)))
            fc.collect_residual = True
            by_minute = {}
            for dg in digests:
                fc.observe(dg)
                by_minute[int(dg["minute"])] = dg
            n = 0
            for target, h, minute, x, f, now, s in fc.residual_rows:
                later = by_minute.get(minute + h)
                act = None if later is None else Forecaster.actual(later, target)
                if act is None:
                    continue
                for k, v in zip(
                    ("floor", "run", "kind", "target", "h", "minute", "fc", "now", "scale", "act", "x"),
                    (scene, done.parent.name, kind_of(target), target, h, minute, f, now, s, act, x),
                    strict=True,
                ):
                    cols[k].append(v)
                n += 1
            print(f"{done.parent.name}: {n} forecasts", file=sys.stderr, flush=True)
    out = {k: np.asarray(v) for k, v in cols.items()}
    np.savez_compressed(args.out, **out)
    print(f"{len(out['h'])} rows -> {args.out}")
    return 0


def load_rows(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def fit_coef(r: dict, mask: np.ndarray, lam: float = LAMBDA, used: tuple[str, ...] = USED) -> dict:
    """Ridge per (kind, h) on the rows in ``mask`` of ``actual - fc = (w - 1) * (fc - now)``, with
    ``w - 1`` linear in the standardised features ``used``. Each floor weighs as its persistence
    error (in floor scales), so the loss is the mean over floors of what the skill score counts."""
    cols = [FEATURES.index(n) for n in used]
    x_all = r["x"][mask][:, cols]
    mean, std = x_all.mean(axis=0), x_all.std(axis=0)
    mean[0], std[0] = 0.0, 1.0  # the intercept ("one")
    std[std < 1e-9] = 1.0
    coef: dict[str, dict[str, list[float]]] = {}
    for kind in KINDS:
        for h in HORIZONS_MIN:
            m = mask & (r["kind"] == kind) & (r["h"] == h) & (r["minute"] >= FROM_MINUTE)
            if not m.any():
                continue
            s = r["scale"][m]
            d = (r["fc"][m] - r["now"][m]) / s
            z = d[:, None] * (r["x"][m][:, cols] - mean) / std
            y = (r["act"][m] - r["fc"][m]) / s
            e2 = ((r["now"][m] - r["act"][m]) / s) ** 2
            floors = r["floor"][m]
            sse = {f: float(e2[floors == f].sum()) for f in np.unique(floors)}
            w = np.asarray([1.0 / max(sse[f], 1e-12) for f in floors])
            w *= len(w) / w.sum()
            a = z.T @ (z * w[:, None]) / len(w)
            # relative ridge: each coefficient's penalty is ``lam`` times its own curvature
            pen = lam * np.diag(np.diag(a)) + 1e-9 * np.eye(len(a))
            pen[0, 0] = 1e-9  # the intercept (the weight itself) is not shrunk
            b = np.linalg.solve(a + pen, (z * w[:, None]).T @ y / len(w))
            coef.setdefault(kind, {})[str(h)] = [float(v) for v in b]
    return {
        "used": list(used),
        "mean": mean.tolist(),
        "std": std.tolist(),
        "coef": coef,
        "w_bounds": list(W_BOUNDS),
    }


def corrected(r: dict, mask: np.ndarray, fitted: dict) -> np.ndarray:
    """The forecasts of record with the fitted weights (`ResidualModel.apply`, as the forecaster
    applies them), for the rows in ``mask``."""
    model = ResidualModel(
        {(k, int(h)): np.asarray(b) for k, hs in fitted["coef"].items() for h, b in hs.items()},
        fitted["used"],
        fitted["mean"],
        fitted["std"],
        tuple(fitted["w_bounds"]),
    )
    out = r["fc"].copy()
    for i in np.flatnonzero(mask):
        out[i] = model.apply(str(r["kind"][i]), int(r["h"][i]), r["x"][i], now=r["now"][i], fc=r["fc"][i])
    return out


def floor_skill(r: dict, forecast: np.ndarray, floor: str) -> dict[tuple[str, int], float]:
    """Mean over the floor's runs of the pooled skill per (kind, h), from minute 60."""
    out = {}
    for kind in KINDS:
        for h in HORIZONS_MIN:
            vals = []
            for run in np.unique(r["run"][r["floor"] == floor]):
                m = (r["run"] == run) & (r["kind"] == kind) & (r["h"] == h) & (r["minute"] >= FROM_MINUTE)
                if m.sum() < 5:
                    continue
                sk = skill_score(forecast[m], r["now"][m], r["act"][m])
                if sk is not None:
                    vals.append(sk)
            if vals:
                out[(kind, h)] = float(np.mean(vals))
    return out


def lofo(args) -> int:
    r = load_rows(args.rows)
    floors = sorted(np.unique(r["floor"]))
    keys = [(k, h) for k in KINDS for h in HORIZONS_MIN]
    print("floor (runs) | " + " ".join(f"{k[:4]}{h}" for k, h in keys) + "   [current -> learned, LOFO]")
    cur_all, new_all = [], []
    for floor in floors:
        out_mask = r["floor"] == floor
        model = fit_coef(r, ~out_mask, args.lam)
        new = corrected(r, out_mask, model)
        sc, sn = floor_skill(r, r["fc"], floor), floor_skill(r, new, floor)
        cur_all.append([sc.get(k, np.nan) for k in keys])
        new_all.append([sn.get(k, np.nan) for k in keys])
        n_runs = len(np.unique(r["run"][out_mask]))
        cells = [f"{sc[k]:+.2f}>{sn[k]:+.2f}" if k in sc else "   -   " for k in keys]
        print(f"{floor} ({n_runs}) | " + " ".join(cells))
    c, n = np.asarray(cur_all), np.asarray(new_all)
    print(
        "mean | "
        + " ".join(f"{a:+.2f}>{b:+.2f}" for a, b in zip(np.nanmean(c, 0), np.nanmean(n, 0), strict=True))
    )
    print(
        "min  | "
        + " ".join(f"{a:+.2f}>{b:+.2f}" for a, b in zip(np.nanmin(c, 0), np.nanmin(n, 0), strict=True))
    )
    wins = np.nansum(n > c + 0.005, 0)
    losses = np.nansum(n < c - 0.005, 0)
    print(
        "floors better/worse | " + " ".join(f"{int(a)}/{int(b)}" for a, b in zip(wins, losses, strict=True))
    )
    return 0


def fit(args) -> int:
    r = load_rows(args.rows)
    model = fit_coef(r, np.ones(len(r["h"]), dtype=bool), args.lam)
    runs = sorted({str(x) for x in np.unique(r["run"])})
    model |= {
        "lambda": args.lam,
        "from_minute": FROM_MINUTE,
        "training_runs": runs,
        "fitted_by": "benchmarks/eluna_train/fit_residual.py fit",
    }
    Path(args.out).write_text(json.dumps(model, indent=1) + "\n")
    print(f"{len(runs)} runs, {len(np.unique(r['floor']))} floors -> {args.out}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--runs-dir", type=Path, nargs="+", required=True)
    c.add_argument("--out", type=Path, required=True)
    for name in ("lofo", "fit"):
        p = sub.add_parser(name)
        p.add_argument("--rows", type=Path, required=True)
        p.add_argument("--lam", type=float, default=LAMBDA)
        if name == "fit":
            p.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    return {"collect": collect, "lofo": lofo, "fit": fit}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
