"""TLS termination by the gateway itself, optionally with client certificates (mTLS).

Usually TLS ends at a load balancer and none of this applies. When the gateway listens on TLS,
``client_ca`` makes it ask for a client certificate signed by that CA; ``require_client_cert`` turns
the request into a requirement, so a client without one fails the handshake and never reaches a
handler. A trigger may further restrict which certificates it accepts (``client_cert_subjects``).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Mapping
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from hookgate.core.config import StrictModel


class TlsSettings(StrictModel):
    """``gateway.tls``: serve HTTPS with this certificate; verify client certificates against ``client_ca``."""

    certfile: str = Field(description="PEM server certificate (with its chain)")
    keyfile: str = Field(description="PEM private key of certfile")
    client_ca: str | None = Field(default=None, description="PEM CA bundle client certificates must chain to")
    require_client_cert: bool = Field(default=False, description="Refuse the handshake without a valid client cert")
    min_version: Literal["TLSv1.2", "TLSv1.3"] = "TLSv1.2"

    @model_validator(mode="after")
    def _ca_for_required(self) -> Self:
        if self.require_client_cert and not self.client_ca:
            raise ValueError("require_client_cert needs client_ca (the CA client certificates are checked against)")
        return self


def server_context(settings: TlsSettings) -> ssl.SSLContext:
    """The server-side context: modern protocol floor, the server certificate, client verification."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion[settings.min_version.replace(".", "_")]
    ctx.load_cert_chain(settings.certfile, settings.keyfile)
    if settings.client_ca:
        ctx.load_verify_locations(cafile=settings.client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED if settings.require_client_cert else ssl.CERT_OPTIONAL
    else:
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def certificate_names(peercert: Mapping[str, Any] | None) -> set[str]:
    """The subject common names and DNS/URI subject alternative names of a verified peer certificate
    (``SSLSocket.getpeercert()`` form); empty when there is none."""
    if not peercert:
        return set()
    names: set[str] = set()
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                names.add(value)
    for kind, value in peercert.get("subjectAltName", ()):
        if kind in ("DNS", "URI"):
            names.add(value)
    return names


def subject_allowed(peercert: Mapping[str, Any] | None, allowed: Iterable[str]) -> bool:
    """Whether the peer certificate names one of ``allowed`` (exact match on a CN or DNS/URI SAN)."""
    return not certificate_names(peercert).isdisjoint(allowed)
