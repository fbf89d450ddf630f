"""The tick journal: a journaled run resumes to the same log and KPIs; a different scene, seed or
code is refused with a clear error; the wrapper keeps both halves of the lockstep link API."""

from __future__ import annotations

import sqlite3

import msgspec
import pytest

from fctwin.robots.messages import CommandBatch, Move, TelemetryFrame, UnitState
from fctwin.sim.journal import JournaledLink, ResumeError, ResumeMismatchError, TickJournal, check_resumable
from fctwin.sim.run import RunOptions, run_fc
from fctwin.sim.runstore import RunStore

DROP = {"wall_s", "realtime_factor", "planner_ms_per_step"}


def _opts(tmp_path, **kw) -> RunOptions:
    return RunOptions(runs_dir=tmp_path, run_id="j", link="local", **kw)


def _events(db) -> list:
    con = sqlite3.connect(db)
    rows = con.execute("SELECT t_s, kind, subject, a, b, c FROM events ORDER BY id").fetchall()
    kpi = con.execute("SELECT COUNT(*) FROM kpi_minute").fetchone()[0]
    con.close()
    return rows, kpi


@pytest.fixture
def scene_path(small_scene_dict, write_scene):
    return write_scene(small_scene_dict)


def test_a_journaled_run_resumed_from_its_journal_writes_nothing_twice_and_ends_the_same(
    scene_path, tmp_path
):
    first = run_fc(scene_path, _opts(tmp_path, journal=True))
    log, kpi_rows = _events(first.db_path)
    resumed = run_fc(scene_path, _opts(tmp_path, resume=True))  # the whole run comes from the journal
    assert _events(resumed.db_path) == (log, kpi_rows)
    assert {k: v for k, v in resumed.kpis.items() if k not in DROP} == {
        k: v for k, v in first.kpis.items() if k not in DROP
    }


def test_resume_refuses_another_seed_or_scene_and_a_journal_that_does_not_replay(
    scene_path, small_scene_dict, write_scene, tmp_path
):
    run_fc(scene_path, _opts(tmp_path, journal=True))
    with pytest.raises(ResumeError, match=r"seed \(7 recorded, 8 now\)"):
        run_fc(scene_path, _opts(tmp_path, resume=True, seed=8))
    other = write_scene({**small_scene_dict, "description": "another floor"}, name="other.toml")
    with pytest.raises(ResumeError, match="scene_text"):
        run_fc(other, _opts(tmp_path, resume=True))
    # a recorded batch the dispatcher would not produce (other code): stopped, not continued
    store = RunStore(tmp_path / "j" / "run.sqlite")
    step, sent = store.db.execute("SELECT step, sent FROM journal WHERE step = 5").fetchone()
    batch = msgspec.msgpack.decode(sent, type=CommandBatch)
    forged = msgspec.structs.replace(batch, commands=[*batch.commands, Move(10**6, "T-01", 0, step)])
    store.db.execute("UPDATE journal SET sent = ? WHERE step = 5", (msgspec.msgpack.encode(forged),))
    store.close()
    with pytest.raises(ResumeMismatchError, match="step 5"):
        run_fc(scene_path, _opts(tmp_path, resume=True))


def test_check_resumable_names_every_difference():
    with pytest.raises(ResumeError) as err:
        check_resumable({"seed": 1, "version": "0.1.0"}, {"seed": 2, "version": "0.2.0"})
    assert "seed (1 recorded, 2 now)" in str(err.value) and "version ('0.1.0' recorded" in str(err.value)


class _SplitLink:
    """A fleet link with the split lockstep API; records which half was used."""

    def __init__(self):
        self.calls: list[str] = []

    def initial_frame(self):
        return TelemetryFrame(step=0, t_s=0.0, units=[UnitState("T-01", "titan", 0, 1, 1, 0)])

    def send_batch(self, batch):
        self.calls.append("send")
        return 41

    def receive_frame(self, token):
        self.calls.append(f"receive {token}")
        return TelemetryFrame(step=1, t_s=1.0, units=[UnitState("T-01", "titan", 0, 1, 2, 0)])

    def close(self):
        pass


