"""The tick journal and resuming a run from it (`fctwin serve --resume RUN_ID`).

`JournaledLink` wraps the fleet link of a run. Live, it records in the run store, every tick, the
`CommandBatch` the dispatcher sent and the `TelemetryFrame` it received (msgpack bytes, as on the
wire) and commits, so a dispatcher killed at any moment leaves every completed tick on disk. The
batch is also written ahead, before it goes on the wire: a dispatcher killed between sending a batch
and journaling its frame leaves that batch behind (`TickJournal.sent_after_last`), so a resume knows
where a robot that executed it may stand (`fctwin.network.hil_link.cells_after_batch`).

Resuming, it first *replays* the journal: the run loop and a fresh dispatcher run as usual, but
each tick's frame comes from the journal instead of the fleet, and each batch the dispatcher
produces is compared with the recorded one (`ResumeMismatchError` if they differ: the code, scene or
seed is not the run's). The wrapped link is re-driven with the recorded batches so simulated units
reach the same state (`replay(batch, before, after)` on the link if it has one, else `exchange`;
the result is checked against the journal); robots on the wire are not commanded again during the
replay. After the last recorded tick the link goes live:
the next batch is the one the killed dispatcher would have sent, with the same command ids, so a
robot that already executed it acknowledges it as a duplicate instead of executing it twice.

The link keeps both halves of the lockstep API (`send_batch`/`receive_frame`) and `exchange`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import msgspec

from fctwin.robots.messages import CommandBatch, TelemetryFrame
from fctwin.sim.runstore import RunStore

_enc = msgspec.msgpack.Encoder()
_dec_frame = msgspec.msgpack.Decoder(TelemetryFrame)
_dec_batch = msgspec.msgpack.Decoder(CommandBatch)

# Metadata that must match for a run to be resumed with this code and scene.
RESUME_KEYS = ("scene_text", "seed", "version", "run_hours", "planner", "step_s", "agent")
# What a key means when a run recorded before it existed lacks it.
_RESUME_DEFAULTS = {"agent": "off"}


class ResumeError(RuntimeError):
    """A run cannot be resumed: no journal, or another scene, seed or version."""


class ResumeMismatchError(ResumeError):
    """Replaying the journal produced a command batch other than the recorded one."""


def check_resumable(recorded: dict, current: dict) -> None:
    """Raise `ResumeError` naming every metadata field that differs between the run and now."""
    diffs = []
    for key in RESUME_KEYS:
        a, b = recorded.get(key, _RESUME_DEFAULTS.get(key)), current.get(key)
        if a != b:
            shown = "differs" if key == "scene_text" else f"{a!r} recorded, {b!r} now"
            diffs.append(f"{key} ({shown})")
    if diffs:
        raise ResumeError("cannot resume: " + "; ".join(diffs))


class TickJournal:
    """Writes and reads the ``journal`` table of a run store."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def record_initial(self, frame: TelemetryFrame) -> None:
        self.store.add_journal(-1, frame.t_s, None, _enc.encode(frame))
        self.store.commit()

    def record_sent(self, batch: CommandBatch) -> None:
        """Write-ahead: ``batch`` is about to be sent; committed before any unit can act on it."""
        self.store.add_journal_sent(batch.step, batch.t_s, _enc.encode(batch))
        self.store.commit()

    def sent_after_last(self) -> CommandBatch | None:
        """The batch sent after the last journaled tick and never journaled with its frame: the
        stopped dispatcher's last word, which robots may or may not have executed. None if none."""
        row = self.store.read_journal_sent()
        if row is None:
            return None
        try:
            return _dec_batch.decode(row[2])
        except msgspec.DecodeError as exc:
            raise ResumeError(
                f"{self.store.path}: journal_sent step {row[0]} is not a command batch ({exc})"
            ) from None

    def record(self, batch: CommandBatch, frame: TelemetryFrame) -> None:
        self.store.add_journal(batch.step, batch.t_s, _enc.encode(batch), _enc.encode(frame))
        self.store.commit()

    def last_frame(self) -> TelemetryFrame:
        """The last journaled frame: where the run's units stood when its dispatcher stopped."""
        row = self.store.db.execute("SELECT received FROM journal ORDER BY step DESC LIMIT 1").fetchone()
        if row is None:
            raise ResumeError(f"{self.store.path}: no tick journal (only `fctwin serve` runs can resume)")
        return _dec_frame.decode(row[0])

    def read(self) -> tuple[TelemetryFrame, list[tuple[bytes, TelemetryFrame]]]:
        """The initial frame and every (sent batch bytes, received frame) after it, in order."""
        rows = self.store.read_journal()
        if not rows or rows[0][0] != -1:
            raise ResumeError(f"{self.store.path}: no tick journal (only `fctwin serve` runs can resume)")
        initial = _dec_frame.decode(rows[0][3])
        return initial, [(sent, _dec_frame.decode(received)) for _, _, sent, received in rows[1:]]


