"""The run store: one SQLite database per run, written as the run goes.

``runs/<run-id>/run.sqlite`` holds the run's metadata (scene text, seed, version, command line),
the dispatcher's task events, a KPI row per simulated minute and, optionally, the pose of every
drive unit at every step (one compact blob per step). It commits at every simulated minute, so an
interrupted run keeps everything up to the last completed minute. WAL mode keeps readers (the
`fctwin runs` command, a viewer) from blocking the writer.

Runs that can be resumed (`fctwin serve`) also keep a ``journal``: per tick, the command batch the
dispatcher sent and the telemetry frame it received (msgpack, as on the wire), committed every
tick (`fctwin.sim.journal`). Everything else in the database is derived from the scene, the seed and the
journal, which is how `fctwin serve --resume` rebuilds a dispatcher.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from fctwin.sim.advice import ADVICE_DDL

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
    "units_ordered",
    "lines_backordered",
    "backorder_age_max_s",
    "skus_out_of_stock",
    "units_inbound",
)

# Per-minute KPIs of each station group (unit type x line kind): one row per group per simulated
# minute in ``kpi_station_minute`` (docs/export.md). Keyed by (minute, station_type, kind), written
# with INSERT OR REPLACE, so a resumed run that replays a minute writes the same row again.
KPI_STATION_COLUMNS = (
    "minute",
    "t_s",
    "station_type",
    "kind",
    "stations",
    "lines",
    "units",
    "units_to_person",
    "units_total",
    "units_per_station_h",
    "success_rate",
    "busy_share",
    "queue_mean",
)

_DDL = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, t_s REAL NOT NULL, kind TEXT NOT NULL, subject TEXT NOT NULL,
    a INTEGER, b INTEGER, c REAL
);
CREATE TABLE IF NOT EXISTS kpi_minute ({", ".join(f"{c} REAL" for c in KPI_COLUMNS)});
CREATE TABLE IF NOT EXISTS kpi_station_minute (
    minute INTEGER NOT NULL, t_s REAL NOT NULL, station_type TEXT NOT NULL, kind TEXT NOT NULL,
    stations INTEGER, lines INTEGER, units INTEGER, units_to_person INTEGER, units_total INTEGER,
    units_per_station_h REAL, success_rate REAL, busy_share REAL, queue_mean REAL,
    PRIMARY KEY (minute, station_type, kind)
);
CREATE TABLE IF NOT EXISTS poses (step INTEGER PRIMARY KEY, t_s REAL NOT NULL, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS summary (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS digest_minute (minute INTEGER PRIMARY KEY, t_s REAL NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS recommendations (
    id INTEGER PRIMARY KEY, rec_id INTEGER, t_s REAL NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL,
    applied INTEGER NOT NULL, data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS journal (
    step INTEGER PRIMARY KEY, t_s REAL NOT NULL, sent BLOB, received BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS journal_sent (
    step INTEGER PRIMARY KEY, t_s REAL NOT NULL, sent BLOB NOT NULL
);
"""


# How a ``poses`` blob is encoded (meta key ``pose_encoding``; absent = raw).
POSE_RAW = "int16"  # int16[N, 4] (row, col, heading, pod) as is: 8 bytes per unit and step
# b"K" + zlib(int16[4, N]) every POSE_KEYFRAME_STEPS recorded steps, b"D" + zlib(difference to the step
# recorded before) in between. Most units keep row, heading and pod from one step to the next and
# move one cell at most, so the differences are nearly all zeros: fc_large (500 units) records
# ~0.3-0.6 KB a step instead of 4 KB, for ~20 us of encoding (docs/console.md has the figures).
POSE_DELTA = "delta-zlib"
POSE_KEYFRAME_STEPS = 100
# Fleets above this record poses delta-encoded; smaller ones keep the raw blobs older readers expect.
POSE_RAW_MAX_UNITS = 100
POSE_EVERY_LARGE = 2  # ... and every other step (`RunOptions.pose_every` overrides)


class PoseEncoder:
    """Encodes successive int16[N, 4] poses as `POSE_DELTA` blobs (see there)."""

    def __init__(self) -> None:
        self._prev: np.ndarray | None = None
        self._count = 0

    def encode(self, pose: np.ndarray) -> bytes:
        pose = np.ascontiguousarray(pose, dtype=np.int16)
        if self._prev is None or self._prev.shape != pose.shape or self._count % POSE_KEYFRAME_STEPS == 0:
            tag, body = b"K", pose
        else:
            tag, body = b"D", pose - self._prev  # int16 wrap-around: decoding adds it back exactly
        self._prev = pose
        self._count += 1
        return tag + zlib.compress(np.ascontiguousarray(body.T).tobytes(), 1)