def test_the_journaled_link_keeps_the_split_send_and_receive_of_the_link_it_wraps(tmp_path):
    inner = _SplitLink()
    store = RunStore(tmp_path / "s.sqlite")
    link = JournaledLink(inner, TickJournal(store))
    token = link.send_batch(CommandBatch(step=0, t_s=0.0, commands=[Move(1, "T-01", 0, 0)]))
    assert inner.calls == ["send"]  # sent at once: the fleet steps while the run loop does bookkeeping
    frame = link.receive_frame(token)
    assert inner.calls == ["send", "receive 41"] and frame.units[0].col == 2
    initial, ticks = TickJournal(store).read()
    assert initial.step == 0 and [f.units[0].col for _, f in ticks] == [2]
    store.close()


@pytest.mark.timeout(120)  # a bound, not a measurement: paced, the replay alone would take 6 minutes
def test_a_realtime_resume_replays_unpaced_then_paces_from_where_the_journal_ends(scene_path, tmp_path):
    first = run_fc(scene_path, _opts(tmp_path, journal=True, realtime=True, speedup=400.0))
    resumed = run_fc(scene_path, _opts(tmp_path, resume=True, realtime=True, speedup=1.0))
    assert _events(resumed.db_path) == _events(first.db_path)


def test_a_resumed_advise_run_makes_the_stored_recommendations_again_and_stops_where_one_differs(
    small_scene_dict, write_scene, tmp_path
):
    # advise mode: recommendations never change the command batches, so only this comparison
    # shows a replay that decides differently
    raw = {**small_scene_dict, "run_hours": 0.15, "agent": {"period_min": 4, "horizon_min": 10}}
    raw["labour"] = {"pool": 8, "staffing": {"P1": 1, "P2": 1, "P3": 0, "P4": 0, "S1": 2, "S2": 2}}
    scene = write_scene(raw)
    run_fc(scene, _opts(tmp_path, journal=True, agent="advise"))
    db = tmp_path / "j" / "run.sqlite"

    def recs():
        con = sqlite3.connect(db)
        rows = con.execute(
            "SELECT rec_id, t_s, kind, text, applied FROM recommendations ORDER BY id"
        ).fetchall()
        con.close()
        return rows

    made = recs()
    assert made and not any(r[4] for r in made)
    with pytest.raises(ResumeError, match=r"agent \('advise' recorded, 'auto' now\)"):
        run_fc(scene, _opts(tmp_path, resume=True, agent="auto"))
    run_fc(scene, _opts(tmp_path, resume=True, agent="advise"))
    assert recs() == made  # the same decisions, none written twice
    con = sqlite3.connect(db)
    con.execute("UPDATE recommendations SET text = 'forged' WHERE id = (SELECT MIN(id) FROM recommendations)")
    con.commit()
    con.close()
    with pytest.raises(ResumeMismatchError, match="recommendation 1"):
        run_fc(scene, _opts(tmp_path, resume=True, agent="advise"))
    assert len(recs()) == len(made)  # nothing written before the mismatch was raised


def test_a_batch_sent_but_never_journaled_is_written_ahead_and_found_by_a_resume(tmp_path):
    """A dispatcher killed between sending a batch and journaling its frame leaves that batch behind:
    robots may have executed it, so a resume must know it (`fctwin serve --resume` checks their poses
    against it). A journaled tick consumes its write-ahead row."""

    class _Killed(_SplitLink):
        def receive_frame(self, token):
            raise KeyboardInterrupt  # killed after the batch went on the wire

    store = RunStore(tmp_path / "s.sqlite")
    link = JournaledLink(_SplitLink(), TickJournal(store))
    link.exchange(CommandBatch(step=0, t_s=0.0, commands=[Move(1, "T-01", 0, 0)]))
    assert TickJournal(store).sent_after_last() is None  # answered and journaled: nothing in flight
    link.link = _Killed()
    batch = CommandBatch(step=1, t_s=1.0, commands=[Move(2, "T-01", 0, 1)])
    with pytest.raises(KeyboardInterrupt):
        link.exchange(batch)
    store.close()
    reopened = RunStore(tmp_path / "s.sqlite")  # what a resume reads
    journal = TickJournal(reopened)
    assert journal.sent_after_last() == batch
    assert journal.last_frame().step == 1  # the last journaled frame is still the one before it
    reopened.db.execute("UPDATE journal_sent SET sent = ?", (b"\x93not a batch",))
    with pytest.raises(ResumeError, match="journal_sent step 1 is not a command batch"):
        journal.sent_after_last()  # a damaged row: a clear error, not a traceback
    reopened.clear_derived(after_step=0)  # the resume sends it again, live
    assert journal.sent_after_last() is None
    reopened.close()
