"""A finished run store is one file: read-only readers afterwards leave nothing beside it."""

from __future__ import annotations

import sqlite3

from fctwin.sim.runstore import RunStore


def _write_summary_and_close(path) -> RunStore:
    store = RunStore(path)
    store.write_summary({"units_picked": 7})
    return store


def test_a_closed_store_leaves_wal_and_read_only_opens_leave_no_files_beside_it(tmp_path):
    path = tmp_path / "r" / "run.sqlite"
    store = _write_summary_and_close(path)
    live = sqlite3.connect(f"file:{path}?mode=ro", uri=True)  # a console reading while it runs
    assert live.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    live.close()
    store.close()
    # what `fctwin report`, `export` and `view` do afterwards: read-only opens
    for _ in range(2):
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        assert con.execute("SELECT value FROM summary WHERE key = 'units_picked'").fetchone() == ("7",)
        con.close()
    assert sorted(p.name for p in path.parent.iterdir()) == ["run.sqlite"]
    # reopened for writing (serve --resume, advice accepted later) it is a WAL store again
    again = RunStore(path)
    assert again.db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    again.close()


def test_a_reader_still_attached_at_close_keeps_wal_and_loses_nothing(tmp_path):
    path = tmp_path / "run.sqlite"
    store = _write_summary_and_close(path)
    reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM summary").fetchone()  # holds a read snapshot
    store.close()  # cannot leave WAL while the reader holds it: stays WAL, no error
    reader.rollback()
    assert reader.execute("SELECT value FROM summary WHERE key = 'units_picked'").fetchone() == ("7",)
    reader.close()
    con = sqlite3.connect(path)
    assert con.execute("SELECT value FROM summary WHERE key = 'units_picked'").fetchone() == ("7",)
    con.close()
