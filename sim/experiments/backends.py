"""Where a sweep's runs execute: a local process pool (default) or Ray (``--ray auto|ADDRESS``).

Both take the same task dicts (`fctwin.sim.experiments.worker.run_task`) and report, per finished
task, its result or the exception it ended with; the driver (`runner`) records and retries. The
pool's workers and Ray's workers are long-lived processes that run one task after another, so
imports and the planner's compiled kernels are loaded once per worker, not once per run.

A worker process that dies (killed, out of memory) breaks a `ProcessPoolExecutor`: every task in
flight then fails with `BrokenProcessPool`. The pool backend counts that as a failed attempt of
each of them (the driver keeps at most one task per worker in flight, so those are the tasks that
were running) and starts a fresh pool. On Ray a dead worker fails only its own task.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor
from concurrent.futures import wait as wait_futures
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Any

from fctwin.sim.experiments.worker import run_task

__all__ = ["LOCAL_RAY_ENV", "PoolBackend", "RayBackend", "default_workers"]

Finished = tuple[Any, dict | None, BaseException | None]  # (handle, result, error)

# The environment of a Ray we start ourselves (`--ray auto`, tests, benchmarks). Without the first,
# Ray's node takes the machine's non-loopback address and its servers listen on every interface
# (`_node_ip_address="127.0.0.1"` is ignored); with it, everything listens on 127.0.0.1 (checked
# with `ss -ltnp`). Ray 2.60 otherwise turns on token authentication for the new cluster (a token
# under ~/.ray); and no usage reports.
LOCAL_RAY_ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
}


def default_workers() -> int:
    """The CPUs this process may use (its affinity mask), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _loopback_ray_env() -> None:
    """`LOCAL_RAY_ENV` into this process's environment (Ray's daemons inherit it), before Ray is imported.

    Ray reads the first variable once, when it is imported (``ray_constants.ENABLE_RAY_CLUSTER``):
    if the caller imported Ray earlier, the constant is set too, or the node would still bind to
    the machine's address.
    """
    import sys

    for key, value in LOCAL_RAY_ENV.items():
        os.environ.setdefault(key, value)
    constants = sys.modules.get("ray._private.ray_constants")
    if constants is not None and os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] == "0":
        constants.ENABLE_RAY_CLUSTER = False


class PoolBackend:
    """A `ProcessPoolExecutor` of ``workers`` spawned processes (spawn: no fork of a threaded driver)."""

    name = "pool"

    def __init__(self, workers: int | None = None, *, task_fn: Callable[[dict], dict] = run_task):
        self.slots = workers or default_workers()
        self.task_fn = task_fn
        self._pool = self._new_pool()
        self.pool_restarts = 0

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.slots, mp_context=get_context("spawn"))

    def submit(self, task: dict) -> Future:
        return self._pool.submit(self.task_fn, task)

    def wait(self, handles: list, timeout: float) -> list[Finished]:
        done, _ = wait_futures(handles, timeout=timeout, return_when=FIRST_COMPLETED)
        out: list[Finished] = []
        broken = False
        for fut in done:
            exc = fut.exception()
            if isinstance(exc, BrokenProcessPool):
                broken = True
                exc = RuntimeError("the worker process died (killed, crashed or out of memory)")
            out.append((fut, None if exc else fut.result(), exc))
        if broken:
            # Every future of a broken pool fails; collect the ones not reported yet, then start over.
            for fut in handles:
                if fut not in done:
                    with contextlib.suppress(Exception):
                        fut.exception(timeout=30)
                    out.append(
                        (fut, None, RuntimeError("the worker pool broke while this run was in flight"))
                    )
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            self.pool_restarts += 1
        return out

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def describe(self) -> str:
        return f"process pool, {self.slots} worker{'s' if self.slots != 1 else ''}"


class RayBackend:
    """Runs tasks as Ray tasks (one CPU each) on a local Ray (``"auto"``) or a cluster (an address).

    ``"auto"`` starts a Ray on this machine for the sweep and shuts it down afterwards: loopback
    only, no token authentication, its session files in a temporary folder that is removed. An
    address (``ray://host:10001`` or ``host:6379``) joins that cluster; every node needs fctwin
    installed at the same version (docs/experiments.md). Never runs ``ray stop``.
    """

    name = "ray"

    def __init__(
        self,
        address: str = "auto",
        *,
        num_cpus: int | None = None,
        object_store_mb: int = 256,
        task_fn: Callable[[dict], dict] = run_task,
    ):
        local = address in ("auto", "local")
        if local:
            _loopback_ray_env()
        import ray

        self._ray = ray
        self._temp_dir = None
        self._started = False
        self.address = address
        if ray.is_initialized():
            pass  # a caller (a notebook, a test) owns the Ray session: use it as it is
        elif local:
            self._temp_dir = tempfile.mkdtemp(prefix="fctwin-ray-")
            ray.init(
                num_cpus=num_cpus or default_workers(),
                include_dashboard=False,
                object_store_memory=object_store_mb * 1024 * 1024,
                _temp_dir=self._temp_dir,
                log_to_driver=False,
            )
            self._started = True
        else:
            ray.init(address=address, log_to_driver=False)
            self._started = True
        self.slots = max(1, int(ray.cluster_resources().get("CPU", 1)))
        # Retries are the driver's (one policy for both backends, counted in the store): Ray's own
        # retries of dead workers are turned off so an attempt is never counted twice.
        self._remote = ray.remote(num_cpus=1, max_retries=0)(task_fn)

    def submit(self, task: dict):
        return self._remote.remote(task)

    def wait(self, handles: list, timeout: float) -> list[Finished]:
        ray = self._ray
        done, _ = ray.wait(handles, num_returns=1, timeout=timeout)
        if done:  # take everything else that is ready too, without waiting
            done, _ = ray.wait(handles, num_returns=len(handles), timeout=0)
        out: list[Finished] = []
        for ref in done:
            try:
                out.append((ref, ray.get(ref), None))
            except Exception as exc:  # RayTaskError (the run raised), WorkerCrashedError, NodeDiedError
                out.append((ref, None, exc))
        return out

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()
        if self._temp_dir:
            shutil.rmtree(self._temp_dir, ignore_errors=True)

    def describe(self) -> str:
        where = "local Ray" if self._temp_dir else f"Ray at {self.address}"
        return f"{where}, {self.slots} CPU{'s' if self.slots != 1 else ''}"
