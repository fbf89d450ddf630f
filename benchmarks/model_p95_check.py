"""Does the model path's order-cycle p95 track the fork lookahead's? (docs/eluna_s15_modelp95.md)

Runs the fork agent (`--agent auto`, `[agent] lookahead = "fork"`, the default) and, at every
decision it rolls forward, also projects the same plans by the fluid model with the order-cycle tail
(`ElunaAgent.project` with ``model_p95`` "done" and "all"). The projection only reads the agent's
state, so the run's event log is the fork agent's own (check it with tools/elhash.py). Writes one
JSON line per decision: each plan's fork KPIs and the model's, and prints the agreement of the
plans' p95 change against doing nothing (Spearman over all plans, the share of decisions whose
plans the two order alike, and the guard's verdict: p95 at most 2% + 5 s above doing nothing's).

    python benchmarks/model_p95_check.py --scenes eluna_port_strike --seeds 11 12 --out /tmp/x.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _label(plan) -> str:
    from fctwin.controller.eluna.agent import describe_short

    return " + ".join(describe_short(a) for a in plan) or "nothing"


def run_one(scene: str, seed: int, runs_dir: Path, out: Path) -> str:
    from fctwin.controller.eluna.agent import ElunaAgent
    from fctwin.sim.run import RunOptions, run_fc

    orig = ElunaAgent._decide

    def _decide(self, dg):
        la = self.lookahead
        if la is not None and not getattr(la, "_shadowed", False):
            evaluate = la.evaluate

            def shadowed(plans, horizon_s, key, _agent=self, _ev=evaluate):
                res = _ev(plans, horizon_s, key)
                if (
                    key is not None
                    and key == f"eluna.{_agent._shadow_dg['minute']}"
                    and plans
                    and plans[0] == []
                ):
                    dg_now = _agent._shadow_dg
                    model = {}
                    for variant in ("done", "all"):
                        _agent.model_p95 = variant
                        model[variant] = _agent.project(dg_now, plans)
                    _agent.model_p95 = "off"
                    row = {
                        "scene": scene,
                        "seed": seed,
                        "minute": dg_now["minute"],
                        "plans": [_label(p) for p in plans],
                        "fork": [
                            {
                                k: r.get(k)
                                for k in ("cycle_p95_s", "cycle_p95_all_s", "units_picked", "open_pick_units")
                            }
                            for r in res
                        ],
                        "model_done": [r["cycle_p95_s"] for r in model["done"]],
                        "model_all": [r["cycle_p95_s"] for r in model["all"]],
                        "model_open_pick": [r["open_pick_units"] for r in model["done"]],
                    }
                    with out.open("a") as f:
                        f.write(json.dumps(row) + "\n")
                return res

            la.evaluate = shadowed
            la._shadowed = True
        self._shadow_dg = dg
        return orig(self, dg)

    ElunaAgent._decide = _decide
    try:
        opts = RunOptions(
            seed=seed,
            link="local",
            world=False,
            runs_dir=runs_dir,
            record_poses=False,
            agent="auto",
            cpu="off",
        )
        res = run_fc(ROOT / "scenes" / f"{scene}.toml", opts)
    finally:
        ElunaAgent._decide = orig
    return str(res.db_path)


def _spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    if len(x) < 3 or np.std(x) == 0 or np.std(y) == 0:
        return None
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    return float(np.corrcoef(rx, ry)[0, 1])


def analyse(path: Path) -> str:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    lines = []
    for fork_key in ("cycle_p95_s", "cycle_p95_all_s"):
        # the fluid model's open pick work at the horizon: the reference (what the guard saw before)
        for model_key in ("model_done", "model_all", "model_open_pick"):
            df, dm, agree_pairs, pairs, g_agree, g_n = [], [], 0, 0, 0, 0
            refuse_f = refuse_m = both = 0
            for r in rows:
                f0, m0 = r["fork"][0][fork_key], r[model_key][0]
                if f0 is None or m0 is None:
                    continue
                ds = []
                for k in range(1, len(r["plans"])):
                    f, m = r["fork"][k][fork_key], r[model_key][k]
                    if f is None or m is None:
                        continue
                    ds.append((f - f0, m - m0))
                    rf, rm = f > 1.02 * f0 + 5.0, m > 1.02 * m0 + 5.0
                    g_agree += rf == rm
                    g_n += 1
                    refuse_f += rf
                    refuse_m += rm
                    both += rf and rm
                df += [a for a, _ in ds]
                dm += [b for _, b in ds]
                for i in range(len(ds)):  # plan pairs within a decision: ordered alike?
                    for j in range(i + 1, len(ds)):
                        a = np.sign(ds[i][0] - ds[j][0])
                        b = np.sign(ds[i][1] - ds[j][1])
                        if a != 0 and b != 0:
                            pairs += 1
                            agree_pairs += a == b
            x, y = np.array(df), np.array(dm)
            rho = _spearman(x, y)
            pear = float(np.corrcoef(x, y)[0, 1]) if len(x) > 2 and np.std(x) and np.std(y) else None
            lines.append(
                f"fork {fork_key:16s} vs {model_key:15s}: plans {len(x)}, Spearman "
                f"{rho if rho is None else round(rho, 3)}, "
                f"Pearson {pear if pear is None else round(pear, 3)}, "
                f"pairs ordered alike {agree_pairs}/{pairs}, guard verdict alike {g_agree}/{g_n} "
                f"(fork refuses {refuse_f}, model {refuse_m}, both {both})"
            )
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", nargs="+", default=["eluna_port_strike"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[11])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--runs-dir", type=Path, default=Path("/tmp/model_p95_runs"))
    ap.add_argument("--analyse-only", action="store_true")
    args = ap.parse_args(argv)
    if args.analyse_only and not args.out.is_file():
        print(f"--analyse-only: no rows file {args.out} (run without --analyse-only first)", file=sys.stderr)
        return 2
    if not args.analyse_only:
        for scene in args.scenes:
            for seed in args.seeds:
                db = run_one(scene, seed, args.runs_dir, args.out)
                print(f"{scene} seed {seed}: {db}", flush=True)
    print(analyse(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
