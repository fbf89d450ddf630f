"""Plan a sweep into its store, then execute (or finish) it on a backend, retrying failed runs.

    store = plan_sweep("fc_small", grid, hours=1.0, name="fleet", sweeps_dir="sweeps")
    execute(store, PoolBackend(2))       # or RayBackend("auto"), RayBackend("ray://head:10001")

`execute` runs every pending run of the store, so the same call finishes a partial sweep
(`fctwin sweep --resume NAME`): a killed driver, a crashed worker or a failed run costs only the
runs it touched.
"""

from __future__ import annotations

import sys
import time
import tomllib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fctwin.sim.experiments.grid import Grid
from fctwin.sim.experiments.store import SweepStore
from fctwin.sim.experiments.worker import make_task

__all__ = ["ExecuteReport", "SweepError", "execute", "plan_sweep", "resolve_sweep", "scene_data_of"]

DEFAULT_RETRIES = 2


class SweepError(ValueError):
    """A sweep that cannot be planned or resumed (bad scene or override, name taken, file changed)."""


@dataclass(frozen=True)
class ExecuteReport:
    done: int
    failed: int
    attempts_failed: int
    wall_s: float
    backend: str


def scene_data_of(scene_ref: str | Path) -> dict:
    """The scene as the workers get it: ``{"raw", "source", "base_dir", "text", "shipped"}``."""
    from fctwin.sim.scene.catalog import _scenes_dir, resolve_scene

    path = resolve_scene(scene_ref)
    text = path.read_text()
    shipped = path.resolve().parent == _scenes_dir().resolve()
    return {
        "raw": tomllib.loads(text),
        "source": str(path),
        "base_dir": str(path.resolve().parent),
        "text": text,
        "shipped": shipped,
    }


def resolve_sweep(ref: str | Path, sweeps_dir: str | Path = "sweeps") -> Path:
    """A sweep's folder: a path to it (or to its sweep.sqlite), or a name under ``sweeps_dir``."""
    p = Path(ref)
    if p.name == "sweep.sqlite":
        p = p.parent
    for cand in (p, Path(sweeps_dir) / str(ref)):
        if (cand / "sweep.sqlite").is_file():
            return cand
    raise SweepError(f"no sweep {str(ref)!r} (looked for {p}/sweep.sqlite and {Path(sweeps_dir) / str(ref)})")


def plan_sweep(
    scene_ref: str | Path,
    grid: Grid,
    *,
    hours: float | None = None,
    name: str | None = None,
    sweeps_dir: str | Path = "sweeps",
    link: str = "local",
    keep_runs: bool = False,
    command_line: list[str] | None = None,
) -> SweepStore:
    """Validate every variant, then write the sweep's store (all runs pending). Raises `SweepError`."""
    from fctwin.sim.scene import SceneError
    from fctwin.sim.scene.loader import scene_from_dict, with_overrides

    try:
        data = scene_data_of(scene_ref)
    except (FileNotFoundError, tomllib.TOMLDecodeError) as exc:
        raise SweepError(str(exc)) from None
    # Every variant is validated before anything runs: a typo in the fourth level of a factor must
    # not surface an hour into the sweep. (Seeds change no validity.)
    for v in grid.variants():
        try:
            raw = with_overrides(
                data["raw"], data["source"], seed=grid.seeds[0], run_hours=hours, overrides=v.overrides
            )
            scene = scene_from_dict(raw, source=data["source"], base_dir=Path(data["base_dir"]))
        except SceneError as exc:
            raise SweepError(f"variant {v.label}: {exc}") from None
        if scene.stations is None or not scene.units:
            raise SweepError(f"{data['source']} is not an FC scene with drive units")
    scene_name = data["raw"].get("name", Path(data["source"]).stem)
    name = name or f"{scene_name}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}"
    folder = Path(sweeps_dir) / name
    if (folder / "sweep.sqlite").exists():
        raise SweepError(f"sweep {name!r} exists in {sweeps_dir}; finish it with --resume {name}")
    store = SweepStore(folder, create=True)
    store.plan(
        {
            "name": name,
            "scene_ref": str(scene_ref),
            "scene_file": data["source"],
            "scene_text": data["text"],
            "scene_shipped": data["shipped"],
            "hours": hours,
            "link": link,
            "keep_runs": keep_runs,
            "version": _version(),
            "created_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "command_line": command_line or list(sys.argv),
        },
        grid,
    )
    return store


