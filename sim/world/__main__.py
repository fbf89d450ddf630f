"""``python -m fctwin.sim.world``: see `fctwin.sim.world.demo`."""

import sys

from fctwin.sim.world.demo import main

sys.exit(main())
