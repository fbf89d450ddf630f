"""The PyBullet world of an FC run: floor, walls, pods, stations, docks, pads and drive units.

The world is a view of the grid, not a physics model of it (see `World`). Its rooms:

- world.py: `World`, the client and the state of units and pods (moving, lifting, setting down, queries)
- spec.py: `WorldSpec`, what the world needs from a scene, validated
- frames.py: cells, headings and poses in world metres (`xy_from_cell`, `poses_from_cells`, ...)
- bodies.py: building the bodies in batches; the collision filter groups
- assets.py: geometry, colours and cell codes (plain data), a synthetic demo layout
- camera.py: the fitted camera, TinyRenderer snapshots, PNG encoding
- display.py: whether a GUI can open here (`require_display`), the process's one GUI connection
- demo.py: ``python -m fctwin.sim.world``, a snapshot and build and teleport timings
"""

from fctwin.sim.world.assets import AISLE, CHARGE, DOCK, PARK, PICK, STORAGE, STOW, WALL
from fctwin.sim.world.bodies import COLLISION_GROUP_POD, COLLISION_GROUP_SCENERY, COLLISION_GROUP_UNIT
from fctwin.sim.world.display import DisplayUnavailable, require_display
from fctwin.sim.world.frames import interpolate_poses, poses_from_cells, xy_from_cell, yaw_from_heading
from fctwin.sim.world.spec import WorldSpec
from fctwin.sim.world.world import World

__all__ = [
    "AISLE",
    "CHARGE",
    "COLLISION_GROUP_POD",
    "COLLISION_GROUP_SCENERY",
    "COLLISION_GROUP_UNIT",
    "DOCK",
    "PARK",
    "PICK",
    "STORAGE",
    "STOW",
    "WALL",
    "DisplayUnavailable",
    "World",
    "WorldSpec",
    "interpolate_poses",
    "poses_from_cells",
    "require_display",
    "xy_from_cell",
    "yaw_from_heading",
]
