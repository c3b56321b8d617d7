"""Sign a test webhook the way each sender does: pure functions from (body, secret, ...) to headers.

These are written from the senders' documentation, independently of the gateway's verifiers in
``hookgate.gateway.verify``, so ``hookgate send`` and the tests built on it check the verifiers
rather than mirror them. Only the preset names are shared: snake_case as in the gateway config
(``standard_webhooks``), with ``-`` for ``_`` accepted too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from hookgate.gateway.verify.registry import canonical_name

Algorithm = Literal["sha1", "sha256", "sha512"]
_PLACEHOLDER = re.compile(r"\{([a-z]+)\}")


@dataclass(frozen=True, slots=True)
class SignRequest:
    """What a signature may cover. ``timestamp`` is unix seconds; ``delivery_id`` the sender's id."""

    body: bytes
    secret: str
    delivery_id: str
    timestamp: int
    event: str | None = None
    method: str = "POST"
    url: str = ""


@dataclass(frozen=True, slots=True)
class HmacSpec:
    """The generic HMAC scheme, described as the gateway's ``verify: {type: hmac}`` options are."""

    header: str = "X-Signature"
    algorithm: Algorithm = "sha256"
    encoding: Literal["hex", "base64"] = "hex"
    prefix: str = ""
    template: str = "{body}"
    timestamp_header: str | None = None
    id_header: str | None = None
    type_header: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def _mac(key: bytes, message: bytes, algorithm: Algorithm = "sha256") -> bytes:
    return hmac.new(key, message, getattr(hashlib, algorithm)).digest()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def github(req: SignRequest) -> dict[str, str]:
    """``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`` plus delivery id and event."""
    return {
        "X-Hub-Signature-256": "sha256=" + _mac(req.secret.encode(), req.body).hex(),
        "X-GitHub-Delivery": req.delivery_id,
        "X-GitHub-Event": req.event or "ping",
    }


def stripe(req: SignRequest) -> dict[str, str]:
    """``Stripe-Signature: t=<ts>,v1=<hex HMAC-SHA256(secret, "{ts}.{body}")>``."""
    signed = f"{req.timestamp}.".encode() + req.body
    return {"Stripe-Signature": f"t={req.timestamp},v1={_mac(req.secret.encode(), signed).hex()}"}


def slack(req: SignRequest) -> dict[str, str]:
    """``X-Slack-Signature: v0=<hex HMAC-SHA256(secret, "v0:{ts}:{body}")>`` and the timestamp."""
    signed = f"v0:{req.timestamp}:".encode() + req.body
    return {
        "X-Slack-Request-Timestamp": str(req.timestamp),
        "X-Slack-Signature": "v0=" + _mac(req.secret.encode(), signed).hex(),
    }


def whsec_key(secret: str) -> bytes:
    """The raw key of a Standard Webhooks ``whsec_<base64>`` secret (the prefix is optional)."""
    text = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except ValueError:
        raise ValueError("a Standard Webhooks/Svix secret is whsec_ followed by base64") from None


def _standard(req: SignRequest, prefix: str) -> dict[str, str]:
    signed = f"{req.delivery_id}.{req.timestamp}.".encode() + req.body
    return {
        f"{prefix}id": req.delivery_id,
        f"{prefix}timestamp": str(req.timestamp),
        f"{prefix}signature": "v1," + _b64(_mac(whsec_key(req.secret), signed)),
    }


def standard_webhooks(req: SignRequest) -> dict[str, str]:
    """``webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{ts}.{body}")>`` with a ``whsec_`` key."""
    return _standard(req, "webhook-")


def svix(req: SignRequest) -> dict[str, str]:
    """Svix: the Standard Webhooks scheme under ``svix-*`` header names."""
    return _standard(req, "svix-")


def shopify(req: SignRequest) -> dict[str, str]:
    """``X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256(secret, body)>`` plus webhook id and topic."""
    return {
        "X-Shopify-Hmac-Sha256": _b64(_mac(req.secret.encode(), req.body)),
        "X-Shopify-Webhook-Id": req.delivery_id,
        "X-Shopify-Topic": req.event or "orders/create",
    }


def gitlab(req: SignRequest) -> dict[str, str]:
    """GitLab does not sign: ``X-Gitlab-Token`` carries the shared secret itself."""
    return {
        "X-Gitlab-Token": req.secret,
        "X-Gitlab-Event": req.event or "Push Hook",
        "Idempotency-Key": req.delivery_id,
    }


def generic_hmac(req: SignRequest, spec: HmacSpec) -> dict[str, str]:
    """The generic scheme: ``{header}: {prefix}{hex|base64 HMAC(secret, template)}``."""
    values = {
        "body": req.body,
        "timestamp": str(req.timestamp).encode(),
        "id": req.delivery_id.encode(),
        "method": req.method.encode(),
        "url": req.url.encode(),
    }
    parts = _PLACEHOLDER.split(spec.template)
    unknown = {p for p in parts[1::2] if p not in values}
    if unknown:
        raise ValueError(f"unknown template placeholder(s): {', '.join(sorted(unknown))}")
    message = b"".join(values[p] if i % 2 else p.encode() for i, p in enumerate(parts))
    digest = _mac(req.secret.encode(), message, spec.algorithm)
    sig = digest.hex() if spec.encoding == "hex" else _b64(digest)
    headers = {spec.header: spec.prefix + sig}
    if spec.timestamp_header:
        headers[spec.timestamp_header] = str(req.timestamp)
    if spec.id_header:
        headers[spec.id_header] = req.delivery_id
    if spec.type_header and req.event:
        headers[spec.type_header] = req.event
    return headers


def unsigned(req: SignRequest) -> dict[str, str]:
    """No signature (a trigger with ``verify: {type: none}``)."""
    del req
    return {}


PRESETS: dict[str, Callable[[SignRequest], dict[str, str]]] = {
    "github": github,
    "stripe": stripe,
    "slack": slack,
    "standard_webhooks": standard_webhooks,
    "svix": svix,
    "shopify": shopify,
    "gitlab": gitlab,
    "none": unsigned,
}
"""Every preset ``hookgate send --preset`` knows, except ``hmac`` (which needs an :class:`HmacSpec`)."""
PRESET_NAMES = (*PRESETS, "hmac")


def sign(preset: str, req: SignRequest, spec: HmacSpec | None = None) -> dict[str, str]:
    """The headers ``preset`` adds to a request; raises ValueError for an unknown preset or bad secret.

    ``preset`` is a name of :data:`PRESET_NAMES`, or the same with ``-`` for ``_``.
    """
    preset = canonical_name(preset)
    if preset == "hmac":
        return generic_hmac(req, spec or HmacSpec())
    try:
        return PRESETS[preset](req)
    except KeyError:
        raise ValueError(f"unknown preset {preset!r}; expected one of {', '.join(PRESET_NAMES)}") from None
