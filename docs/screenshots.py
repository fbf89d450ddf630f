"""How docs/img/console_*.png were made: headless Chromium (Debian's) on a console page.

    python docs/screenshots.py URL OUT.png [--wait 10] [--top] [--size 1500x900] [--scroll-to TEXT]

Start the console first: `fctwin view RUN --port 8080`, or
`fctwin run fc_small --view --realtime --speedup 20`.
"""

from __future__ import annotations

import argparse
import time

from playwright.sync_api import sync_playwright


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("out")
    ap.add_argument("--wait", type=float, default=10.0, help="seconds of software rendering before the shot")
    ap.add_argument("--top", action="store_true", help="press the Top-down camera button first")
    ap.add_argument("--scroll-to", help="scroll the GUI panel to the first element with this text")
    ap.add_argument("--size", default="1500x900", help="viewport WIDTHxHEIGHT (wide floors: 2000x1000)")
    args = ap.parse_args()
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
        )
        width, height = (int(x) for x in args.size.split("x"))
        page = browser.new_page(viewport={"width": width, "height": height})
        page.goto(args.url)
        page.wait_for_selector("canvas", timeout=60_000)
        time.sleep(args.wait)
        close = page.locator(".mantine-Notification-closeButton")  # the "software WebGL" notice
        if close.count():
            close.first.click()
        if args.top:
            page.get_by_role("button", name="Top-down camera").click()
        if args.scroll_to:
            page.get_by_text(args.scroll_to).first.scroll_into_view_if_needed()
        time.sleep(3)
        page.screenshot(path=args.out)
        browser.close()


if __name__ == "__main__":
    main()
