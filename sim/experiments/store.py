"""The sweep store: one SQLite database per sweep, written by the sweep's driver as runs finish.

``sweeps/<name>/sweep.sqlite``; schema (``schema_version`` 1 in ``meta``):

``meta(key TEXT PRIMARY KEY, value TEXT)``
    JSON values: ``schema_version``, ``name``, ``scene_ref`` (the name or path given),
    ``scene_file``, ``scene_text`` (the file as read when the sweep was planned; a resume refuses a
    changed file), ``hours``, ``grid`` (factors, fixed overrides, seeds), ``link``, ``version``,
    ``created_utc``, ``command_line``.
``variants(variant INTEGER PRIMARY KEY, label TEXT, overrides TEXT)``
    One row per grid cell; ``overrides`` is the JSON object the runs apply (fixed + levels).
``levels(variant INTEGER, path TEXT, value TEXT, PRIMARY KEY (variant, path))``
    The factor levels of each variant (JSON values), one row per factor: join on it to group.
``runs(variant INTEGER, seed INTEGER, status TEXT, attempts INTEGER, wall_s REAL, host TEXT,
       error TEXT, run_db TEXT, kpis TEXT, finished_utc TEXT, PRIMARY KEY (variant, seed))``
    ``status`` is ``pending``, ``done`` or ``failed`` (after the last retry); ``kpis`` the run's
    summary as `fctwin run --json` prints it; ``wall_s`` the run's own wall clock; ``run_db`` the
    run store's path when kept (``--keep-runs``), on the machine named by ``host``.
``kpis(variant INTEGER, seed INTEGER, name TEXT, value REAL, PRIMARY KEY (variant, seed, name))``
    The numeric KPIs of every finished run in long form (nested ones flattened with dots:
    ``by_station_type.human.units_per_h``), for SQL and pandas.

Only the driver writes, and it commits after every finished run: a killed driver loses only the
runs in flight, which `fctwin sweep --resume NAME` runs again.
"""

from __future__ import annotations

import json
import socket
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fctwin.sim.experiments.grid import Grid, Variant

__all__ = ["SCHEMA_VERSION", "RunRow", "SweepStore", "flatten_kpis"]

