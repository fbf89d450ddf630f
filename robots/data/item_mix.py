"""The item mix Vulcan's calibration draws from when no scene catalogue is given, with each item's packaging.

FC items are mostly small: each box dimension is log-normal (median ``DIM_MEDIAN_M``, log sd
``DIM_LOG_SD``) and sorted so the thinnest side faces across the bin and the tallest stands up.
Mass is volume x a log-normal bulk density. These parameters are assumptions; which items the arm
actually stows - room in the pod, jams, suction - is left to the physics.

Packaging (``KINDS``) is declared here too, because it decides what the arm refuses and how an item
behaves in the cell: ``box`` (rigid carton), ``bag`` (soft goods in a polybag: deformable, slippery
film, a weaker suction seal; modelled in PyBullet as a two-segment body joined by a compliant weld)
and ``fragile`` (glass, ceramics: the arm refuses them). The shares are assumptions, chosen so that
the item types the arm refuses (too big, too heavy, fragile, floppy bags) plus the ones it fails on
come to about a quarter of items, as the public record says of Vulcan (it handles about 75% of item
types).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "BAG_SHARE",
    "DIM_LOG_SD",
    "DIM_MEDIAN_M",
    "FRAGILE_SHARE",
    "KINDS",
    "kind_of_sku",
    "sample_catalogue",
    "sample_items",
]

DIM_MEDIAN_M = 0.085
DIM_LOG_SD = 0.55
DENSITY_MEDIAN_KG_M3 = 250.0  # packaged goods, mostly air and cardboard (assumed)
DENSITY_LOG_SD = 0.5
MASS_MIN_KG = 0.02
KINDS = ("box", "bag", "fragile")
BAG_SHARE = 0.30  # apparel and soft goods in polybags (assumed)
FRAGILE_SHARE = 0.04  # glass, ceramics, liquids in glass (assumed)
BAG_THICK_MAX_M = 0.05  # a polybag lies flat: its thinnest side is at most this


def sample_items(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` items: sizes ``(n, 3)`` m sorted ascending (w across, d deep, h high) and masses ``(n,)`` kg."""
    sizes_m = np.sort(np.exp(np.log(DIM_MEDIAN_M) + DIM_LOG_SD * rng.standard_normal((n, 3))), axis=1)
    density = DENSITY_MEDIAN_KG_M3 * np.exp(DENSITY_LOG_SD * rng.standard_normal(n))
    mass_kg = np.maximum(MASS_MIN_KG, sizes_m.prod(axis=1) * density)
    return sizes_m, mass_kg


def kind_of_sku(sku: int) -> str:
    """The packaging of a scene SKU (scene catalogues carry sizes and masses only): fixed per SKU id,
    drawn with the mix's shares from a stream keyed by the id, so every run and station agrees."""
    u = np.random.default_rng([0x1A7E, int(sku)]).random()
    return "bag" if u < BAG_SHARE else "fragile" if u < BAG_SHARE + FRAGILE_SHARE else "box"


def sample_catalogue(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """`sample_items` plus each item's packaging (``KINDS``); bags are flattened to a polybag's
    thickness (at most ``BAG_THICK_MAX_M``) and keep their volume's mass."""
    sizes_m, mass_kg = sample_items(rng, n)
    u = rng.random(n)
    kinds = ["bag" if x < BAG_SHARE else "fragile" if x < BAG_SHARE + FRAGILE_SHARE else "box" for x in u]
    for k, kind in enumerate(kinds):
        if kind == "bag":
            sizes_m[k, 0] = min(sizes_m[k, 0], BAG_THICK_MAX_M)
    return np.sort(sizes_m, axis=1), mass_kg, kinds
