"""Cross-border inbound flow: source hub -> lanes -> ports -> customs -> regional storage -> FC dock ->
demand.

Public surface: load a scene, simulate a replication, compute KPIs, produce FC dock arrivals.
"""

from .coupling import DockArrival, dock_arrivals
from .kpis import run_kpis, summarize
from .network import RunResult, simulate
from .scene import InboundScene, SceneError, load_scene, with_changes

__all__ = [
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
