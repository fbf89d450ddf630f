"""Lifelong and one-shot MAPF benchmark for the drive-unit planner (issue 3).

    python benchmarks/mapf.py PROBLEM [--agents N] [--steps T] [--seed S] [--budget-ms B] --out OUT.json
                              [--planner NAME] [--action-model rotation|grid]

PROBLEM is one of
- a LoRR problem JSON (2023 or 2024 rules, from its ``version`` field): first N agents of the team,
  2024: ``numTasksReveal * N`` tasks revealed in file order, a greedy scheduler assigns them to free
  robots, a task ends when its errands are visited in order; 2023: tasks dealt round-robin to
  per-robot queues, each finished errand counts;
- a MovingAI ``.scen``: the first N agents, one-shot (run until all stand on their goals); planned
  by default with LaCAM (`fctwin.controller.planning.lacam`, complete), solved once before step 0 and then
  replayed step by step through the same validator (``--planner pibt`` runs PIBT step by step);
- an RHCR ``kiva.map``: N robots, each given a random endpoint goal (from the seed) and, on arrival,
  a new random endpoint other than the cell it stands on, as RHCR's KIVA scenario
  (``KivaSystem::update_goal_locations``: ``G.endpoints[rand() % size]``, never the previous goal).
  Starts: under the grid model, as RHCR (``initialize_start_locations`` puts robot k on
  ``G.agent_home_locations[k]``, the ``r`` cells in shuffled order) N distinct home cells drawn from
  the seed; kiva.map has 192, so beyond that the remaining robots start on distinct random
  endpoints (RHCR itself would index past its home list). Under the rotation model: distinct cells
  drawn from homes and endpoints together (the earlier harness; kept so its figures reproduce).

Action models (``--action-model``):
- ``rotation`` (LoRR ``MAPF_T``, the default for LoRR JSON and ``.scen``): every step every robot
  takes F (forward), R (clockwise), C (counter-clockwise) or W (wait); robots start facing east.
- ``grid`` (``MAPF``, the default for kiva maps): every step a robot moves to one of its 4
  neighbours or waits, no heading; this is the model of RHCR's published kiva figures (its
  ``driver.cpp``: ``("rotation", po::value<bool>()->default_value(false), "consider rotation")``).
  Planned by `fctwin.controller.planning.grid_pibt`. In the output ``start`` is ``[row, col]`` per robot
  (no heading) and ``actualPaths`` holds one comma-separated string of moves per robot: ``R``
  right (col + 1), ``D`` down (row + 1), ``L`` left (col - 1), ``U`` up (row - 1), ``W`` wait.

Rules (LoRR): every step is checked by the independent validator (no vertex or swap conflict, no
move into an obstacle). The planner's work per step is bounded by counts (e.g. the operation
planner's ``operation_step_budget``), never by a clock, so the same problem and seed give the same
actions and tasks however loaded the machine is (``meta.plan_sha256`` is a hash of every action).
``--budget-ms`` (LoRR: 1000, 0 = none) is then a check: a step whose scheduler plus planner time
exceeds it is counted and reported as an overrun (a run is within the LoRR time rule only with 0
overruns). ``--on-overrun wait`` instead makes every robot wait in such a step, as the official
simulator does; results then depend on the machine's load. Output: LoRR-style JSON
(``actionModel``, ``teamSize``, ``start``, ``actualPaths``, ``numTaskFinished``, ``plannerTimes``,
...) plus ``taskLog`` ``[task_id, agent, assigned_step, finished_step]`` so anyone can replay the paths
and recount (``--replay OUT.json``, either model). Prints throughput, planning time per step and
peak memory beside the reference figures.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import resource
import sys
import time
from pathlib import Path

import numba
import numpy as np

from fctwin.controller.planning import make_planner
from fctwin.controller.planning.base import FleetArrays, GridMaps
from fctwin.controller.planning.instances import (
    read_kiva_map,
    read_lorr_problem,
    read_movingai_map,
    read_scen,
)
from fctwin.controller.planning.validate import StepViolationError, check_grid_step, check_step

ROOT = Path(__file__).resolve().parents[1]

HEADING_LETTER = "ESWN"
ACTION_LETTER = np.frombuffer(b"FRCW", np.uint8)
GRID_LETTER = np.frombuffer(b"RDLUW", np.uint8)  # grid model: right, down, left, up, wait
WAIT_CODE = {"rotation": 3, "grid": 4}

# Reference figures (published with the instances, see docs/planner.md); printed beside ours.
REFERENCES = {
    "WAREHOUSE": "best known 154,834 tasks / 5,000 steps (31.0 per step); start kit 13-16 per step, 15.8 GB",
    "SORTATION": "best known 152,714 tasks / 5,000 steps (30.5 per step)",
    "kiva": (
        "RHCR PBS w=10, 4-connected grid model without rotation: 2.27/3.31/1.43/0.94/0.45 tasks per step "
        "at 60/100/140/180/220 agents; 4.52 at 140 (w=20)"
    ),
    "scen": "LaCAM3 SoC 9,089 (N=100) / 46,396 (N=500); plain PIBT livelocks at N=100",
    "step": "C++ PIBT: 1,000 agents in ~0.25 ms (2 vCPU)",
}


def grid_kiva_preset(n_agents: int, n_free_cells: int) -> dict[str, object]:
    """Options of the grid-model planner (``pibt_grid``) on kiva maps, by fleet density.

    Below 9% of the free cells (kiva.map: up to 115 robots) only the two gap columns between the
    shelf blocks are one-way, at a steep penalty (6), a pushed robot prefers stepping aside
    (``push_penalty=1``) and equal costs keep right (``lanes``): few robots meet, so short routes
    matter more than order. From 9% on, RHCR-style one-way streets over the whole floor at penalty 1
    (``highways+grid``), whose detours (26.1 instead of 22.8 steps per task alone) buy far fewer
    head-on meetings, with the gap columns dearer than the streets (``aisle_penalty=3``).
    Measured on kiva.map, seeds 0/1/2, tasks per step (docs/planner_history.md):
    gaps 6 + push 1: 60 robots 2.30/2.21/2.23, 100: 3.51/3.53/3.52, 120: 4.03/4.09 (seeds 0/1),
    140: 4.34/4.40/4.49; streets 1: 60 2.15/2.15/2.19, 100: 3.43/3.43/3.47, 120: 4.06/3.98,
    140: 4.59/4.66/4.58, 220: 6.25/6.45/6.35. ``lanes`` and ``aisle_penalty`` were chosen on seeds
    10-14 (task-length weighted, 5 seeds): lanes 2.25 -> 2.27 at 60, 3.52 -> 3.56 at 100;
    aisle_penalty 3 4.63 -> 4.69 at 140, 5.64 -> 5.87 at 180, 6.36 -> 6.88 at 220.
    At every density the step is steered by 20-step windowed plans (``window=20``), chosen on seeds
    10-14: 2.27 / 3.56 / 4.69 / 5.87 / 6.88 -> 2.31 / 3.68 / 4.78 / 6.03 / 7.20 (w=10: 2.29 at 60;
    w=30: 2.30 at 60, 4.80 at 140, but several times the work at 220).
    """
    if n_agents / max(n_free_cells, 1) >= 0.09:
        return {"guidance": "highways+grid", "guidance_penalty": 1, "aisle_penalty": 3, "window": 20}
    return {"guidance": "highways", "guidance_penalty": 6, "push_penalty": 1, "lanes": 1, "window": 20}


# not cached: this script runs both as __main__ and imported by file path (tests, kiva_seeds.py), and a
# cache entry written under one module name fails to load under the other ("No module named '<dynamic>'")
@numba.njit(cache=False)
def greedy_assign(
    queue, n_queue, all_rc, pool_rc, pool_len, pool_free, pool_holder, holder_dist, pool_site, site_load,
    load_weight, steal_margin, max_steals, out_task,
):  # fmt: skip
    """Give each free robot (in queue order) the revealed task with the least cost.

    Cost = Manhattan distance to the first errand + errand-to-errand Manhattan length +
    ``load_weight`` x robots already heading to the same first-errand cell (``site_load``, a queue
    estimate: every robot ahead at a station costs the newcomer its service time).
    Candidates are the free revealed tasks and, if ``steal_margin`` > 0, tasks held by a robot that
    has not reached their first errand yet (``pool_holder[p]`` >= 0; LoRR 2024 lets a scheduler
    reassign a task until it is opened) when the free robot is at least ``steal_margin`` cells
    closer to the first errand than the holder (``holder_dist[p]``). The holder then joins the
    queue and is assigned in turn; at most ``max_steals`` such reassignments per call (a counted
    bound). queue int32[cap] robot ids (first ``n_queue`` free now; grows); all_rc int32[N, 2];
    pool_rc int32[P, 2] first errands; pool_len int64[P]; pool_free bool[P] (updated);
    pool_site int64[P] index into ``site_load`` (int64[S], updated); out_task int32[N] pool index
    per queued robot or -1. Returns the number of robots queued.
    """
    steals = 0
    q = 0
    while q < n_queue:
        a = queue[q]
        q += 1
        best = -1
        best_cost = 1 << 60
        for p in range(pool_rc.shape[0]):
            if not pool_free[p]:
                continue
            d = abs(all_rc[a, 0] - pool_rc[p, 0]) + abs(all_rc[a, 1] - pool_rc[p, 1])
            if pool_holder[p] >= 0:
                if pool_holder[p] == a or steals >= max_steals or d + steal_margin > holder_dist[p]:
                    continue
                cost = d + pool_len[p] + load_weight * (site_load[pool_site[p]] - 1)
            else:
                cost = d + pool_len[p] + load_weight * site_load[pool_site[p]]
            if cost < best_cost:
                best_cost = cost
                best = p
        out_task[a] = best
        if best < 0:
            continue
        pool_free[best] = False
        b = pool_holder[best]
        if b >= 0:  # taken from robot b, which now needs a task itself
            steals += 1
            out_task[b] = -1
            queue[n_queue] = b
            n_queue += 1
        else:
            site_load[pool_site[best]] += 1
    return n_queue


class TaskBook:
    """Tasks, revealing, assignment and completion for all three problem kinds."""

    def __init__(
        self, kind: str, n: int, *, tasks=None, reveal=1.5, endpoints=None, rng=None, goals=None,
        workers=None, site_weight: int = 0, steal_margin: int = 0,
    ):  # fmt: skip
        self.kind = kind
        self.site_weight = int(site_weight)  # scheduler: cost per robot already bound for a first errand
        self.steal_margin = int(steal_margin)  # scheduler: reassign unopened tasks to robots this much closer
        self.workers = workers
        self.n = n
        self.cur_task = np.full(n, -1, np.int64)  # task id per robot
        self.errand = np.zeros(n, np.int64)  # next errand index within the task
        self.assigned_step = np.zeros(n, np.int64)
        self.log: list[list[int]] = []
        self.steals = 0  # tasks reassigned before their first errand (LoRR 2024 scheduler option)
        self.finished_errands = 0
        self.tasks: list[np.ndarray] = []
        self.queues: list[list[int]] = []
        self.started: list[int] = []
        if kind == "lorr2024":
            # LoRR 2024 (start kit TaskManager::reveal_tasks): ``reveal * n`` tasks are revealed and not
            # finished at any time; task id k has the errands of file line k mod (file length), so the
            # file is dealt again from the top once used up (100,000 tasks in the main round, where
            # the best runs finish over 150,000)
            self.tasks = tasks
            self.n_reveal = int(math.ceil(reveal * n))
            self.next_reveal = self.n_reveal
            self.in_pool = np.zeros(max(len(tasks), self.n_reveal), bool)  # by task id: revealed, unassigned
            self.in_pool[: self.next_reveal] = True
            self.first_rc = np.array([t[0] for t in tasks], np.int32)
            self.task_len = np.array([np.abs(np.diff(t, axis=0)).sum() for t in tasks], np.int64)
            # first-errand cells (stations) as small indices, for the scheduler's queue estimate
            _, self.site = np.unique(self.first_rc[:, 0] * 100_000 + self.first_rc[:, 1], return_inverse=True)
            self.site = self.site.astype(np.int64).ravel()
        elif kind == "lorr2023":
            self.tasks = tasks
            self.queues = [list(range(i, len(tasks), n))[::-1] for i in range(n)]  # pop() from the end
        elif kind == "kiva":
            self.endpoints = endpoints
            self.rng = rng
        elif kind == "oneshot":
            self.tasks = [g[None, :] for g in goals]
            for i in range(n):
                self.cur_task[i] = i

    def errands(self, t: int) -> np.ndarray:
        """Errand cells ``int32[E, 2]`` of task id ``t`` (LoRR 2024: file line t mod file length)."""
        return self.tasks[t % len(self.tasks)] if self.kind == "lorr2024" else self.tasks[t]

    def goal_of(self, i: int) -> tuple[int, int]:
        t = self.cur_task[i]
        if t < 0:
            return (-1, -1)
        e = self.errands(t)[self.errand[i]]
        return (int(e[0]), int(e[1]))

    def assign(self, pos: np.ndarray, step: int) -> None:
        self.started: list[int] = []  # robots given a task now (their goal must be set)
        free = np.flatnonzero(self.cur_task < 0)
        if self.workers is not None:
            free = free[free < self.workers]  # surplus robots stay idle (they still make way)
        if free.size == 0:
            return
        if self.kind == "lorr2024":
            pool = np.flatnonzero(self.in_pool[: self.next_reveal])
            # robots on their way to a task's first errand (the task is not opened yet)
            going = np.flatnonzero((self.cur_task >= 0) & (self.errand == 0))
            site_load = np.bincount(
                self.site[self.cur_task[going] % len(self.tasks)], minlength=int(self.site.max()) + 1
            ).astype(np.int64)
            holder = np.full(pool.size, -1, np.int32)
            if self.steal_margin > 0:  # their tasks are candidates too
                pool = np.concatenate([pool, self.cur_task[going]])
                holder = np.concatenate([holder, going.astype(np.int32)])
            if pool.size == 0:
                return
            line = pool % len(self.tasks)
            first = self.first_rc[line]
            holder_dist = np.zeros(pool.size, np.int64)
            hp = holder >= 0
            holder_dist[hp] = np.abs(pos[holder[hp]] - first[hp]).sum(axis=1)
            queue = np.empty(self.n + free.size, np.int32)
            queue[: free.size] = free
            out_task = np.full(self.n, -1, np.int32)
            n_queued = greedy_assign(
                queue, free.size, pos.astype(np.int32), first, self.task_len[line], np.ones(pool.size, bool),
                holder, holder_dist, self.site[line], site_load, self.site_weight, self.steal_margin,
                free.size, out_task,
            )  # fmt: skip
            for a in queue[:n_queued].tolist():
                p = int(out_task[a])
                if self.cur_task[a] >= 0 and (p < 0 or pool[p] != self.cur_task[a]):
                    self.cur_task[a] = -1  # its task went to a closer robot
                    self.steals += 1
                    self.started.append(a)  # its goal must be updated (to none, or its new task)
                if p >= 0:
                    self._start(a, int(pool[p]), step)
                    self.in_pool[pool[p]] = False
        elif self.kind == "lorr2023":
            for a in free.tolist():
                if self.queues[a]:
                    self._start(a, self.queues[a].pop(), step)
        elif self.kind == "kiva":
            for a in free.tolist():
                while True:
                    e = self.endpoints[self.rng.integers(len(self.endpoints))]
                    if (e != pos[a]).any():
                        break
                self.tasks.append(e[None, :].astype(np.int32))
                self._start(a, len(self.tasks) - 1, step)

    def _start(self, a: int, t: int, step: int) -> None:
        self.cur_task[a] = t
        self.errand[a] = 0
        self.assigned_step[a] = step
        self.started.append(a)

    def arrive(self, pos: np.ndarray, goal: np.ndarray, step: int) -> int:
        """Advance robots standing on their current errand, update ``goal``; return tasks finished now."""
        if self.kind == "oneshot":
            return 0  # one-shot goals are kept: the robot must stay there
        done = 0
        for a in np.flatnonzero((goal[:, 0] >= 0) & (pos == goal).all(axis=1)).tolist():
            t = self.cur_task[a]
            while t >= 0 and (self.errands(t)[self.errand[a]] == pos[a]).all():
                self.errand[a] += 1
                self.finished_errands += 1
                if self.errand[a] == len(self.errands(t)):
                    self.log.append([int(t), a, int(self.assigned_step[a]), step])
                    done += 1
                    self.cur_task[a] = -1
                    if self.kind == "lorr2024":
                        if self.next_reveal == len(self.in_pool):  # more ids: grow the pool flags
                            self.in_pool = np.concatenate([self.in_pool, np.zeros(len(self.in_pool), bool)])
                        self.in_pool[self.next_reveal] = True
                        self.next_reveal += 1
                    t = -1
            goal[a] = self.goal_of(a)
        return done


# the clock that step times and overruns are measured with (tests replace it with a slowed one to show
# that, with counted work bounds, the plan does not depend on time)
clock = time.perf_counter


def plan_hash(actions: np.ndarray) -> str:
    """sha256 of the executed actions ``int8[T, N]``: equal hashes mean identical runs."""
    return hashlib.sha256(np.ascontiguousarray(actions, np.int8).tobytes()).hexdigest()


def default_action_model(problem: str) -> str:
    """``grid`` for RHCR kiva maps (RHCR's model), ``rotation`` (LoRR MAPF_T) otherwise."""
    return "grid" if Path(problem).suffix in (".map", ".grid") else "rotation"


def load(
    problem: str,
    n_agents: int | None,
    seed: int,
    workers: int | None = None,
    action_model: str = "rotation",
    site_weight: int = 0,
    steal_margin: int = 0,
):
    """Return (name, kind, passable, starts, book, default_steps, reference key)."""
    path = Path(problem)
    rng = np.random.default_rng(seed)
    if path.suffix == ".json":
        prob = read_lorr_problem(path)
        n = n_agents or prob.team_size
        if n > prob.team_size:
            raise SystemExit(f"{path.name}: team size is {prob.team_size}")
        kind = "lorr2024" if prob.version == 2024 else "lorr2023"
        book = TaskBook(
            kind, n, tasks=prob.tasks, reveal=prob.reveal, workers=workers, site_weight=site_weight,
            steal_margin=steal_margin,
        )  # fmt: skip
        ref = path.stem.upper() if path.stem.upper() in REFERENCES else ""
        return path.stem, kind, prob.passable, prob.starts[:n], book, 5000, ref
    if path.suffix == ".scen":
        n = n_agents or 100
        starts, goals, map_name = read_scen(path, n)
        passable = read_movingai_map(path.parent / map_name)
        return path.stem, "oneshot", passable, starts, TaskBook("oneshot", n, goals=goals), 5000, "scen"
    if path.suffix in (".map", ".grid"):
        kiva = read_kiva_map(path)
        n = n_agents or 100
        if action_model == "grid":
            # RHCR: robot k starts on home k of the shuffled home list; more robots than homes
            # (220 on kiva.map's 192) take distinct random endpoints
            homes = kiva.homes[rng.permutation(len(kiva.homes))[:n]]
            extra = kiva.endpoints[rng.choice(len(kiva.endpoints), n - len(homes), replace=False)]
            starts = np.concatenate([homes, extra])
        else:
            cells = np.concatenate([kiva.homes, kiva.endpoints])
            starts = cells[rng.choice(len(cells), n, replace=False)]
        book = TaskBook("kiva", n, endpoints=kiva.endpoints, rng=rng)
        return path.stem, "kiva", kiva.passable, starts.astype(np.int32), book, 1000, "kiva"
    raise SystemExit(f"unknown problem type: {problem}")


def paths_to_strings(actions: np.ndarray, letters: np.ndarray = ACTION_LETTER) -> list[str]:
    """``int8[T, N]`` actions to one ``"F,R,W,..."`` string per robot (``letters``: code -> byte)."""
    T, N = actions.shape
    if T == 0:
        return [""] * N
    buf = np.full((N, 2 * T - 1), ord(","), np.uint8)
    buf[:, ::2] = letters[actions.T]
    return [row.tobytes().decode() for row in buf]


def sic_lower_bound(scen: Path, n: int) -> int | None:
    table = Path(scen).parent / "sic_lower_bounds.csv"
    if not table.exists():
        return None
    with table.open() as fh:
        for row in csv.DictReader(fh):
            if row["scen"] == Path(scen).name and int(row["N"]) == n:
                return int(row["sic_lb"])
    return None


def run(args: argparse.Namespace) -> dict:
    model = args.action_model or default_action_model(args.problem)
    if model == "grid" and default_action_model(args.problem) != "grid":
        raise SystemExit(
            "--action-model grid is for RHCR kiva maps; LoRR and .scen use LoRR's rotation model"
        )
    name, kind, passable, starts, book, default_steps, ref = load(
        args.problem, args.agents, args.seed, args.workers, model, args.site_weight, args.steal_margin
    )
    steps = args.steps or default_steps
    if args.planner is None:  # one-shot problems: the complete LaCAM; lifelong: PIBT
        args.planner = "lacam" if kind == "oneshot" else "pibt"
    if model == "grid" and args.planner == "pibt":
        args.planner = "pibt_grid"  # PIBT for the 4-connected model
    load_before = os.getloadavg()  # timings are only comparable at similar machine load
    n = starts.shape[0]
    grid = GridMaps(passable.copy(), passable.copy())
    pos = starts.astype(np.int32).copy()
    heading = np.zeros(n, np.int8)  # LoRR starts every robot facing east
    loaded = np.zeros(n, bool)
    active = np.ones(n, bool)
    goal = np.full((n, 2), -1, np.int32)
    opts = {}
    if kind == "oneshot" and args.planner == "pibt":
        # one-shot preset: PIBT swap + stepping aside when pushed, milder guidance (measured on the
        # warehouse-10-20-10-2-1 scens; lifelong runs are better without swap and push-aside)
        opts.update(swap=1, push_penalty=1, guidance_penalty=2)
    if kind == "kiva" and args.planner == "pibt_grid":
        opts.update(grid_kiva_preset(n, int(passable.sum())))
    if kind == "kiva" and args.planner == "pibt":
        # kiva preset: rotation-aware tables, and RHCR-style one-way streets across the open floor
        # (see guidance.py for the measurements behind the streets and the penalty) once 7% of the
        # free cells hold robots. Below that, robots rarely meet and the streets' detours cost more
        # than they save (a lone robot needs 34.5 steps per task with streets, 28.3 without): only
        # the aisle highways, penalty 4 (seed 0: 1.86 vs 1.71 tasks/step at 60 robots, 2.32 vs 2.27
        # at 80; 2.62 vs 2.73 at 100, where the streets win)
        dense = n / max(int(passable.sum()), 1) >= 0.07
        opts.update(
            guidance="highways+grid" if dense else "highways",
            guidance_penalty=2 if dense else 4,
            heading_tables=1,
        )
    if args.guidance is not None:
        opts["guidance"] = args.guidance
    for kv in args.planner_opt:
        key, eq, value = kv.partition("=")
        if not eq or not key:
            raise SystemExit(f"--planner-opt {kv!r}: expected KEY=VALUE, e.g. lns_iterations=400")
        opts[key] = planner_opt_value(value)
    try:
        planner = make_planner(args.planner, **opts)
    except TypeError as exc:  # an option the planner does not take
        raise SystemExit(f"--planner-opt: planner {args.planner}: {exc}") from None
    if getattr(planner, "action_model", "rotation") != model:
        raise SystemExit(f"planner {args.planner} does not plan for the {model} action model")
    t0 = time.perf_counter()
    planner.reset(grid, n, seed=args.seed)
    if args.preload and kind.startswith("lorr") and hasattr(planner, "preload_goals"):
        # LoRR allows a preprocessing phase (30 min): distance tables for every errand cell
        planner.preload_goals(np.concatenate(book.tasks))
    if kind == "lorr2024":  # compile the scheduler now, so step 0 does not pay for it
        one, zero, none = np.zeros((1, 2), np.int32), np.zeros(1, np.int64), np.full(1, -1, np.int32)
        queue = np.zeros(2, np.int32)
        greedy_assign(
            queue, 1, one, one, zero, np.ones(1, bool), none, zero, zero, zero.copy(), 0, 0, 0, none
        )
    reset_s = time.perf_counter() - t0
    oneshot = {}
    if kind == "oneshot" and hasattr(planner, "plan_oneshot"):
        # one-shot planners (LaCAM) solve the whole instance before step 0; the steps then replay
        # the plan, so the per-step budget applies to the replay and the search time is reported
        goal[:] = [book.goal_of(a) for a in range(n)]
        t0 = time.perf_counter()
        res = planner.plan_oneshot(grid, FleetArrays(pos, heading, goal, loaded, active))
        oneshot = {
            "plan_s": time.perf_counter() - t0,
            "solved": res.solved,
            "makespan_planned": int(len(res.states) - 1) if res.solved else None,
            "expanded": res.expanded,
            "generated": res.generated,
            "invalid": res.invalid,
            "revisits": res.revisits,
            "sic_rotation_model": res.sic,
        }
    wait = WAIT_CODE[model]
    actions_log = np.full((steps, n), wait, np.int8)
    planner_times: list[float] = []  # scheduler + planner, as LoRR counts it
    planner_only: list[float] = []
    kernel_only: list[float] = []  # the PIBT kernel alone (no input preparation, no distance tables)
    tables_built: list[int] = []
    errors: list[str] = []
    overruns = 0
    overrun_steps: list[int] = []
    work_log: list[list[int]] = []  # counted planning work per step (operation planner), if reported
    out = np.empty(n, np.int8)
    finished_per_step = np.zeros(steps, np.int64)
    arrival_step = np.full(n, -1, np.int64)  # one-shot: last arrival at the goal
    executed = 0
    for t in range(steps):
        t_start = clock()
        if t == 0 and kind == "oneshot":
            goal[:] = [book.goal_of(a) for a in range(n)]
        book.assign(pos, t)
        for a in book.started:
            goal[a] = book.goal_of(a)
        book.arrive(pos, goal, t)  # a robot may already stand on its first errand
        t_plan = clock()
        planner.step(grid, FleetArrays(pos, heading, goal, loaded, active), out)
        t_end = clock()
        planner_times.append(t_end - t_start)
        act = out
        if hasattr(planner, "last_work") and getattr(planner, "ops", None) is not None:
            work_log.append([int(x) for x in planner.last_work])
            if getattr(planner, "lns_iterations", 0) > 0:  # LNS refinement: iterations run, accepted
                work_log[-1] += [int(x) for x in planner.last_lns]
        if args.budget_ms > 0 and (t_end - t_start) * 1e3 > args.budget_ms:
            overruns += 1
            if len(overrun_steps) < 1000:
                overrun_steps.append(t)
            if args.on_overrun == "wait":
                act = np.full(n, wait, np.int8)  # LoRR: a late planner makes every robot wait
        try:
            if model == "grid":
                pos = check_grid_step(grid.passable_unloaded, grid.passable_loaded, pos, loaded, active, act)
            else:
                pos, heading = check_step(
                    grid.passable_unloaded, grid.passable_loaded, pos, heading, loaded, active, act
                )
        except StepViolationError as exc:
            errors.append(f"step {t}: {exc}")
            act = np.full(n, wait, np.int8)
        actions_log[t] = act
        executed = t + 1
        finished_per_step[t] = book.arrive(pos, goal, t + 1)
        if args.progress > 0 and (t + 1) % args.progress == 0:  # long runs: a line to follow them by
            done = int(finished_per_step[: t + 1].sum())
            print(f"  step {t + 1:,}: {done:,} tasks, load {os.getloadavg()[0]:.1f}", flush=True)
        planner_only.append(t_end - t_plan)
        kernel_only.append(getattr(planner, "last_kernel_s", float("nan")))
        tables_built.append(getattr(planner, "last_tables_built", 0))
        if kind == "oneshot":
            at = (pos == goal).all(axis=1)
            arrival_step[~at] = -1
            arrival_step[at & (arrival_step < 0)] = t + 1
            if at.all():
                break
    actions_log = actions_log[:executed]
    digest = plan_hash(actions_log)
    # columns: operations tried, roots cut by the step bound (+ LNS iterations, accepted, if on)
    work = np.array(work_log, np.int64).reshape(len(work_log), -1) if work_log else np.zeros((0, 2), np.int64)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    times_ms = np.array(planner_times) * 1e3
    plan_ms = np.array(planner_only) * 1e3
    grid_model = model == "grid"
    result = {
        "actionModel": "MAPF" if grid_model else "MAPF_T",
        "version": "2024 LoRR" if kind == "lorr2024" else ("2023 LoRR" if kind == "lorr2023" else kind),
        "teamSize": n,
        # grid model: [row, col] (no heading); rotation: [row, col, "E"] (LoRR starts facing east)
        "start": [[int(r), int(c)] if grid_model else [int(r), int(c), HEADING_LETTER[0]] for r, c in starts],
        "numTaskFinished": len(book.log) if kind != "oneshot" else int((arrival_step >= 0).sum()),
        "numErrandsFinished": book.finished_errands,
        "sumOfCost": int(np.count_nonzero(actions_log != wait)) if kind != "oneshot" else None,
        "makespan": executed,
        "actualPaths": paths_to_strings(actions_log, GRID_LETTER if grid_model else ACTION_LETTER),
        "plannerTimes": [round(x, 6) for x in planner_times],
        "errors": errors,
        "events": [],
        "tasks": [
            [k, [[int(r), int(c)] for r, c in book.errands(k)]] for k in sorted({row[0] for row in book.log})
        ],
        "actualSchedule": [],
        "taskLog": book.log,
        "meta": {
            "problem": str(args.problem),
            "planner": args.planner,
            "planner_opts": opts,
            "action_model": model,
            "seed": args.seed,
            "budget_ms": args.budget_ms,
            "preload": args.preload,
            "workers": args.workers,
            "site_weight": args.site_weight,
            "steal_margin": args.steal_margin,
            "tasks_reassigned": book.steals,
            "on_overrun": args.on_overrun,
            "overrun_steps": overruns,
            "overrun_step_list": overrun_steps,
            "plan_sha256": digest,
            "finished_per_step": finished_per_step[:executed].tolist(),
            "work_per_step": work.tolist(),
            "oneshot_search": oneshot,
            "reset_s": reset_s,
            "peak_rss_mb": peak_mb,
            "loadavg_1_5_15_before_after": [list(load_before), list(os.getloadavg())],
        },
    }
    # --- report ---
    T = executed
    print(
        f"{name}: {n} agents, {T} steps, {model} action model, planner {args.planner} {opts}, "
        f"budget {args.budget_ms} ms/step"
    )
    if kind == "oneshot":
        at = arrival_step >= 0
        soc = int(np.where(at, arrival_step, T).sum())
        lb = sic_lower_bound(Path(args.problem), n)
        result["sumOfCost"] = soc
        print(
            f"  reached goals: {int(at.sum())}/{n}; sum of costs {soc:,} (rotation model, starts facing east)"
        )
        print(f"  SIC lower bound (4-connected, no rotations): {lb}; reference: {REFERENCES['scen']}")
        if oneshot:
            print(
                f"  rotation-model lower bound (sum of individual F/R/C distances from the starts facing "
                f"east): {oneshot['sic_rotation_model']:,}"
            )
            print(
                f"  one-shot search: {oneshot['plan_s']:.2f} s, solved {oneshot['solved']}, "
                f"{oneshot['expanded']:,} nodes expanded, {oneshot['generated']:,} configurations, "
                f"{oneshot['revisits']:,} revisits, {oneshot['invalid']:,} constraint sets invalid"
            )
    else:
        tp = len(book.log) / T
        print(f"  tasks finished: {len(book.log):,} ({tp:.2f} per step; errands {book.finished_errands:,})")
        if T > 200:
            tail = finished_per_step[T // 2 : T].sum() / (T - T // 2)
            print(f"  throughput over the second half: {tail:.2f} tasks per step")
        if ref:
            print(f"  reference: {REFERENCES[ref]}")
    print(
        f"  planning time per step: mean {times_ms.mean():.2f} ms, median {np.median(times_ms):.2f} ms, "
        f"max {times_ms.max():.1f} ms (first step {times_ms[0]:.1f} ms); overruns {overruns} "
        f"(> {args.budget_ms:g} ms; "
        f"{'robots waited there' if args.on_overrun == 'wait' else 'reported only'})"
    )
    if work.size:
        print(
            f"  counted work per step (operations tried): median {np.median(work[:, 0]):,.0f}, "
            f"max {work[:, 0].max():,}; steps where the step bound cut units: {int((work[:, 1] > 0).sum())}"
        )
        if work.shape[1] >= 4:
            print(
                f"  LNS refinement per step: iterations median {np.median(work[:, 2]):,.0f}, "
                f"neighbourhoods accepted median {np.median(work[:, 3]):,.0f} (mean {work[:, 3].mean():,.1f})"
            )
    print(f"  plan hash (sha256 of all actions): {digest[:16]}")
    print(
        f"  planner alone: min {plan_ms.min():.2f} ms, mean {plan_ms.mean():.2f} ms, "
        f"median {np.median(plan_ms):.2f} ms, "
        f"steady (after step 10) mean {plan_ms[10:].mean() if plan_ms.size > 10 else float('nan'):.2f} ms"
    )
    share = np.bincount(actions_log.ravel(), minlength=wait + 1) / max(actions_log.size, 1) * 100
    if grid_model:
        print(f"  action shares: {share[:4].sum():.1f}% moves, {share[4]:.1f}% W")
    else:
        print(
            f"  action shares: {share[0]:.1f}% F, {share[1]:.1f}% R, {share[2]:.1f}% C, {share[3]:.1f}% W "
            "(best 2024 sortation solution: 95.5% F, 1.7% R, 1.5% C, 1.3% W)"
        )
    kern_ms = np.array(kernel_only) * 1e3
    built = np.array(tables_built)
    no_new = built[1:] == 0
    print(
        f"  PIBT kernel alone: min {np.nanmin(kern_ms):.2f} ms, median {np.nanmedian(kern_ms):.2f} ms, "
        f"mean {np.nanmean(kern_ms):.2f} ms, max {np.nanmax(kern_ms):.2f} ms; "
        f"steps that built no distance table: {int(no_new.sum())}, planner mean there "
        f"{plan_ms[1:][no_new].mean() if no_new.any() else float('nan'):.2f} ms; "
        f"tables built per step: {built[1:].mean() if built.size > 1 else 0:.1f}"
    )
    print(f"  peak memory (RSS): {peak_mb:,.0f} MB; reset {reset_s:.2f} s; errors {len(errors)}")
    la, lb = load_before, os.getloadavg()
    print(
        f"  machine load (1/5/15 min): {la[0]:.2f}/{la[1]:.2f}/{la[2]:.2f} before, "
        f"{lb[0]:.2f}/{lb[1]:.2f}/{lb[2]:.2f} after; {os.cpu_count()} cores"
    )
    print(f"  reference step time: {REFERENCES['step']}")
    return result


def replay(out_path: str | Path) -> tuple[int, int]:
    """Independently re-check a result file: replay ``actualPaths`` and recount ``taskLog``.

    Every step goes through the validator (no vertex/swap conflict, no move into an obstacle); every
    logged task must have its errands visited in order by its robot between the assigned and the
    finished step, finishing exactly at the finished step; one-shot, the units on their goals after
    the last step must number ``numTaskFinished``. Returns (steps replayed, tasks or one-shot
    arrivals confirmed); raises `StepViolationError` or ``ValueError`` on the first discrepancy.
    """
    result = json.loads(Path(out_path).read_text())
    meta = result["meta"]
    model = {"MAPF": "grid", "MAPF_T": "rotation"}[result["actionModel"]]
    _, kind, passable, starts, book, _, _ = load(
        meta["problem"], result["teamSize"], meta["seed"], meta.get("workers"), model,
        meta.get("site_weight", 0),
    )  # fmt: skip
    if [[int(r), int(c)] for r, c in starts] != [s[:2] for s in result["start"]]:
        raise ValueError("start positions differ from the problem")
    n = len(result["actualPaths"])
    paths = [p.split(",") if p else [] for p in result["actualPaths"]]
    T = len(paths[0]) if n else 0
    letters = "RDLUW" if model == "grid" else "FRCW"
    code = {a: k for k, a in enumerate(letters)}
    actions = np.array([[code[a] for a in p] for p in paths], np.int8).T.reshape(T, n)
    pos = starts.astype(np.int32).copy()
    heading = np.zeros(n, np.int8)
    trace = np.empty((T + 1, n, 2), np.int32)
    trace[0] = pos
    unloaded, active = np.zeros(n, bool), np.ones(n, bool)
    for t in range(T):
        if model == "grid":
            pos = check_grid_step(passable, passable, pos, unloaded, active, actions[t])
        else:
            pos, heading = check_step(passable, passable, pos, heading, unloaded, active, actions[t])
        trace[t + 1] = pos
    errands = {int(k): np.array(e, np.int32) for k, e in result["tasks"]}
    if kind in ("lorr2024", "lorr2023"):  # the errands must be the problem's, not the file's claim
        for k, e in errands.items():
            if k >= len(book.tasks) and kind == "lorr2023":
                raise ValueError(f"task {k} is not in the problem")
            if e.shape != book.errands(k).shape or (e != book.errands(k)).any():
                raise ValueError(f"task {k}: errands differ from the problem's")
    confirmed = 0
    for task, agent, assigned, finished in result["taskLog"]:
        e, k = errands[task], 0
        for t in range(assigned, finished + 1):
            if k < len(e) and (trace[t, agent] == e[k]).all():
                k += 1
                if k == len(e) and t != finished:
                    raise ValueError(f"task {task} finished at step {t}, logged {finished}")
        if k != len(e):
            raise ValueError(f"task {task}: robot {agent} did not visit its errands in order")
        confirmed += 1
    if kind == "oneshot":
        # one-shot: count the units standing on their goals after the last step
        goals = np.array([t[0] for t in book.tasks], np.int32)
        arrived = int((trace[T] == goals).all(axis=1).sum())
        if arrived != result["numTaskFinished"]:
            raise ValueError("numTaskFinished differs from the units on their goals after the last step")
        return T, arrived
    if confirmed != result["numTaskFinished"]:
        raise ValueError("numTaskFinished differs from the task log")
    return T, confirmed


def planner_opt_value(text: str) -> int | float | bool | str:
    """A ``--planner-opt`` value as the planner wants it: true/false as booleans (a bare string
    "false" would count as true), integers and decimals as numbers, anything else as given."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("problem")
    ap.add_argument("--agents", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--budget-ms", type=float, default=1000.0, help="per-step limit, 0 = unlimited (LoRR: 1000)"
    )
    ap.add_argument(
        "--on-overrun",
        choices=("report", "wait"),
        default="report",
        help="report (default): count steps over --budget-ms, the plan is unchanged (deterministic); wait: "
        "every robot waits in such a step, as the LoRR simulator does (results then depend on machine load)",
    )
    ap.add_argument(
        "--planner",
        default=None,
        help="registry name in controller.planning.PLANNERS (default: lacam for .scen, pibt otherwise)",
    )
    ap.add_argument(
        "--planner-opt",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="planner keyword argument, e.g. guidance=none or guidance_penalty=2 (repeatable)",
    )
    ap.add_argument(
        "--guidance",
        default=None,
        help="pibt guidance preset: highways, highways+grid, highways+open or none (default on kiva maps: "
        "by fleet density, see the kiva presets in run() and grid_kiva_preset; highways otherwise)",
    )
    ap.add_argument(
        "--workers",
        type=int,
        default=None,
        help="LoRR 2024: give tasks to the first W robots only (surplus robots idle; a congestion control)",
    )
    ap.add_argument(
        "--site-weight",
        type=int,
        default=0,
        help="LoRR 2024 scheduler: extra cost (steps) per robot already bound for a task's first-errand "
        "cell, so robots spread over the stations instead of queueing at the nearest (0 = plain greedy)",
    )
    ap.add_argument(
        "--steal-margin",
        type=int,
        default=0,
        help="LoRR 2024 scheduler: a free robot may take a task whose robot has not reached its first "
        "errand when it is at least this many cells closer to it (the rules allow reassigning unopened "
        "tasks; 0 = off)",
    )
    ap.add_argument(
        "--preload", action="store_true", help="LoRR: build the errand cells' distance tables before step 0"
    )
    ap.add_argument(
        "--action-model",
        choices=("rotation", "grid"),
        default=None,
        help="rotation: LoRR MAPF_T (F/R/C/W with headings), the default for LoRR JSON and .scen; grid: "
        "move to one of 4 neighbours or wait, no heading, the default for RHCR kiva maps because RHCR's "
        'published figures use it (RHCR driver.cpp: ("rotation", po::value<bool>()->default_value(false), '
        '"consider rotation"))',
    )
    ap.add_argument(
        "--progress", type=int, default=0, help="print the tasks finished every this many steps (0: never)"
    )
    ap.add_argument("--out", required=True)
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "--replay":
        # python benchmarks/mapf.py --replay OUT.json: re-check a result file independently
        steps, tasks = replay(argv[1])
        print(f"{argv[1]}: {steps} steps replayed without conflict, {tasks} tasks confirmed")
        return 0
    args = ap.parse_args(argv)
    result = run(args)
    Path(args.out).write_text(json.dumps(result))
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
