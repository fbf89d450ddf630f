"""Scene files: schema, layouts, loading and validation into a frozen `Scene`."""

from sim.scene.layout import CellCode
from sim.scene.loader import SceneError, load_scene, scene_from_dict
from sim.scene.model import DriveUnitDef, PodTable, Scene, SkuTable, StationDef

__all__ = [
    "CellCode",
    "DriveUnitDef",
    "PodTable",
    "Scene",
    "SceneError",
    "SkuTable",
    "StationDef",
    "load_scene",
    "scene_from_dict",
]
