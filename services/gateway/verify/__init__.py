"""Sender verification: each preset a pure function of the request and a clock, most of them data.

Shared schemes do the checking: :mod:`.hmac_scheme` (shared-secret HMACs; the senders built on it are
rows in :mod:`.senders`, the generic ``hmac`` preset builds one from its options), :mod:`.public_key`
(Discord, SendGrid), :mod:`.tokens` (bearer, basic, header and query tokens, GitLab). Senders with
their own scheme have a module (:mod:`.twilio`, :mod:`.standard_webhooks`, :mod:`.svix`), as do the
hooks for what a row cannot say (:mod:`.slack`, :mod:`.zoom`, :mod:`.twitch`, :mod:`.discord`).
Options shared by presets of a kind (``secrets``, ``tolerance_seconds``, ``signed_url``) are
defined once, in :mod:`.options`; :mod:`.registry` is the union of every preset's config model.

To add a sender: a row in ``senders.py`` when it signs an HMAC over some of ``{body}``,
``{timestamp}``, ``{id}``, ``{method}``, ``{url}``; otherwise a module with a config model (a
``type: Literal["<name>"]`` field and ``build()``) and a :class:`~.base.Verifier`, plus one line in
``registry.py``. Either way, a row in ``tests/unit/test_verify_negative.py``.
"""
