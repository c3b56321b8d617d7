"""Options that presets of one kind share: one name, one type and one meaning wherever they appear.

- ``secrets``: the shared secrets of a preset that signs with one (several during a rotation).
- ``tolerance_seconds``: presets whose sender signs a timestamp. The replay window, 1 second to a
  day (:data:`MAX_TOLERANCE_SECONDS`), or ``null`` for no window, which the gateway names in a
  warning when it starts.
- ``signed_url``: presets whose sender signs the URL it requested (Twilio, Square, ``hmac`` with
  ``{url}``). The URL as registered with the sender, for when a proxy or ingress rewrites the path
  the gateway sees; by default the URL the gateway reconstructs (``proxies.public_base_url`` or the
  forwarded host, plus ``/hooks/<id>``). Scheme, host, port and path come from the option, the query
  string from the request as received, since senders add parameters of their own (Twilio's
  ``bodySHA256``).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

from hookgate.core.config import Secret
from hookgate.gateway.verify.base import PresetConfig, PresetWarning, WebhookRequest

MAX_TOLERANCE_SECONDS = 86_400
"""The widest replay window a trigger may configure: one day."""


def _tolerance(value: int | None) -> int | None:
    if value is not None and not 1 <= value <= MAX_TOLERANCE_SECONDS:
        raise ValueError(f"expected 1 to {MAX_TOLERANCE_SECONDS} seconds, or null for no replay window")
    return value


ToleranceSeconds = Annotated[int | None, AfterValidator(_tolerance)]
"""A replay window in seconds (1 to a day), or ``None`` for none."""


def _signed_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        raise ValueError("expected the absolute http(s) URL registered with the sender, without a fragment")
    return value


SignedUrl = Annotated[str, AfterValidator(_signed_url)]
"""The URL a sender signs, as registered with it."""


class SecretsPreset(PresetConfig):
    """A preset whose sender signs with a shared secret."""

    secrets: list[Secret] = Field(min_length=1)


class TimestampedPreset(PresetConfig):
    """A preset whose sender signs a timestamp: ``tolerance_seconds`` bounds its age."""

    tolerance_seconds: ToleranceSeconds = 300

    @property
    def signs_timestamp(self) -> bool:
        """Whether requests carry a signed timestamp (the generic ``hmac`` preset only with a header)."""
        return True

    def startup_warnings(self) -> list[PresetWarning]:
        if self.signs_timestamp and self.tolerance_seconds is None:
            message = "tolerance_seconds is null: no replay window, so a captured request is accepted forever"
            return [PresetWarning("replay_window_disabled", "tolerance_seconds", message)]
        return []


class UrlSigningPreset(PresetConfig):
    """A preset whose sender signs the URL it requested."""

    signed_url: SignedUrl | None = None


def signed_url(configured: str | None, request: WebhookRequest) -> str:
    """The URL the sender signed: ``configured`` (scheme, host, port, path) with the request's query
    string as received, or the URL the gateway reconstructed when nothing is configured."""
    if configured is None:
        return request.url
    query = query_string(request.url)
    base = configured.partition("?")[0]
    return f"{base}?{query}" if query else base


def query_string(url: str) -> str:
    """The query string of a URL the gateway reconstructed from the request.

    Split by hand rather than by ``urlsplit``, which raises on a ``Host`` header such as ``[`` (the host
    part comes from the client): the query is whatever follows the first ``?``, up to a ``#``.
    """
    return url.partition("#")[0].partition("?")[2]
