"""The default run path: simulated units in their own fleet-host process, reached over ZeroMQ.

`ZmqFleetLink` is what the run loop talks to (``initial_frame()``, ``exchange(batch)``,
``close()``). It binds the dispatcher side (ROUTER) on ``ipc://`` in a private temp dir (or a tcp
loopback endpoint), starts the fleet host as its own program (``python -m fctwin.sim.fleet_host
--spec FILE``, as a real fleet would run; PyBullet holds the GIL, so it gets its own interpreter)
which builds the fleet host from the scene handed to it as data and serves it with a
`FleetClient`, and runs the
fleet in lockstep: one ``command`` message per tick, answered by one ``telemetry`` message whose
``ref_seq`` names the command. The same protocol a hardware robot speaks; no in-process shortcut.

Usage::

    link = ZmqFleetLink(load_scene("fc_small.toml").as_data(), seed=7)
    frame = link.initial_frame()
    while ...:
        frame = link.exchange(CommandBatch(step=frame.step + 1, t_s=..., commands=[...]))
    link.close()

Lockstep liveness is the child *process*: the link checks it between polls and raises
`FleetLinkError` if it died; the child exits when its parent process is gone. Starting a program
rather than a multiprocessing "spawn" child means the caller's ``__main__`` is never re-imported,
so `fctwin.run` works from a plain script or a notebook without an ``if __name__`` guard.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
import zmq

from fctwin.network import protocol as p
from fctwin.network.dispatcher_side import ClientLost, DispatcherServer, Received, Registered, ServerConfig
from fctwin.network.fleet_side import ClientConfig, CommandDeduper, FleetClient
from fctwin.robots.messages import CommandBatch, TelemetryFrame

log = logging.getLogger(__name__)

FLEET_HOST_ID = "fleet-host"
DEFAULT_HOST_FACTORY = "fctwin.sim.fleet_host:FleetHost"
# The program that serves a fleet host: ``python -m PROGRAM --spec FILE``. Named, never imported
# here (network sits below sim); any module whose main calls `fleet_process_main` will do.
DEFAULT_HOST_PROGRAM = "fctwin.sim.fleet_host"
GENERIC_HOST_PROGRAM = "fctwin.network.fleet_process"
LINK_HEARTBEAT_INTERVAL_S = 1.0
# A tick's command or telemetry message can be lost (a dropped pipe, a host that reconnected): the
# link then sends the same batch again, first after this long, then backing off to RESEND_MAX_S.
# The fleet host answers a repeated step with the frame it already computed (never steps twice),
# so a resend during a merely slow tick costs one duplicate frame, which is ignored.
RESEND_AFTER_S = 0.5
RESEND_MAX_S = 8.0
# A send can also fail outright while the fleet host lives: libzmq closes a connection whose ZMTP
# heartbeat went unanswered for ZMTP_HEARTBEAT_TIMEOUT_MS (1 s), which a process stalled that long
# on a loaded machine (descheduled, or a page-reclaim stall) cannot answer, and the ROUTER refuses
# sends (EHOSTUNREACH) until the fleet side has reconnected, ~0.1 s after it runs again. Such a
# send is tried again after this long (backing off like a resend), as a lost message would be.
SEND_RETRY_S = 0.1
PARENT_CHECK_S = 0.25  # how often the child checks that its parent process still exists
CLOSE_TIMEOUT_S = 10.0  # how long close() waits for the child to exit after bye


class FleetLinkError(RuntimeError):
    """The fleet host could not be started, died, or did not answer in time."""


class ZmqFleetLink:
    """Lockstep link to a fleet host in a child process, over the fctwin protocol.

    ``scene``: plain data the host factory builds its fleet from (the sim's fleet host takes
    `Scene.as_data()`; the toy host a string); it is handed over as JSON, so the child never reads
    the scene file. ``endpoint``: None for ``ipc://`` in a private temp dir; or a
    ``tcp://127.0.0.1:*`` style endpoint. ``host_factory``: ``"module:attr"`` of the fleet-host
    class (the real one by default; `fctwin.network.toy_fleet:ToyFleetHost` in network tests).
    ``reply_timeout_s`` bounds one tick. ``host_options``: extra keyword arguments for the fleet
    host (JSON data; sets become lists), e.g. ``{"exclude_units": ["T-07"]}``.
    """

    def __init__(
        self,
        scene: Any,
        *,
        seed: int | None = None,
        gui: bool = False,
        realtime_factor: float | None = None,
        endpoint: str | None = None,
        host_factory: str = DEFAULT_HOST_FACTORY,
        start_timeout_s: float = 180.0,
        reply_timeout_s: float = 600.0,
        host_options: dict[str, Any] | None = None,
        wait_for_start: bool = True,
    ) -> None:
        self.reply_timeout_s = reply_timeout_s
        self._start_timeout_s = start_timeout_s
        # Called between polls while this link waits for the fleet host (its start, each frame), so
        # an owner with other sessions (`HilFleetLink`: robots on the wire) keeps serving them.
        self.idle: Any = None
        self._initial: TelemetryFrame | None = None
        self._pending_step = -1
        self._pending_batch: CommandBatch | None = None
        self.resends = 0  # batches sent again because no telemetry came back in time
        self.send_failures = 0  # sends refused while the fleet host lived (its connection was down)
        self._closed = True  # until the child runs: close() has nothing to stop
        self._tmpdir = tempfile.mkdtemp(prefix="fctwin-link-")
        try:
            if endpoint is None:
                endpoint = f"ipc://{Path(self._tmpdir) / 'fleet.sock'}"
            # Lockstep: the child may be busy in one long PyBullet tick and we in one long planning
            # tick; liveness comes from the process itself, so heartbeat silence is tolerated long.
            liveness = max(3, int(reply_timeout_s / LINK_HEARTBEAT_INTERVAL_S))
            self.server = DispatcherServer(
                ServerConfig(
                    router_endpoint=endpoint,
                    heartbeat_interval_s=LINK_HEARTBEAT_INTERVAL_S,
                    heartbeat_liveness=liveness,
                    watchdog_s=reply_timeout_s,
                )
            )
            self.endpoint = self.server.router_endpoint
            spec = {
                "endpoint": self.endpoint,
                "scene": scene,
                "seed": seed,
                "gui": gui,
                "realtime_factor": realtime_factor,
                "host_factory": host_factory,
                "dispatcher_timeout_s": reply_timeout_s,
                "host_options": _plain(dict(host_options or {})),
                "parent_pid": os.getpid(),
            }
            spec_path = Path(self._tmpdir) / "fleet_host.json"
            spec_path.write_text(json.dumps(spec))
            program = DEFAULT_HOST_PROGRAM if host_factory == DEFAULT_HOST_FACTORY else GENERIC_HOST_PROGRAM
            self.process = ChildProcess([sys.executable, "-m", program, "--spec", str(spec_path)])
        except BaseException:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            raise
        self._closed = False
        if wait_for_start:
            self.initial_frame()

    def initial_frame(self) -> TelemetryFrame:
        """The fleet's state before the first tick; waits for the fleet host to start if needed."""
        if self._initial is None:
            try:
                self._initial = self._wait_initial(self._start_timeout_s)
            except BaseException:
                self.close()
                raise
        return self._initial

    def exchange(self, batch: CommandBatch) -> TelemetryFrame:
        """Send one tick's commands and return the fleet's telemetry for that tick."""
        return self.receive_frame(self.send_batch(batch))

    def send_batch(self, batch: CommandBatch) -> int:
        """First half of `exchange`: send the tick's commands; returns the token for `receive_frame`.

        The run loop does its bookkeeping of the previous frame between the two halves, while the
        fleet host steps (the two processes overlap instead of waiting on each other).
        """
        self.server.t_sim_s = batch.t_s
        seq = self.server.send_commands(FLEET_HOST_ID, batch)
        self._pending_step = batch.step
        self._pending_batch = batch
        if not seq:
            if not self.process.is_alive():
                self._raise_dead("could not send commands to the fleet host")
            if FLEET_HOST_ID not in self.server.clients:
                self._raise_dead("could not send commands to the fleet host: its session ended")
            # Alive and in session: its connection is down for a moment (see SEND_RETRY_S);
            # `receive_frame` sends the batch again until it goes through.
            self.send_failures += 1
            log.info("could not send step %d to the fleet host (reconnecting): trying again", batch.step)
        return seq

    def receive_frame(self, seq: int) -> TelemetryFrame:
        """Second half of `exchange`: wait for the telemetry that answers command message `seq`.

        If none comes within `RESEND_AFTER_S`, the same batch is sent again (backing off to
        `RESEND_MAX_S`) and the answer to any of the sends is taken: a lost message costs about a
        second, not the reply timeout. ``seq`` 0 (`send_batch` could not send: the connection was
        down) is sent again after `SEND_RETRY_S`, backing off the same way. `idle` (if set) is
        called between polls.
        """
        now = time.monotonic()
        deadline = now + self.reply_timeout_s
        wanted = {seq} if seq else set()
        resend_every = RESEND_AFTER_S if seq else SEND_RETRY_S
        resend_at = now + resend_every
        idle = self.idle
        poll_s = 0.1 if idle is None else 0.005
        while now < deadline:
            if idle is not None:
                idle()
            for ev in self.server.poll(poll_s):
                if (
                    isinstance(ev, Received)
                    and ev.envelope.type == p.TELEMETRY
                    and ev.envelope.ref_seq in wanted
                ):
                    return ev.envelope.body
                if isinstance(ev, ClientLost | Registered):
                    self._raise_dead(f"fleet host session ended ({type(ev).__name__})")
            if not self.process.is_alive():
                self._raise_dead("fleet host process died")
            now = time.monotonic()
            if now >= resend_at and self._pending_batch is not None:
                again = self.server.send_commands(FLEET_HOST_ID, self._pending_batch)
                if again:
                    wanted.add(again)
                    self.resends += 1
                    log.info(
                        "no telemetry for step %d after %.1f s: sent it again",
                        self._pending_step,
                        resend_every,
                    )
                else:
                    self.send_failures += 1
                resend_every = min(2 * resend_every, RESEND_MAX_S)
                resend_at = now + resend_every
        self._raise_dead(f"no telemetry for step {self._pending_step} within {self.reply_timeout_s:g} s")
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._initial is None and self.process.is_alive():
            # Closed before it reported (the run failed while the host was starting): it has no
            # session to say bye to and would only find out by its watchdog.
            self.process.kill()
        try:
            # bye ends the child's loop; keep the socket open until it is gone (linger is 0).
            self.server.drop(FLEET_HOST_ID, reason="run finished")
            deadline = time.monotonic() + CLOSE_TIMEOUT_S
            while self.process.is_alive() and time.monotonic() < deadline:
                self.server.poll(0.02)
            self.server.close()
        finally:
            self.process.join(timeout=CLOSE_TIMEOUT_S)
            if self.process.is_alive():
                log.warning("fleet host did not exit after bye; killing it")
                self.process.kill()
                self.process.join(timeout=5)
            shutil.rmtree(self._tmpdir, ignore_errors=True)

    def __enter__(self) -> ZmqFleetLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _wait_initial(self, timeout_s: float) -> TelemetryFrame:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.idle is not None:
                self.idle()
            for ev in self.server.poll(0.1 if self.idle is None else 0.02):
                if isinstance(ev, Received) and ev.envelope.type == p.TELEMETRY and ev.envelope.ref_seq == -1:
                    return ev.envelope.body
            if not self.process.is_alive():
                self._raise_dead("fleet host process exited during start-up")
        self._raise_dead(f"fleet host did not start within {timeout_s:g} s")
        raise AssertionError("unreachable")

    def _raise_dead(self, why: str) -> None:
        code = self.process.exitcode
        if code is None:
            status = "still running"
        elif code < 0:
            try:
                status = f"killed by {signal.Signals(-code).name}"
            except ValueError:
                status = f"killed by signal {-code}"
        else:
            status = f"exit code {code}"
        raise FleetLinkError(f"{why} (fleet host pid {self.process.pid}, {status})")


