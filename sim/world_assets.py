"""Moved to `fctwin.sim.world.assets`; this name stays an alias of it (the same module object) so code
written against ``fctwin.sim.world_assets`` keeps working."""

import sys

from fctwin.sim.world import assets

sys.modules[__name__] = assets
