"""Every verification preset, as the discriminated union of their config models.

A preset's name is snake_case (``standard_webhooks``); the same name with ``-`` (``standard-webhooks``,
as ``hookgate send -p`` once spelled it) is accepted too, here and in the CLI, and read as the
canonical one (:func:`canonical_name`), so errors and logs always show that one.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from hookgate.gateway.verify import (
    discord,
    hmac_generic,
    none,
    senders,
    sendgrid,
    standard_webhooks,
    svix,
    tokens,
    twilio,
)


def canonical_name(name: str) -> str:
    """A preset name in its one canonical spelling: ``standard-webhooks`` -> ``standard_webhooks``."""
    return name.replace("-", "_")


def _canonical_type(value: Any) -> Any:
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        return {**value, "type": canonical_name(value["type"])}
    return value


VerifyConfig = Annotated[
    senders.GitHubConfig
    | senders.SecretsConfig
    | senders.TimestampedSecretsConfig
    | senders.SquareConfig
    | standard_webhooks.StandardWebhooksConfig
    | svix.SvixConfig
    | twilio.TwilioConfig
    | discord.DiscordConfig
    | sendgrid.SendGridConfig
    | hmac_generic.HmacConfig
    | tokens.GitLabConfig
    | tokens.BearerConfig
    | tokens.BasicConfig
    | tokens.HeaderTokenConfig
    | tokens.QueryTokenConfig
    | none.NoneConfig,
    Field(discriminator="type"),
    BeforeValidator(_canonical_type),
]
"""A trigger's ``verify`` section; ``type`` picks the preset."""
