"""Slotting: where each SKU and each pod lives (docs/slotting.md).

Kernels (numba, array in / array out, each with a pure-Python twin in `reference`) in `kernels`;
the dispatch policies that use them are in `fctwin.controller.policies` (pod storage, pod
selection's stow side) and initial placement in `placement`.
"""

from fctwin.controller.slotting.kernels import (
    affinity_mix,
    decayed_velocity,
    pod_rates,
    reslot_step,
    sku_affinity,
    storage_choice,
    storage_potential,
    stow_choice,
)

__all__ = [
    "affinity_mix",
    "decayed_velocity",
    "pod_rates",
    "reslot_step",
    "sku_affinity",
    "storage_choice",
    "storage_potential",
    "stow_choice",
]
