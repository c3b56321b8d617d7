"""Twilio: ``X-Twilio-Signature: <base64 HMAC-SHA1 of URL + sorted form parameters>`` keyed by the auth token.

The URL is the one Twilio requested, query string included: the URL registered in Twilio when the
trigger sets ``signed_url`` (for an ingress that rewrites the path), else as the gateway reconstructs
it behind proxies (``request.url``); like Twilio's own validators both the form with and without the
scheme's default port are accepted. Form parameters are appended name then value, sorted by
name (and by value for a repeated name). JSON callbacks instead carry ``bodySHA256`` in the query:
the signature then covers the URL alone and the body's hex SHA-256 must equal that parameter.
Requests signed with a SharedKey announce ``algorithm=HMAC_SHA256`` in
``X-Twilio-Webhooks-Signature-Settings``. The delivery id is ``I-Twilio-Idempotency-Token``; the
subject the ``MessageSid`` or ``CallSid``. Twilio sends no event name: set the trigger's ``type``.
https://www.twilio.com/docs/usage/webhooks/webhooks-security
"""

from __future__ import annotations

import hashlib
import hmac
from collections import defaultdict
from typing import Literal
from urllib.parse import parse_qs, parse_qsl, urlsplit, urlunsplit

from hookgate.gateway.verify.base import (
    CheckedVerifier,
    Verdict,
    Verifier,
    WebhookRequest,
    decode_b64,
    header_once,
    header_set,
    hmac_digests,
    optional_header,
    reject,
    require_match,
    secrets_bytes,
    wire,
)
from hookgate.gateway.verify.options import SecretsPreset, UrlSigningPreset, query_string, signed_url

_ALGORITHMS = {"HMAC_SHA1": "sha1", "HMAC_SHA256": "sha256"}
_DEFAULT_PORTS = {"http": 80, "https": 443}


class TwilioConfig(SecretsPreset, UrlSigningPreset):
    """``secrets`` are the auth tokens (or SharedKey secrets)."""

    type: Literal["twilio"]

    def build(self) -> Verifier:
        return TwilioVerifier(self)

    def header_names(self) -> frozenset[str]:
        return header_set("X-Twilio-Signature", "X-Twilio-Webhooks-Signature-Settings", "I-Twilio-Idempotency-Token")


def url_variants(url: str) -> list[str]:
    """The URL without and with the scheme's default port (Twilio signs either, depending on the product).

    A URL whose host or port does not parse (the client's ``Host`` header: ``[``, ``h:x``) is its only
    variant; it matches no signature Twilio made.
    """
    try:
        parts = urlsplit(url)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return [url]
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    userinfo = userinfo + "@" if userinfo else ""
    without = urlunsplit(parts._replace(netloc=userinfo + host))
    with_port = urlunsplit(parts._replace(netloc=f"{userinfo}{host}:{port}")) if port else without
    return [without] if with_port == without else [without, with_port]


def form_params(body: bytes) -> list[tuple[str, str]]:
    """The form parameters as Twilio reads them (its validators' own decoding, not the gateway's strict one)."""
    try:
        text = body.decode()
    except UnicodeDecodeError:
        reject("malformed_body")
    return parse_qsl(text, keep_blank_values=True)


def signed_params(params: list[tuple[str, str]]) -> str:
    """The form parameters as Twilio concatenates them: sorted names, each name's distinct values sorted."""
    values: defaultdict[str, set[str]] = defaultdict(set)
    for name, value in params:
        values[name].add(value)
    return "".join(name + value for name in sorted(values) for value in sorted(values[name]))


def signature_algorithm(settings: str | None) -> str:
    for part in (settings or "").split(","):
        name, eq, value = part.partition("=")
        if eq and name.strip() == "algorithm" and value.strip():
            algo = _ALGORITHMS.get(value.strip().upper())
            if algo is None:
                reject("unsupported_algorithm")
            return algo
    return "sha1"


class TwilioVerifier(CheckedVerifier):
    def __init__(self, config: TwilioConfig) -> None:
        self._secrets = secrets_bytes(config.secrets)
        self._url = config.signed_url

    def check(self, request: WebhookRequest) -> Verdict:
        h = request.headers
        sig = decode_b64(header_once(h, "X-Twilio-Signature"))
        algorithm = signature_algorithm(optional_header(h, "X-Twilio-Webhooks-Signature-Settings"))
        url = signed_url(self._url, request)
        body_hashes = parse_qs(query_string(url)).get("bodySHA256")
        form = form_params(request.body) if body_hashes is None and request.method == "POST" else []
        params = signed_params(form)
        expected = [
            digest
            for variant in url_variants(url)
            for digest in hmac_digests(self._secrets, wire(variant + params), algorithm)
        ]
        require_match([sig], expected)
        if body_hashes is not None:
            actual = hashlib.sha256(request.body).hexdigest().encode()
            if len(body_hashes) != 1 or not hmac.compare_digest(actual, wire(body_hashes[0].lower())):
                reject("bad_body_hash")
        first = {name: value for name, value in reversed(form)}
        sid = first.get("MessageSid") or first.get("CallSid") or None
        return Verdict(ok=True, delivery_id=optional_header(h, "I-Twilio-Idempotency-Token"), subject=sid)
