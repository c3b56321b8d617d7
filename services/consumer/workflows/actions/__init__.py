"""Workflow actions: what running a workflow for one event means (an HTTP call, a Python handler)."""
