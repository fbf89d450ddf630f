"""benchmarks/mapf.py writes result files that an independent replay confirms (paths and task counts)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
MAPF = ROOT.parent / "shared" / "benchmarks" / "mapf"
pytestmark = pytest.mark.skipif(not MAPF.exists(), reason="shared MAPF benchmark data not present")


def load_harness():
    spec = importlib.util.spec_from_file_location("mapf_harness", ROOT / "benchmarks" / "mapf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("problem", "extra"),
    [
        ("lorr/2023_example_warehouse_small/EI23-warehouse_small_100.json", []),
        ("rhcr/kiva.map", ["--agents", "60", "--action-model", "rotation"]),  # grid: test_planner_grid.py
    ],
)
def test_harness_output_replays_and_recounts(tmp_path, problem, extra):
    out = tmp_path / "out.json"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "mapf.py"), str(MAPF / problem), "--steps", "150"]
    done = subprocess.run([*cmd, *extra, "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["actionModel"] == "MAPF_T" and result["errors"] == []
    assert len(result["plannerTimes"]) == 150 and len(result["actualPaths"]) == result["teamSize"]
    assert result["numTaskFinished"] > 0
    steps, confirmed = load_harness().replay(out)
    assert (steps, confirmed) == (150, result["numTaskFinished"])


def test_replay_rejects_a_tampered_path(tmp_path):
    out = tmp_path / "out.json"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "mapf.py"), str(MAPF / "rhcr" / "kiva.map")]
    subprocess.run([*cmd, "--agents", "80", "--steps", "60", "--out", str(out)], check=True, timeout=120,
                   capture_output=True)  # fmt: skip
    result = json.loads(out.read_text())
    result["taskLog"][0][3] += 1  # claim the first task finished one step later than it did
    out.write_text(json.dumps(result))
    with pytest.raises(ValueError):
        load_harness().replay(out)


@pytest.mark.parametrize("lns_iterations", [0, 50])
def test_plan_does_not_depend_on_the_clock(tmp_path, lns_iterations):
    """Counted work bounds make runs deterministic: a clock slowed so that every step "takes" 5 s
    (as on a badly loaded machine) gives the same actions and tasks; overruns are only reported.
    With ``--on-overrun wait`` (the LoRR simulator's rule) the same slow clock changes the run.
    Also with LNS refinement (bounded by its iteration count)."""
    harness = load_harness()
    problem = str(MAPF / "lorr" / "2023_example_warehouse_small" / "EI23-warehouse_small_200.json")
    opts = ["--planner-opt", "operation_steps=3", "--planner-opt", "operation_step_budget=300"]
    opts += ["--planner-opt", f"lns_iterations={lns_iterations}"]
    base = [problem, "--steps", "60", *opts]

    def run(name, *extra):
        out = tmp_path / f"{name}.json"
        assert harness.main([*base, *extra, "--out", str(out)]) == 0
        return json.loads(out.read_text())

    quick = run("quick")
    ticks = iter(range(0, 10**9, 5))
    harness.clock = lambda: float(next(ticks))  # every reading 5 s after the previous one
    slow = run("slow")
    slow_wait = run("slow_wait", "--on-overrun", "wait")
    meta_q, meta_s = quick["meta"], slow["meta"]
    assert meta_q["overrun_steps"] == 0 and meta_s["overrun_steps"] == 60
    assert meta_s["plan_sha256"] == meta_q["plan_sha256"]
    assert slow["numTaskFinished"] == quick["numTaskFinished"] > 0
    assert slow["taskLog"] == quick["taskLog"]
    assert any(row[1] > 0 for row in meta_q["work_per_step"])  # the step bound was reached
    if lns_iterations:  # columns 2, 3: LNS iterations run, neighbourhoods accepted
        assert all(row[2] <= lns_iterations for row in meta_q["work_per_step"])
        assert sum(row[3] for row in meta_q["work_per_step"]) > 0
    assert meta_s["work_per_step"] == meta_q["work_per_step"]
    # the timed rule: every step overran, every robot waited every step
    assert slow_wait["meta"]["plan_sha256"] != meta_q["plan_sha256"] and slow_wait["numTaskFinished"] == 0


def write_lorr2024_problem(folder: Path, n_tasks: int) -> Path:
    """A 6 x 8 open floor, 4 robots, ``n_tasks`` two-errand tasks, LoRR 2024 rules (reveal 1.5)."""
    H, W = 6, 8
    (folder / "m.map").write_text(f"type octile\nheight {H}\nwidth {W}\nmap\n" + ("." * W + "\n") * H)
    (folder / "a.agents").write_text("4\n0\n7\n40\n47\n")
    rng = np.random.default_rng(3)
    # two distinct errands per task, as in the LoRR main round
    lines = [",".join(str(c) for c in rng.choice(H * W, 2, replace=False)) for _ in range(n_tasks)]
    (folder / "t.tasks").write_text(f"# version for LoRR 2024\n{n_tasks}\n" + "\n".join(lines) + "\n")
    meta = {"mapFile": "m.map", "agentFile": "a.agents", "teamSize": 4, "taskFile": "t.tasks"}
    meta.update(numTasksReveal=1.5, version="2024 LoRR")
    path = folder / "p.json"
    path.write_text(json.dumps(meta))
    return path


def test_lorr2024_tasks_are_dealt_again_once_the_file_is_used_up(tmp_path):
    """As the LoRR 2024 start kit (task id k has the errands of line k mod file length): a run does
    not starve when the file's tasks are all revealed, and the replay checks the errands."""
    harness = load_harness()
    problem = write_lorr2024_problem(tmp_path, 7)
    out = tmp_path / "out.json"
    assert harness.main([str(problem), "--steps", "300", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    ids = [row[0] for row in result["taskLog"]]
    assert result["numTaskFinished"] > 3 * 7 and max(ids) >= 3 * 7  # the file was dealt three times over
    tasks = dict((k, e) for k, e in result["tasks"])
    assert all(tasks[k] == tasks[k % 7] for k in ids if k % 7 in tasks)
    assert harness.replay(out) == (300, result["numTaskFinished"])
    # a result claiming other errands for a task is rejected
    result["tasks"][0][1] = [[0, 1], [0, 2]]
    out.write_text(json.dumps(result))
    with pytest.raises(ValueError, match="errands differ"):
        harness.replay(out)


def test_kiva_seeds_weights_each_run_by_the_length_of_the_tasks_it_drew(tmp_path):
    spec = importlib.util.spec_from_file_location("kiva_seeds", ROOT / "benchmarks" / "kiva_seeds.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "k.json"
    assert module.main(["--agents", "20", "--seeds", "0", "1", "--steps", "80", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    expected = data["expected_task_length"]
    assert 15 < expected < 40  # kiva.map: random endpoint pairs, ~23 steps apart
    runs = data["runs"]
    assert [(r["agents"], r["seed"]) for r in runs] == [(20, 0), (20, 1)]
    assert runs[0]["plan_sha256"] != runs[1]["plan_sha256"]  # seeds draw different tasks
    for r in runs:
        assert r["tasks_per_step"] > 0
        assert r["weighted_tasks_per_step"] == pytest.approx(
            r["tasks_per_step"] * r["mean_task_length"] / expected
        )
    # a finished task's length runs from the robot's previous endpoint (or start) to its endpoint
    dist = np.array([[0, 1, 2], [1, 0, 1], [2, 1, 0]], float)
    result = {"start": [[0, 0]], "tasks": [[5, [[0, 2]]], [6, [[0, 1]]]]}
    result["taskLog"] = [[5, 0, 0, 3], [6, 0, 3, 5]]
    assert module.finished_task_lengths(result, 3, dist).tolist() == [2, 1]


def test_scheduler_reassigns_an_unopened_task_to_a_much_closer_robot(tmp_path):
    harness = load_harness()
    # robot 0 is free at (0, 0); robot 1 holds task 0 (first errand (0, 1)) from 9 cells away; task 1
    # (first errand (5, 5)) is free
    all_rc = np.array([[0, 0], [0, 10]], np.int32)
    pool_rc = np.array([[0, 1], [5, 5]], np.int32)
    pool_len = np.array([3, 3], np.int64)
    holder = np.array([1, -1], np.int32)
    holder_dist = np.array([9, 0], np.int64)
    site, load = np.array([0, 1], np.int64), np.array([1, 0], np.int64)

    def assign(margin, max_steals=1):
        queue, out = np.array([0, -1, -1], np.int32), np.full(2, -1, np.int32)
        n = harness.greedy_assign(
            queue, 1, all_rc, pool_rc, pool_len, np.ones(2, bool), holder, holder_dist, site, load.copy(),
            0, margin, max_steals, out,
        )  # fmt: skip
        return n, out.tolist()

    assert assign(5) == (2, [0, 1])  # robot 0 takes task 0, robot 1 is queued and takes task 1
    assert assign(9) == (1, [1, -1])  # not 9 cells closer: robot 0 takes the free task
    assert assign(5, max_steals=0) == (1, [1, -1])  # the counted bound
    # whole runs with reassignment replay and recount
    problem = write_lorr2024_problem(tmp_path, 40)
    out = tmp_path / "out.json"
    assert harness.main([str(problem), "--steps", "200", "--steal-margin", "1", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["meta"]["tasks_reassigned"] > 0 and result["numTaskFinished"] > 0
    assert harness.replay(out) == (200, result["numTaskFinished"])


def test_planner_options_parse_booleans_and_numbers_and_a_bad_one_is_named(tmp_path):
    harness = load_harness()
    assert harness.planner_opt_value("false") is False and harness.planner_opt_value("True") is True
    assert harness.planner_opt_value("400") == 400 and harness.planner_opt_value("-2") == -2
    assert harness.planner_opt_value("0.5") == 0.5 and harness.planner_opt_value("highways") == "highways"
    problem = MAPF / "lorr/2023_example_warehouse_small/EI23-warehouse_small_100.json"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "mapf.py"), str(problem), "--steps", "5"]
    cmd += ["--out", str(tmp_path / "out.json")]
    for opt, named in (("no_such_option=1", "no_such_option"), ("lns_iterations", "KEY=VALUE")):
        done = subprocess.run([*cmd, "--planner-opt", opt], capture_output=True, text=True, timeout=120)
        assert done.returncode != 0 and named in done.stderr and "Traceback" not in done.stderr
