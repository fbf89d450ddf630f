"""One run of a sweep, as a worker executes it: a plain function of plain data.

The task is a dict (picklable, small, the same for the process pool and Ray): the scene as parsed
TOML with its source and folder, the seed, hours and overrides. The worker rebuilds the scene
exactly as ``fctwin run SCENE --seed S --hours H --set ...`` loads it (`with_overrides`, then
`scene_from_dict`), so a sweep's run and a plain run of the same scene, seed and overrides give
the same event log and KPIs. Nothing here reads the sweep store: only the driver writes it.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["make_task", "run_task"]


def make_task(
    scene_data: dict,
    *,
    variant: int,
    seed: int,
    hours: float | None,
    overrides: dict[str, Any],
    link: str = "local",
    keep_dir: str | None = None,
) -> dict:
    """The task for one run. ``scene_data``: ``{"raw", "source", "base_dir", "text"}`` of the file."""
    return {
        "scene": scene_data,
        "variant": variant,
        "seed": seed,
        "hours": hours,
        "overrides": dict(overrides),
        "link": link,
        "keep_dir": keep_dir,
    }


def run_task(task: dict) -> dict:
    """Run one task; returns ``{"variant", "seed", "kpis", "wall_s", "host", "pid", "run_db"}``.

    Raises whatever the run raises (the driver records the error and retries). The run store goes
    to ``keep_dir`` when given, otherwise to a temporary folder that is removed afterwards.
    """
    from fctwin.sim.run import RunOptions, run_fc
    from fctwin.sim.scene.loader import scene_from_dict, with_overrides

    crash = os.environ.get("FCTWIN_SWEEP_CRASH")  # tests: "variant:seed:how" makes that run fail
    if crash:
        _maybe_crash(crash, task)
    sc = task["scene"]
    raw = with_overrides(
        sc["raw"], sc["source"], seed=task["seed"], run_hours=task["hours"], overrides=task["overrides"]
    )
    base_dir = Path(sc["base_dir"])
    if sc.get("shipped"):  # a shipped scene: its files are where fctwin is installed on this machine
        from fctwin.sim.scene.catalog import _scenes_dir

        base_dir = _scenes_dir()
    scene = scene_from_dict(raw, source=sc["source"], base_dir=base_dir)
    object.__setattr__(scene, "text", sc["text"])
    run_id = f"v{task['variant']:03d}-s{task['seed']}"
    keep = task.get("keep_dir")
    runs_dir = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="fctwin-sweep-"))
    t0 = time.perf_counter()
    try:
        result = run_fc(
            scene,
            RunOptions(
                runs_dir=runs_dir,
                run_id=run_id,
                link=task.get("link", "local"),
                record_poses=False,
                command_line=["fctwin", "sweep", f"variant={task['variant']}", f"seed={task['seed']}"],
            ),
        )
    finally:
        if not keep:
            shutil.rmtree(runs_dir, ignore_errors=True)
    return {
        "variant": task["variant"],
        "seed": task["seed"],
        "kpis": result.kpis,
        "wall_s": result.wall_s,
        "task_wall_s": time.perf_counter() - t0,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "run_db": str(result.db_path) if keep else None,
    }


def _maybe_crash(spec: str, task: dict) -> None:
    """Test hook: ``FCTWIN_SWEEP_CRASH="variant:seed:how[:times]"`` fails that run ``times`` times
    (default once; a marker file in ``FCTWIN_SWEEP_CRASH_DIR`` counts them). ``how`` is ``raise``
    (an exception) or ``exit`` (the worker process dies, as a killed or out-of-memory worker does)."""
    parts = spec.split(":")
    variant, seed, how = int(parts[0]), int(parts[1]), parts[2]
    times = int(parts[3]) if len(parts) > 3 else 1
    if (task["variant"], task["seed"]) != (variant, seed):
        return
    marker_dir = Path(os.environ.get("FCTWIN_SWEEP_CRASH_DIR", tempfile.gettempdir()))
    marker = marker_dir / f"crash-{variant}-{seed}"
    done = int(marker.read_text()) if marker.exists() else 0
    if done >= times:
        return
    marker.write_text(str(done + 1))
    if how == "exit":
        os._exit(17)
    raise RuntimeError(f"injected failure of variant {variant} seed {seed}")
