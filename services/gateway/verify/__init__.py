"""Sender verification: one module per scheme, each a pure function of the request and a clock.

To add a preset: write ``verify/<name>.py`` with a config model (a ``type: Literal["<name>"]`` field)
and a :class:`~hookgate.gateway.verify.base.Verifier`, then add one line to ``registry.py``.
"""
