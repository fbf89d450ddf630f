"""The item-size mix Vulcan's calibration draws from when no scene catalogue is given.

FC items are mostly small: each box dimension is log-normal (median ``DIM_MEDIAN_M``, log sd
``DIM_LOG_SD``) and sorted so the thinnest side faces across the bin and the tallest stands up.
Mass is volume x a log-normal bulk density. These parameters are assumptions, chosen so that about
80% of items fit the largest bin of the cell geometrically (FACTS: Vulcan handles about 75% of item
types); which items the arm actually stows - room in the pod, jams, suction - is left to the physics.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DIM_LOG_SD", "DIM_MEDIAN_M", "sample_items"]

DIM_MEDIAN_M = 0.095
DIM_LOG_SD = 0.6
DENSITY_MEDIAN_KG_M3 = 250.0  # packaged goods, mostly air and cardboard (assumed)
DENSITY_LOG_SD = 0.5
MASS_MIN_KG = 0.02


def sample_items(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` items: sizes ``(n, 3)`` m sorted ascending (w across, d deep, h high) and masses ``(n,)`` kg."""
    sizes_m = np.sort(np.exp(np.log(DIM_MEDIAN_M) + DIM_LOG_SD * rng.standard_normal((n, 3))), axis=1)
    density = DENSITY_MEDIAN_KG_M3 * np.exp(DENSITY_LOG_SD * rng.standard_normal(n))
    mass_kg = np.maximum(MASS_MIN_KG, sizes_m.prod(axis=1) * density)
    return sizes_m, mass_kg
