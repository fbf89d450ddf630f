"""Cross-border inbound flow: source hub -> lanes -> ports -> customs -> regional storage -> FC dock ->
demand.

Public surface: load a scene, simulate a replication, compute KPIs, produce FC dock arrivals; the five
cross-border models side by side (``simulate_models``, ``xb_kpis``) and the per-SKU chooser (``CostChooser``).
"""

from .chooser import CostChooser
from .coupling import DockArrival, dock_arrivals
from .kpis import run_kpis, summarize
from .network import RunResult, simulate
from .scene import InboundScene, SceneError, load_scene, with_changes
from .xborder import XBResult, simulate_models, xb_kpis

__all__ = [
    "CostChooser",
    "XBResult",
    "simulate_models",
    "xb_kpis",
    "DockArrival",
    "InboundScene",
    "RunResult",
    "SceneError",
    "dock_arrivals",
    "load_scene",
    "run_kpis",
    "simulate",
    "summarize",
    "with_changes",
]