class ChildProcess:
    """The fleet-host program as a child process, with the few calls the link needs."""

    def __init__(self, argv: list[str]) -> None:
        # Its stdout goes to our stderr: what a library prints there (pybullet's banner) must not
        # mix into a caller's stdout (`fctwin run --json`).
        self._popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=sys.stderr.fileno())
        self.pid = self._popen.pid

    def is_alive(self) -> bool:
        return self._popen.poll() is None

    @property
    def exitcode(self) -> int | None:
        return self._popen.poll()

    def kill(self) -> None:
        if self.is_alive():
            self._popen.kill()

    def join(self, timeout: float | None = None) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._popen.wait(timeout=timeout)


def _plain(value: Any) -> Any:
    """Host options as JSON data: sets become sorted lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _load_factory(spec: str) -> Any:
    module_name, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def fleet_process_main(argv: list[str] | None = None, *, prog: str = GENERIC_HOST_PROGRAM) -> int:
    """Main of the fleet-host program: ``python -m fctwin.sim.fleet_host --spec FILE``.

    The spec (JSON, written by `ZmqFleetLink`) names the endpoint, the host factory, the scene as
    data and the host's options. Exit code 0 after bye or when the parent is gone.
    """
    parser = argparse.ArgumentParser(prog=f"python -m {prog}", description=fleet_process_main.__doc__)
    parser.add_argument("--spec", required=True, help="the JSON spec written by the dispatcher's fleet link")
    args = parser.parse_args(argv)
    # The dispatcher owns the run: a terminal Ctrl-C reaches the whole process group, and the
    # dispatcher ends the run and then says bye; here it would only print a second traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_quietly)
    spec = json.loads(Path(args.spec).read_text())
    with contextlib.suppress(_Stop):
        serve_fleet_host(**spec)
    return 0


class _Stop(BaseException):
    """SIGTERM in the fleet-host program: leave the serve loop through its cleanup."""


def _exit_quietly(signum, frame) -> None:
    raise _Stop


def serve_fleet_host(
    *,
    endpoint: str,
    scene: Any,
    seed: int | None,
    gui: bool,
    realtime_factor: float | None,
    host_factory: str,
    dispatcher_timeout_s: float,
    host_options: dict[str, Any] | None = None,
    parent_pid: int | None = None,
) -> None:
    """Child-process main: build the fleet host and serve it in lockstep until bye or orphaned."""
    logging.basicConfig(level=logging.WARNING)
    factory = _load_factory(host_factory)
    host = factory(scene, seed=seed, gui=gui, realtime_factor=realtime_factor, **(host_options or {}))
    latest = host.initial_frame()

    def units() -> list[p.UnitInfo]:
        return [p.UnitInfo(unit_id=u.unit_id, unit_type=u.unit_type, state=u) for u in latest.all_states()]

    client = FleetClient(
        ClientConfig(
            endpoint=endpoint,
            client_id=FLEET_HOST_ID,
            role=p.ROLE_FLEET,
            heartbeat_interval_s=LINK_HEARTBEAT_INTERVAL_S,
            dispatcher_timeout_s=dispatcher_timeout_s,
        ),
        units,
    )
    # A host whose units each acknowledge a repeated command id themselves (the fleet host: the robot
    # contract checker requires it of every unit type) needs no second window here; splitting every
    # batch cost ~10-20 us per lockstep tick. Other hosts (the toy fleet) get the link's.
    dedup = None if getattr(host, "dedups_commands", False) else CommandDeduper()
    # Work the frame does not need (the fleet host's lazily synced world) runs after each reply.
    flush_world = getattr(host, "flush_world", None)
    if flush_world is not None:
        host.defer_world_updates = True
    initial_sent_session = 0
    # This process only serves from here on: what start-up built (modules, world, units) lives to
    # the end, so full garbage collections need not walk it every time.
    gc.freeze()
    last_step: int | None = None
    last_reply: TelemetryFrame | None = None
    # Whether the parent lives is asked at most every PARENT_CHECK_S: asking costs a system call,
    # and asking once per lockstep tick was a tenth of this loop's own work.
    parent_checked_s = time.monotonic()
    try:
        while True:
            now_s = time.monotonic()
            if parent_pid is not None and now_s - parent_checked_s >= PARENT_CHECK_S:
                if os.getppid() != parent_pid:  # orphaned: the dispatcher's process is gone
                    break
                parent_checked_s = now_s
            if client.watchdog_expired():
                log.error(
                    "fleet host: no message from the dispatcher for %.0f s; exiting", client.silence_s()
                )
                break
            msgs = client.poll(PARENT_CHECK_S)
            if client.registered and initial_sent_session != client.session:
                client.t_sim_s = latest.t_s
                if client.send(p.TELEMETRY, host.initial_frame() if last_reply is None else latest):
                    initial_sent_session = client.session
            for env in msgs:
                if env.type == p.BYE:
                    return
                batch: CommandBatch = env.body
                if batch.step == last_step and last_reply is not None:
                    reply = last_reply  # a repeated tick is answered again, never stepped twice
                else:
                    if batch.external and hasattr(host, "set_external_states"):
                        host.set_external_states(batch.external)
                    # (a host that keeps no window of its own gets a block's moves as `Move`s)
                    cmds = batch.all_commands() if dedup else batch.commands
                    fresh, acks = dedup.split(cmds, batch.t_s) if dedup else (cmds, [])
                    if fresh is not batch.commands:  # repeats were dropped
                        batch = CommandBatch(step=batch.step, t_s=batch.t_s, commands=fresh)
                    reply = host.apply(batch)
                    if acks:
                        reply = msgspec.structs.replace(reply, events=[*reply.events, *acks])
                    last_step, last_reply, latest = batch.step, reply, reply
                client.t_sim_s = reply.t_s
                client.send(p.TELEMETRY, reply, ref_seq=env.seq)
                if flush_world is not None:
                    flush_world()
    except zmq.ContextTerminated:
        pass
    finally:
        client.close(bye=False)
        host.close()
