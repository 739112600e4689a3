"""The shared kernel: envelope, relay, tracked consumer, calendar, telemetry, gRPC bootstrap.

No domain code lives here; every service builds on these pieces.
"""
