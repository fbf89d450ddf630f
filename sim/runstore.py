"""The run store: one SQLite database per run, written as the run goes.

``runs/<run-id>/run.sqlite`` holds the run's metadata (scene text, seed, version, command line),
the dispatcher's task events, a KPI row per simulated minute and, optionally, the pose of every
drive unit at every step (one compact blob per step). It commits at every simulated minute, so an
interrupted run keeps everything up to the last completed minute. WAL mode keeps readers (the
`fctwin runs` command, a viewer) from blocking the writer.
"""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

SCHEMA_VERSION = 1

KPI_COLUMNS = (
    "minute",
    "t_s",
    "units_picked",
    "units_stowed",
    "orders_completed",
    "orders_open",
    "backlog",
    "pick_utilisation",
    "stow_utilisation",
    "queue_mean",
    "unit_utilisation",
    "distance_m",
    "planner_ms_per_step",
    "collisions",
    "moves_vetoed",
    "units_in",
    "units_stored",
    "units_in_process",
    "conserved",
    "wall_s",
)

_DDL = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, t_s REAL NOT NULL, kind TEXT NOT NULL, subject TEXT NOT NULL,
    a INTEGER, b INTEGER, c REAL
);
CREATE TABLE IF NOT EXISTS kpi_minute ({", ".join(f"{c} REAL" for c in KPI_COLUMNS)});
CREATE TABLE IF NOT EXISTS poses (step INTEGER PRIMARY KEY, t_s REAL NOT NULL, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS summary (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def new_run_id(scene_name: str, seed: int) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{scene_name}-s{seed}-{int(time.time_ns() % 1_000_000):06d}"


class RunStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_DDL)
        self.db.commit()

    def write_meta(self, meta: dict) -> None:
        rows = [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in meta.items()]
        rows.append(("schema_version", str(SCHEMA_VERSION)))
        self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", rows)
        self.db.commit()

    def add_events(self, records: list[tuple]) -> None:
        if records:
            self.db.executemany(
                "INSERT INTO events (t_s, kind, subject, a, b, c) VALUES (?, ?, ?, ?, ?, ?)", records
            )

    def add_pose(self, step: int, t_s: float, data: np.ndarray) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO poses VALUES (?, ?, ?)", (step, t_s, data.astype(np.int16).tobytes())
        )

    def add_kpi(self, row: dict) -> None:
        self.db.execute(
            f"INSERT INTO kpi_minute VALUES ({', '.join('?' for _ in KPI_COLUMNS)})",
            [row.get(c) for c in KPI_COLUMNS],
        )

    def commit(self) -> None:
        self.db.commit()

    def write_summary(self, summary: dict) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO summary VALUES (?, ?)", [(k, json.dumps(v)) for k, v in summary.items()]
        )
        self.db.commit()

    def close(self) -> None:
        self.db.commit()
        self.db.close()


def read_poses(path: Path, n_units: int) -> tuple[np.ndarray, np.ndarray]:
    """All recorded poses: steps ``int64[T]`` and ``int16[T, N, 4]`` (row, col, heading, pod)."""
    db = sqlite3.connect(path)
    rows = db.execute("SELECT step, data FROM poses ORDER BY step").fetchall()
    db.close()
    steps = np.array([r[0] for r in rows], dtype=np.int64)
    data = (
        np.stack([np.frombuffer(r[1], dtype=np.int16).reshape(n_units, 4) for r in rows])
        if rows
        else np.zeros((0, n_units, 4), np.int16)
    )
    return steps, data
