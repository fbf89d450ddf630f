"""fctwin: a digital twin of a robotic fulfillment center and the cross-border flow that feeds it.

The repository's root is this package: ``robots/``, ``controller/``, ``network/``, ``sim/`` and
``scenes/`` install as ``fctwin.robots``, ``fctwin.controller``, ... (see pyproject.toml).

The Python API (docs/api.md)::

    import fctwin
    result = fctwin.run("fc_small", hours=0.5, seed=3, overrides={"orders.rate_per_h": 700})
    print(result.kpis["units_picked_per_h"])
    result.kpi_minutes()  # per-minute KPI rows (a pandas DataFrame when pandas is installed)

Names are resolved on first use, so ``import fctwin.controller`` alone does not load the runtime.
"""

from __future__ import annotations

__version__ = "0.1.0"

_API = {
    "run": "fctwin.sim.api",
    "RunResult": "fctwin.sim.api",
    "load_scene": "fctwin.sim.api",
    "list_scenes": "fctwin.sim.api",
    "SceneError": "fctwin.sim.scene",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'fctwin' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
