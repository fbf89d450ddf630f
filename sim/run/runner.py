"""`run_fc`: one FC run as a sequence of named steps (each step lives in its own module here)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

from fctwin.sim.affinity import parse_cpu_choice
from fctwin.sim.errors import RunInterrupted, Terminated
from fctwin.sim.run.inbound import inbound_arrivals
from fctwin.sim.run.kpis import summarize
from fctwin.sim.run.loop import RunLoop
from fctwin.sim.run.options import RunOptions, RunResult
from fctwin.sim.run.prepare import floorplan_from_scene, prepare_scene
from fctwin.sim.run.startup import start_link_and_dispatcher
from fctwin.sim.run.store import open_run_store
from fctwin.sim.runstore import POSE_DELTA, POSE_EVERY_LARGE, POSE_RAW_MAX_UNITS
from fctwin.sim.scene import Scene


def run_fc(
    scene_ref: str | Path | Scene | None,
    opts: RunOptions | None = None,
    *,
    progress: Callable[[dict], None] | None = None,
) -> RunResult:
    """Run a scene (a path, a shipped scene's name or a loaded `Scene`); returns the KPIs and where
    the run database is. Raises `SceneError` on bad scenes."""
    opts = opts or RunOptions()
    cpu = parse_cpu_choice(opts.cpu)  # ValueError before anything starts, not after the fleet host did
    scene_path, scene = prepare_scene(scene_ref, opts)
    if opts.gui:
        from fctwin.sim.world import require_display

        require_display()
    plan, config = floorplan_from_scene(scene, planner=opts.planner)
    opened = open_run_store(scene_path, scene, opts, planner=config.planner)
    # Poses are recorded by default at every size, so any run can be replayed (`fctwin view`); fleets
    # over 100 units delta-encode them (about a tenth of the raw size, docs/console.md).
    record_poses = opts.record_poses if opts.record_poses is not None else True
    pose_every = opts.pose_every or 1
    if record_poses and len(scene.units) > POSE_RAW_MAX_UNITS:
        opened.store.use_pose_encoding(POSE_DELTA)
        # Building the pose array is Python work per unit (~0.2 ms a step at 500 units): every
        # other step keeps it near 1-2% of the run; a replay at 60x shows a frame every 6 s anyway.
        pose_every = opts.pose_every or POSE_EVERY_LARGE
    on_store = getattr(opts.viewer, "on_store", None)
    if on_store is not None:  # a viewer may start reading now, while the fleet host starts up
        on_store(opened.db_path)
    arrivals = inbound_arrivals(scene)
    link, host, dispatcher = start_link_and_dispatcher(scene_path, scene, opts, plan, config)
    loop = RunLoop(
        scene=scene,
        opts=opts,
        link=link,
        dispatcher=dispatcher,
        store=opened.store,
        replay=opened.replay,
        arrivals=arrivals,
        record_poses=record_poses,
        pose_every=pose_every,
        progress=progress,
        host=host,
    )
    loop.run_id = opened.run_id
    try:
        wall_s = loop.run(cpu)
    except BaseException as exc:
        _keep_unfinished(loop, opened, exc)
        if isinstance(exc, KeyboardInterrupt):
            raise RunInterrupted(
                f"{_why(exc)} at simulated {_clock(loop.env.now)}; run {opened.run_id} kept as interrupted"
                f" ({opened.db_path})"
            ) from exc
        raise
    kpis = summarize(
        scene, dispatcher, loop.state, loop.counters, loop.totals, loop.tracker, wall_s, loop.initial_units
    )
    kpis["eluna"] = eluna = loop.manager.finish()
    if eluna["labour_h"] is None:  # no labour board: one associate per person-worked station all run
        eluna["labour_h"] = round(sum(s.unit == "human" for s in scene.stations) * scene.run_s / 3600.0, 4)
    done = kpis["units_picked"] + kpis["units_stowed"]
    eluna["units_per_labour_h"] = round(done / eluna["labour_h"], 3) if eluna["labour_h"] else None
    eluna["units_per_h"] = round(done / (scene.run_s / 3600.0), 3)
    opened.store.write_summary(kpis)
    opened.store.close()
    return RunResult(run_id=opened.run_id, db_path=opened.db_path, kpis=kpis, wall_s=wall_s)


def _why(exc: BaseException) -> str:
    return f"terminated ({exc})" if isinstance(exc, Terminated) else "interrupted"


def _clock(t_s: float) -> str:
    return f"{int(t_s // 3600)}:{int(t_s % 3600 // 60):02d}:{int(t_s % 60):02d}"


def _keep_unfinished(loop: RunLoop, opened, exc: BaseException) -> None:
    """Mark a run that did not finish in its store, with its summary so far (best effort).

    Status "interrupted" (Ctrl-C, SIGTERM) or "failed: <reason>" (the fleet host died, ...). A store
    that cannot be written any more (deleted, disk full) keeps what it committed; the original
    error is what the caller reports.
    """
    store = opened.store
    try:
        store.add_events(loop.dispatcher.log)
        loop.dispatcher.log.clear()
        kpis = summarize(
            loop.scene,
            loop.dispatcher,
            loop.state,
            loop.counters,
            loop.totals,
            loop.tracker,
            time.perf_counter() - loop.wall0_s,
            loop.initial_units,
            simulated_s=loop.env.now,
        )
        reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        kpis["status"] = "interrupted" if isinstance(exc, KeyboardInterrupt) else f"failed: {reason}"
        store.write_summary(kpis)
    except Exception:  # noqa: BLE001 - the run's own error matters, not a second one while saving
        pass
    finally:
        with contextlib.suppress(Exception):
            store.close()
