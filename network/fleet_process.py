"""``python -m fctwin.network.fleet_process --spec FILE``: serve any fleet host named in the spec.

The sim's fleet host has its own program (``python -m fctwin.sim.fleet_host``); this one serves the
others (the toy fleet of the network tests and benchmarks).
"""

import sys

from fctwin.network.fleet_link import fleet_process_main

if __name__ == "__main__":
    sys.exit(fleet_process_main())
