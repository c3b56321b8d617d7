"""Every verification preset, as the discriminated union of their config models. One line per preset."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from hookgate.gateway.verify import (
    basic,
    bearer,
    bitbucket,
    discord,
    github,
    gitlab,
    header_token,
    hmac_generic,
    linear,
    none,
    paddle,
    pagerduty,
    query_token,
    sendgrid,
    shopify,
    slack,
    square,
    standard_webhooks,
    stripe,
    svix,
    twilio,
    twitch,
    zoom,
)

VerifyConfig = Annotated[
    github.GitHubConfig
    | gitlab.GitLabConfig
    | bitbucket.BitbucketConfig
    | stripe.StripeConfig
    | slack.SlackConfig
    | standard_webhooks.StandardWebhooksConfig
    | svix.SvixConfig
    | shopify.ShopifyConfig
    | twilio.TwilioConfig
    | pagerduty.PagerDutyConfig
    | square.SquareConfig
    | paddle.PaddleConfig
    | zoom.ZoomConfig
    | linear.LinearConfig
    | discord.DiscordConfig
    | sendgrid.SendGridConfig
    | twitch.TwitchConfig
    | hmac_generic.HmacConfig
    | bearer.BearerConfig
    | basic.BasicConfig
    | header_token.HeaderTokenConfig
    | query_token.QueryTokenConfig
    | none.NoneConfig,
    Field(discriminator="type"),
]
"""A trigger's ``verify`` section; ``type`` picks the preset."""
