"""What the gateway and the consumers genuinely share: the event envelope, configuration loading,
Kafka client factories and topic admin, logging and metrics set-up, and the ops HTTP routes."""
