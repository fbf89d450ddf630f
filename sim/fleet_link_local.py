"""An in-process link to a `FleetHost`, for unit tests and profiling.

It still encodes every batch and frame to msgpack and back, so whatever crosses it is exactly what
would cross the wire; the default `fctwin run` path uses the ZeroMQ link instead.
"""

from __future__ import annotations

import msgspec

from fctwin.robots.messages import CommandBatch, TelemetryFrame
from fctwin.sim.fleet_host import FleetHost


class LocalFleetLink:
    def __init__(self, host: FleetHost):
        self.host = host
        self._enc = msgspec.msgpack.Encoder()
        self._dec_frame = msgspec.msgpack.Decoder(TelemetryFrame)
        self._dec_batch = msgspec.msgpack.Decoder(CommandBatch)

    def initial_frame(self) -> TelemetryFrame:
        return self._dec_frame.decode(self._enc.encode(self.host.initial_frame()))

    def exchange(self, batch: CommandBatch) -> TelemetryFrame:
        batch = self._dec_batch.decode(self._enc.encode(batch))
        return self._dec_frame.decode(self._enc.encode(self.host.apply(batch)))

    def close(self) -> None:
        self.host.close()
