"""Readers for public MAPF instance formats: MovingAI .map/.scen, LoRR problem JSON, RHCR kiva.map.

All readers return cells as ``(row, col)`` ``int32`` arrays and passability as ``bool[H, W]``.
Formats are described in ``../shared/benchmarks/mapf/README.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["LorrProblem", "KivaMap", "read_movingai_map", "read_scen", "read_lorr_problem", "read_kiva_map"]

_FREE = set(".GESer")  # MovingAI free, LoRR emitters/service points, RHCR endpoints/homes


def _grid_from_rows(rows: list[str], H: int, W: int) -> np.ndarray:
    if len(rows) < H or any(len(r) < W for r in rows[:H]):
        raise ValueError(f"map body smaller than the declared {H} x {W}")
    return np.array([[ch in _FREE for ch in r[:W]] for r in rows[:H]], dtype=bool)


def read_movingai_map(path: str | Path) -> np.ndarray:
    """Passable cells of a MovingAI (or LoRR) ``.map`` file: ``bool[H, W]``."""
    lines = Path(path).read_text().splitlines()
    header: dict[str, str] = {}
    k = 0
    while k < len(lines) and lines[k].strip() != "map":
        parts = lines[k].split()
        if len(parts) == 2:
            header[parts[0]] = parts[1]
        k += 1
    H, W = int(header["height"]), int(header["width"])
    return _grid_from_rows(lines[k + 1 :], H, W)


def read_scen(path: str | Path, n_agents: int) -> tuple[np.ndarray, np.ndarray, str]:
    """First ``n_agents`` of a MovingAI ``.scen``: ``(starts int32[N, 2], goals int32[N, 2], map file)``."""
    rows = [ln.split("\t") for ln in Path(path).read_text().splitlines()[1:] if ln.strip()]
    if len(rows) < n_agents:
        raise ValueError(f"{path} has {len(rows)} agents, asked for {n_agents}")
    rows = rows[:n_agents]
    starts = np.array([[int(r[5]), int(r[4])] for r in rows], np.int32)  # y is the row
    goals = np.array([[int(r[7]), int(r[6])] for r in rows], np.int32)
    return starts, goals, rows[0][1]


@dataclass
class LorrProblem:
    """A League of Robot Runners problem (2023 or 2024 rules)."""

    passable: np.ndarray  # bool[H, W]
    starts: np.ndarray  # int32[team, 2]
    tasks: list[np.ndarray]  # one int32[k, 2] errand list per task, in file order
    team_size: int
    reveal: float  # 2024: revealed tasks = reveal * team; 2023: tasks revealed per agent
    version: int  # 2023 or 2024
    name: str = ""
    meta: dict = field(default_factory=dict)


def _number_lines(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


def read_lorr_problem(path: str | Path) -> LorrProblem:
    """Read a LoRR problem JSON and the map, agents and tasks files it names (relative to it)."""
    path = Path(path)
    meta = json.loads(path.read_text())
    base = path.parent
    passable = read_movingai_map(base / meta["mapFile"])
    W = passable.shape[1]
    agent_lines = _number_lines(base / meta["agentFile"])
    team = int(meta["teamSize"])
    lin = np.array([int(x) for x in agent_lines[1 : 1 + team]], np.int64)
    starts = np.stack([lin // W, lin % W], axis=1).astype(np.int32)
    task_lines = _number_lines(base / meta["taskFile"])
    n_tasks = int(task_lines[0])
    tasks = []
    for ln in task_lines[1 : 1 + n_tasks]:
        cells = np.array([int(x) for x in ln.split(",")], np.int64)
        tasks.append(np.stack([cells // W, cells % W], axis=1).astype(np.int32))
    version = 2024 if "2024" in str(meta.get("version", "")) else 2023
    return LorrProblem(
        passable, starts, tasks, team, float(meta.get("numTasksReveal", 1)), version, path.stem, meta
    )


@dataclass
class KivaMap:
    """RHCR's kiva.map: passable cells, task endpoints ('e') and robot homes ('r')."""

    passable: np.ndarray  # bool[H, W]
    endpoints: np.ndarray  # int32[K, 2]
    homes: np.ndarray  # int32[M, 2]


def read_kiva_map(path: str | Path) -> KivaMap:
    """Read an RHCR ``.map`` (first line ``rows,cols``, then count lines, then the grid)."""
    lines = Path(path).read_text().splitlines()
    H, W = (int(x) for x in lines[0].split(","))
    k = 1
    while k < len(lines) and lines[k].strip().isdigit():
        k += 1  # count lines (endpoints, homes, max time, ...): their number varies between files
    rows = lines[k : k + H]
    passable = _grid_from_rows(rows, H, W)
    chars = np.array([list(r[:W]) for r in rows])
    return KivaMap(
        passable, np.argwhere(chars == "e").astype(np.int32), np.argwhere(chars == "r").astype(np.int32)
    )
