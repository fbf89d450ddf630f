"""Shipped calibrated station models (``station_models.json``, from ``fctwin calibrate``) and their reader.

A table entry, per unit type, line kind and item class, is ``{"success_rate": f, "cycle_s": dist,
"fail_s": dist, "trials": n}`` where ``dist`` is a `fctwin.robots.distributions` mapping fitted to physics
trials (seconds of simulated time per unit). Item classes by SKU volume: small < 1 L <= medium < 8 L
<= large.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fctwin.robots.distributions import make_sampler

__all__ = ["DEFAULT_MODELS_PATH", "FastLineModel", "item_class", "load_station_models"]

DEFAULT_MODELS_PATH = Path(__file__).with_name("station_models.json")
SMALL_MAX_M3 = 0.001
MEDIUM_MAX_M3 = 0.008


def item_class(size_m) -> str:
    """'small', 'medium' or 'large' from an item's (w, d, h) size in metres."""
    volume = float(np.prod(size_m))
    return "small" if volume < SMALL_MAX_M3 else "medium" if volume < MEDIUM_MAX_M3 else "large"


def load_station_models(path: str | Path | None = None) -> dict:
    """The calibrated tables (``{"schema_version", "models": {unit: {kind: {class: entry}}}, ...}``)."""
    with open(path or DEFAULT_MODELS_PATH, encoding="utf-8") as f:
        data = json.load(f)
    if data.get("schema_version") != 1:
        raise ValueError(
            f"{path or DEFAULT_MODELS_PATH}: unsupported schema_version {data.get('schema_version')!r}"
        )
    return data


@dataclass
class FastLineModel:
    """Samples per-unit outcomes from one unit type's table for one line kind (``{class: entry}``)."""

    table: Mapping

    def __post_init__(self):
        self._samplers = {
            cls: (
                float(e["success_rate"]),
                make_sampler(e["cycle_s"]),
                make_sampler(e.get("fail_s", e["cycle_s"])),
            )
            for cls, e in self.table.items()
        }

    def sample(self, rng: np.random.Generator, cls: str) -> tuple[float, bool]:
        """(duration_s, success) of one unit of item class ``cls`` (falls back to 'medium')."""
        rate, ok_s, fail_s = self._samplers.get(cls) or self._samplers["medium"]
        if rng.random() < rate:
            return ok_s(rng), True
        return fail_s(rng), False
