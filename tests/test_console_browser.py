"""The console in a real browser: Debian's headless Chromium driven by Playwright (no browser download).

Kept short on purpose: software WebGL takes both cores while a page is open. Skips with the reason
when Chromium or the playwright package is missing (`.ci/run` installs Chromium with apt).
"""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("FCTWIN_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    pytest.importorskip("viser")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def _wait(cond, timeout_s: float, what: str) -> None:
    end = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _red_pixels(png: bytes) -> int:
    """Pixels of the carried-pod / failed-unit red (lit or shaded), absent from the floor colours."""
    from PIL import Image

    a = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    r, g, b = a[..., 0], a[..., 1], a[..., 2]
    return int(((r > 110) & (r - g > 60) & (r - b > 60)).sum())


def _open(browser, url: str):
    page = browser.new_page(viewport={"width": 1100, "height": 700})
    page.goto(url)
    page.wait_for_selector("canvas", timeout=60_000)
    return page


def test_replay_renders_units_and_scrubbing_moves_them(browser, tmp_path):
    from fctwin.sim.console.app import Console
    from fctwin.sim.console.data import RunData
    from fctwin.sim.run import RunOptions, run_fc

    res = run_fc(
        ROOT / "scenes" / "fc_small.toml",
        RunOptions(hours=0.2, seed=3, link="local", runs_dir=tmp_path, record_poses=True),
    )
    console = Console(RunData(res.db_path), port=0)
    try:
        console.heat_handle.visible = False  # only pods and units may be red
        console.seek(0.0)  # before the first trip: nothing carried, no red
        page = _open(browser, console.url)
        # The GUI panel arrives after the canvas (seen in CI: counted before it came): wait, bounded.
        page.get_by_text("fc_small · replay").wait_for(timeout=60_000)
        assert page.get_by_text("fc_small · replay").count() == 1
        time.sleep(4)  # a few software-rendered frames
        before = _red_pixels(page.locator("canvas").first.screenshot())
        start = console.units.batched_positions.copy()
        # scrub: the timeline slider to its end, from the keyboard, as a user would
        page.get_by_role("slider").first.focus()
        page.keyboard.press("End")
        _wait(lambda: console.t_s > 0.9 * console.data.t_end, 20, "the slider to reach the server")
        time.sleep(4)
        after = _red_pixels(page.locator("canvas").first.screenshot())
        page.close()
    finally:
        console.close()
    moved = np.abs(console.units.batched_positions - start).sum(axis=1) > 0
    assert moved.sum() >= 5, "scrubbing moved no units"
    # (the orientation gizmo in a corner has a red axis: hence a difference, not a zero)
    assert after - before > 500, (before, after)


def test_accept_click_reaches_the_dispatcher_and_the_run_store(browser, tmp_path):
    from fctwin.sim.advice import add_recommendation, read_recommendations
    from fctwin.sim.console.live import LiveSession
    from fctwin.sim.run import RunOptions, run_fc
    from fctwin.sim.scene import load_scene

    scene_path = ROOT / "scenes" / "fc_small.toml"
    sc = load_scene(scene_path, seed=5, run_hours=0.5)
    session = LiveSession(sc, runs_dir=tmp_path, run_id="advise", port=0)
    db = tmp_path / "advise" / "run.sqlite"

    def progress(row: dict) -> None:
        if row["minute"] == 1:  # what an agent in advise mode does: record a recommendation
            con = sqlite3.connect(db, timeout=10)
            add_recommendation(
                con,
                {"rec_id": 1, "t_s": row["t_s"], "kind": "move_associates", "applied": False,
                 "text": "Move 1 associate from S1 to P2 for 30 min",
                 "predicted": {"units_per_h": 40.0}, "evidence": {"queue_P2": 6}},
            )  # fmt: skip
            con.commit()
            con.close()
        if not session.advice.decided:
            time.sleep(1.0)  # hold the run (one simulated minute per second) until someone decides

    opts = RunOptions(
        hours=0.5, seed=5, link="local", runs_dir=tmp_path, run_id="advise", record_poses=True,
        viewer=session.feed, advice=session.advice,
    )  # fmt: skip
    result: dict = {}
    runner = threading.Thread(target=lambda: result.update(r=run_fc(scene_path, opts, progress=progress)))
    runner.start()
    try:
        assert session.ready.wait(60) and session.error is None, session.error
        page = _open(browser, session.console.url)
        accept = page.get_by_role("button", name="Accept")
        accept.wait_for(timeout=60_000)
        assert page.get_by_text("Move 1 associate from S1 to P2").count() >= 1
        accept.click()
        _wait(lambda: session.advice.decided, 30, "the decision to reach the dispatcher")
        page.close()
    finally:
        runner.join(timeout=300)
        session.close()
    assert "r" in result
    rec = read_recommendations(db)[0]
    assert rec["decision"] == "accept" and rec["decision_outcome"] == "logged"
    con = sqlite3.connect(db)
    rows = con.execute("SELECT kind, subject, a FROM events WHERE kind LIKE 'rec_%'").fetchall()
    con.close()
    assert rows == [("rec_accepted", "console", 1)]


def test_accept_click_applies_the_agents_recommendation_with_its_delays(browser, tmp_path):
    """Advise mode with the Eluna agent: the operator's Accept reaches the agent's handler, which
    applies the recommended moves through the levers (people leave at once, arrive after the walk)
    and records it (event log and `recommendation_decisions`)."""
    from fctwin.sim.advice import read_recommendations
    from fctwin.sim.console.live import LiveSession
    from fctwin.sim.run import RunOptions, run_fc
    from fctwin.sim.scene import load_scene

    scene_path = ROOT / "scenes" / "eluna_misstaffed.toml"
    over = {"agent.period_min": 5, "agent.horizon_min": 10}
    sc = load_scene(scene_path, seed=3, run_hours=0.75, overrides=over)
    session = LiveSession(sc, runs_dir=tmp_path, run_id="agent", port=0)
    db = tmp_path / "agent" / "run.sqlite"

    def progress(row: dict) -> None:
        if session.advice.decided or not db.exists():
            return
        con = sqlite3.connect(db, timeout=10)
        spoken = con.execute("SELECT COUNT(*) FROM recommendations").fetchone()[0]
        con.close()
        if spoken:
            time.sleep(1.0)  # hold the run once the agent has spoken, until someone decides

    opts = RunOptions(
        hours=0.75, seed=3, link="local", runs_dir=tmp_path, run_id="agent", record_poses=True,
        agent="advise", overrides=over, viewer=session.feed, advice=session.advice,
    )  # fmt: skip
    result: dict = {}
    runner = threading.Thread(target=lambda: result.update(r=run_fc(scene_path, opts, progress=progress)))
    runner.start()
    try:
        assert session.ready.wait(60) and session.error is None, session.error
        page = _open(browser, session.console.url)
        accept = page.get_by_role("button", name="Accept").first
        accept.wait_for(timeout=90_000)
        accept.click()
        _wait(lambda: session.advice.decided, 30, "the decision to reach the agent")
        page.close()
    finally:
        runner.join(timeout=300)
        session.close()
    assert "r" in result
    rec_id = session.advice.decided[0][0]
    rec = next(r for r in read_recommendations(db) if r["rec_id"] == rec_id)
    assert rec["decision"] == "accept" and rec["decision_outcome"].startswith("applied"), rec
    con = sqlite3.connect(db)
    log = con.execute("SELECT t_s, kind, subject, a FROM events ORDER BY id").fetchall()
    con.close()
    k = next(i for i, e in enumerate(log) if e[1] == "rec_accepted" and e[3] == rec_id)
    t_acc = log[k][0]
    targets = {a["target"] for a in rec["action"]["actions"] if a.get("target") != "pool"}
    arrived = [e for e in log[k:] if e[1] == "staff" and e[2] in targets]
    assert arrived and min(e[0] for e in arrived) >= t_acc + 120.0 - 5  # after the walk
