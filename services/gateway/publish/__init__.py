"""Publishing: events to Kafka within a deadline."""
