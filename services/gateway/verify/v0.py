"""The ``v0`` signing scheme Slack introduced and Zoom reuses.

``<signature header>: v0=<hex HMAC-SHA256 of "v0:{timestamp}:{raw body}">`` with the timestamp (unix
seconds) in its own header, which must lie within the tolerance. The presets differ only in header
names and in what they read from a verified body.
"""

from __future__ import annotations

from hookgate.gateway.verify.base import (
    WebhookRequest,
    decode_hex,
    header_once,
    hmac_digests,
    reject,
    require_match,
)
from hookgate.gateway.verify.replay import check_window, parse_unix


def check_v0(
    request: WebhookRequest, signature_header: str, timestamp_header: str, secrets: list[bytes], tolerance: int
) -> int:
    """Check a ``v0`` signature and its timestamp; the index of the secret that matched, else :func:`reject`."""
    h = request.headers
    sig = header_once(h, signature_header)
    ts = header_once(h, timestamp_header, "missing_timestamp", "duplicate_timestamp_header")
    timestamp = parse_unix(ts)
    if not sig.startswith("v0="):
        reject("malformed_signature")
    message = b"v0:" + ts.encode() + b":" + request.body
    index = require_match([decode_hex(sig[3:])], hmac_digests(secrets, message))
    check_window(timestamp, request.now, tolerance)
    return index
