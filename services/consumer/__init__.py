"""Consumer groups that read tenant topics and fan each event out to the workflows subscribed to it."""
