"""How fluid the console is in a real browser: updates and frames per second that headless Chromium sees.

    python benchmarks/console_fluidity.py                 # fc_large: live run, then a replay playing
    python benchmarks/console_fluidity.py --scene fc_small --seconds 15
    python benchmarks/console_fluidity.py --modes live --speedup 30 --live-hours 0.5   # paced, as one watches

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


def measure(console, seconds: float, label: str) -> dict:
    """Open the console's page, wait for the floor, then count for ``seconds``."""
    from playwright.sync_api import sync_playwright

    got = {"messages": 0, "bytes": 0}

    def on_ws(ws) -> None:
        def frame(payload) -> None:
            got["messages"] += 1
            got["bytes"] += len(payload)

        ws.on("framereceived", frame)

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = b.new_page(viewport={"width": 1280, "height": 800})
        page.add_init_script(COUNT_FRAMES)
        page.on("websocket", on_ws)
        page.goto(console.url)
        page.wait_for_selector("canvas", timeout=120_000)
        page.wait_for_timeout(3000)  # the first scene upload and shader compiles
        m0, b0, d0 = got["messages"], got["bytes"], console.frames_drawn
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
        }
        b.close()
    return out


def live(scene: str, hours: float, seconds: float, runs: Path, speedup: float = 0.0) -> dict:
    """A run with the console live (fast, or paced at ``speedup`` x real time); it must outlast the
    page's loading and the measurement, so give it enough ``hours``."""
    from fctwin.sim.console.live import LiveSession
    from fctwin.sim.run import RunOptions, run_fc
    from fctwin.sim.scene import load_scene

    path = ROOT / "scenes" / f"{scene}.toml"
    sc = load_scene(path, run_hours=hours)
    session = LiveSession(sc, runs_dir=runs, run_id="live", port=0)
    opts = RunOptions(
        hours=hours, runs_dir=runs, run_id="live", viewer=session.feed, advice=session.advice,
        realtime=speedup > 0, speedup=speedup or 1.0,
    )  # fmt: skip
    result: dict = {}
    runner = threading.Thread(target=lambda: result.update(r=run_fc(path, opts)), daemon=True)
    runner.start()
    try:
        if not session.ready.wait(120) or session.console is None:
            raise RuntimeError(f"the live console did not start: {session.error!r}")
        what = f"{scene} live ({f'paced x{speedup:g}' if speedup else 'fast'})"
        out = measure(session.console, seconds, what)
        out["run_still_going"] = "r" not in result
        return out
    finally:
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scene", default="fc_large")
    ap.add_argument("--seconds", type=float, default=20.0, help="measuring time per mode")
    ap.add_argument("--hours", type=float, default=0.5, help="simulated hours of the replayed run")
    ap.add_argument(
        "--live-hours",
        type=float,
        default=2.0,
        help="simulated hours of the live run (it must outlast the measurement)",
    )
    ap.add_argument(
        "--speedup", type=float, default=0.0, help="pace the live run at this x real time (0: fast)"
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
            print(
                f"RESULT {o['what']}: {o['updates_per_s']:.1f} websocket updates/s received"
                f" ({o['server_frames_per_s']:.1f} floor frames/s pushed, {o['mb_per_s']:.2f} MB/s),"
                f" page rendered {o['render_fps']:.1f} fps (longest gap {o['max_gap_ms']:.0f} ms);"
                f" load average {o['load']:.2f}"
                + ("" if o.get("run_still_going", True) else " (the run ended while measuring)")
                + "; goal: floor ~10 updates/s, page keeps drawing",
                flush=True,
            )


if __name__ == "__main__":
    main()
