"""Recommendations and the operator's decisions on them: the interface between an agent and the console.

An agent (the Eluna floor manager, or a test) records each recommendation in the run store with
`add_recommendation`: a dict with at least ``rec_id`` (int, unique in the run), ``t_s``, ``kind``,
``text`` and ``applied`` (bool: applied by the agent itself, auto mode); everything else in the
dict (``action``, ``predicted``, ``evidence``, ``horizon_s``, ``realised``, ...) is kept as JSON in
``data`` and shown on the console's card. The table is the one the Eluna branch writes.

In advise mode the operator answers from the console. The console never touches the dispatcher
from its own thread: it puts the decision in an `AdviceInbox`; the run loop drains the inbox at
the start of the next tick (in the simulation's thread) and calls the inbox's handler, which is
where a decision reaches the dispatcher. The default handler (`log_decision`) appends a
``rec_accepted`` / ``rec_rejected`` event to the dispatcher's log (subject "console", a = rec_id),
so the decision is in the run's event log; an agent installs its own handler (`AdviceInbox.handler`)
to apply an accepted action with its levers. Every decision is also a row of
``recommendation_decisions``. Runs where nobody decides have the same event log as before.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["AdviceInbox", "add_recommendation", "log_decision", "read_recommendations", "ADVICE_DDL"]

ADVICE_DDL = """
CREATE TABLE IF NOT EXISTS recommendations (
    id INTEGER PRIMARY KEY, rec_id INTEGER, t_s REAL NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL,
    applied INTEGER NOT NULL, data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS recommendation_decisions (
    id INTEGER PRIMARY KEY, rec_id INTEGER NOT NULL, decision TEXT NOT NULL, t_s REAL NOT NULL,
    source TEXT NOT NULL, wall_utc REAL NOT NULL, outcome TEXT
);
"""

# handler(dispatcher, rec_id, accepted, t_s) -> outcome text (stored with the decision)
DecisionHandler = Callable[[object, int, bool, float], str | None]


def ensure_tables(db: sqlite3.Connection) -> None:
    db.executescript(ADVICE_DDL)


def add_recommendation(db: sqlite3.Connection, rec: dict) -> None:
    """Record one recommendation (see the module docstring for the fields); the caller commits."""
    ensure_tables(db)
    db.execute(
        "INSERT INTO recommendations (rec_id, t_s, kind, text, applied, data) VALUES (?, ?, ?, ?, ?, ?)",
        (
            rec.get("rec_id"),
            rec["t_s"],
            rec["kind"],
            rec["text"],
            int(bool(rec["applied"])),
            json.dumps(rec, default=str),
        ),
    )


def read_recommendations(db_path: Path) -> list[dict]:
    """Every recommendation in order, each with ``decision`` (None, "accept" or "reject") and
    ``decision_t_s`` / ``decision_outcome`` from the latest decision on it."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "recommendations" not in tables:
            return []
        decided: dict[int, tuple] = {}
        if "recommendation_decisions" in tables:
            for rec_id, decision, t_s, outcome in db.execute(
                "SELECT rec_id, decision, t_s, outcome FROM recommendation_decisions ORDER BY id"
            ):
                decided[rec_id] = (decision, t_s, outcome)
        out = []
        for rec_id, t_s, kind, text, applied, data in db.execute(
            "SELECT rec_id, t_s, kind, text, applied, data FROM recommendations ORDER BY id"
        ):
            try:
                rec = json.loads(data)
            except ValueError:
                rec = {}
            rec.update(rec_id=rec_id, t_s=t_s, kind=kind, text=text, applied=bool(applied))
            d = decided.get(rec_id)
            rec["decision"], rec["decision_t_s"], rec["decision_outcome"] = d if d else (None, None, None)
            out.append(rec)
        return out
    finally:
        db.close()


def log_decision(dispatcher, rec_id: int, accepted: bool, t_s: float) -> str:
    """The default handler: the decision goes into the dispatcher's event log."""
    dispatcher.log.append((t_s, "rec_accepted" if accepted else "rec_rejected", "console", int(rec_id), 0, 0))
    return "logged"


class AdviceInbox:
    """Decisions waiting for the simulation's thread (thread-safe; cheap to poll every tick)."""

    def __init__(self, handler: DecisionHandler | None = None) -> None:
        self.handler: DecisionHandler = handler or log_decision
        self._lock = threading.Lock()
        self._items: list[tuple[int, bool, str]] = []
        self.pending = False  # read without the lock by the tick loop: a plain bool is atomic
        self.decided: list[tuple[int, bool, float, str | None]] = []

    def submit(self, rec_id: int, accepted: bool, source: str = "console") -> None:
        """Called from any thread (the console's button callbacks)."""
        with self._lock:
            self._items.append((int(rec_id), bool(accepted), source))
            self.pending = True

    def drain(self, dispatcher, store, t_s: float) -> int:
        """Apply waiting decisions now (the simulation's thread); returns how many."""
        with self._lock:
            items, self._items = self._items, []
            self.pending = False
        db = getattr(store, "db", None)
        for rec_id, accepted, source in items:
            outcome = self.handler(dispatcher, rec_id, accepted, t_s)
            self.decided.append((rec_id, accepted, t_s, outcome))
            if db is not None:
                ensure_tables(db)
                db.execute(
                    "INSERT INTO recommendation_decisions (rec_id, decision, t_s, source, wall_utc, outcome)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (rec_id, "accept" if accepted else "reject", t_s, source, time.time(), outcome),
                )
                db.commit()
        return len(items)
