"""Argument types shared by the subcommands: each turns bad input into argparse's exit-2 message.

Every number read from the command line is finite (``--hours inf`` would never end, ``nan``
compares false with every bound) and within the bounds the option states; every path that will
be written is checked before the work starts (a run or a minute of physics must not be lost to a
missing folder at the end).
"""

from __future__ import annotations

import argparse
import math
import os
import re
from pathlib import Path

from fctwin.sim.scene.schema import MAX_RUN_HOURS, MAX_SEED

# A run id names a folder under --runs-dir: one path component, no "..", nothing a shell mangles.
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")


def scene_file(text: str) -> Path:
    """A scene reference: a path to a TOML file, or the name of a shipped scene (``fctwin scenes``)."""
    from fctwin.sim.scene.catalog import resolve_scene

    try:
        return resolve_scene(text)
    except (FileNotFoundError, ValueError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    except OSError as exc:  # a name too long, a path through a file, ...
        raise argparse.ArgumentTypeError(f"{_short(text)}: {exc.strerror}") from None


def _short(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


def _checked_path(check):
    """A path type whose file-system look-ups turn OSError (name too long, ...) into the message."""

    def parse(text: str) -> Path:
        if not text or "\x00" in text:
            raise argparse.ArgumentTypeError("empty path" if not text else "a path cannot hold NUL")
        try:
            return check(text)
        except OSError as exc:
            raise argparse.ArgumentTypeError(f"{_short(text)}: {exc.strerror}") from None

    parse.__name__ = check.__name__
    parse.__doc__ = check.__doc__
    return parse


def number(*, low: float | None = None, high: float | None = None, low_open: bool = False, integer=False):
    """An argparse type: a finite number in [low, high] (``(low, high]`` with ``low_open``)."""

    def parse(text: str):
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {'a whole number' if integer else 'a number'}"
            ) from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
        if low is not None and (value <= low if low_open else value < low):
            raise argparse.ArgumentTypeError(f"must be {'>' if low_open else '>='} {low:g}, got {text}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be <= {high:g}, got {text}")
        return value

    parse.__name__ = "integer" if integer else "number"  # argparse names the type in some messages
    return parse


positive_float = number(low=0, low_open=True, high=1e9)
hours = number(low=0, low_open=True, high=MAX_RUN_HOURS)
seconds = number(low=0, low_open=True, high=1e7)  # timeouts, intervals: up to about four months
speedup = number(low=0, low_open=True, high=1e6)
seed = number(low=0, high=MAX_SEED, integer=True)


def run_id(text: str) -> str:
    if not RUN_ID_PATTERN.fullmatch(text) or ".." in text:
        raise argparse.ArgumentTypeError(
            f"{_short(text)!r} is not a run id: letters, digits, '_', '-', '.', at most 128, no '..' or '/'"
        )
    return text


@_checked_path
def runs_dir(text: str) -> Path:
    """A folder for run databases: it may not exist yet, but it must not be a file."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} exists and is not a folder")
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise argparse.ArgumentTypeError(f"{parent} is a file, so {text} cannot be a folder")
            break
    return path


def folder(text: str) -> Path:
    """A folder to create or fill: it may not exist yet, but neither it nor a parent may be a file."""
    return runs_dir(text)


@_checked_path
def output_file(text: str) -> Path:
    """A file to write later: its folder must exist and be writable now."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name")
    folder = path.parent
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"no such folder: {folder} (create it first)")
    if not os.access(folder, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write in {folder}")
    return path


def planner(text: str) -> str:
    """A planner that can run a building: registered (built-in or entry point), not one-shot only."""
    from fctwin.controller.policies import PolicyError, policy_class
    from fctwin.sim.scene.loader import planner_problem

    problem = planner_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    try:  # the planner policy family: built-ins (PLANNERS) and entry points alike
        policy_class("planner", text)
    except PolicyError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


_TCP = re.compile(r"tcp://(\*|[A-Za-z0-9_.\-]+|\[[0-9A-Fa-f:.]+\]):([0-9]{1,5}|\*)")


def endpoint(text: str) -> str:
    """A ZeroMQ endpoint: ``tcp://HOST:PORT`` (port 1-65535, or ``*`` to bind any) or ``ipc://PATH``
    in an existing folder; checked here rather than as an error from deep inside ZeroMQ."""
    m = _TCP.fullmatch(text)
    if m is not None:
        port = m.group(2)
        if port != "*" and not 1 <= int(port) <= 65535:
            raise argparse.ArgumentTypeError(f"{text}: port must be 1-65535")
        return text
    if text.startswith("ipc://") and len(text) > len("ipc://"):
        folder = Path(text[len("ipc://") :]).parent
        try:
            ok = folder.is_dir()
        except OSError:
            ok = False
        if not ok:
            raise argparse.ArgumentTypeError(f"{_short(text)}: no such folder {_short(str(folder))}")
        return text
    raise argparse.ArgumentTypeError(f"{_short(text)!r} is not an endpoint: tcp://HOST:PORT or ipc://PATH")


def client_id(text: str) -> str:
    """A robot or client id as the protocol carries it: 1-64 printable characters, no '/'."""
    from fctwin.network.protocol import MAX_ID_CHARS

    if not text or len(text) > MAX_ID_CHARS or not text.isprintable() or "/" in text or text.startswith("."):
        raise argparse.ArgumentTypeError(
            f"{_short(text)!r} is not an id: 1-{MAX_ID_CHARS} printable characters, no '/',"
            " not starting with '.'"
        )
    return text
