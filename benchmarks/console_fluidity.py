"""How fluid the console is in a real browser: updates and frames per second that headless Chromium sees.

    python benchmarks/console_fluidity.py                 # fc_large: live run, then a replay playing
    python benchmarks/console_fluidity.py --scene fc_small --seconds 15
    python benchmarks/console_fluidity.py --modes live --speedup 60   # paced, as one watches a run

Debian's Chromium (``/usr/bin/chromium`` or ``FCTWIN_CHROMIUM``) is driven by Playwright, with software
WebGL (SwiftShader) as on a machine without a GPU. Measured over ``--seconds`` once the page shows
the floor:

- **updates/s**: websocket messages from the console that the page received (Playwright's
  ``framereceived``), and the floor frames the console pushed (server side);
- **render fps**: ``requestAnimationFrame`` callbacks the page ran (three.js draws in them), with the
  longest gap between two;
- **MB/s** on the websocket.

Goal (issue 18): "fc_large (500 units) stays fluid": the floor updates about ten times a second (the
live hook's rate) and the page keeps drawing. Software rendering shares the machine's CPUs with the
run and with the other jobs on it, so the render rate is a floor for what a browser with a GPU on
another machine sees; the load average is printed with every figure.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("FCTWIN_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
COUNT_FRAMES = """
window.__fctwin = {frames: 0, maxGapMs: 0, last: 0};
(function tick(now) {
  const s = window.__fctwin;
  if (s.last) s.maxGapMs = Math.max(s.maxGapMs, now - s.last);
  s.last = now; s.frames++;
  requestAnimationFrame(tick);
})(0);
"""


class _StopRunError(Exception):
    """Raised from the viewer hook to end a live run once it has been measured."""


def _launch(p):
    return p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)


def measure(console, seconds: float, label: str, *, feed=None, run_done=None, page_ready=None) -> dict:
    """Open the console's page, wait for the floor, then count for ``seconds``.

    Live runs: ``feed`` is the run's `LiveFeed` (its frames per second are the rate the run offers),
    ``run_done()`` tells whether the run has ended (a measurement that saw it end is flagged), and
    ``page_ready`` is set once the page shows the floor (the run may wait for it)."""
    from playwright.sync_api import sync_playwright

    got = {"messages": 0, "bytes": 0}

    def on_ws(ws) -> None:
        def frame(payload) -> None:
            got["messages"] += 1
            got["bytes"] += len(payload)

        ws.on("framereceived", frame)

    with sync_playwright() as p:
        b = _launch(p)
        page = b.new_page(viewport={"width": 1280, "height": 800})
        page.add_init_script(COUNT_FRAMES)
        page.on("websocket", on_ws)
        page.goto(console.url)
        page.wait_for_selector("canvas", timeout=120_000)
        page.wait_for_timeout(3000)  # the first scene upload and shader compiles
        if page_ready is not None:
            page_ready.set()
            page.wait_for_timeout(1000)  # the run's first frames after the page was ready
        m0, b0, d0 = got["messages"], got["bytes"], console.frames_drawn
        h0 = feed.frames if feed is not None else 0
        t_sim0 = console.t_s
        f0 = page.evaluate("window.__fctwin.frames")
        page.evaluate("window.__fctwin.maxGapMs = 0")
        t0 = time.perf_counter()
        page.wait_for_timeout(int(seconds * 1000))
        dt = time.perf_counter() - t0
        f1 = page.evaluate("window.__fctwin.frames")
        gap = page.evaluate("window.__fctwin.maxGapMs")
        out = {
            "what": label,
            "updates_per_s": (got["messages"] - m0) / dt,
            "server_frames_per_s": (console.frames_drawn - d0) / dt,
            "render_fps": (f1 - f0) / dt,
            "max_gap_ms": gap,
            "mb_per_s": (got["bytes"] - b0) / dt / 1e6,
            "load": os.getloadavg()[0],
            "seconds": dt,
        }
        if feed is not None:
            out["feed_frames_per_s"] = (feed.frames - h0) / dt
            out["sim_speed"] = (console.t_s - t_sim0) / dt  # simulated seconds per wall second
            out["run_still_going"] = not run_done()
        b.close()
    return out


def live(scene: str, hours: float, seconds: float, runs: Path, speedup: float = 0.0) -> dict:
    """A run with the console live, fast or paced at ``speedup`` x real time, measured while it goes.

    The console comes up while the run starts up; a fast run then waits at its first tick until the
    page shows the floor, so the whole measurement falls inside the run however fast it is (a paced
    run does not wait: its clock would then race to catch up). A run
    still going when the measurement is done is stopped there (its store is kept as interrupted);
    ``hours`` is only an upper bound. A measurement that saw the run end is flagged in the result."""
    from fctwin.sim.console.live import LiveSession
    from fctwin.sim.run import RunOptions, run_fc
    from fctwin.sim.scene import load_scene

    path = ROOT / "scenes" / f"{scene}.toml"
    sc = load_scene(path, run_hours=hours)
    session = LiveSession(sc, runs_dir=runs, run_id="live", port=0)
    page_ready, measured = threading.Event(), threading.Event()
    feed_tick = session.feed.on_tick

    def on_tick(frame, dispatcher) -> None:
        if not page_ready.is_set() and not speedup:
            page_ready.wait(180)  # a fast run waits at its first tick while the page loads
        if measured.is_set():
            raise _StopRunError
        feed_tick(frame, dispatcher)

    session.feed.on_tick = on_tick
    opts = RunOptions(
        hours=hours, runs_dir=runs, run_id="live", viewer=session.feed, advice=session.advice,
        realtime=speedup > 0, speedup=speedup or 1.0,
    )  # fmt: skip
    result: dict = {}

    def run() -> None:
        try:
            result["r"] = run_fc(path, opts)
        except _StopRunError:
            result["stopped"] = True
        except BaseException as exc:  # noqa: BLE001 - reported below
            result["error"] = exc
        finally:
            page_ready.set()

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    try:
        if not session.ready.wait(180) or session.console is None:
            raise RuntimeError(f"the live console did not start: {session.error!r}")
        what = f"{scene} live ({f'paced x{speedup:g}' if speedup else 'fast'})"
        out = measure(
            session.console, seconds, what, feed=session.feed, run_done=lambda: bool(result),
            page_ready=page_ready,
        )  # fmt: skip
        measured.set()
        if "error" in result:
            raise RuntimeError(f"the live run failed: {result['error']!r}")
        return out
    finally:
        measured.set()
        page_ready.set()
        runner.join()
        session.close()


def replay(scene: str, hours: float, seconds: float, runs: Path) -> dict:
    from fctwin.sim.console.app import Console
    from fctwin.sim.console.data import RunData
    from fctwin.sim.run import RunOptions, run_fc

    r = run_fc(ROOT / "scenes" / f"{scene}.toml", RunOptions(hours=hours, runs_dir=runs, link="local"))
    console = Console(RunData(r.db_path), port=0)
    try:
        console.speed = 60.0
        console.toggle_play()  # play at 60x as a user would after opening the run
        return measure(console, seconds, f"{scene} replay at 60x")
    finally:
        console.close()


def fluid(o: dict) -> bool:
    """The goal, made checkable: the floor reaches the page at least 5 times a second (half the live
    hook's 10), the page draws at least 10 frames a second and never stalls for more than half a second."""
    return (
        o["updates_per_s"] >= 5
        and o["server_frames_per_s"] >= 5
        and o["render_fps"] >= 10
        and (o["max_gap_ms"] <= 500)
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scene", default="fc_large")
    ap.add_argument("--seconds", type=float, default=20.0, help="measuring time per mode")
    ap.add_argument("--hours", type=float, default=0.5, help="simulated hours of the replayed run")
    ap.add_argument(
        "--live-hours",
        type=float,
        default=8.0,
        help="upper bound on the live run's simulated hours (it is stopped once measured)",
    )
    ap.add_argument(
        "--speedup",
        type=float,
        default=0.0,
        help="pace the live run at this x real time, as `fctwin run --view --realtime --speedup X` (0: fast)",
    )
    ap.add_argument("--modes", default="live,replay")
    args = ap.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    print(f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for mode in args.modes.split(","):
            if mode == "live":
                o = live(args.scene, args.live_hours, args.seconds, Path(tmp) / mode, args.speedup)
            else:
                o = replay(args.scene, args.hours, args.seconds, Path(tmp) / mode)
            live_part = ""
            if "feed_frames_per_s" in o:
                live_part = (
                    f" the run offered {o['feed_frames_per_s']:.1f} frames/s"
                    f" at x{o['sim_speed']:,.0f} real time;"
                    + ("" if o["run_still_going"] else " INVALID: the run ended while measuring;")
                )
            print(
                f"RESULT {o['what']}: {o['updates_per_s']:.1f} websocket updates/s received"
                f" ({o['server_frames_per_s']:.1f} floor frames/s pushed, {o['mb_per_s']:.2f} MB/s),"
                f"{live_part} page rendered {o['render_fps']:.1f} fps (longest gap {o['max_gap_ms']:.0f} ms)"
                f" over {o['seconds']:.0f} s; load average {o['load']:.2f}; goal (floor >= 5 updates/s,"
                f" page >= 10 fps, no gap over 0.5 s): {'fluid' if fluid(o) else 'NOT fluid'}",
                flush=True,
            )


if __name__ == "__main__":
    main()
