"""Signals and faults during a run end cleanly (issue 14, items 5 and 6).

SIGTERM, SIGINT and a terminal Ctrl-C (SIGINT to the whole process group, fleet host included)
end with exit code 130 and one line, the run kept as "interrupted" with its summary so far, and no
``fctwin-link-*`` folder or socket left behind; a fleet host that dies, a runs folder deleted
mid-run and a full disk are one-line errors (exit 2) that keep what was committed. The last
simulated minute is in ``kpi_minute`` and the progress ends at 100 %; a paced run that cannot keep
up says so once; ``--json`` prints only JSON on stdout, even with PyBullet's GUI.

The signal tests run the real `fctwin` in a subprocess and wait for its first committed minute in
the run store (no sleeps tuned to this machine's speed).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from fctwin.sim.run import RunOptions, run_fc

ROOT = Path(__file__).resolve().parents[1]


def _link_tmp(tmp_path: Path) -> Path:
    """The run's TMPDIR: short and outside pytest's tmp_path, because the link's socket lives in it
    and a Unix socket path holds at most 107 bytes (pytest's own folders grew past that on a machine
    with a hundred pytest sessions behind it: pytest-of-root/pytest-100/popen-gw1/...)."""
    return Path(tempfile.gettempdir()) / ("fct-" + hashlib.sha1(str(tmp_path).encode()).hexdigest()[:10])


@pytest.fixture(autouse=True)
def _link_tmp_removed(tmp_path):
    yield
    shutil.rmtree(_link_tmp(tmp_path), ignore_errors=True)


def _env(tmp_path: Path) -> dict:
    tmpdir = _link_tmp(tmp_path)
    tmpdir.mkdir(exist_ok=True)
    # The link's private folder (socket, spec) goes under TMPDIR: the test can see it is removed.
    return {**os.environ, "TMPDIR": str(tmpdir), "COLUMNS": "100"}


def _start(tmp_path: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fctwin.sim.cli",
            "run",
            "stations_tiny",
            "--hours",
            # Long enough that the signal always lands mid-run: at 2 h a loaded machine sometimes
            # finished the run between the test seeing its first minutes and sending the signal.
            "48",
            "--json",
            "--runs-dir",
            str(tmp_path / "runs"),
            *args,
        ],
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: a "terminal" Ctrl-C goes to the group
        # A shell's background job inherits SIGINT ignored (and Python keeps an inherited SIG_IGN):
        # a suite started with `pytest &` would otherwise test a run that cannot be interrupted.
        preexec_fn=_interruptible,
    )


def _interruptible() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _db(tmp_path: Path) -> Path | None:
    found = list((tmp_path / "runs").glob("*/run.sqlite"))
    return found[0] if found else None


def _wait_for_minutes(
    proc: subprocess.Popen, tmp_path: Path, minutes: int = 1, timeout_s: float = 240
) -> Path:
    """Block until the run has committed ``minutes`` KPI rows (or fail if the run ended first)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        db = _db(tmp_path)
        if db is not None:
            with contextlib.suppress(sqlite3.Error):
                con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
                try:
                    if con.execute("SELECT COUNT(*) FROM kpi_minute").fetchone()[0] >= minutes:
                        return db
                finally:
                    con.close()
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("the run committed no minute in time")


def _summary(db: Path) -> dict:
    con = sqlite3.connect(db)
    try:
        return {k: json.loads(v) for k, v in con.execute("SELECT key, value FROM summary")}
    finally:
        con.close()


def _last_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def _no_link_leftovers(tmp_path: Path) -> None:
    left = list(_link_tmp(tmp_path).glob("fctwin-link-*"))
    assert not left, left


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "ctrl-c"])
def test_a_signal_ends_the_run_with_one_line_and_keeps_it_interrupted(tmp_path, how):
    proc = _start(tmp_path)
    db = _wait_for_minutes(proc, tmp_path)
    if how == "ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends: dispatcher and fleet host alike
    else:
        proc.send_signal(getattr(signal, how))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    last = _last_line(err)
    assert ("interrupted" in last or "terminated" in last) and db.parent.name in last, last
    assert out.strip() == ""  # --json: nothing half-written on stdout
    summary = _summary(db)
    assert summary["status"] == "interrupted"
    assert 0 < summary["simulated_h"] < 48
    _no_link_leftovers(tmp_path)


