"""Shared state: limit counters and the shared policy, in this process (default) or in Redis."""
