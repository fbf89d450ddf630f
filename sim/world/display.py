"""Whether the PyBullet GUI can open here, and the process's one GUI connection.

``p.connect(p.GUI)`` without a usable display calls exit() inside the C++ code, killing the interpreter
with no exception to catch (FIELD_NOTES.md), so the check runs in a child process first.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pybullet as p

_NO_DISPLAY_HINT = "run without --gui, or under xvfb-run"

# PyBullet allows one GUI connection per process; a second p.connect(p.GUI) fails obscurely.
_gui_client_id: int | None = None


class DisplayUnavailable(RuntimeError):  # noqa: N818 (name fixed by the issue; reads as a state)
    """The PyBullet GUI cannot open: no X display is reachable from this process."""


# Run in a child: p.connect(p.GUI) without a usable display calls exit() inside the C++ code, which would
# kill the calling interpreter with no exception to catch.
_DISPLAY_PROBE = (
    "import pybullet as p\n"
    "c = p.connect(p.GUI, options='--width=64 --height=64')\n"
    "raise SystemExit(0 if c >= 0 else 3)\n"
)


def require_display(*, timeout_s: float = 30.0) -> None:
    """Check that the PyBullet GUI can open here, without risking this process.

    Raises:
        DisplayUnavailable: ``DISPLAY`` is unset, or a child process could not open a GUI on it.
    """
    display = os.environ.get("DISPLAY", "")
    if not display:
        raise DisplayUnavailable(f"no X display (DISPLAY is unset): {_NO_DISPLAY_HINT}")
    try:
        probe = subprocess.run(
            [sys.executable, "-c", _DISPLAY_PROBE], capture_output=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        raise DisplayUnavailable(
            f"no X display (opening DISPLAY={display!r} timed out after {timeout_s:.0f} s): "
            f"{_NO_DISPLAY_HINT}"
        ) from None
    if probe.returncode != 0:
        raise DisplayUnavailable(f"no X display (cannot open DISPLAY={display!r}): {_NO_DISPLAY_HINT}")


def connect_gui() -> int:
    """Open this process's one PyBullet GUI connection (after `require_display`); returns the client id.

    Raises:
        RuntimeError: a GUI connection is already open in this process.
        DisplayUnavailable: no display can be opened.
    """
    global _gui_client_id
    if _gui_client_id is not None:
        raise RuntimeError("a PyBullet GUI world is already open in this process (PyBullet allows one)")
    require_display()
    client = p.connect(p.GUI)
    _gui_client_id = client
    return client


def release_gui(client: int) -> None:
    """Free the GUI slot if `client` holds it (its connection was closed)."""
    global _gui_client_id
    if _gui_client_id == client:
        _gui_client_id = None
