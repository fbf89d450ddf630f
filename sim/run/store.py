"""The run's store: where it lives, the metadata that identifies the run, and resuming from a journal."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path

from fctwin.sim.journal import ResumeError, TickJournal, check_resumable
from fctwin.sim.run.options import VERSION, RunOptions
from fctwin.sim.runstore import RunStore, SkippingStore, new_run_id
from fctwin.sim.scene import Scene


@dataclass
class OpenedStore:
    run_id: str
    db_path: Path
    # A `SkippingStore` when resuming: it drops what the replayed ticks write again.
    store: RunStore | SkippingStore
    # What `TickJournal.read` returned for a resumed run (the ticks to replay); None otherwise.
    replay: tuple | None


def run_meta(scene_path: Path, scene: Scene, opts: RunOptions, *, run_id: str, planner: str) -> dict:
    """What identifies the run; a resumed run must match it (`check_resumable`)."""
    return {
        "run_id": run_id,
        "scene_name": scene.name,
        "scene_file": str(scene_path),
        "scene_text": scene.text or scene_path.read_text(),
        "seed": scene.seed,
        "run_hours": scene.spec.run_hours,
        "version": VERSION,
        "python": platform.python_version(),
        "command_line": " ".join(opts.command_line),
        "planner": planner,
        "step_s": scene.step_s,
        "unit_ids": [u.unit_id for u in scene.units],
        "grid": scene.grid.tolist(),
        "mode": "realtime" if opts.realtime else "fast",
        # who manages the floor: a resume with another mode would replay other decisions
        "agent": opts.agent or scene.spec.agent.mode,
        "floor": floor_meta(scene),
    }


def floor_meta(scene: Scene) -> dict:
    """What a viewer needs to draw the floor without rebuilding the scene (`fctwin.sim.console`)."""
    return {
        "cell_size_m": scene.cell_size_m,
        "stations": [
            {"id": s.station_id, "kind": s.kind, "unit": s.unit, "cell": list(s.cell), **_arms(s)}
            for s in scene.stations
        ],
        "dock_cells": [list(c) for c in scene.dock_cells],
        "charge_cells": [list(c) for c in scene.charge_cells],
        "pod_home_cells": scene.pods.home_cells.tolist(),
        "external_units": [u.unit_id for u in scene.units if u.external],
        "start_hour": scene.spec.orders.start_hour,
    }


def open_run_store(scene_path: Path, scene: Scene, opts: RunOptions, *, planner: str) -> OpenedStore:
    """A new run's store with its metadata written, or (``opts.resume``) the journaled run's store.

    Raises `ResumeError` when the run to resume is missing or does not match this one.
    """
    run_id = opts.run_id or new_run_id(scene.name, scene.seed)
    db_path = Path(opts.runs_dir) / run_id / "run.sqlite"
    if opts.resume and not db_path.exists():
        raise ResumeError(f"no run {run_id!r} in {opts.runs_dir}")
    store = RunStore(db_path)
    meta = run_meta(scene_path, scene, opts, run_id=run_id, planner=planner)
    replay = None
    if opts.resume:
        check_resumable(store.read_meta(), meta)
        replay = TickJournal(store).read()
        kept_events, kept_kpi = store.clear_derived(after_step=replay[1][-1][1].step if replay[1] else -1)
        store = SkippingStore(
            store, events=kept_events, kpi_rows=kept_kpi, recommendations=store.kept_recommendations()
        )
    else:
        store.write_meta(meta)
    return OpenedStore(run_id=run_id, db_path=db_path, store=store, replay=replay)


def _arms(station) -> dict:
    """A Blue Jay cell's arm count (the console shows each arm); nothing for other stations."""
    if station.unit != "bluejay":
        return {}
    from fctwin.robots.bluejay import DEFAULT_ARMS

    arms = getattr(station.config, "arms", None)
    return {"arms": int(arms or DEFAULT_ARMS)}
