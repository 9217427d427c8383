"""Benchmarks: gearproto measured side by side with gearmand and other peers."""
