"""Keep a fast lockstep run's two processes on one CPU.

Why: in fast mode the dispatcher and its fleet host take turns (strict lockstep: the dispatcher
decides tick t from the telemetry of tick t), so at any moment one of them computes while the other
waits for a message. Spread over two CPUs, every hand-over is a cross-CPU wake-up of the receiving
process and of both ZeroMQ I/O threads. On the 2-core VMs we run on that is the dominant cost:

- a raw DEALER/ROUTER ipc round trip of a 2 KB message took 244-613 us spread over two CPUs and
  124 us with both processes on one CPU (`sys` time of an fc_small run fell from 3.4 s to 0.7 s);
- fc_small's 8-hour shift took 29.5-30.4 s unpinned and 22.9-25.5 s pinned, fc_large's hour
  30-33 s and 29 s.

Nothing of a lockstep run runs in parallel except the previous frame's bookkeeping, which overlaps
the fleet host's step, so one CPU costs almost nothing. Pinning is done after start-up (the two
start-ups do run in parallel), on the least busy CPU (so runs side by side spread out), and undone
when the run ends. Realtime runs and `fctwin serve` are not
pinned: they wait on the wall clock and on hardware, not on each other.

The pinned threads also run under ``SCHED_BATCH`` (same priority, no wake-up preemption). Under the
default policy every hand-over preempted the sender the moment its message woke the peer (the
dispatcher in the middle of sending a batch, the fleet host in the middle of sending a frame), and
the two working sets took turns in the one CPU's caches more often than the lockstep needs: with
``SCHED_BATCH`` the sender runs on until it waits, then the peer runs. Measured on the lockstep
exchange alone (canned batches and frames, 20,000 ticks, both processes pinned, 2-core VM under
load): 281-309 us CPU per tick instead of 309-340 us. The policy needs no privilege and is put back
on this process's threads by `CpuPin.release`.

Linux only (`os.sched_setaffinity`); elsewhere, and when the process may use a single CPU anyway,
pinning is a no-op.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

__all__ = ["CpuPin", "cpu_loads", "parse_cpu_choice", "pick_cpu"]


def parse_cpu_choice(text: str | int) -> str | int:
    """``"auto"``, ``"off"`` or a CPU number (as the CLI's ``--cpu`` takes it); ValueError otherwise."""
    if isinstance(text, int) or (isinstance(text, str) and text.strip().isdigit()):
        cpu = int(text)
        allowed = _allowed_cpus()
        if allowed is not None and cpu not in allowed:
            raise ValueError(f"CPU {cpu} is not one this process may use ({sorted(allowed)})")
        return cpu
    if text in ("auto", "off"):
        return text
    raise ValueError(f"expected 'auto', 'off' or a CPU number, got {text!r}")


def _allowed_cpus() -> set[int] | None:
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def _current_cpu() -> int | None:
    """The CPU this process last ran on (field 39 of /proc/self/stat), None if unknown."""
    try:
        stat = Path("/proc/self/stat").read_text()
        # The command name (field 2) may hold spaces; fields after it are space-separated.
        return int(stat.rsplit(")", 1)[1].split()[36])
    except (OSError, IndexError, ValueError):
        return None


def _cpu_busy_ticks() -> dict[int, tuple[int, int]]:
    """Per CPU: (busy, total) jiffies since boot, from /proc/stat; empty if unreadable."""
    out: dict[int, tuple[int, int]] = {}
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        name, *fields = line.split()
        if not name.startswith("cpu") or name == "cpu":
            continue
        vals = [int(v) for v in fields[:8]]
        idle = vals[3] + vals[4]  # idle + iowait
        out[int(name[3:])] = (sum(vals) - idle, sum(vals))
    return out


def cpu_loads(allowed: set[int], sample_s: float = 0.05) -> dict[int, float]:
    """Busy fraction of each allowed CPU over ``sample_s`` (from /proc/stat); empty if unknown."""
    a = _cpu_busy_ticks()
    time.sleep(sample_s)
    b = _cpu_busy_ticks()
    load: dict[int, float] = {}
    for cpu in allowed:
        if cpu in a and cpu in b:
            total = b[cpu][1] - a[cpu][1]
            load[cpu] = (b[cpu][0] - a[cpu][0]) / total if total > 0 else 0.0
    return load


def pick_cpu(load: dict[int, float], here: int | None) -> int | None:
    """The least busy CPU, but ``here`` (where our caches are) if it is within 0.25 of that.

    Several runs side by side (a sweep) each pin themselves; a pinned run keeps its CPU busy, so a
    run that starts later sees it and takes another CPU instead of doubling up.
    """
    if not load:
        return here
    least = min(load.values())
    if here in load and load[here] <= least + 0.25:
        return here
    return min(load, key=lambda c: (load[c], c))


_BATCH = getattr(os, "SCHED_BATCH", None)


def _get_policy(tid: int) -> int | None:
    try:
        return os.sched_getscheduler(tid)
    except (AttributeError, OSError):
        return None


def _set_batch(tid: int) -> None:
    """Put a thread under SCHED_BATCH if it runs under the default policy (see the module doc)."""
    if _BATCH is None or _get_policy(tid) != os.SCHED_OTHER:
        return
    # A thread that ended meanwhile, or a platform that refuses it: the pinning still holds.
    with contextlib.suppress(OSError):
        os.sched_setscheduler(tid, _BATCH, os.sched_param(0))


def _threads(pid: int) -> list[int]:
    try:
        return [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return [pid]


class CpuPin:
    """Pin the threads of this process and of ``child_pids`` to one CPU; `release` undoes it here.

    ``choice``: ``"auto"`` (the least busy CPU over 50 ms, preferring the one this process is on; only
    if it may use more than one), ``"off"``, or a CPU number. The child processes are not released:
    they end with the run.
    """

    def __init__(self, choice: str | int, child_pids: list[int]) -> None:
        self.cpu: int | None = None
        self._saved: dict[int, set[int]] = {}
        self._saved_policy: dict[int, int | None] = {}
        allowed = _allowed_cpus()
        if choice == "off" or allowed is None or len(allowed) < 2:
            return
        cpu = choice if isinstance(choice, int) else pick_cpu(cpu_loads(allowed), _current_cpu())
        if cpu is None or cpu not in allowed:
            cpu = min(allowed)
        own = os.getpid()
        for tid in _threads(own):
            try:
                self._saved[tid] = set(os.sched_getaffinity(tid))
                self._saved_policy[tid] = _get_policy(tid)
                os.sched_setaffinity(tid, {cpu})
            except OSError:
                continue  # a thread that ended meanwhile
            _set_batch(tid)
        for pid in child_pids:
            for tid in _threads(pid):
                try:
                    os.sched_setaffinity(tid, {cpu})
                except OSError:
                    continue
                _set_batch(tid)
        self.cpu = cpu

    def release(self) -> None:
        """Give this process's threads their CPUs back (threads started since get all allowed ones)."""
        saved, self._saved = self._saved, {}
        if not saved:
            return
        allowed = set().union(*saved.values())
        policies, self._saved_policy = self._saved_policy, {}
        for tid in _threads(os.getpid()):
            try:
                os.sched_setaffinity(tid, saved.get(tid, allowed))
            except OSError:
                continue
            policy = policies.get(tid)
            if policy is not None and _get_policy(tid) == _BATCH:
                try:
                    os.sched_setscheduler(tid, policy, os.sched_param(0))
                except OSError:
                    continue
