"""The admin side of the gateway, on its own port and off by default.

The admin API, inspection and replay, and the web inspector.
"""
