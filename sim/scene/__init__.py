"""Scene files: schema, layouts, loading and validation into a frozen `Scene`."""

from fctwin.sim.scene.layout import CellCode
from fctwin.sim.scene.loader import SceneError, load_scene, scene_from_data, scene_from_dict
from fctwin.sim.scene.model import DriveUnitDef, PodTable, Scene, SkuTable, StationDef

__all__ = [
    "CellCode",
    "DriveUnitDef",
    "PodTable",
    "Scene",
    "SceneError",
    "SkuTable",
    "StationDef",
    "load_scene",
    "scene_from_data",
    "scene_from_dict",
]
