"""Drive-unit path planners behind one interface (`Planner`), plus the registry of planners."""

from fctwin.controller.planning.base import FleetArrays, GridMaps, Planner

__all__ = ["FleetArrays", "GridMaps", "Planner", "make_planner", "PLANNERS"]

# name -> "module:Class"; imported lazily so that numba kernels compile only when used.
PLANNERS: dict[str, str] = {
    "reservation": "fctwin.controller.planning.reservation:ReservationPlanner",
    "pibt": "fctwin.controller.planning.pibt:PIBTPlanner",
    "pibt_grid": "fctwin.controller.planning.grid_pibt:GridPIBTPlanner",  # 4-connected model, no headings
    "lacam": "fctwin.controller.planning.lacam:LaCAMPlanner",
}


def make_planner(name: str, **kwargs) -> Planner:
    """Build a planner by registry name; raises ValueError listing the known names."""
    import importlib

    try:
        target = PLANNERS[name]
    except KeyError:
        raise ValueError(f"unknown planner {name!r}; known: {', '.join(sorted(PLANNERS))}") from None
    module_name, cls_name = target.split(":")
    return getattr(importlib.import_module(module_name), cls_name)(**kwargs)
