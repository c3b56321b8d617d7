"""Generic HMAC: for senders not covered by a preset, their :class:`~.hmac_scheme.HmacScheme` written as options.

``header`` holds ``<prefix><signature>``, the HMAC (``algorithm`` sha1, sha256 or sha512) in
``encoding`` hex or base64 of ``template`` rendered with ``{body}`` (raw bytes), ``{timestamp}``
(the ``timestamp_header`` value), ``{id}`` (the ``id_header`` value), ``{method}`` and ``{url}``
(``signed_url`` when set, see :mod:`.options`). With a ``timestamp_header`` the timestamp (unix
seconds) must be within ``tolerance_seconds`` (default 300). ``id_header`` also gives the delivery
id; ``type_header`` with ``type_prefix`` the CloudEvents type (``com.acme`` + ``order.paid`` ->
``com.acme.order.paid``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from hookgate.gateway.verify.base import Verdict, Verifier, WebhookRequest, header_set, optional_header
from hookgate.gateway.verify.eventtype import prefixed_type
from hookgate.gateway.verify.hmac_scheme import PLACEHOLDER, PLACEHOLDERS, HmacScheme, HmacVerifier, Signed, Timestamp
from hookgate.gateway.verify.options import SecretsPreset, TimestampedPreset, UrlSigningPreset


class HmacConfig(SecretsPreset, TimestampedPreset, UrlSigningPreset):
    type: Literal["hmac"]
    header: str = Field(min_length=1)
    algorithm: Literal["sha1", "sha256", "sha512"] = "sha256"
    encoding: Literal["hex", "base64"] = "hex"
    prefix: str = ""
    template: str = "{body}"
    timestamp_header: str | None = None
    id_header: str | None = None
    type_header: str | None = None
    type_prefix: str | None = None

    @model_validator(mode="after")
    def _template_fits(self) -> HmacConfig:
        used = set(PLACEHOLDER.findall(self.template))
        unknown = used - PLACEHOLDERS
        if unknown:
            raise ValueError(f"template: unknown placeholder(s) {sorted(unknown)}; use {sorted(PLACEHOLDERS)}")
        if "body" not in used:
            raise ValueError("template must contain {body}")
        if "timestamp" in used and not self.timestamp_header:
            raise ValueError("template uses {timestamp}: set timestamp_header")
        if "id" in used and not self.id_header:
            raise ValueError("template uses {id}: set id_header")
        if self.signed_url is not None and "url" not in used:
            raise ValueError("signed_url is set but the template does not sign {url}")
        if self.type_header and not self.type_prefix:
            raise ValueError("type_header needs type_prefix (e.g. com.example)")
        return self

    @property
    def signs_timestamp(self) -> bool:
        return self.timestamp_header is not None

    def build(self) -> Verifier:
        scheme = HmacScheme(
            self.header,
            self.template,
            self.prefix,
            self.encoding,
            self.algorithm,
            timestamp=Timestamp(header=self.timestamp_header) if self.timestamp_header else None,
            id_header=self.id_header,
        )
        return HmacVerifier(scheme, self.secrets, self.tolerance_seconds, self._describe, self.signed_url)

    def header_names(self) -> frozenset[str]:
        return header_set(self.header, self.timestamp_header, self.id_header, self.type_header)

    def _describe(self, request: WebhookRequest, signed: Signed) -> Verdict:
        kind = optional_header(request.headers, self.type_header) if self.type_header else None
        event_type = prefixed_type(self.type_prefix, kind) if self.type_prefix else None
        return Verdict(ok=True, delivery_id=signed.delivery_id, event_type=event_type)
