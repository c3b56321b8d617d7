"""Inspection and replay: what happened to a trigger's requests, read from Kafka itself (no other store)."""
