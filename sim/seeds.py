"""One seed root per run: every random stream is a named child of the scene's seed.

Streams are keyed by name (not by creation order), so adding a new stream never shifts the numbers
of an existing one, and two runs with the same scene and seed draw the same numbers everywhere.
"""

from __future__ import annotations

import zlib

import numpy as np


def stream(seed: int, name: str) -> np.random.Generator:
    """The random generator for stream ``name`` under root ``seed``."""
    key = zlib.crc32(name.encode("utf-8"))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy=seed, spawn_key=(key,))))


def child_seed(seed: int, name: str) -> int:
    """A 32-bit integer seed for stream ``name`` (for APIs that take an int, like unit ``reset``)."""
    key = zlib.crc32(name.encode("utf-8"))
    return int(np.random.SeedSequence(entropy=seed, spawn_key=(key,)).generate_state(1)[0])
