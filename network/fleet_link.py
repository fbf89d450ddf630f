"""The default run path: simulated units in their own fleet-host process, reached over ZeroMQ.

`ZmqFleetLink` is what the run loop talks to (``initial_frame()``, ``exchange(batch)``,
``close()``). It binds the dispatcher side (ROUTER) on ``ipc://`` in a private temp dir (or a tcp
loopback endpoint), spawns a fleet-host process that builds ``sim.fleet_host.FleetHost`` (PyBullet
holds the GIL, so it gets its own interpreter) and serves it with a `FleetClient`, and runs the
fleet in lockstep: one ``command`` message per tick, answered by one ``telemetry`` message whose
``ref_seq`` names the command. The same protocol a hardware robot speaks; no in-process shortcut.

Usage::

    link = ZmqFleetLink("scenes/fc_small.toml", seed=7)
    frame = link.initial_frame()
    while ...:
        frame = link.exchange(CommandBatch(step=frame.step + 1, t_s=..., commands=[...]))
    link.close()

Lockstep liveness is the child *process*: the link checks it between polls and raises
`FleetLinkError` if it died; the child exits when its parent process is gone.
"""

from __future__ import annotations

import gc
import importlib
import logging
import multiprocessing
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
import zmq

from network import protocol as p
from network.dispatcher_side import ClientLost, DispatcherServer, Received, Registered, ServerConfig
from network.fleet_side import ClientConfig, CommandDeduper, FleetClient
from robots.messages import CommandBatch, TelemetryFrame

log = logging.getLogger(__name__)

FLEET_HOST_ID = "fleet-host"
DEFAULT_HOST_FACTORY = "sim.fleet_host:FleetHost"
LINK_HEARTBEAT_INTERVAL_S = 1.0
PARENT_CHECK_S = 0.25  # how often the child checks that its parent process still exists
CLOSE_TIMEOUT_S = 10.0  # how long close() waits for the child to exit after bye


class FleetLinkError(RuntimeError):
    """The fleet host could not be started, died, or did not answer in time."""


class ZmqFleetLink:
    """Lockstep link to a fleet host in a child process, over the fctwin protocol.

    ``endpoint``: None for ``ipc://`` in a private temp dir; or a ``tcp://127.0.0.1:*`` style
    endpoint. ``host_factory``: ``"module:attr"`` of the fleet-host class (the real one by default;
    `network.toy_fleet:ToyFleetHost` in network tests). ``reply_timeout_s`` bounds one tick.
    ``run_hours``: the child loads the scene with this override (as the parent did), so both sides
    compile the same scene. ``host_options``: extra keyword arguments for the fleet host (plain
    data: they cross a process boundary), e.g. ``{"exclude_units": frozenset({"T-07"})}``.
    """

    def __init__(
        self,
        scene_path: str,
        *,
        seed: int | None = None,
        gui: bool = False,
        realtime_factor: float | None = None,
        endpoint: str | None = None,
        host_factory: str = DEFAULT_HOST_FACTORY,
        start_timeout_s: float = 180.0,
        reply_timeout_s: float = 600.0,
        run_hours: float | None = None,
        host_options: dict[str, Any] | None = None,
        wait_for_start: bool = True,
    ) -> None:
        self.reply_timeout_s = reply_timeout_s
        self._start_timeout_s = start_timeout_s
        self._initial: TelemetryFrame | None = None
        self._pending_step = -1
        self._tmpdir: str | None = None
        if endpoint is None:
            self._tmpdir = tempfile.mkdtemp(prefix="fctwin-link-")
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
        ctx = multiprocessing.get_context("spawn")
        self.process = ctx.Process(
            target=serve_fleet_host,
            kwargs={
                "endpoint": self.endpoint,
                "scene_path": str(scene_path),
                "seed": seed,
                "gui": gui,
                "realtime_factor": realtime_factor,
                "host_factory": host_factory,
                "dispatcher_timeout_s": reply_timeout_s,
                "run_hours": run_hours,
                "host_options": dict(host_options or {}),
            },
            name="fctwin-fleet-host",
            daemon=True,
        )
        self.process.start()
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
        if not seq:
            self._raise_dead("could not send commands to the fleet host")
        self._pending_step = batch.step
        return seq

    def receive_frame(self, seq: int) -> TelemetryFrame:
        """Second half of `exchange`: wait for the telemetry that answers command message `seq`."""
        deadline = time.monotonic() + self.reply_timeout_s
        while time.monotonic() < deadline:
            for ev in self.server.poll(0.1):
                if (
                    isinstance(ev, Received)
                    and ev.envelope.type == p.TELEMETRY
                    and ev.envelope.ref_seq == seq
                ):
                    return ev.envelope.body
                if isinstance(ev, ClientLost | Registered):
                    self._raise_dead(f"fleet host session ended ({type(ev).__name__})")
            if not self.process.is_alive():
                self._raise_dead("fleet host process died")
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
            if self._tmpdir:
                shutil.rmtree(self._tmpdir, ignore_errors=True)

    def __enter__(self) -> ZmqFleetLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _wait_initial(self, timeout_s: float) -> TelemetryFrame:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for ev in self.server.poll(0.1):
                if isinstance(ev, Received) and ev.envelope.type == p.TELEMETRY and ev.envelope.ref_seq == -1:
                    return ev.envelope.body
            if not self.process.is_alive():
                self._raise_dead("fleet host process exited during start-up")
        self._raise_dead(f"fleet host did not start within {timeout_s:g} s")
        raise AssertionError("unreachable")

    def _raise_dead(self, why: str) -> None:
        code = self.process.exitcode
        raise FleetLinkError(f"{why} (fleet host exit code {code})")


def _load_factory(spec: str) -> Any:
    module_name, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def serve_fleet_host(
    *,
    endpoint: str,
    scene_path: str,
    seed: int | None,
    gui: bool,
    realtime_factor: float | None,
    host_factory: str,
    dispatcher_timeout_s: float,
    run_hours: float | None = None,
    host_options: dict[str, Any] | None = None,
) -> None:
    """Child-process main: build the fleet host and serve it in lockstep until bye or orphaned."""
    logging.basicConfig(level=logging.WARNING)
    parent = multiprocessing.parent_process()
    scene: Any = scene_path
    if run_hours is not None:
        from sim.scene import load_scene

        scene = load_scene(scene_path, seed=seed, run_hours=run_hours)
    factory = _load_factory(host_factory)
    host = factory(scene, seed=seed, gui=gui, realtime_factor=realtime_factor, **(host_options or {}))
    latest = host.initial_frame()

    def units() -> list[p.UnitInfo]:
        return [p.UnitInfo(unit_id=u.unit_id, unit_type=u.unit_type, state=u) for u in latest.units]

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
            if parent is not None and now_s - parent_checked_s >= PARENT_CHECK_S:
                if not parent.is_alive():
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
                    fresh, acks = dedup.split(batch.commands, batch.t_s) if dedup else (batch.commands, [])
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
