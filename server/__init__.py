"""The gearproto job server, on anyio."""