SCHEMA_VERSION = 1
DB_NAME = "sweep.sqlite"

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS variants (
    variant INTEGER PRIMARY KEY, label TEXT NOT NULL, overrides TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS levels (
    variant INTEGER NOT NULL, path TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (variant, path)
);
CREATE TABLE IF NOT EXISTS runs (
    variant INTEGER NOT NULL, seed INTEGER NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0, wall_s REAL, host TEXT, error TEXT, run_db TEXT, kpis TEXT,
    finished_utc TEXT, PRIMARY KEY (variant, seed)
);
CREATE TABLE IF NOT EXISTS kpis (
    variant INTEGER NOT NULL, seed INTEGER NOT NULL, name TEXT NOT NULL, value REAL,
    PRIMARY KEY (variant, seed, name)
);
"""


def flatten_kpis(kpis: dict, prefix: str = "") -> dict[str, float]:
    """Numeric (and boolean) KPIs with nested dicts flattened to dotted names; text dropped."""
    out: dict[str, float] = {}
    for key, value in kpis.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten_kpis(value, prefix=f"{name}."))
        elif isinstance(value, int | float):  # bool is an int: True -> 1.0
            out[name] = float(value)
    return out


@dataclass(frozen=True)
class RunRow:
    variant: int
    seed: int
    status: str
    attempts: int
    wall_s: float | None
    host: str | None
    error: str | None
    kpis: dict | None


class SweepStore:
    """Open (or create) the store of the sweep in folder ``path``."""

    def __init__(self, path: str | Path, *, create: bool = False):
        self.dir = Path(path)
        self.path = self.dir / DB_NAME
        if not create and not self.path.exists():
            raise FileNotFoundError(f"no sweep store at {self.path}")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(_DDL)

    # ------------------------------------------------------------------ writing

    def plan(self, meta: dict[str, Any], grid: Grid) -> None:
        """Write the sweep's metadata, its variants and one pending row per (variant, seed)."""
        meta = {"schema_version": SCHEMA_VERSION, "grid": json.loads(grid.to_json()), **meta}
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in meta.items()]
            )
            for v in grid.variants():
                self.db.execute(
                    "INSERT INTO variants VALUES (?, ?, ?)", (v.index, v.label, json.dumps(v.overrides))
                )
                self.db.executemany(
                    "INSERT INTO levels VALUES (?, ?, ?)",
                    [(v.index, p, json.dumps(x)) for p, x in v.levels.items()],
                )
                self.db.executemany(
                    "INSERT INTO runs (variant, seed) VALUES (?, ?)", [(v.index, s) for s in grid.seeds]
                )

    def record_done(self, variant: int, seed: int, result: dict) -> None:
        """A finished run: its KPIs (and their numeric long form), wall clock, host, run store."""
        kpis = result["kpis"]
        with self.db:
            self.db.execute(
                "UPDATE runs SET status='done', attempts=attempts+1, wall_s=?, host=?, error=NULL,"
                " run_db=?, kpis=?, finished_utc=? WHERE variant=? AND seed=?",
                (
                    result.get("wall_s"),
                    result.get("host"),
                    result.get("run_db"),
                    json.dumps(kpis),
                    _now(),
                    variant,
                    seed,
                ),
            )
            self.db.execute("DELETE FROM kpis WHERE variant=? AND seed=?", (variant, seed))
            self.db.executemany(
                "INSERT INTO kpis VALUES (?, ?, ?, ?)",
                [(variant, seed, k, v) for k, v in flatten_kpis(kpis).items()],
            )

    def record_failure(self, variant: int, seed: int, error: str, *, final: bool) -> int:
        """One failed attempt; ``final`` marks the run failed. Returns the attempts so far."""
        with self.db:
            self.db.execute(
                "UPDATE runs SET attempts=attempts+1, error=?, status=?, host=? WHERE variant=? AND seed=?",
                (error, "failed" if final else "pending", socket.gethostname(), variant, seed),
            )
        return self.attempts(variant, seed)

    def reopen_failed(self) -> int:
        """Failed runs become pending again with a fresh retry budget (a resume); returns how many."""
        with self.db:
            cur = self.db.execute("UPDATE runs SET status='pending', attempts=0 WHERE status='failed'")
        return cur.rowcount

    # ------------------------------------------------------------------ reading

    def meta(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self.db.execute("SELECT key, value FROM meta")}

    def grid(self) -> Grid:
        return Grid.from_json(json.dumps(self.meta()["grid"]))

    def variants(self) -> list[Variant]:
        return self.grid().variants()

    def attempts(self, variant: int, seed: int) -> int:
        row = self.db.execute(
            "SELECT attempts FROM runs WHERE variant=? AND seed=?", (variant, seed)
        ).fetchone()
        return int(row[0])

    def runs(self, status: str | None = None) -> list[RunRow]:
        sql = "SELECT variant, seed, status, attempts, wall_s, host, error, kpis FROM runs"
        args: tuple = ()
        if status is not None:
            sql += " WHERE status=?"
            args = (status,)
        sql += " ORDER BY variant, seed"
        return [
            RunRow(v, s, st, a, w, h, e, json.loads(k) if k else None)
            for v, s, st, a, w, h, e, k in self.db.execute(sql, args)
        ]

    def counts(self) -> dict[str, int]:
        out = {"pending": 0, "done": 0, "failed": 0}
        for status, n in self.db.execute("SELECT status, COUNT(*) FROM runs GROUP BY status"):
            out[status] = n
        return out

    def values(self, kpi: str) -> Iterator[tuple[int, int, float]]:
        """``(variant, seed, value)`` of one numeric KPI over the finished runs."""
        yield from self.db.execute(
            "SELECT variant, seed, value FROM kpis WHERE name=? ORDER BY variant, seed", (kpi,)
        )

    def kpi_names(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT name FROM kpis ORDER BY name")]

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> SweepStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
