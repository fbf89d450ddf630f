"""Drive-unit path planners behind one interface (`Planner`), plus the registry of planners."""

from fctwin.controller.planning.base import FleetArrays, GridMaps, Planner

__all__ = ["FleetArrays", "GridMaps", "LIFELONG_PLANNERS", "Planner", "make_planner", "PLANNERS"]

# name -> "module:Class"; imported lazily so that numba kernels compile only when used.
PLANNERS: dict[str, str] = {
    "reservation": "fctwin.controller.planning.reservation:ReservationPlanner",
    "pibt": "fctwin.controller.planning.pibt:PIBTPlanner",
    "pibt_grid": "fctwin.controller.planning.grid_pibt:GridPIBTPlanner",  # 4-connected model, no headings
    "lacam": "fctwin.controller.planning.lacam:LaCAMPlanner",
}

# Planners that run a building (lifelong: units get new goals as they reach theirs, start loaded or
# on shared cells). LaCAM plans one-shot benchmark problems only (every unit active, unloaded, one
# goal each): the scene loader and `fctwin run --planner` refuse it by name instead of crashing.
LIFELONG_PLANNERS: frozenset[str] = frozenset({"reservation", "pibt", "pibt_grid"})


def make_planner(name: str, **kwargs) -> Planner:
    """Build a planner by registry name; raises ValueError listing the known names."""
    import importlib

    try:
        target = PLANNERS[name]
    except KeyError:
        raise ValueError(f"unknown planner {name!r}; known: {', '.join(sorted(PLANNERS))}") from None
    module_name, cls_name = target.split(":")
    return getattr(importlib.import_module(module_name), cls_name)(**kwargs)