def test_a_dead_fleet_host_is_one_line_naming_it(tmp_path):
    proc = _start(tmp_path)
    db = _wait_for_minutes(proc, tmp_path)
    children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(proc.pid)], capture_output=True, text=True)
    host_pid = int(children.stdout.split()[0])
    os.kill(host_pid, signal.SIGKILL)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err[-3000:]
    assert "Traceback" not in err
    last = _last_line(err)
    assert "fleet host" in last and str(host_pid) in last and "SIGKILL" in last, last
    assert _summary(db)["status"].startswith("failed")
    _no_link_leftovers(tmp_path)


def test_deleting_the_runs_folder_mid_run_is_an_error(tmp_path):
    proc = _start(tmp_path)
    _wait_for_minutes(proc, tmp_path)
    shutil.rmtree(tmp_path / "runs")
    _out, err = proc.communicate(timeout=240)
    assert proc.returncode == 2, err[-3000:]
    assert "Traceback" not in err and "deleted" in _last_line(err), err[-2000:]
    _no_link_leftovers(tmp_path)


class _FullDisk:
    """A SQLite connection whose commits fail with "database or disk is full" after ``ok`` of them."""

    def __init__(self, con, ok: int):
        self._con, self._ok = con, ok

    def commit(self):
        if self._ok <= 0:
            raise sqlite3.OperationalError("database or disk is full")
        self._ok -= 1
        return self._con.commit()

    def __getattr__(self, name):
        return getattr(self._con, name)


def test_a_full_disk_is_one_line_and_keeps_what_was_committed(tmp_path, monkeypatch):
    import fctwin.sim.runstore as runstore
    from fctwin.sim.cli import main

    real_connect = sqlite3.connect
    # meta (1) + DDL (1) + 3 minutes, then the disk is full
    monkeypatch.setattr(runstore.sqlite3, "connect", lambda *a, **k: _FullDisk(real_connect(*a, **k), ok=5))
    err = io.StringIO()
    old = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            rc = main(
                [
                    "run",
                    "stations_tiny",
                    "--hours",
                    "0.1",
                    "--link",
                    "local",
                    "--json",
                    "--runs-dir",
                    str(tmp_path / "runs"),
                ]
            )
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    monkeypatch.undo()
    assert rc == 2, err.getvalue()
    assert "disk is full" in _last_line(err.getvalue()) and "Traceback" not in err.getvalue()
    con = sqlite3.connect(_db(tmp_path))
    assert con.execute("SELECT COUNT(*) FROM kpi_minute").fetchone()[0] >= 2  # the minutes before it


def test_the_last_minute_is_written_and_the_progress_reaches_the_end(tmp_path):
    rows = []
    # 0.0425 h = 2.55 minutes: two whole minutes and a partial last one
    res = run_fc(
        "stations_tiny",
        RunOptions(hours=0.0425, link="local", runs_dir=tmp_path, record_poses=False),
        progress=rows.append,
    )
    con = sqlite3.connect(res.db_path)
    kpi = con.execute("SELECT minute, t_s, units_picked FROM kpi_minute ORDER BY minute").fetchall()
    assert [m for m, _t, _u in kpi] == [1, 2, 3]
    assert kpi[-1][1] == pytest.approx(0.0425 * 3600)
    assert kpi[-1][2] == res.kpis["units_picked"]  # the last row agrees with the summary
    assert rows[-1]["t_s"] == pytest.approx(0.0425 * 3600)  # the progress bar's last update: 100 %


def test_a_paced_run_that_cannot_keep_up_says_so_once(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fctwin.sim.cli",
            "run",
            "stations_tiny",
            "--hours",
            "0.1",
            "--realtime",
            "--speedup",
            "1000000",
            "--link",
            "local",
            "--json",
            "--runs-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("behind real time") == 1, proc.stderr[-3000:]
    json.loads(proc.stdout)


@pytest.mark.gui
@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs xvfb-run")
def test_gui_json_stdout_is_only_json(tmp_path):
    proc = subprocess.run(
        [
            "xvfb-run",
            "-a",
            sys.executable,
            "-m",
            "fctwin.sim.cli",
            "run",
            "stations_tiny",
            "--hours",
            "0.01",
            "--gui",
            "--speedup",
            "100",
            "--json",
            "--runs-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout)["run_id"]
    assert "pybullet" not in proc.stdout.lower()
