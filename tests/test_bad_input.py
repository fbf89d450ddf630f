"""Issue 14's examples, one by one: every command either works or exits 2 with one clear message.

Each test names the example it covers. Most run the command in-process through `main` (the same
code path as the `fctwin` script, milliseconds each); the ones that need a real process (a pipe
closed under us, a signal) run `python -m fctwin.sim.cli` with a timeout. The seeded fuzz test
(test_fuzz_inputs.py) covers the same ground with hundreds of generated mutants.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from fctwin.sim.cli import main
from fctwin.sim.inbound.scene import SceneError as InboundSceneError
from fctwin.sim.inbound.scene import scene_from_dict as inbound_from_dict
from fctwin.sim.runstore import KPI_COLUMNS, RunStore
from fctwin.sim.scene import SceneError, scene_from_dict

ROOT = Path(__file__).resolve().parents[1]
SCENES = ROOT / "scenes"


@pytest.fixture(autouse=True)
def _keep_signal_handlers():
    """`main` installs SIGTERM/SIGHUP handlers (a run ends cleanly on them); restore pytest's."""
    old = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    yield
    for s, h in old.items():
        signal.signal(s, h)


def cli(*argv: str) -> tuple[int, str, str]:
    """Run `fctwin ARGV` in-process: (exit code, stdout, stderr); argparse's exits included."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(list(argv))
        except SystemExit as exc:
            rc = exc.code
    return rc, out.getvalue(), err.getvalue()


def refused(*argv: str, says: str) -> str:
    rc, _out, err = cli(*argv)
    assert rc == 2, (argv, rc, err)
    assert "Traceback" not in err
    assert says.lower() in err.lower(), err
    return err


def fc(name: str = "fc_small") -> dict:
    return tomllib.loads((SCENES / f"{name}.toml").read_text())


def inbound(name: str = "inbound_default") -> dict:
    return tomllib.loads((SCENES / f"{name}.toml").read_text())


def fc_problem(raw: dict) -> str:
    with pytest.raises(SceneError) as info:
        scene_from_dict(raw, source="s.toml", base_dir=SCENES)
    return str(info.value)


def inbound_problem(raw: dict) -> str:
    with pytest.raises(InboundSceneError) as info:
        inbound_from_dict(raw, "s.toml")
    return str(info.value)


# ------------------------------------------------------------------ numbers and sizes


def test_hours_inf_and_other_non_finite_numbers_are_refused():
    refused("run", "--hours", "inf", says="--hours")
    refused("run", "--hours", "nan", says="--hours")
    refused("run", "--speedup", "0", says="--speedup")
    refused("run", "--seed", "-1", says="--seed")
    refused("inbound", "inbound_default", "--seed", "-1", says="--seed")
    refused("serve", "stations_tiny", "--bind", "tcp://127.0.0.1:1", "--wait-s", "nan", says="--wait-s")
    refused("robot", "--id", "T-01", "--connect", "tcp://127.0.0.1:1", "--speedup", "inf", says="--speedup")


def test_inf_rates_in_a_scene_are_refused_not_run_with_zero_picks():
    raw = fc()
    raw["orders"]["rate_per_h"] = float("inf")
    assert "orders.rate_per_h" in fc_problem(raw)
    raw = fc()
    raw["stations"][0]["per_unit_s"] = {"dist": "lognormal", "mean": float("nan"), "cv": 0.3}
    assert "stations[0].per_unit_s.mean" in fc_problem(raw)
    refused("validate", "fc_small", "--set", "inbound.cartons_per_h=inf", says="inbound.cartons_per_h")


def test_sizes_are_checked_before_allocating():
    for path, value in [
        (("fleet", 0, "count"), 10**9),
        (("pods", "count"), 10**9),
        (("pods", "capacity_units"), 4_000_000_000),
        (("skus", "count"), 10**9),
        (("layout", "generator", "blocks_x"), 10**6),
    ]:
        raw = fc()
        node = raw
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value
        message = fc_problem(raw)
        assert "s.toml: " + ".".join(str(p) for p in path[:1]) in message, message
    raw = fc()  # each number within its bound, the floor too large: refused before it is built
    raw["layout"]["generator"].update(block_cols=900, block_rows=900)
    assert "layout.generator: the floor would be about" in fc_problem(raw)


def test_fleet_count_1e9_as_written_in_toml(tmp_path):
    text = (SCENES / "fc_small.toml").read_text().replace("count = 30\n", "count = 1e9\n", 1)
    (tmp_path / "big.toml").write_text(text)
    refused("validate", str(tmp_path / "big.toml"), says="fleet[0].count")


def test_schema_version_true_is_not_version_1():
    raw = fc()
    raw["schema_version"] = True
    assert "schema_version" in fc_problem(raw)
    raw = inbound()
    raw["schema_version"] = True
    assert "schema_version" in inbound_problem(raw)


# ------------------------------------------------------------------ files


def test_a_symlink_to_dev_zero_is_not_read(tmp_path):
    (tmp_path / "zero.toml").symlink_to("/dev/zero")
    refused("validate", str(tmp_path / "zero.toml"), says="not a regular file")
    refused("run", str(tmp_path / "zero.toml"), says="not a regular file")
    refused("inbound", str(tmp_path / "zero.toml"), says="not a regular file")


def test_a_utf16_scene_is_a_clear_error(tmp_path):
    (tmp_path / "u16.toml").write_bytes((SCENES / "fc_small.toml").read_text().encode("utf-16"))
    refused("validate", str(tmp_path / "u16.toml"), says="UTF-16")


def test_a_folder_fifo_or_huge_file_as_scene(tmp_path):
    (tmp_path / "d.toml").mkdir()
    refused("validate", str(tmp_path / "d.toml"), says="folder")
    os.mkfifo(tmp_path / "f.toml")
    refused("validate", str(tmp_path / "f.toml"), says="not a regular file")
    with (tmp_path / "big.toml").open("wb") as f:
        f.truncate(100 * 1024 * 1024)
    refused("validate", str(tmp_path / "big.toml"), says="bytes")


# ------------------------------------------------------------------ meaning


def test_dock_on_a_station_cell_and_two_stations_on_one_cell():
    small = fc()
    scene = scene_from_dict(small)
    pick = next(s.cell for s in scene.stations if s.kind == "pick")
    raw = copy.deepcopy(small)
    raw["docks"] = {"cells": [list(pick)]}
    assert "docks.cells[0]: dock on a pick cell" in fc_problem(raw)
    raw = copy.deepcopy(small)
    aisle = (scene.grid.shape[0] - 2, 3)
    raw["stations"].append(
        {"kind": "pick", "count": 2, "id_prefix": "Q", "cells": [list(aisle), list(aisle)]}
    )
    assert "stations[2].cells[1]: cell" in fc_problem(raw) and "already" in fc_problem(raw)


def test_abc_shares_summing_to_1_4_and_a_class_with_share_0():
    raw = fc()
    raw["skus"]["popularity"] = {
        "kind": "abc",
        "classes": [
            {"share_of_skus": 0.5, "share_of_demand": 0.9},
            {"share_of_skus": 0.5, "share_of_demand": 0.5},
        ],
    }
    assert "sums to 1.4" in fc_problem(raw)
    raw["skus"]["popularity"]["classes"] = [
        {"share_of_skus": 1.0, "share_of_demand": 0.5},
        {"share_of_skus": 0.0, "share_of_demand": 0.5},
    ]
    assert "share_of_skus" in fc_problem(raw)
    raw = inbound()
    raw["channels"][0]["share"] = 1.15  # 1.15 + 0.25 = 1.4
    assert "sum to 1.4" in inbound_problem(raw)


def test_pick_stations_only_but_inbound_cartons():
    raw = fc()
    raw["stations"] = [g for g in raw["stations"] if g["kind"] == "pick"]
    assert "no stow station" in fc_problem(raw)


def test_planner_that_cannot_run_the_scene_is_refused_by_name():
    refused("run", "--planner", "lacam", says="lacam")
    raw = fc()
    raw["dispatch"]["planner"] = "lacam"
    assert "dispatch.planner" in fc_problem(raw) and "one-shot" in fc_problem(raw)


def test_validate_accepts_inbound_scenes():
    for name in ("inbound_default", "inbound_two_coasts"):
        rc, out, err = cli("validate", name)
        assert rc == 0, err
        assert "inbound network" in out


def test_inbound_disruption_on_day_1e12_and_infinite_transit_time():
    raw = inbound()
    raw["disruptions"] = [
        {"name": "late", "kind": "strike", "start_day": 1e12, "duration_d": 3, "port_tags": ["us_west"]}
    ]
    assert "disruptions[0].start_day" in inbound_problem(raw)
    raw = inbound()
    raw["lanes"][0]["transit_d"] = {"dist": "const", "value": float("inf")}
    assert "lanes[0].transit_d" in inbound_problem(raw)
    refused("inbound", "inbound_default", "--disruption", "lalb_congestion_2021@1e12", says="outside the run")


# ------------------------------------------------------------------ command-line paths


def test_runs_dir_that_is_a_file(tmp_path):
    (tmp_path / "afile").write_text("x")
    refused("run", "--runs-dir", str(tmp_path / "afile"), says="--runs-dir")
    refused("runs", "--runs-dir", str(tmp_path / "afile"), says="--runs-dir")
    refused("inbound", "inbound_default", "--runs-dir", str(tmp_path / "afile" / "sub"), says="--runs-dir")


def test_run_id_cannot_escape_the_runs_folder(tmp_path):
    for bad in ("../../escape", "a/b", "..", ".hidden"):
        refused("serve", "stations_tiny", "--bind", "tcp://127.0.0.1:1", "--run-id", bad, says="--run-id")
        refused("serve", "stations_tiny", "--bind", "tcp://127.0.0.1:1", "--resume", bad, says="--resume")
    from fctwin.sim.runstore import new_run_id

    assert "/" not in new_run_id("../../escape", 1)


def test_robot_with_a_missing_scene():
    refused(
        "robot",
        "--id",
        "T-01",
        "--connect",
        "tcp://127.0.0.1:1",
        "--scene",
        "missing.toml",
        says="missing.toml",
    )


def test_keys_generate_into_a_file(tmp_path):
    (tmp_path / "afile").write_text("x")
    refused("keys", "generate", "--dir", str(tmp_path / "afile"), "--ids", "T-01", says="--dir")
    refused("keys", "generate", "--dir", str(tmp_path / "afile" / "k"), "--ids", "T-01", says="--dir")
    assert (tmp_path / "afile").read_text() == "x"


def test_calibrate_output_folder_is_checked_before_the_physics(tmp_path, monkeypatch):
    import fctwin.robots.calibration as calibration

    def no_physics(**kwargs):
        raise AssertionError("physics ran before the output path was checked")

    monkeypatch.setattr(calibration, "calibrate", no_physics)
    refused("calibrate", "--out", str(tmp_path / "missing_dir" / "x.json"), says="no such folder")
    refused("calibrate", "--out", str(tmp_path), says="is a folder")
    locked = tmp_path / "locked.json"
    locked.write_text("{}")
    locked.chmod(0o444)
    if not os.access(locked, os.W_OK):  # root writes anything
        refused("calibrate", "--out", str(locked), says="not writable")
    assert locked.read_text() == "{}"


def test_calibrate_never_overwrites_the_shipped_table_unless_asked(monkeypatch):
    import fctwin.robots.calibration as calibration
    from fctwin.robots.data import DEFAULT_MODELS_PATH

    def no_physics(**kwargs):
        raise AssertionError("physics ran without a checked output")

    monkeypatch.setattr(calibration, "calibrate", no_physics)
    before = DEFAULT_MODELS_PATH.read_bytes()
    refused("calibrate", "--trials", "2", says="--out")  # no output named: refused, not the shipped default
    refused("calibrate", "--out", str(DEFAULT_MODELS_PATH), says="--write-shipped")
    refused("calibrate", "--out", "x.json", "--write-shipped", says="not allowed with")
    assert DEFAULT_MODELS_PATH.read_bytes() == before


def test_calibrate_only_names_known_station_types_and_never_writes_the_shipped_table(tmp_path, monkeypatch):
    import fctwin.robots.calibration as calibration
    from fctwin.robots.data import DEFAULT_MODELS_PATH

    def no_physics(**kwargs):
        raise AssertionError("physics ran on a bad --only")

    monkeypatch.setattr(calibration, "calibrate", no_physics)
    before = DEFAULT_MODELS_PATH.read_bytes()
    out = str(tmp_path / "t.json")
    refused("calibrate", "--only", "vulcan,robot", "--out", out, says="'robot'")
    refused("calibrate", "--only", "", "--out", out, says="--only")
    # a partial table cannot replace the one every fast run samples from
    refused("calibrate", "--only", "vulcan", "--write-shipped", says="--only")
    assert DEFAULT_MODELS_PATH.read_bytes() == before and not (tmp_path / "t.json").exists()


# ------------------------------------------------------------------ run stores


def _store(path: Path, *, summary: dict | None = None) -> Path:
    store = RunStore(path)
    store.write_meta(
        {"run_id": path.parent.name, "scene_name": "fc_small", "seed": 7, "command_line": "fctwin run"}
    )
    store.add_kpi({c: 1.0 for c in KPI_COLUMNS})
    store.commit()
    if summary is not None:
        store.write_summary(summary)
    store.close()
    return path


DAMAGE = {
    "empty file": lambda p: p.write_bytes(b""),
    "random bytes": lambda p: p.write_bytes(os.urandom(4096)),
    "text file": lambda p: p.write_text("not a database\n"),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 3]),
    "header only": lambda p: p.write_bytes(p.read_bytes()[:100]),
    "a folder": lambda p: (p.unlink(), p.mkdir()),
    "no meta table": lambda p: _sql(p, "DROP TABLE meta"),
    "no summary table": lambda p: _sql(p, "DROP TABLE summary"),
    "no kpi table, no summary": lambda p: _sql(p, "DELETE FROM summary; DROP TABLE kpi_minute"),
    "summary not JSON": lambda p: _sql(p, "UPDATE summary SET value = '{not json'"),
    "summary NaN": lambda p: _sql(p, "UPDATE summary SET value = 'NaN' WHERE key = 'simulated_h'"),
    "summary value a table": lambda p: _sql(p, "UPDATE summary SET value = '{\"a\": [1]}'"),
    "status a number": lambda p: _sql(p, "INSERT OR REPLACE INTO summary VALUES ('status', '42')"),
    "meta blob": lambda p: _sql(p, "UPDATE meta SET value = x'00ff' WHERE key = 'seed'"),
    "kpi rows of text": lambda p: _sql(p, "DELETE FROM summary; UPDATE kpi_minute SET t_s = 'soon'"),
    "garbage WAL": lambda p: Path(str(p) + "-wal").write_bytes(os.urandom(5000)),
    "by_station_type garbage": lambda p: _sql(
        p, "INSERT OR REPLACE INTO summary VALUES ('by_station_type', '{\"human\": 3}')"
    ),
    "deep JSON": lambda p: _sql(p, f"UPDATE summary SET value = '{'[' * 100000}'"),
}


def _sql(path: Path, script: str) -> None:
    con = sqlite3.connect(path)
    con.executescript(script)
    con.commit()
    con.close()


def test_damaged_run_stores_are_listed_never_crash(tmp_path):
    runs = tmp_path / "runs"
    good = _store(runs / "0-good" / "run.sqlite", summary={"simulated_h": 1.0, "units_picked_per_h": 5.0})
    for i, (kind, damage) in enumerate(DAMAGE.items()):
        path = _store(
            runs / f"{i + 1:02d}-{kind.replace(' ', '_')}" / "run.sqlite", summary={"simulated_h": 1.0}
        )
        damage(path)
    rc, out, err = cli("runs", "--runs-dir", str(runs))
    assert rc == 0, err
    assert "Traceback" not in err and "0-good" in out
    rc, out, err = cli("runs", "--runs-dir", str(runs), "--json")
    assert rc == 0, err
    listing = json.loads(out)
    assert len(listing) == len(DAMAGE) + 1
    statuses = {row["run_id"]: str(row.get("status", "complete")) for row in listing}
    assert statuses["0-good"] == "complete"
    for kind in ("empty file", "random bytes", "a folder", "no meta table"):
        name = next(r for r in statuses if r.endswith(kind.replace(" ", "_")))
        assert statuses[name].startswith("damaged"), (kind, statuses[name])
    for i, kind in enumerate(DAMAGE):  # showing one run: its data, or one line saying it is damaged
        rc, out, err = cli("runs", f"{i + 1:02d}-", "--runs-dir", str(runs))
        assert rc in (0, 2) and "Traceback" not in err, (kind, err)
    assert good.exists()


def test_serve_resume_of_a_finished_run_is_refused_without_touching_it(tmp_path):
    runs = tmp_path / "runs"
    db = _store(runs / "done" / "run.sqlite", summary={"simulated_h": 0.1})
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    refused(
        "serve",
        "stations_tiny",
        "--bind",
        "tcp://127.0.0.1:1",
        "--resume",
        "done",
        "--runs-dir",
        str(runs),
        "--realtime",
        "--set",
        'fleet[0].external=["T-01"]',
        says="finished",
    )
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*) FROM summary").fetchone()[0] == 1


# ------------------------------------------------------------------ end to end, real processes


def fctwin(*argv: str, cwd: Path, timeout: float = 240, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fctwin.sim.cli", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        **kw,
    )


def test_output_into_a_closed_pipe_exits_quietly(tmp_path):
    """`fctwin scenes | head -1`: BrokenPipeError is not a traceback."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "fctwin.sim.cli", "validate", "fc_small", "--map"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": "80"},
    )
    proc.stdout.read(10)
    proc.stdout.close()  # the reader is gone, as after `head` printed its lines
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert b"Traceback" not in err and b"BrokenPipe" not in err


