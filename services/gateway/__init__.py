"""The HTTP ingress: route by trigger id, verify the sender, normalize to CloudEvents, produce to Kafka."""
