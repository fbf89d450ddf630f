"""Argument types shared by the subcommands: each turns bad input into argparse's exit-2 message."""

from __future__ import annotations

import argparse
from pathlib import Path


def scene_file(text: str) -> Path:
    """A scene reference: a path to a TOML file, or the name of a shipped scene (``fctwin scenes``)."""
    from fctwin.sim.scene.catalog import resolve_scene

    try:
        return resolve_scene(text)
    except FileNotFoundError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
