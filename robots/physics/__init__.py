"""PyBullet models of the station-side units: Vulcan's pod cell, Blue Jay's multi-arm cell, Sequoia's rack.

Each cell owns (or borrows) one PyBullet client, steps it at 240 Hz and reports durations in simulated
seconds. Cells know nothing of commands or the fleet: the station units in ``robots/`` drive them.
"""

from fctwin.robots.physics.engine import SIM_HZ, PhysicsClient

__all__ = ["SIM_HZ", "PhysicsClient"]
