"""The wire: message envelopes and versions, ZeroMQ roles, heartbeats, CURVE keys, robot client.

Public surface: `protocol` (constants, envelope, encode/decode), `dispatcher_side.DispatcherServer`,
`fleet_side.FleetClient`, `fleet_link.ZmqFleetLink` (the default run path), `hil_link.HilFleetLink`
(hardware in the loop), `robot_client.ReferenceRobot`, `security` (CURVE keys). See docs/protocol.md.
"""

__all__ = ["dispatcher_side", "fleet_link", "fleet_side", "hil_link", "protocol", "robot_client", "security"]
