"""The dispatcher agent. Never imports `sim` or `network`: it reads telemetry and writes commands."""
