"""Durable state kept in Kafka: the dedupe table and its changelog, dead letters, re-drives."""