def _version() -> str:
    from fctwin import __version__

    return __version__


def _tasks(store: SweepStore, data: dict) -> list[dict]:
    meta = store.meta()
    variants = {v.index: v for v in store.variants()}
    keep = str((store.dir / "runs").resolve()) if meta.get("keep_runs") else None
    return [
        make_task(
            data,
            variant=r.variant,
            seed=r.seed,
            hours=meta["hours"],
            overrides=variants[r.variant].overrides,
            link=meta.get("link", "local"),
            keep_dir=keep,
        )
        for r in store.runs("pending")
    ]


def _scene_for_resume(store: SweepStore) -> dict:
    """The sweep's scene as planned; refuses a scene file that changed since (results would mix)."""
    meta = store.meta()
    try:
        data = scene_data_of(meta["scene_file"])
    except FileNotFoundError:
        raise SweepError(f"the sweep's scene file {meta['scene_file']} is gone") from None
    if data["text"] != meta["scene_text"]:
        raise SweepError(
            f"{meta['scene_file']} changed since the sweep was planned; its results would mix two"
            " scenes (start a new sweep, or restore the file)"
        )
    return data


def execute(
    store: SweepStore,
    backend: Any,
    *,
    retries: int = DEFAULT_RETRIES,
    on_progress: Callable[[dict], None] | None = None,
    poll_s: float = 0.5,
) -> ExecuteReport:
    """Run the store's pending runs on ``backend`` (`PoolBackend`, `RayBackend`); record each as it ends.

    A run that fails is retried up to ``retries`` more times, then marked failed; the sweep goes on.
    ``on_progress`` gets ``{"done", "failed", "total", "running", "last"}`` after every finished run.
    """
    data = _scene_for_resume(store)
    queue = deque(_tasks(store, data))
    counts = store.counts()
    total = sum(counts.values())
    done, failed = counts["done"], counts["failed"]
    attempts_failed = 0
    inflight: dict[Any, dict] = {}
    # At most one task per slot in flight (two on Ray, so its workers never wait for the driver):
    # then a broken process pool fails exactly the runs that were running.
    limit = backend.slots * (2 if backend.name == "ray" else 1)
    t0 = time.perf_counter()
    if on_progress:
        on_progress({"done": done, "failed": failed, "total": total, "running": 0, "last": None})
    while queue or inflight:
        while queue and len(inflight) < limit:
            task = queue.popleft()
            inflight[backend.submit(task)] = task
        for handle, result, error in backend.wait(list(inflight), timeout=poll_s):
            task = inflight.pop(handle)
            v, s = task["variant"], task["seed"]
            if error is None:
                store.record_done(v, s, result)
                done += 1
                last = {"variant": v, "seed": s, "ok": True, "result": result}
            else:
                attempts_failed += 1
                final = store.attempts(v, s) + 1 > retries
                store.record_failure(v, s, _describe(error), final=final)
                if final:
                    failed += 1
                else:
                    queue.append(task)  # to the back: a flaky run does not hold up the rest
                last = {"variant": v, "seed": s, "ok": False, "error": _describe(error), "final": final}
            if on_progress:
                on_progress(
                    {"done": done, "failed": failed, "total": total, "running": len(inflight), "last": last}
                )
    return ExecuteReport(
        done=done,
        failed=failed,
        attempts_failed=attempts_failed,
        wall_s=time.perf_counter() - t0,
        backend=backend.describe(),
    )


def _describe(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    return text if len(text) < 2000 else text[:2000] + " ..."
