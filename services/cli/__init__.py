"""The ``hookgate`` command line: run the services, and tools for operators."""

from hookgate.cli.main import app, main

__all__ = ["app", "main"]