def decode_poses(
    blobs: list[bytes], n_units: int, encoding: str = POSE_RAW, prev: np.ndarray | None = None
) -> np.ndarray:
    """int16[T, N, 4] from ``poses`` blobs in step order; ``prev`` is the pose recorded just before
    the first blob (needed when that blob is a `POSE_DELTA` difference, as when reading on)."""
    if not blobs:
        return np.zeros((0, n_units, 4), np.int16)
    if encoding != POSE_DELTA:
        return np.frombuffer(b"".join(blobs), dtype=np.int16).reshape(len(blobs), n_units, 4).copy()
    out = np.empty((len(blobs), n_units, 4), np.int16)
    for k, blob in enumerate(blobs):
        body = np.frombuffer(zlib.decompress(blob[1:]), dtype=np.int16).reshape(4, n_units).T
        if blob[:1] == b"K":
            out[k] = body
        elif prev is None:
            raise ValueError("a delta-encoded pose without the pose before it (read from a key frame)")
        else:
            out[k] = prev + body
        prev = out[k]
    return out


class RunStoreError(OSError):
    """The run store cannot be created or written (runs folder is a file, disk full, folder deleted)."""


def new_run_id(scene_name: str, seed: int) -> str:
    """A fresh run id; the scene's name is reduced to characters safe in one folder name."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", scene_name).strip("._")[:48] or "scene"
    return f"{stamp}-{name}-s{seed}-{int(time.time_ns() % 1_000_000):06d}"


def run_path(runs_dir: Path | str, run_id: str) -> Path:
    """``runs_dir/run_id/run.sqlite``; raises `RunStoreError` if the id would leave ``runs_dir``."""
    root = Path(runs_dir)
    if not run_id or run_id in (".", "..") or Path(run_id).name != run_id or "\\" in run_id:
        raise RunStoreError(f"run id {run_id!r} is not a single folder name")
    return root / run_id / "run.sqlite"


class RunStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise RunStoreError(f"cannot create {self.path.parent}: a file is in the way") from None
        except NotADirectoryError:
            raise RunStoreError(f"cannot create {self.path.parent}: part of that path is a file") from None
        except OSError as exc:
            raise RunStoreError(f"cannot create {self.path.parent}: {exc.strerror}") from None
        self.pose_encoder: PoseEncoder | None = None  # set by `use_pose_encoding`
        try:
            self.db = sqlite3.connect(self.path)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(_DDL)
            self.db.executescript(ADVICE_DDL)  # recommendations and decisions (fctwin.sim.advice)
            self.db.commit()
        except sqlite3.Error as exc:
            raise RunStoreError(f"cannot write the run store {self.path}: {exc}") from None

    def check_alive(self) -> None:
        """Raise `RunStoreError` if the run's folder or database was deleted under us.

        SQLite keeps writing to an unlinked file without complaint: a run whose ``runs/`` was
        removed would end "successfully" with nothing on disk.
        """
        if not self.path.is_file():
            raise RunStoreError(f"the run store {self.path} was deleted during the run")

    @contextlib.contextmanager
    def _writing(self):
        """SQLite write errors (disk full, file deleted or made read-only) as one clear RunStoreError.

        Everything committed before stays in the database: the run store commits every simulated
        minute, so a full disk loses at most the minute being written.
        """
        try:
            yield
        except sqlite3.Error as exc:
            raise RunStoreError(
                f"cannot write the run store {self.path}: {exc} (everything committed before is kept)"
            ) from None

    def write_meta(self, meta: dict) -> None:
        rows = [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in meta.items()]
        rows.append(("schema_version", str(SCHEMA_VERSION)))
        with self._writing():
            self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", rows)
            self.db.commit()

    def add_events(self, records: list[tuple]) -> None:
        if records:
            with self._writing():
                self.db.executemany(
                    "INSERT INTO events (t_s, kind, subject, a, b, c) VALUES (?, ?, ?, ?, ?, ?)", records
                )

    def use_pose_encoding(self, encoding: str) -> None:
        """Record poses as `POSE_RAW` or `POSE_DELTA` blobs from now on (written to the metadata)."""
        if encoding not in (POSE_RAW, POSE_DELTA):
            raise ValueError(f"unknown pose encoding {encoding!r}")
        self.pose_encoder = PoseEncoder() if encoding == POSE_DELTA else None
        self.write_meta({"pose_encoding": encoding})

    def add_pose(self, step: int, t_s: float, data: np.ndarray) -> None:
        enc = self.pose_encoder
        blob = data.astype(np.int16).tobytes() if enc is None else enc.encode(data)
        with self._writing():
            self.db.execute("INSERT OR REPLACE INTO poses VALUES (?, ?, ?)", (step, t_s, blob))

    def add_kpi(self, row: dict) -> None:
        with self._writing():
            self.db.execute(
                f"INSERT INTO kpi_minute VALUES ({', '.join('?' for _ in KPI_COLUMNS)})",
                [row.get(c) for c in KPI_COLUMNS],
            )

    def add_station_kpis(self, rows: list[dict]) -> None:
        """The minute's rows of ``kpi_station_minute`` (one per station type and line kind)."""
        if rows:
            with self._writing():
                self.db.executemany(
                    f"INSERT OR REPLACE INTO kpi_station_minute ({', '.join(KPI_STATION_COLUMNS)})"
                    f" VALUES ({', '.join('?' for _ in KPI_STATION_COLUMNS)})",
                    [[r.get(c) for c in KPI_STATION_COLUMNS] for r in rows],
                )

    def add_digest(self, minute: int, t_s: float, digest: dict) -> None:
        """The Eluna state digest of one simulated minute (with its forecasts), as JSON."""
        self.db.execute(
            "INSERT OR REPLACE INTO digest_minute VALUES (?, ?, ?)", (minute, t_s, json.dumps(digest))
        )

    def add_recommendation(self, rec: dict) -> None:
        """A recommendation (or a shift-lead action) as made: typed, timestamped, with its evidence."""
        self.db.execute(
            "INSERT INTO recommendations (rec_id, t_s, kind, text, applied, data) VALUES (?, ?, ?, ?, ?, ?)",
            (
                rec.get("rec_id"),
                rec["t_s"],
                rec["kind"],
                rec["text"],
                int(bool(rec["applied"])),
                json.dumps(rec),
            ),
        )

    def update_recommendation(self, rec: dict) -> None:
        """Rewrite an agent recommendation's record (its realised effect, known after the horizon)."""
        self.db.execute(
            "UPDATE recommendations SET data = ? WHERE rec_id = ?", (json.dumps(rec), rec["rec_id"])
        )

    def commit(self) -> None:
        with self._writing():
            self.db.commit()

    def read_meta(self) -> dict:
        """The run's metadata as written by `write_meta` (JSON values decoded, plain strings as is)."""
        out = {}
        for key, value in self.db.execute("SELECT key, value FROM meta"):
            try:
                out[key] = json.loads(value)
            except json.JSONDecodeError:
                out[key] = value
        return out

    def add_journal(self, step: int, t_s: float, sent: bytes | None, received: bytes) -> None:
        """One tick of the journal (``sent`` is None for the initial frame, step -1).

        The tick is no longer in flight: its write-ahead row (`add_journal_sent`) goes in the same
        transaction."""
        self.db.execute("INSERT OR REPLACE INTO journal VALUES (?, ?, ?, ?)", (step, t_s, sent, received))
        self.db.execute("DELETE FROM journal_sent WHERE step <= ?", (step,))

    def add_journal_sent(self, step: int, t_s: float, sent: bytes) -> None:
        """Write-ahead: the batch of a tick about to go on the wire, before any unit can act on it."""
        self.db.execute("INSERT OR REPLACE INTO journal_sent VALUES (?, ?, ?)", (step, t_s, sent))

    def read_journal_sent(self) -> tuple[int, float, bytes] | None:
        """The batch sent after the last journaled tick and never answered (a dispatcher killed
        between sending and journaling it), or None."""
        return self.db.execute(
            "SELECT step, t_s, sent FROM journal_sent"
            " WHERE step > (SELECT COALESCE(MAX(step), -2) FROM journal) ORDER BY step DESC LIMIT 1"
        ).fetchone()

    def read_journal(self) -> list[tuple[int, float, bytes | None, bytes]]:
        """Every journaled tick in step order: (step, t_s, sent, received)."""
        return self.db.execute("SELECT step, t_s, sent, received FROM journal ORDER BY step").fetchall()

    def clear_derived(self, *, after_step: int) -> tuple[int, int]:
        """Prepare a resume at journal step `after_step`: drop rows a resumed run writes again.

        Task events and KPI minutes are committed together each simulated minute; those kept are
        the ones a deterministic replay produces first, so the caller skips that many. Poses and
        journal rows after `after_step` and the summary are deleted. Returns (events kept, KPI
        rows kept). Recommendations are kept as they are (`kept_recommendations`).
        """
        self.db.execute("DELETE FROM poses WHERE step > ?", (after_step,))
        self.db.execute("DELETE FROM journal WHERE step > ?", (after_step,))
        self.db.execute("DELETE FROM journal_sent")  # read before the resume (serve); sent again live
        self.db.execute("DELETE FROM summary")
        self.db.commit()
        n_events = self.db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        n_kpi = self.db.execute("SELECT COUNT(*) FROM kpi_minute").fetchone()[0]
        return n_events, n_kpi

    def kept_recommendations(self) -> list[tuple]:
        """The recommendations already stored, as (rec_id, t_s, kind, text, applied) in order: a
        resumed run's replay makes them again and must make exactly these (`SkippingStore`)."""
        return self.db.execute(
            "SELECT rec_id, t_s, kind, text, applied FROM recommendations ORDER BY id"
        ).fetchall()

    def write_summary(self, summary: dict) -> None:
        with self._writing():
            self.db.executemany(
                "INSERT OR REPLACE INTO summary VALUES (?, ?)",
                [(k, json.dumps(v, default=str)) for k, v in summary.items()],
            )
            self.db.commit()

    def close(self) -> None:
        try:
            with self._writing():
                self.db.commit()
            self._leave_wal()
        finally:
            self.db.close()

    def _leave_wal(self) -> None:
        """Return a finished store to a rollback journal. WAL lets the live console read while the
        run writes; left on, every later read-only open (`fctwin report`, `export`, `view`)
        recreates ``run.sqlite-wal`` and ``-shm`` beside the database and, being read-only, can
        never remove them. A reader still attached (a console following the run) holds the WAL
        open: then the store stays in WAL mode, as before, and nothing is lost."""
        with contextlib.suppress(sqlite3.OperationalError):  # "database is locked": a reader is attached
            self.db.execute("PRAGMA journal_mode=DELETE")