class JournaledLink:
    """A fleet link that journals every tick, and first replays a journal when resuming."""

    def __init__(
        self,
        link: Any,
        journal: TickJournal,
        *,
        replay: tuple[TelemetryFrame, list[tuple[bytes, TelemetryFrame]]] | None = None,
        on_live: Callable[[], None] | None = None,
    ) -> None:
        self.link = link
        self.journal = journal
        self._on_live = on_live
        self._pending: CommandBatch | None = None
        self._inner_token: Any = None
        if replay is None:
            self._initial = link.initial_frame()
            journal.record_initial(self._initial)
            self._replay: list[tuple[bytes, TelemetryFrame]] = []
            self._go_live()
        else:
            # The run's start is in the journal; the live link's own first frame is not asked for
            # (it would also take the events robots sent while reconnecting).
            self._initial, self._replay = replay[0], list(replay[1])
            self._replay.reverse()  # pop() from the end
            self._last = self._initial  # the frame the next replayed batch was decided from
            if not self._replay:
                self._go_live()
        self.replayed_steps = 0

    @property
    def replaying(self) -> bool:
        return bool(self._replay)

    def initial_frame(self) -> TelemetryFrame:
        return self._initial

    def send_batch(self, batch: CommandBatch) -> Any:
        self._pending = batch
        if self._replay:
            sent, _ = self._replay[-1]
            if _enc.encode(batch) != sent:
                raise ResumeMismatchError(
                    f"replay diverged at step {batch.step}: the dispatcher's commands differ from the "
                    "journal (different code, scene or seed?)"
                )
            return batch.step
        self.journal.record_sent(batch)
        send = getattr(self.link, "send_batch", None)
        self._inner_token = send(batch) if send is not None else None
        return batch.step

    def receive_frame(self, token: Any = None) -> TelemetryFrame:
        batch, self._pending = self._pending, None
        assert batch is not None, "receive_frame without send_batch"
        if self._replay:
            _, frame = self._replay.pop()
            replay = getattr(self.link, "replay", None)
            fleet = replay(batch, self._last, frame) if replay is not None else self.link.exchange(batch)
            _check_fleet(fleet, frame, batch.step)
            self._last = frame
            self.replayed_steps += 1
            if not self._replay:
                self._go_live()
            return frame
        if self._inner_token is not None:
            frame = self.link.receive_frame(self._inner_token)
        else:
            frame = self.link.exchange(batch)
        self._inner_token = None
        self.journal.record(batch, frame)
        return frame

    def exchange(self, batch: CommandBatch) -> TelemetryFrame:
        return self.receive_frame(self.send_batch(batch))

    def idle(self, wait_s: float) -> None:
        """Let the wrapped link serve its sessions for ``wait_s`` (a paced run's wait), or sleep."""
        idle = getattr(self.link, "idle", None)
        if idle is not None:
            idle(wait_s)
        else:
            time.sleep(wait_s)

    def close(self) -> None:
        self.link.close()

    def _go_live(self) -> None:
        if self._on_live is not None:
            self._on_live()
            self._on_live = None


def _check_fleet(fleet: TelemetryFrame, recorded: TelemetryFrame, step: int) -> None:
    """The re-driven fleet must be where the journal says it was (simulated units are deterministic)."""
    was = {u.unit_id: u for u in recorded.all_states()}
    for u in fleet.all_states():
        r = was.get(u.unit_id)
        if r is not None and r != u:
            raise ResumeMismatchError(
                f"replay diverged at step {step}: unit {u.unit_id} is {u}, the journal has {r}"
            )


__all__ = ["JournaledLink", "ResumeError", "ResumeMismatchError", "TickJournal", "check_resumable"]
