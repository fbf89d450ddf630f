"""Fuzzing every input a user controls: no traceback, no hang, exit code 0 or 2 (issue 14).

A seeded generator (hypothesis, derandomized: the same mutants every run) changes one or two
places of a shipped scene to something hostile (inf, NaN, 1e12, a negative, the wrong type, an
empty list, a deleted key, a duplicated entry, ...), and one argument of a command line to
something hostile. Most mutants are checked in-process against the validators and the argument
parsers (milliseconds each); a smaller seeded sample goes end to end through the real `fctwin`
command in subprocesses with a timeout. A mutant passes when it is either accepted (and what
accepting it promises holds: the scene compiles, survives the hand-over to the fleet host as
data) or refused with the documented error type naming the file; anything else (another
exception, a hang) fails and hypothesis shrinks it to the smallest such input.

Counts (asserted below): 340 FC scene mutants, 160 inbound scene mutants, 60 raw-file mutants
and 220 argument mutants in-process (780); 12 scene mutants (validated, the first 3 valid ones
also run or simulated) and 20 command lines end to end (32). 812 in all.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
import random
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fctwin.sim.inbound.scene import SceneError as InboundSceneError
from fctwin.sim.inbound.scene import scene_from_dict as inbound_from_dict
from fctwin.sim.scene import SceneError, load_scene, scene_from_data, scene_from_dict

# A numeric warning (overflow, division by zero) while compiling an accepted mutant is silent
# nonsense in the making: it fails the mutant like a traceback would.
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

ROOT = Path(__file__).resolve().parents[1]
SCENES = ROOT / "scenes"
FC_SCENES = ("fc_small", "fc_small_peak", "stations_tiny", "fc_stations", "fc_small_inbound")
INBOUND_SCENES = ("inbound_default", "inbound_two_coasts")
HANG_S = 60  # one mutant taking this long is a hang (generous: two cores shared by several suites)

# Values that broke something in issue 14, and their neighbours.
HOSTILE = [
    math.inf,
    -math.inf,
    math.nan,
    0,
    -1,
    0.0,
    -0.0,
    0.5,
    1.4,
    1e9,
    1e12,
    1e308,
    2**31,
    2**63,
    -(2**63),
    2**70,
    True,
    False,
    "",
    "x",
    "../../escape",
    "é" * 300,
    [],
    [0],
    [[0, 0]],
    [[0, 0], [0, 0]],
    {},
    {"unknown": 1},
    None,  # the key is deleted
]


class HangError(Exception):
    pass


@contextlib.contextmanager
def no_hang(seconds: int = HANG_S):
    """Turn a mutant that runs ``seconds`` into a failure (SIGALRM), instead of a stuck suite."""

    def fire(signum, frame):
        raise HangError(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _load(name: str) -> dict:
    return tomllib.loads((SCENES / f"{name}.toml").read_text())


FC_RAW = {n: _load(n) for n in FC_SCENES}
INBOUND_RAW = {n: _load(n) for n in INBOUND_SCENES}


def _places(node, path=()):
    """Every place in a parsed scene: (path tuple) for tables, lists and leaves alike."""
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _places(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _places(v, (*path, i))


PLACES = {n: [p for p in _places(r) if p] for n, r in {**FC_RAW, **INBOUND_RAW}.items()}


def _mutate(raw: dict, path: tuple, how: str, value) -> dict:
    out = copy.deepcopy(raw)
    node = out
    for part in path[:-1]:
        node = node[part]
    last = path[-1]
    old = node[last]
    if how == "set":
        if value is None:
            if isinstance(node, dict):
                del node[last]
            else:
                node.pop(last)
        else:
            node[last] = copy.deepcopy(value)
    elif how == "scale" and isinstance(old, int | float) and not isinstance(old, bool):
        node[last] = type(old)(old * value) if isinstance(old, float) else int(old * value)
    elif how == "duplicate" and isinstance(old, list) and old:
        old.append(copy.deepcopy(old[0]))
    elif how == "duplicate" and isinstance(node, list):
        node.append(copy.deepcopy(old))
    else:
        node[last] = copy.deepcopy(value)
    return out


def _at(raw, path):
    node = raw
    for part in path:
        node = node[part]
    return node


def _fits(raw, path, how) -> bool:
    """Whether mutation ``how`` applies at ``path``: scale numbers, duplicate lists and their entries."""
    node = _at(raw, path)
    if how == "scale":
        return isinstance(node, int | float) and not isinstance(node, bool)
    if how == "duplicate":
        return isinstance(node, list) or isinstance(path[-1], int)
    return True


def mutations(names):
    """(scene name, mutated dict, description): one or two hostile changes of a shipped scene."""

    @st.composite
    def build(draw):
        name = draw(st.sampled_from(names))
        raw = (FC_RAW | INBOUND_RAW)[name]
        done = []
        for _ in range(draw(st.integers(1, 2))):
            # Hostile values (mostly refused) and plausible edits (scaled numbers, duplicated
            # entries: often accepted, so what acceptance promises is exercised too).
            how = draw(st.sampled_from(["scale", "duplicate", "set", "scale", "set"]))
            places = [p for p in _places(raw) if p and _fits(raw, p, how)]
            path = draw(st.sampled_from(places))
            value = (
                draw(st.sampled_from([2, 0.5, 3, 1.0000001, 10, 0, -1, 1e6, 1e-9, 1e12]))
                if how == "scale"
                else draw(st.sampled_from(HOSTILE))
            )
            raw = _mutate(raw, path, how, value)
            done.append((path, how, value))
        return name, raw, done

    return build()


FUZZ = dict(
    derandomize=True,  # seeded: the same mutants on every run and machine
    database=None,
    deadline=None,  # no wall-clock assertions; a hang is caught by no_hang instead
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)


def check_fc_mutant(raw: dict, source: str = "mutant.toml") -> None:
    """Accepted and usable, or refused with a SceneError naming the file; nothing else."""
    with no_hang():
        try:
            scene = scene_from_dict(raw, source=source, base_dir=SCENES)
        except SceneError as exc:
            assert str(exc).startswith(source), str(exc)
            assert exc.problems
            return
        # What acceptance promises: the fleet host can rebuild it from data (JSON, as over the
        # link), the summary prints, and the numbers the run uses are finite.
        data = json.loads(json.dumps(scene.as_data(), allow_nan=False))
        again = scene_from_data(data)
        assert again.step_s == scene.step_s and len(again.units) == len(scene.units)
        assert math.isfinite(scene.run_s) and 0 < scene.step_s < 3600
        inbound = scene.spec.inbound.cartons_per_h > 0 or scene.spec.dispatch.replenishment != "none"
        assert any(s.kind == "stow" for s in scene.stations) or not inbound
        scene.summary()
        from fctwin.sim.run.prepare import floorplan_from_scene

        plan, config = floorplan_from_scene(scene)  # what the dispatcher is built from
        assert plan.grid.shape == scene.grid.shape and config.planner


def check_inbound_mutant(raw: dict, source: str = "mutant.toml") -> None:
    from fctwin.sim.cli.inbound import resolve_disruptions
    from fctwin.sim.inbound.disruptions import TEMPLATES

    with no_hang():
        try:
            scene = inbound_from_dict(raw, source)
        except InboundSceneError as exc:
            assert str(exc).startswith(source), str(exc)
            return
        json.dumps(scene.model_dump(mode="json"), allow_nan=False)
        for name in [*TEMPLATES, *(d.name for d in scene.disruptions)]:
            try:
                resolve_disruptions(scene, [name])
            except ValueError as exc:
                assert name in str(exc) or "disruption" in str(exc)


def test_fc_scene_mutants():
    seen = []

    @settings(max_examples=340, **FUZZ)
    @given(mutations(FC_SCENES))
    def check(mutant):
        seen.append(mutant)
        check_fc_mutant(mutant[1])

    check()
    assert len(seen) >= 340


def test_inbound_scene_mutants():
    seen = []

    @settings(max_examples=160, **FUZZ)
    @given(mutations(INBOUND_SCENES))
    def check(mutant):
        seen.append(mutant)
        check_inbound_mutant(mutant[1])

    check()
    assert len(seen) >= 160


# ------------------------------------------------------------------ files: bytes, encodings, kinds


def _file_mutants(tmp: Path, rng: random.Random) -> list[Path]:
    text = (SCENES / "fc_small.toml").read_text()
    data = text.encode()
    out: list[tuple[str, bytes]] = [
        ("utf16.toml", text.encode("utf-16")),
        ("utf16le.toml", text.encode("utf-16-le")),
        ("utf32.toml", text.encode("utf-32")),
        ("bom.toml", b"\xef\xbb\xbf" + data),
        ("latin1.toml", text.replace("Small", "Smäll").encode("latin-1")),
        ("empty.toml", b""),
        ("nul.toml", b"\x00" * 64),
        ("deep.toml", b"a = " + b"[" * 5000 + b"]" * 5000),
    ]
    for k in range(45):
        b = bytearray(data)
        kind = k % 4
        if kind == 0:  # truncated
            b = b[: rng.randrange(len(b))]
        elif kind == 1:  # random bytes somewhere
            for _ in range(rng.randrange(1, 8)):
                b[rng.randrange(len(b))] = rng.randrange(256)
        elif kind == 2:  # a line duplicated (duplicate keys) or dropped
            lines = bytes(b).split(b"\n")
            i = rng.randrange(len(lines))
            lines.insert(i, lines[i]) if rng.random() < 0.5 else lines.pop(i)
            b = bytearray(b"\n".join(lines))
        else:  # a number replaced by a hostile literal
            words = [b"inf", b"nan", b"-inf", b"1e309", b"99999999999999999999", b"-0", b"true", b'"x"']
            import re

            nums = list(re.finditer(rb"= (-?[0-9.]+)", bytes(b)))
            m = nums[rng.randrange(len(nums))]
            b[m.start(1) : m.end(1)] = rng.choice(words)
        out.append((f"mut{k}.toml", bytes(b)))
    paths = []
    for name, blob in out:
        p = tmp / name
        p.write_bytes(blob)
        paths.append(p)
    # not regular files
    (tmp / "zero.toml").symlink_to("/dev/zero")
    (tmp / "folder.toml").mkdir()
    os.mkfifo(tmp / "fifo.toml")
    (tmp / "dangling.toml").symlink_to(tmp / "nowhere.toml")
    paths += [tmp / "zero.toml", tmp / "folder.toml", tmp / "fifo.toml", tmp / "dangling.toml"]
    big = tmp / "big.toml"
    with big.open("wb") as f:  # sparse: 64 MB without writing them
        f.truncate(64 * 1024 * 1024)
    paths.append(big)
    (tmp / "inbound_as_fc.toml").write_bytes((SCENES / "inbound_default.toml").read_bytes())
    paths.append(tmp / "inbound_as_fc.toml")
    map_zero = copy.deepcopy(FC_RAW["fc_small"])
    map_zero["layout"] = {"map": {"file": "/dev/zero"}}
    write_toml(map_zero, tmp / "map_zero.toml")
    paths.append(tmp / "map_zero.toml")
    return paths


def test_file_mutants(tmp_path):
    """Raw files: encodings, truncation, flipped bytes, duplicate keys, devices, folders, FIFOs."""
    from fctwin.sim.inbound.scene import load_scene as load_inbound

    paths = _file_mutants(tmp_path, random.Random(14))
    assert len(paths) >= 60
    for path in paths:
        with no_hang(HANG_S):
            try:
                scene = load_scene(path)
            except SceneError as exc:
                assert str(exc).startswith(str(path)), str(exc)
            else:
                check_fc_mutant(scene.raw, source=str(path))
            try:
                load_inbound(path)
            except InboundSceneError as exc:
                assert str(exc).startswith(str(path)), str(exc)


# ------------------------------------------------------------------ command-line arguments


def _valid_argv(tmp: Path) -> dict[str, list[str]]:
    return {
        "run": [
            "run",
            "stations_tiny",
            "--hours",
            "0.1",
            "--seed",
            "3",
            "--speedup",
            "10",
            "--runs-dir",
            str(tmp),
        ],
        "validate": ["validate", "stations_tiny"],
        "runs": ["runs", "--runs-dir", str(tmp)],
        "inbound": [
            "inbound",
            "inbound_default",
            "--days",
            "30",
            "--seed",
            "1",
            "--reps",
            "1",
            "--runs-dir",
            str(tmp),
        ],
        "serve": [
            "serve",
            "stations_tiny",
            "--bind",
            "tcp://127.0.0.1:5599",
            "--wait-s",
            "1",
            "--run-id",
            "r1",
            "--realtime",
        ],
        "robot": [
            "robot",
            "--id",
            "T-01",
            "--connect",
            "tcp://127.0.0.1:5599",
            "--step-s",
            "1",
            "--duration-s",
            "1",
        ],
        "keys": ["keys", "generate", "--dir", str(tmp / "keys"), "--ids", "T-01"],
        "calibrate": ["calibrate", "--trials", "2", "--out", str(tmp / "m.json")],
        "scenes": ["scenes"],
    }


ARG_VALUES = [
    "inf",
    "-inf",
    "nan",
    "NaN",
    "0",
    "-1",
    "-0",
    "1e12",
    "1e309",
    "99999999999999999999999",
    "",
    " ",
    "x",
    "../../escape",
    "/dev/zero",
    "missing.toml",
    "missing_dir/x.json",
    "lacam",
    "tcp://nonsense",
    "tcp://127.0.0.1:99999",
    "ipc:///nonexistent/dir/sock",
    "-",
    "--",
    "é" * 200,
    "a" * 5000,
]


def argv_mutants(tmp: Path):
    valid = _valid_argv(tmp)

    @st.composite
    def build(draw):
        command = draw(st.sampled_from(sorted(valid)))
        argv = list(valid[command])
        i = draw(st.integers(1, len(argv)))
        value = draw(st.sampled_from([*ARG_VALUES, str(tmp / "afile"), str(tmp / "afile" / "sub")]))
        if i < len(argv) and draw(st.booleans()):
            argv[i] = value  # replace an option's value (or the command's positional)
        else:
            flag = draw(
                st.sampled_from(
                    [
                        "--hours",
                        "--seed",
                        "--speedup",
                        "--planner",
                        "--runs-dir",
                        "--run-id",
                        "--resume",
                        "--wait-s",
                        "--heartbeat-s",
                        "--days",
                        "--reps",
                        "--trials",
                        "--out",
                        "--dir",
                        "--step-s",
                        "--duration-s",
                        "--scene",
                        "--connect",
                        "--bind",
                        "--id",
                        "--keys",
                        "--set",
                        "--cell",
                        "--cpu",
                        "--disruption",
                        "--fc-capacity-units-per-day",
                    ]
                )
            )
            argv += [flag, value]
        return argv

    return build()


def _parse(argv: list[str]) -> tuple[int | None, object]:
    """argparse alone: (exit code, None) on refusal, (None, namespace) when accepted."""
    from fctwin.sim.cli import build_parser

    command = argv[0]
    parser = build_parser(only=command)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            return None, parser.parse_args(argv)
        except SystemExit as exc:
            code = exc.code
    assert code in (0, 2), (argv, code, err.getvalue())
    if code == 2:
        lines = err.getvalue().strip().splitlines()
        assert lines and "error:" in lines[-1], lines
    return code, None


# Commands cheap and side-effect free enough to run in-process after their arguments parse.
RUN_IN_PROCESS = {"validate", "runs", "scenes", "keys"}


def test_argument_mutants(tmp_path, monkeypatch):
    from fctwin.sim.cli import main

    # Relative paths in mutants (`keys generate --dir inf`) land in the test's folder, not the repo.
    monkeypatch.chdir(tmp_path)

    (tmp_path / "afile").write_text("not a folder\n")
    seen = []
    old_term = signal.getsignal(signal.SIGTERM)
    old_hup = signal.getsignal(signal.SIGHUP)

    @settings(max_examples=220, **FUZZ)
    @given(argv_mutants(tmp_path))
    def check(argv):
        seen.append(argv)
        with no_hang():
            code, ns = _parse(argv)
            if ns is None or argv[0] not in RUN_IN_PROCESS:
                return
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                rc = main(argv)
            assert rc in (0, 2), (argv, rc, err.getvalue())
            assert "Traceback" not in err.getvalue()

    try:
        check()
    finally:
        signal.signal(signal.SIGTERM, old_term)
        signal.signal(signal.SIGHUP, old_hup)
    assert len(seen) >= 220


# ------------------------------------------------------------------ end to end, in subprocesses


def fctwin(*argv: str, cwd: Path, timeout: float = 240, stdin=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONFAULTHANDLER": "0", "COLUMNS": "120"}
    return subprocess.run(
        [sys.executable, "-m", "fctwin.sim.cli", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,  # a hang fails the test (TimeoutExpired) instead of stalling the suite
        env=env,
        stdin=subprocess.DEVNULL if stdin is None else stdin,
    )


def assert_clean(proc: subprocess.CompletedProcess, allowed=(0, 2)) -> None:
    assert proc.returncode in allowed, (proc.args, proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, (proc.args, proc.stderr[-3000:])
    if proc.returncode == 2:
        assert proc.stderr.strip(), proc.args  # a refusal says why


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return (
            "nan"
            if math.isnan(value)
            else ("inf" if value > 0 else "-inf")
            if math.isinf(value)
            else repr(value)
        )
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {_toml(v)}" for k, v in value.items()) + " }"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(type(value))


def write_toml(raw: dict, path: Path) -> Path:
    path.write_text("".join(f"{json.dumps(str(k))} = {_toml(v)}\n" for k, v in raw.items()))
    return path


def test_end_to_end_scene_mutants(tmp_path):
    """A seeded sample of scene mutants through the real CLI: validate, and a short run for FC
    scenes (physics, fleet host over ZeroMQ, run store) or a short inbound study."""
    rng = random.Random(1414)
    small = copy.deepcopy(FC_RAW["stations_tiny"])
    small["run_hours"] = 0.02
    cases = []
    for k in range(12):
        inbound = k % 4 == 3
        name = rng.choice(INBOUND_SCENES) if inbound else "stations_tiny"
        raw = copy.deepcopy(INBOUND_RAW[name]) if inbound else copy.deepcopy(small)
        how = rng.choice(["set", "scale", "scale", "duplicate"])
        path = rng.choice([p for p in _places(raw) if p and _fits(raw, p, how)])
        value = rng.choice([2, 0.5, 3, 0, -1, 1e6, 1e-9]) if how == "scale" else rng.choice(HOSTILE)
        raw = _mutate(raw, path, how, value)
        cases.append((inbound, write_toml(raw, tmp_path / f"m{k}.toml"), path))
    assert len(cases) == 12
    runs = tmp_path / "runs"
    ran: list[int] = []
    for inbound, scene, _path in cases:
        proc = fctwin("validate", str(scene), cwd=tmp_path)
        assert_clean(proc)
        if proc.returncode != 0 or len(ran) >= 3:
            continue  # the first 3 valid mutants also run
        if inbound:
            args = [
                "inbound",
                str(scene),
                "--days",
                "20",
                "--reps",
                "1",
                "--no-plots",
                "--json",
                "--runs-dir",
                str(runs),
            ]
        else:
            args = ["run", str(scene), "--hours", "0.02", "--runs-dir", str(runs), "--json"]
        run = fctwin(*args, cwd=tmp_path)
        ran.append(run.returncode)
        assert_clean(run)
        if run.returncode == 0:
            json.loads(run.stdout)  # --json: stdout is only JSON
    assert len(ran) >= 2  # the sample reaches real runs, not only refusals


E2E_COMMANDS = ("run", "validate", "runs", "inbound", "serve", "keys", "scenes")  # none runs unbounded


def test_end_to_end_command_line_mutants(tmp_path):
    """A seeded sample of hostile command lines through the real `fctwin` (argument types, files,
    the run store, the fleet host): exit 0 or 2, no traceback, no hang."""
    (tmp_path / "afile").write_text("not a folder\n")
    valid = _valid_argv(tmp_path)
    rng = random.Random(2026)
    values = [*ARG_VALUES, str(tmp_path / "afile"), str(tmp_path / "afile" / "sub")]
    flags = [
        "--hours",
        "--seed",
        "--speedup",
        "--planner",
        "--runs-dir",
        "--run-id",
        "--days",
        "--set",
        "--cpu",
    ]
    cases = []
    while len(cases) < 20:
        command = rng.choice(E2E_COMMANDS)
        argv = list(valid[command])
        if len(argv) > 1 and rng.random() < 0.5:
            i = rng.randrange(1, len(argv))
            argv[i] = rng.choice(values)
        else:
            argv += [rng.choice(flags), rng.choice(values)]
        if "\x00" in "".join(argv) or len("".join(argv)) > 4000:
            continue
        cases.append(argv)
    for argv in cases:
        proc = fctwin(*argv, cwd=tmp_path)
        assert_clean(proc)
        if proc.returncode == 0 and "--json" in argv:
            json.loads(proc.stdout)
