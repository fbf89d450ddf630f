"""Poses of big fleets: delta-encoded blobs read back exactly by every reader (RunData, export,
read_poses), also when a viewer reads a run in pieces as it is written."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from fctwin.sim.console.data import RunData
from fctwin.sim.console.export import _poses
from fctwin.sim.run import RunOptions, run_fc
from fctwin.sim.runstore import (
    POSE_DELTA,
    POSE_KEYFRAME_STEPS,
    PoseEncoder,
    RunStore,
    decode_poses,
    read_poses,
)

ROOT = Path(__file__).resolve().parents[1]


def _walk(steps: int, units: int, seed: int = 1) -> np.ndarray:
    """int16[T, N, 4]: units wandering a 300 x 300 floor, turning, lifting pods, some not seen yet."""
    rng = np.random.default_rng(seed)
    out = np.empty((steps, units, 4), np.int16)
    pose = np.stack(
        [rng.integers(0, 300, units), rng.integers(0, 300, units), rng.integers(0, 4, units),
         np.full(units, -1)], axis=1,
    ).astype(np.int16)  # fmt: skip
    pose[: units // 10] = -1
    for t in range(steps):
        move = rng.random(units) < 0.4
        pose[move, rng.integers(0, 2)] += rng.choice(np.array([-1, 1], np.int16), move.sum())
        pose[rng.random(units) < 0.05, 2] = rng.integers(0, 4)
        lift = rng.random(units) < 0.02
        pose[lift, 3] = np.where(pose[lift, 3] >= 0, -1, rng.integers(0, 5000, lift.sum()))
        if t == steps // 2:
            pose[: units // 10] = 7  # the unseen units appear
        out[t] = pose
    return out


def test_delta_encoding_round_trips_across_key_frames_and_in_pieces():
    poses = _walk(2 * POSE_KEYFRAME_STEPS + 37, 150)
    enc = PoseEncoder()
    blobs = [enc.encode(p) for p in poses]
    assert sum(b[:1] == b"K" for b in blobs) == 3
    assert sum(map(len, blobs)) < poses.nbytes / 3  # the point of it
    np.testing.assert_array_equal(decode_poses(blobs, 150, POSE_DELTA), poses)
    cut = POSE_KEYFRAME_STEPS + 5  # reading on from a delta needs the pose before it
    head = decode_poses(blobs[:cut], 150, POSE_DELTA)
    tail = decode_poses(blobs[cut:], 150, POSE_DELTA, prev=head[-1])
    np.testing.assert_array_equal(np.concatenate([head, tail]), poses)
    with pytest.raises(ValueError, match="key frame"):
        decode_poses(blobs[cut:], 150, POSE_DELTA)


@pytest.fixture(scope="module")
def raw_run(tmp_path_factory) -> Path:
    res = run_fc(
        ROOT / "scenes" / "fc_small.toml",
        RunOptions(
            hours=0.1, seed=4, link="local", runs_dir=tmp_path_factory.mktemp("runs"), record_poses=True
        ),
    )
    return res.db_path


def _recode(raw_db: Path, out_db: Path, upto_step: int | None = None) -> None:
    """Rewrite a run's poses delta-encoded, as a big fleet's run records them."""
    shutil.copy(raw_db, out_db)
    con = sqlite3.connect(raw_db)
    rows = con.execute("SELECT step, t_s, data FROM poses ORDER BY step").fetchall()
    con.close()
    n = len(RunData(raw_db).unit_ids)
    store = RunStore(out_db)
    store.db.execute("DELETE FROM poses")
    store.use_pose_encoding(POSE_DELTA)
    for step, t_s, blob in rows:
        if upto_step is None or step <= upto_step:
            store.add_pose(step, t_s, np.frombuffer(blob, np.int16).reshape(n, 4))
    store.close()


def test_every_reader_reads_delta_encoded_poses(raw_run, tmp_path):
    out = tmp_path / "delta.sqlite"
    _recode(raw_run, out)
    a, b = RunData(raw_run), RunData(out)
    assert b.pose_encoding == POSE_DELTA and len(a.pose_t) > POSE_KEYFRAME_STEPS
    np.testing.assert_array_equal(a.poses, b.poses)
    np.testing.assert_array_equal(read_poses(out, len(a.unit_ids))[1], a.poses)
    ca, cb = sqlite3.connect(raw_run), sqlite3.connect(out)
    assert _poses(ca) == _poses(cb)
    ca.close(), cb.close()
    t = 0.7 * a.t_end
    np.testing.assert_array_equal(a.heat(t), b.heat(t))
    np.testing.assert_array_equal(a.frame_at(t).pod_rc, b.frame_at(t).pod_rc)


def test_a_viewer_reads_a_delta_encoded_run_on_as_it_grows(raw_run, tmp_path):
    full = RunData(raw_run)
    out = tmp_path / "growing.sqlite"
    half_step = int(np.median(np.arange(len(full.pose_t))))
    _recode(raw_run, out, upto_step=half_step + POSE_KEYFRAME_STEPS // 2)
    d = RunData(out)
    n0 = len(d.pose_t)
    assert 0 < n0 < len(full.pose_t)
    # the writer goes on: its encoder continues with deltas from where the viewer stopped reading
    _recode(raw_run, out)
    assert d.refresh()
    np.testing.assert_array_equal(d.poses, full.poses)


def test_pose_every_records_every_nth_step_and_heat_counts_steps(raw_run, tmp_path):
    res = run_fc(
        ROOT / "scenes" / "fc_small.toml",
        RunOptions(hours=0.1, seed=4, link="local", runs_dir=tmp_path, record_poses=True, pose_every=3),
    )
    con = sqlite3.connect(res.db_path)
    steps = [s for (s,) in con.execute("SELECT step FROM poses ORDER BY step")]
    con.close()
    assert steps and all(s % 3 == 0 for s in steps)
    full, sparse = RunData(raw_run), RunData(res.db_path)
    assert len(sparse.pose_t) == pytest.approx(len(full.pose_t) / 3, abs=2)
    # same run (same seed): waits counted in steps come out at about the same total
    t = full.t_end
    a, b = full.heat(t, 1e9).sum(), sparse.heat(t, 1e9).sum()
    assert a > 0 and 0.6 * a < b < 1.4 * a, (a, b)


def test_cli_rejects_a_bad_pose_every(tmp_path, capsys):
    from fctwin.sim.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["run", "fc_small", "--pose-every", "0", "--runs-dir", str(tmp_path)])
    assert exc.value.code == 2
    assert "--pose-every" in capsys.readouterr().err
