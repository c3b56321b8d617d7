"""The CloudEvents ``type`` naming scheme shared by every preset.

``com.<sender>.<event>``: the sender's own event name, lower-cased, with its hierarchy separators
(``/``, ``:``, ``.``) as dots and any other run of characters outside ``[a-z0-9_]`` as one
underscore. So GitHub ``push`` is ``com.github.push``, Stripe ``invoice.paid`` is
``com.stripe.invoice.paid``, GitLab ``Push Hook`` is ``com.gitlab.push_hook``, Shopify
``orders/create`` is ``com.shopify.orders.create`` and Bitbucket ``repo:push`` is
``com.bitbucket.repo.push``.
"""

from __future__ import annotations

import re
from functools import lru_cache

_SEPARATORS = re.compile(r"[/:.]+")
_OTHER = re.compile(r"[^a-z0-9_.]+")


def normalize(name: str) -> str:
    """A sender's event name as a dotted, lower-case CloudEvents type segment."""
    text = _SEPARATORS.sub(".", name.strip().lower())
    text = _OTHER.sub("_", text)
    return ".".join(part.strip("_") for part in text.split(".") if part.strip("_"))


# Senders repeat a handful of event names: normalized once each (two regexes and a split per request
# otherwise). Bounded, as the names come from request headers.
@lru_cache(maxsize=4096)
def prefixed_type(prefix: str, *names: str | None) -> str | None:
    """``<prefix>.<names...>`` normalized, or ``None`` when the first name is unknown.

    For presets whose user names the prefix (``standard_webhooks``, ``svix``, ``hmac`` with
    ``type_prefix: com.acme``)."""
    if not names or not names[0]:
        return None
    parts = [normalize(n) for n in names if n]
    joined = ".".join(p for p in parts if p)
    return f"{prefix}.{joined}" if joined else None


def ce_type(sender: str, *names: str | None) -> str | None:
    """``com.<sender>.<names...>``, or ``None`` when the first name is unknown."""
    return prefixed_type(f"com.{sender}", *names)
