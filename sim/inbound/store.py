"""Run store of an inbound study: ``runs/<run-id>/inbound.sqlite`` with PNG plots beside it.

Tables: meta (scene, seed, options), kpis (every flattened KPI of every replication), summary (means and 95 %
intervals), daily (on hand and in transit per node), shipments, sku_kpis (replication 0), disruptions. Each
replication is committed as soon as it finishes, so an interrupted study keeps what it completed.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

from .network import RunResult

__all__ = ["RunStore", "new_run_dir"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS kpis (policy TEXT, rep INTEGER, metric TEXT, value REAL);
CREATE TABLE IF NOT EXISTS summary (policy TEXT, metric TEXT, mean REAL, lo REAL, hi REAL, n INTEGER);
CREATE TABLE IF NOT EXISTS daily (policy TEXT, rep INTEGER, day INTEGER, node TEXT, on_hand REAL, in_transit
REAL);
CREATE TABLE IF NOT EXISTS shipments (policy TEXT, rep INTEGER, id INTEGER, to_tier TEXT, dest INTEGER,
    lane TEXT, mode TEXT, kind TEXT, units INTEGER, dispatch_d REAL, available_d REAL, dock_d REAL);
CREATE TABLE IF NOT EXISTS sku_kpis (policy TEXT, sku INTEGER, fill_rate REAL, stockout_days REAL,
    in_stock_rate REAL, days_of_supply REAL);
CREATE TABLE IF NOT EXISTS disruptions (name TEXT, kind TEXT, start_day REAL, end_day REAL, intensity REAL);
"""


def new_run_dir(runs_dir: str | Path, scene_name: str, seed: int) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    d = Path(runs_dir) / f"inbound-{scene_name}-s{seed}-{stamp}"
    d.mkdir(parents=True, exist_ok=False)
    return d


class RunStore:
    def __init__(self, path: Path):
        self.path = path
        self.db = sqlite3.connect(path)
        self.db.executescript(_SCHEMA)

    def meta(self, **items) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)",
            [(k, json.dumps(v, default=str)) for k, v in items.items()],
        )
        self.db.commit()

    def replication(
        self, policy: str, rep: int, res: RunResult, flat: dict[str, float], per_sku: dict
    ) -> None:
        db = self.db
        db.executemany("INSERT INTO kpis VALUES (?, ?, ?, ?)", [(policy, rep, k, v) for k, v in flat.items()])
        W = res.warmup_days
        rows = [
            (
                policy,
                rep,
                day - W,
                name,
                float(res.daily_on_hand[day, i]),
                float(res.daily_in_transit[day, i]),
            )
            for day in range(res.daily_on_hand.shape[0])
            for i, name in enumerate(res.node_names)
        ]
        db.executemany("INSERT INTO daily VALUES (?, ?, ?, ?, ?, ?)", rows)
        db.executemany(
            "INSERT INTO shipments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(policy, rep, *s[:7], s[7] - W, s[8] - W, s[9] - W) for s in res.shipments],
        )
        if rep == 0:
            n = len(per_sku["fill_rate"])
            db.executemany(
                "INSERT INTO sku_kpis VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        policy,
                        s,
                        float(per_sku["fill_rate"][s]),
                        float(per_sku["stockout_days"][s]),
                        float(per_sku["in_stock_rate"][s]),
                        float(per_sku["days_of_supply"][s]),
                    )
                    for s in range(n)
                ],
            )
        db.commit()

    def disruptions(self, res: RunResult) -> None:
        W = res.warmup_days
        self.db.executemany(
            "INSERT INTO disruptions VALUES (?, ?, ?, ?, ?)",
            [(d.name, d.kind, d.start_d - W, d.end_d - W, d.intensity) for d in res.disruptions],
        )
        self.db.commit()

    def summary(self, policy: str, summ: dict[str, dict[str, float]]) -> None:
        self.db.executemany(
            "INSERT INTO summary VALUES (?, ?, ?, ?, ?, ?)",
            [(policy, k, v["mean"], v["lo"], v["hi"], v["n"]) for k, v in summ.items()],
        )
        self.db.commit()

    def close(self) -> None:
        self.db.close()
