"""``make bench``: the gateway and consumer benchmarks (see docs/benchmarks.md)."""
