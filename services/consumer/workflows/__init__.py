"""Workflows: subscriptions, matching, templated actions and the Python SDK."""
