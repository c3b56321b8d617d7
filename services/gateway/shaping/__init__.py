"""Shaping: from a verified request to an event (bodies, variables, templates, filter, handshakes). Pure."""