def read_poses(path: Path, n_units: int) -> tuple[np.ndarray, np.ndarray]:
    """All recorded poses: steps ``int64[T]`` and ``int16[T, N, 4]`` (row, col, heading, pod)."""
    db = sqlite3.connect(path)
    rows = db.execute("SELECT step, data FROM poses ORDER BY step").fetchall()
    encoding = pose_encoding(db)
    db.close()
    steps = np.array([r[0] for r in rows], dtype=np.int64)
    return steps, decode_poses([r[1] for r in rows], n_units, encoding)


def pose_encoding(db: sqlite3.Connection) -> str:
    """The run's pose encoding (`POSE_RAW` for runs recorded before there was a choice)."""
    row = db.execute("SELECT value FROM meta WHERE key = 'pose_encoding'").fetchone()
    return POSE_RAW if row is None else str(row[0])


class SkippingStore:
    """A run store that drops the first ``events`` task events and ``kpi_rows`` KPI rows written,
    and the first recommendations (``recommendations``, as `RunStore.kept_recommendations` read them).

    A resumed run replays from the start, so its first records are the ones the store already
    holds (see `RunStore.clear_derived`); everything else passes through to the wrapped store.
    Replayed recommendations are compared with the stored ones: in advise mode they do not change
    the command batches the replay checks, so this is where a replay that decides differently
    shows (`ResumeMismatchError`); nothing is written before the mismatch is raised.
    """

    def __init__(
        self, store: RunStore, *, events: int, kpi_rows: int, recommendations: list[tuple] = ()
    ) -> None:
        self.store = store
        self._skip_events = events
        self._skip_kpi = kpi_rows
        self._kept_recs = list(recommendations)
        self._n_recs = 0

    def add_events(self, records: list[tuple]) -> None:
        if self._skip_events:
            n = min(len(records), self._skip_events)
            self._skip_events -= n
            records = records[n:]
        self.store.add_events(records)

    def add_kpi(self, row: dict) -> None:
        if self._skip_kpi:
            self._skip_kpi -= 1
            return
        self.store.add_kpi(row)

    def add_recommendation(self, rec: dict) -> None:
        k = self._n_recs
        self._n_recs += 1
        if k < len(self._kept_recs):
            made = (rec.get("rec_id"), rec["t_s"], rec["kind"], rec["text"], int(bool(rec["applied"])))
            if tuple(self._kept_recs[k]) != made:
                from fctwin.sim.journal import ResumeMismatchError

                raise ResumeMismatchError(
                    f"replay diverged at recommendation {k + 1}: the run stored {self._kept_recs[k]!r}, "
                    f"the replay made {made!r} (different code, scene, seed or agent mode?)"
                )
            return
        self.store.add_recommendation(rec)

    def __getattr__(self, name: str):
        return getattr(self.store, name)
