"""``python -m fctwin.sim.cli`` is the ``fctwin`` command."""

import sys

from fctwin.sim.cli import main

sys.exit(main())
