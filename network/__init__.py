"""The wire: message envelopes and versions, ZeroMQ roles, heartbeats, CURVE keys, robot client."""
