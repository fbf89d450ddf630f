"""fctwin as a package: one namespace, scenes inside it, the Python API, --set, the layered house."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOP_FOLDERS = ("robots", "controller", "network", "sim", "scenes")


def _fctwin(*args, cwd=None, env=None, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "fctwin.sim.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )


def test_every_package_folder_is_installed_under_fctwin():
    """A folder with an __init__.py that pyproject does not list would vanish from wheels."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {"fctwin"}
    for top in TOP_FOLDERS:
        for init in (ROOT / top).rglob("__init__.py"):
            if "__pycache__" in init.parts:
                continue
            rel = init.parent.relative_to(ROOT)
            found.add("fctwin." + ".".join(rel.parts))
    assert listed == found


def test_no_code_imports_the_old_top_level_names():
    """Every import is fctwin.…: a leftover `import sim` would work from the checkout and break installs."""
    import re

    bad = re.compile(r"^\s*(from|import)\s+(sim|robots|controller|network|scenes)\b", re.M)
    offenders = []
    for folder in (*TOP_FOLDERS, "tests", "benchmarks"):
        for py in (ROOT / folder).rglob("*.py"):
            if bad.search(py.read_text()):
                offenders.append(str(py.relative_to(ROOT)))
    assert offenders == []


def test_import_contracts_hold():
    """The layers of DESIGN.md, checked by import-linter (pyproject's [tool.importlinter])."""
    lint = Path(sys.executable).with_name("lint-imports")
    res = subprocess.run([str(lint)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "broken" in res.stdout and "0 broken" in res.stdout


def test_scenes_are_listed_and_copied(tmp_path):
    res = _fctwin("scenes", "--json")
    assert res.returncode == 0, res.stderr
    names = {s["name"]: s for s in json.loads(res.stdout)}
    assert {"fc_small", "fc_large", "fc_stations", "inbound_default"} <= set(names)
    assert names["fc_small"]["kind"] == "fc" and names["inbound_default"]["kind"] == "inbound"
    assert all(s["description"] for s in names.values())
    res = _fctwin("scenes", "copy", "fc_small", str(tmp_path))
    assert res.returncode == 0, res.stderr
    copied = tmp_path / "fc_small.toml"
    assert copied.read_text() == (ROOT / "scenes" / "fc_small.toml").read_text()
    again = _fctwin("scenes", "copy", "fc_small", str(tmp_path))
    assert again.returncode == 2 and "exists" in again.stderr and "Traceback" not in again.stderr
    missing = _fctwin("scenes", "copy", "no_such_scene", str(tmp_path))
    assert missing.returncode == 2 and "no_such_scene" in missing.stderr and "fc_small" in missing.stderr
    nodir = _fctwin("scenes", "copy", "fc_small", str(tmp_path / "nope" / "x.toml"))
    assert nodir.returncode == 2 and "no such folder" in nodir.stderr


def test_validate_by_name_and_a_local_file_wins(tmp_path):
    res = _fctwin("validate", "fc_large")
    assert res.returncode == 0, res.stderr
    # A user's own fc_small.toml in the working directory is what a path reference means.
    (tmp_path / "fc_small.toml").write_text("schema_version = 1\n")
    res = _fctwin("validate", "fc_small.toml", cwd=tmp_path)
    assert res.returncode == 2 and "fc_small.toml" in res.stderr
    res = _fctwin("validate", "fc_nothing")
    assert res.returncode == 2 and "fc_nothing" in res.stderr and "shipped" in res.stderr


@pytest.mark.parametrize(
    ("assignment", "field"),
    [
        ("fleet[0].count=0", "fleet[0].count"),
        ("fleet[3].count=5", "fleet[3].count"),
        ("fleet[0].cnt=5", "fleet[0].cnt"),
        ("orders.rate_per_h=fast", "orders.rate_per_h"),
        ("orders.rate_per_h", "orders.rate_per_h"),
        ("fleet[x].count=1", "fleet[x].count"),
    ],
)
def test_bad_overrides_exit_2_naming_the_field(assignment, field):
    res = _fctwin("validate", "fc_small", "--set", assignment)
    assert res.returncode == 2, res.stdout + res.stderr
    assert field in res.stderr and "Traceback" not in res.stderr


def test_overrides_change_the_scene_like_the_file():
    from fctwin.sim.scene import load_scene

    sc = load_scene(
        ROOT / "scenes" / "fc_small.toml", overrides={"fleet[0].count": 20, "orders.rate_per_h": 700}
    )
    assert len(sc.units) == 20 and sc.spec.orders.rate_per_h == 700
    res = _fctwin("validate", "fc_small", "--set", "fleet[0].count=20", "--set", "orders.rate_per_h=700")
    assert res.returncode == 0, res.stderr
    assert "20" in res.stdout and "700" in res.stdout


def test_plain_script_without_main_guard(tmp_path):
    """`import fctwin; fctwin.run(...)` at a script's top level: the fleet host is its own program,
    so nothing re-imports the script (multiprocessing's spawn did, and failed)."""
    script = tmp_path / "study.py"
    script.write_text(
        "import fctwin\n"
        "r = fctwin.run('fc_small', hours=0.05, runs_dir='runs', overrides={'fleet[0].count': 10})\n"
        "print('KPIS', r.kpis['units_picked'], r.kpis['drive_units'], r.kpis['units_conserved'])\n"
        "m = r.kpi_minutes(as_frame=False)\n"
        "e = r.events(as_frame=False)\n"
        "p = r.poses(as_frame=False)\n"
        "print('ROWS', len(m['minute']), len(e['kind']), len(set(p['unit_id'])))\n"
    )
    res = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert res.returncode == 0, res.stderr
    kpis = next(ln for ln in res.stdout.splitlines() if ln.startswith("KPIS")).split()
    assert int(kpis[1]) > 0 and kpis[2] == "10" and kpis[3] == "True"
    rows = next(ln for ln in res.stdout.splitlines() if ln.startswith("ROWS")).split()
    assert int(rows[1]) >= 2 and int(rows[2]) > 0 and rows[3] == "10"
    assert "pybullet build time" not in res.stdout  # the fleet host's stdout goes to stderr


def test_api_accepts_a_loaded_scene_and_gives_frames(tmp_path):
    pd = pytest.importorskip("pandas")
    import fctwin

    scene = fctwin.load_scene("fc_small", overrides={"fleet[0].count": 8})
    r = fctwin.run(scene, hours=0.03, link="local", runs_dir=tmp_path, seed=5)
    assert r.kpis["drive_units"] == 8 and r.kpis["seed"] == 5
    assert isinstance(r.kpi_minutes(), pd.DataFrame) and list(r.kpi_minutes()["minute"])[:1] == [1.0]
    ev = r.events()
    assert {"t_s", "kind", "subject"} <= set(ev.columns) and (ev["kind"] == "order_arrived").any()
    poses = r.poses()
    assert set(poses["unit_id"]) == {u.unit_id for u in scene.units}
    with pytest.raises(fctwin.SceneError, match="fleet"):
        fctwin.run("fc_small", overrides={"fleet[0].count": -1}, runs_dir=tmp_path)
    with pytest.raises(fctwin.SceneError, match="no_such"):
        fctwin.run("no_such", runs_dir=tmp_path)


def test_wheel_install_runs_with_no_checkout_nearby(tmp_path):
    """`pip install <wheel>` gives a working `fctwin run` and the shipped scenes, away from the repo."""
    wheels = tmp_path / "wheels"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if res.returncode != 0 and "No module named" in res.stderr:
        pytest.skip(f"cannot build a wheel here: {res.stderr.strip()[-200:]}")
    assert res.returncode == 0, res.stderr
    (wheel,) = wheels.glob("fctwin-*.whl")
    target = tmp_path / "site"
    res = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr
    tops = sorted(p.name for p in target.iterdir() if not p.name.endswith((".dist-info", ".data")))
    assert tops == ["bin", "fctwin"] or tops == ["fctwin"], tops  # nothing generic at top level
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    res = _fctwin("run", "--hours", "0.03", "--json", "--set", "fleet[0].count=6", cwd=work, env=env)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["drive_units"] == 6 and out["units_conserved"]
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import fctwin, fctwin.sim.run as r; print(fctwin.__file__); print(r.__file__)",
        ],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
    )
    assert all(line.startswith(str(target)) for line in probe.stdout.split()), probe.stdout
