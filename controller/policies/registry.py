"""Policy registry: family -> name -> class, built-ins plus Python entry points.

Built-in policies are listed here as ``"module:Class"`` and imported on first use (the planners'
numba kernels compile only when a planner is used). Third-party packages add policies through
entry points in the group ``fctwin.policies``, named ``"<family>.<name>"`` with the value
``"module:Class"``, e.g. in their pyproject::

    [project.entry-points."fctwin.policies"]
    "pod_selection.fewest_trips" = "mypkg.policies:FewestTrips"

Entry points are read only when a name is not built in, or when the known names are listed (so
the default run never scans them). A broken entry point (bad name, import error, a class without
the family's methods) raises `PolicyError` naming it; none is skipped silently. Built-in names
cannot be replaced: an entry point with a built-in name is an error too.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from fctwin.controller.planning import PLANNERS

GROUP = "fctwin.policies"

# family -> the methods a policy of that family must have (its interface, see each module)
FAMILIES: dict[str, tuple[str, ...]] = {
    "order_assignment": ("station_for",),
    "pod_selection": ("pick_pod", "stow_pod"),
    "unit_allocation": ("allocate", "order_queue"),
    "pod_storage": ("storage_cell",),
    "stow_assignment": ("station_for",),
    "charging": ("charger_for",),
    "parking": ("park",),
    "replenishment": ("reorders",),
    "planner": ("reset", "step"),
}

_P = "fctwin.controller.policies"
BUILTIN: dict[str, dict[str, str]] = {
    "order_assignment": {
        "least_loaded": f"{_P}.order_assignment:LeastLoaded",
        "round_robin": f"{_P}.order_assignment:RoundRobin",
        "external": f"{_P}.order_assignment:External",
    },
    "pod_selection": {
        "most_lines": f"{_P}.pod_selection:MostLines",
        "nearest": f"{_P}.pod_selection:Nearest",
        "most_lines_lean_stow": f"{_P}.pod_selection:LeanStow",
        "random": f"{_P}.pod_selection:RandomStow",
        "class_based": f"{_P}.pod_selection:ClassStow",
        "affinity": f"{_P}.pod_selection:AffinityStow",
        "combined": f"{_P}.pod_selection:CombinedStow",
    },
    "unit_allocation": {
        "nearest": f"{_P}.unit_allocation:NearestUnit",
        "most_charged": f"{_P}.unit_allocation:MostCharged",
    },
    "pod_storage": {
        "nearest_free": f"{_P}.pod_storage:NearestFree",
        "home": f"{_P}.pod_storage:Home",
        "random": f"{_P}.pod_storage:RandomFree",
        "class_based": f"{_P}.pod_storage:ClassBased",
        "turnover": f"{_P}.pod_storage:Turnover",
        "combined": f"{_P}.pod_storage:Combined",
    },
    "stow_assignment": {
        "shortest_queue": f"{_P}.stow_assignment:ShortestQueue",
        "round_robin": f"{_P}.stow_assignment:RoundRobin",
    },
    "charging": {
        "opportunity": f"{_P}.charging:Opportunity",
        "low_battery": f"{_P}.charging:LowBattery",
    },
    "parking": {
        "under_pod": f"{_P}.parking:UnderPod",
        "in_place": f"{_P}.parking:InPlace",
    },
    "replenishment": {
        "none": f"{_P}.replenishment:NoReorder",
        "base_stock": f"{_P}.replenishment:BaseStock",
        "min_max": f"{_P}.replenishment:MinMax",
    },
    # the planners' own registry, shared: adding to PLANNERS adds a planner policy
    "planner": PLANNERS,
}

DEFAULTS: dict[str, str] = {
    "order_assignment": "least_loaded",
    "pod_selection": "most_lines",
    "unit_allocation": "nearest",
    "pod_storage": "nearest_free",
    "stow_assignment": "shortest_queue",
    "charging": "opportunity",
    "parking": "under_pod",
    "replenishment": "none",
    "planner": "pibt",
}


class PolicyError(ValueError):
    """An unknown policy name, a broken entry point, or parameters a policy does not take."""


def _check_family(family: str) -> None:
    if family not in FAMILIES:
        raise PolicyError(f"no policy family {family!r}; families: {', '.join(FAMILIES)}")


def plugin_entry_points() -> dict[tuple[str, str], EntryPoint]:
    """(family, name) -> entry point, for every entry point of the group (read each call)."""
    found: dict[tuple[str, str], EntryPoint] = {}
    for ep in entry_points(group=GROUP):
        family, dot, name = ep.name.partition(".")
        where = f"entry point {ep.name!r} = {ep.value!r} (group {GROUP})"
        if not dot or not name or family not in FAMILIES:
            raise PolicyError(
                f"{where}: the name must be '<family>.<policy name>' with a family of {', '.join(FAMILIES)}"
            )
        if name in BUILTIN[family]:
            raise PolicyError(f"{where}: {name!r} is a built-in {family} policy and cannot be replaced")
        other = found.get((family, name))
        if other is not None and other.value != ep.value:
            raise PolicyError(f"{where}: also registered as {other.value!r} by another distribution")
        found[(family, name)] = ep
    return found


def policy_names(family: str) -> list[str]:
    """Every known name of the family, built-in and from entry points, sorted."""
    _check_family(family)
    names = set(BUILTIN[family])
    names.update(name for fam, name in plugin_entry_points() if fam == family)
    return sorted(names)


def unknown_policy_message(family: str, name: str) -> str:
    what = "planner" if family == "planner" else f"{family} policy"
    return f"unknown {what} {name!r}; known: {', '.join(policy_names(family))}"


def policy_class(family: str, name: str) -> type:
    """The class registered as ``name`` in ``family``; raises PolicyError when unknown or broken."""
    _check_family(family)
    target = BUILTIN[family].get(name)
    if target is not None:
        module_name, cls_name = target.split(":")
        cls = getattr(importlib.import_module(module_name), cls_name)
        where = f"built-in {family} policy {name!r}"
    else:
        ep = plugin_entry_points().get((family, name))
        if ep is None:
            raise PolicyError(unknown_policy_message(family, name))
        where = f"entry point {ep.name!r} = {ep.value!r} (group {GROUP})"
        try:
            cls = ep.load()
        except Exception as exc:
            raise PolicyError(f"{where} failed to load: {type(exc).__name__}: {exc}") from exc
    missing = [m for m in FAMILIES[family] if not callable(getattr(cls, m, None))]
    if not isinstance(cls, type) or missing:
        raise PolicyError(
            f"{where} is not a {family} policy: {cls!r} lacks {', '.join(missing) or 'being a class'}"
        )
    return cls


def make_policy(family: str, name: str, params: dict[str, Any] | None = None):
    """Build the policy ``name`` of ``family`` with keyword ``params``; PolicyError if that fails."""
    cls = policy_class(family, name)
    try:
        return cls(**(params or {}))
    except PolicyError:
        raise
    except (TypeError, ValueError) as exc:  # an unknown keyword, or a value the policy refuses
        raise PolicyError(f"{family} policy {name!r}: bad parameters {dict(params or {})}: {exc}") from exc


@dataclass(frozen=True)
class PolicySet:
    """One policy per family, as the dispatcher uses them."""

    order_assignment: Any
    pod_selection: Any
    unit_allocation: Any
    pod_storage: Any
    stow_assignment: Any
    charging: Any
    parking: Any
    replenishment: Any
    planner: Any


def build_policies(names: dict[str, str], params: dict[str, dict[str, Any]] | None = None) -> PolicySet:
    """Build every family's policy from ``names`` (family -> name; missing families get the default)."""
    params = params or {}
    bad = sorted(set(params) - set(FAMILIES))
    if bad:
        raise PolicyError(f"parameters for unknown policy families {bad}; families: {', '.join(FAMILIES)}")
    return PolicySet(**{f: make_policy(f, names.get(f, DEFAULTS[f]), params.get(f)) for f in FAMILIES})