def test_serve_with_no_robot_within_wait_s(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = fctwin(
        "serve",
        "stations_tiny",
        "--bind",
        f"tcp://127.0.0.1:{port}",
        "--wait-s",
        "1",
        "--runs-dir",
        str(tmp_path / "runs"),
        "--realtime",
        "--set",
        'fleet[0].external=["T-01"]',
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "--wait-s" in proc.stderr


def test_readme_inbound_example_works(tmp_path):
    """README: `fctwin inbound inbound_two_coasts --days 365 --disruption red_sea_diversion --compare
    base_stock,resilient` (one replication here), and the scene without a Suez lane says why not."""
    rc, out, err = cli(
        "inbound",
        "inbound_two_coasts",
        "--days",
        "365",
        "--disruption",
        "red_sea_diversion",
        "--compare",
        "base_stock,resilient",
        "--reps",
        "1",
        "--no-plots",
        "--json",
        "--runs-dir",
        str(tmp_path),
    )
    assert rc == 0, err
    result = json.loads(out)
    assert set(result["kpis"]) == {"base_stock", "resilient"}
    assert result["disruptions_without_effect"] == {}
    refused("inbound", "inbound_default", "--disruption", "red_sea_diversion", says="chokepoint 'suez'")
    readme = (ROOT / "README.md").read_text()
    assert "fctwin inbound inbound_two_coasts --days 365 --disruption red_sea_diversion" in readme


def test_every_template_is_usable_or_refused_by_name(tmp_path):
    from fctwin.sim.cli.inbound import resolve_disruptions
    from fctwin.sim.inbound.disruptions import TEMPLATES
    from fctwin.sim.inbound.scene import load_scene

    usable = {}
    for name in ("inbound_default", "inbound_two_coasts"):
        scene = load_scene(SCENES / f"{name}.toml")
        for template in [*TEMPLATES, *(d.name for d in scene.disruptions)]:
            try:
                resolve_disruptions(scene, [template])
                usable.setdefault(name, []).append(template)
            except ValueError as exc:
                assert template in str(exc)
    assert "customs_surge" in usable["inbound_default"]  # one coast is enough (issue 14: unusable)
    assert "red_sea_diversion" in usable["inbound_two_coasts"]


def test_serve_resume_of_an_interrupted_run_is_not_refused_as_finished(tmp_path):
    """A Ctrl-C'd serve run keeps its summary so far with status interrupted: it stays resumable."""
    from fctwin.sim.cli.serve import finished_run

    runs = tmp_path / "runs"
    db = _store(runs / "cut" / "run.sqlite", summary={"simulated_h": 0.1, "status": "interrupted"})
    _sql(db, "INSERT INTO journal VALUES (0, 0.0, NULL, x'00')")
    assert finished_run(db) is None
    done = _store(runs / "done" / "run.sqlite", summary={"simulated_h": 0.1})
    assert finished_run(done) == "the run finished"


def test_network_addresses_ids_and_keys_are_checked_up_front(tmp_path):
    """Issue 14's fuzzing of robot/serve: ZeroMQ's own errors came out as tracebacks."""
    refused("robot", "--id", "T-01", "--connect", "tcp://nonsense", "--duration-s", "1", says="--connect")
    refused("robot", "--id", "", "--connect", "tcp://127.0.0.1:5", "--duration-s", "1", says="--id")
    refused("robot", "--id", "T-01", "--connect", "tcp://127.0.0.1:5", "--keys", str(tmp_path), says="--keys")
    refused("serve", "stations_tiny", "--bind", "ipc:///nonexistent/dir/sock", says="--bind")
    refused("serve", "stations_tiny", "--bind", "tcp://127.0.0.1:70000", says="--bind")
