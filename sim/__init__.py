"""The runtime: scenes, the clock, the PyBullet world, the fleet host, demand, inbound, run store, CLI."""
