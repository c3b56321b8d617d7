"""Generic HMAC: for senders not covered by a preset, described by a few options.

``header`` holds ``<prefix><signature>``, the HMAC (``algorithm`` sha1, sha256 or sha512) in
``encoding`` hex or base64 of ``template`` rendered with ``{body}`` (raw bytes), ``{timestamp}``
(the ``timestamp_header`` value), ``{id}`` (the ``id_header`` value), ``{method}`` and ``{url}``.
With a ``timestamp_header`` the timestamp (unix seconds) must be within ``tolerance_seconds``
(default 300). ``id_header`` also gives the delivery id; ``type_header`` with ``type_prefix`` the
CloudEvents type (``com.acme`` + ``order.paid`` -> ``com.acme.order.paid``).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from hookgate.core.config import Secret
from hookgate.gateway.verify.base import (
    CheckedVerifier,
    PresetConfig,
    Verdict,
    Verifier,
    WebhookRequest,
    decode_b64,
    decode_hex,
    header_once,
    hmac_digests,
    optional_header,
    reject,
    require_match,
    secrets_bytes,
)
from hookgate.gateway.verify.eventtype import normalize
from hookgate.gateway.verify.replay import check_window, parse_unix

_PLACEHOLDER = re.compile(r"\{([a-z]*)\}")
PLACEHOLDERS = frozenset({"body", "timestamp", "id", "method", "url"})


class HmacConfig(PresetConfig):
    type: Literal["hmac"]
    secrets: list[Secret] = Field(min_length=1)
    header: str = Field(min_length=1)
    algorithm: Literal["sha1", "sha256", "sha512"] = "sha256"
    encoding: Literal["hex", "base64"] = "hex"
    prefix: str = ""
    template: str = "{body}"
    timestamp_header: str | None = None
    tolerance_seconds: int = Field(default=300, gt=0)
    id_header: str | None = None
    type_header: str | None = None
    type_prefix: str | None = None

    @model_validator(mode="after")
    def _template_fits(self) -> HmacConfig:
        used = set(_PLACEHOLDER.findall(self.template))
        unknown = used - PLACEHOLDERS
        if unknown:
            raise ValueError(f"template: unknown placeholder(s) {sorted(unknown)}; use {sorted(PLACEHOLDERS)}")
        if "body" not in used:
            raise ValueError("template must contain {body}")
        if "timestamp" in used and not self.timestamp_header:
            raise ValueError("template uses {timestamp}: set timestamp_header")
        if "id" in used and not self.id_header:
            raise ValueError("template uses {id}: set id_header")
        if self.type_header and not self.type_prefix:
            raise ValueError("type_header needs type_prefix (e.g. com.example)")
        return self

    def build(self) -> Verifier:
        return HmacVerifier(self)


class HmacVerifier(CheckedVerifier):
    def __init__(self, config: HmacConfig) -> None:
        self._c = config
        self._secrets = secrets_bytes(config.secrets)
        # the template split once into literal text and placeholder names (odd positions)
        self._parts = _PLACEHOLDER.split(config.template)

    def check(self, request: WebhookRequest) -> Verdict:
        c, h = self._c, request.headers
        sig = header_once(h, c.header)
        if not sig.startswith(c.prefix):
            reject("malformed_signature")
        raw = sig[len(c.prefix) :]
        given = decode_hex(raw) if c.encoding == "hex" else decode_b64(raw)
        values: dict[str, bytes] = {
            "body": request.body,
            "method": request.method.encode(),
            "url": request.url.encode(),
        }
        timestamp = None
        if c.timestamp_header:
            ts = header_once(h, c.timestamp_header, "missing_timestamp", "duplicate_timestamp_header")
            timestamp = parse_unix(ts)
            values["timestamp"] = ts.encode()
        delivery_id = None
        if c.id_header:
            delivery_id = header_once(h, c.id_header, "missing_id", "duplicate_id_header")
            values["id"] = delivery_id.encode()
        message = b"".join(values[part] if i % 2 else part.encode() for i, part in enumerate(self._parts))
        require_match([given], hmac_digests(self._secrets, message, c.algorithm))
        if timestamp is not None:
            check_window(timestamp, request.now, c.tolerance_seconds)
        kind = optional_header(h, c.type_header) if c.type_header else None
        return Verdict(
            ok=True,
            delivery_id=delivery_id,
            event_type=f"{c.type_prefix}.{normalize(kind)}" if kind else None,
        )
