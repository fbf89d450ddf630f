"""Simulation speed with and without the live browser console (`fctwin run --view`).

    python benchmarks/console_speed.py [--hours-small 1] [--hours-large 0.25] [--repeats 3] [--browser]

Each scene runs as `fctwin run` does (fleet host over ZeroMQ, fast mode), alternately headless and
with a `LiveSession` serving the console (viser server, 10 Hz frames from the dispatcher, run store
re-read every minute). ``--browser`` also keeps a headless Chromium page open on the console while it
runs: that measures the server side under a real client, but software WebGL takes both cores of a
2-core machine (FIELD_NOTES), so on such machines it mostly measures the browser's CPU theft.

Printed: median wall seconds of each, their ratio, and the hook's own cost (seconds spent building
frames, which does not depend on machine load). Target (issue 18): within 10% of headless on
fc_small; fc_large (500 units) stays fluid (frames keep coming at ~10 Hz).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
from pathlib import Path

from fctwin.sim.run import RunOptions, run_fc

ROOT = Path(__file__).resolve().parents[1]


def one(scene: str, hours: float, runs: Path, *, view: bool, browser: bool, link: str) -> tuple[float, dict]:
    path = ROOT / "scenes" / f"{scene}.toml"
    opts = RunOptions(hours=hours, runs_dir=runs, link=link, command_line=["benchmark"])
    info: dict = {}
    session = None
    stop = threading.Event()
    if view:
        from fctwin.sim.console.live import LiveSession
        from fctwin.sim.runstore import new_run_id
        from fctwin.sim.scene import load_scene

        sc = load_scene(path, run_hours=hours)
        opts.run_id = new_run_id(sc.name, sc.seed)
        session = LiveSession(sc, runs_dir=runs, run_id=opts.run_id, port=0)
        opts.viewer, opts.advice = session.feed, session.advice
        if browser:
            threading.Thread(target=_browse, args=(session, stop), daemon=True).start()
    try:
        r = run_fc(path, opts)
    finally:
        stop.set()
        if session is not None:
            info = {"frames": session.feed.frames, "hook_s": round(session.feed.sample_s, 3)}
            if session.console is not None:
                info["drawn"] = session.console.frames_drawn
                info["draw_s"] = round(session.console.draw_s, 3)
            session.close()
    return r.wall_s, info


def _browse(session, stop: threading.Event) -> None:
    from playwright.sync_api import sync_playwright

    if not session.ready.wait(60) or session.console is None:
        return
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
        )
        page = b.new_page()
        page.goto(session.console.url)
        stop.wait(600)
        b.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours-small", type=float, default=1.0)
    ap.add_argument("--hours-large", type=float, default=0.25)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--browser", action="store_true", help="keep a headless Chromium page on the console")
    ap.add_argument(
        "--link", choices=("zmq", "local"), default="zmq", help="fleet host over ZeroMQ or in-process"
    )
    ap.add_argument("--scenes", default="fc_small,fc_large", help="comma-separated: fc_small, fc_large")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        hours_of = {"fc_small": args.hours_small, "fc_large": args.hours_large}
        for scene in args.scenes.split(","):
            hours = hours_of[scene]
            plain, viewed, infos = [], [], []
            for k in range(args.repeats):
                # alternate the order so drifting machine load hits both alike
                for view in (False, True) if k % 2 == 0 else (True, False):
                    wall, info = one(scene, hours, Path(tmp), view=view, browser=args.browser, link=args.link)
                    (viewed if view else plain).append(wall)
                    if view:
                        infos.append(info)
            a, b = statistics.median(plain), statistics.median(viewed)
            print(
                f"{scene} {hours:g} h: headless {a:.2f} s, with console {b:.2f} s "
                f"(ratio {b / a:.3f}; runs {[round(x, 2) for x in plain]} vs {[round(x, 2) for x in viewed]})"
            )
            print(f"  console hook: {infos}")


if __name__ == "__main__":
    main()
