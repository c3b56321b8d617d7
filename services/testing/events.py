"""Events as a consumer receives them, built in memory: from a provider's example payload or from raw parts.

:func:`github_event` and :func:`stripe_event` (and :func:`sender_event` for any preset hookgate knows)
read the event id, ``type`` and ``subject`` with the gateway's own table row for that sender, so a test
sees the attributes the gateway would give a real delivery: GitHub ``push`` is ``com.github.push`` with
the ``X-GitHub-Delivery`` id, a Stripe event is ``com.stripe.<type>`` with its ``id`` and the
``data.object.id`` as subject. Pass ``gateway=`` (a gateway config file or model) and the trigger's name
to extract the trigger's ``variables:`` from the payload exactly as the gateway does, so a workflow that
matches ``vars.ref`` is tested against the variables your trigger really extracts.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict

from hookgate.consumer.workflows.event import Event
from hookgate.core.envelope import EXT_TENANT, EXT_TRIGGER, EXT_VARS, Envelope, new_event_id
from hookgate.core.timestamps import rfc3339_ms

__all__ = ["github_event", "make_event", "sender_event", "stripe_event"]

DEFAULT_TENANT = "default"
JSON = "application/json"
Body = bytes | str | Mapping[str, Any] | list[Any]


def _body(data: Body | None, content_type: str | None) -> tuple[bytes, str | None]:
    if data is None:
        return b"", content_type
    if isinstance(data, bytes):
        return data, content_type
    if isinstance(data, str):
        return data.encode(), content_type or "text/plain; charset=utf-8"
    return orjson.dumps(data), content_type or JSON


def make_event(
    *,
    type: str,
    data: Body | None = None,
    id: str | None = None,
    source: str | None = None,
    subject: str | None = None,
    time: str | None = None,
    tenant: str | None = DEFAULT_TENANT,
    trigger: str | None = "test",
    variables: Mapping[str, Any] | None = None,
    datacontenttype: str | None = None,
    extensions: Mapping[str, str] | None = None,
) -> Event:
    """An :class:`Event` from raw parts, as the gateway would have published it.

    ``data`` is the body: bytes as they are, a ``str`` as UTF-8 text, a dict or list as JSON (with
    ``application/json``). ``id`` defaults to a fresh unique id, ``source`` to ``/hookgate/{trigger}``,
    ``time`` to now. ``variables`` are the gateway-extracted variables (``event.variables``,
    ``match.var``); the gateway keeps them as strings, so give strings to see what a handler will see.
    ``extensions`` adds other CloudEvents extension attributes.
    """
    body, content_type = _body(data, datacontenttype)
    ext: dict[str, str] = dict(extensions or {})
    if tenant is not None:
        ext[EXT_TENANT] = tenant
    if trigger is not None:
        ext[EXT_TRIGGER] = trigger
    if variables:
        ext[EXT_VARS] = orjson.dumps(dict(variables)).decode()
    envelope = Envelope(
        id=id or new_event_id(),
        source=source or f"/hookgate/{trigger or 'test'}",
        type=type,
        data=body,
        time=time or rfc3339_ms(),
        subject=subject,
        datacontenttype=content_type,
        extensions=ext,
    )
    return Event(envelope)


def sender_event(
    sender: str,
    body: Body,
    headers: Mapping[str, str] | None = None,
    *,
    tenant: str | None = None,
    trigger: str | None = None,
    variables: Mapping[str, Any] | None = None,
    gateway: str | Path | Any = None,
    id: str | None = None,
) -> Event:
    """The event the gateway makes of a verified delivery from ``sender`` (a verify preset: ``github``, ...).

    ``headers`` are the request's descriptive headers (``X-GitHub-Event``, ``X-GitHub-Delivery``; no
    signature is needed, nothing is verified). The id, ``type`` and ``subject`` come from the gateway's
    table row for the sender; ``id`` overrides the id (for a sender that names none, it is fresh).

    With ``gateway`` (a path to a gateway config file, or a loaded ``GatewayConfig``) and ``trigger``
    (the trigger's ``name``), the trigger's tenant, source and ``variables:`` apply: the variables are
    extracted from this body and these headers by the gateway's own extractor. A trigger's own ``type`` or
    ``subject`` templates are not applied. ``variables`` given here are added on top.
    """
    from hookgate.gateway.verify.base import WebhookRequest
    from hookgate.gateway.verify.payload import EventFields
    from hookgate.gateway.verify.senders import SENDERS

    row = SENDERS.get(sender)
    if row is None or not isinstance(row.describe, EventFields):
        known = ", ".join(sorted(k for k, v in SENDERS.items() if isinstance(v.describe, EventFields)))
        raise ValueError(f"unknown sender {sender!r}: expected one of {known}")
    data, content_type = _body(body, None)
    hdrs = CIMultiDict({"Content-Type": content_type or JSON, **(headers or {})})
    request = WebhookRequest("POST", "https://gateway.test/hooks/test", CIMultiDictProxy(hdrs), data)
    verdict = row.describe(request)
    if verdict.event_type is None:
        raise ValueError(f"the {sender} payload and headers name no event type: {_type_hint(row.describe)}")
    source: str | None = None
    found: dict[str, Any] = {}
    if gateway is not None:
        cfg = _trigger(gateway, trigger or sender)
        tenant = tenant or cfg.tenant
        trigger = cfg.name
        source = cfg.source or f"/hookgate/{cfg.name}"
        found = _extract(cfg, hdrs, data)
    found.update(variables or {})
    return make_event(
        type=verdict.event_type,
        data=data,
        id=id or verdict.delivery_id,
        source=source,
        subject=verdict.subject,
        tenant=tenant or DEFAULT_TENANT,
        trigger=trigger or sender,
        variables=found,
        datacontenttype=hdrs["Content-Type"],
    )


def _type_hint(fields: Any) -> str:
    places = [str(getattr(s, "header", None) or "the body") for s in fields.event_type]
    return "the type is read from " + ", ".join(places)


def _trigger(gateway: str | Path | Any, name: str) -> Any:
    from hookgate.core.config import load_yaml
    from hookgate.gateway.config import GatewayConfig

    config = load_yaml(GatewayConfig, gateway) if isinstance(gateway, str | Path) else gateway
    if not isinstance(config, GatewayConfig):
        raise TypeError(f"gateway= is a config file path or a GatewayConfig, not {type(config).__name__}")
    for cfg in config.triggers:
        if cfg.name == name:
            return cfg
    names = ", ".join(t.name for t in config.triggers) or "none"
    raise ValueError(f"the gateway config has no trigger named {name!r} (triggers: {names})")


def _extract(cfg: Any, headers: CIMultiDict[str], body: bytes) -> dict[str, Any]:
    from hookgate.gateway.shaping.bodies import media_type, parse_body
    from hookgate.gateway.shaping.extract import Extractor, RequestParts

    extractor = Extractor(cfg.variables)
    if not extractor:
        return {}
    parsed = parse_body(body, media_type(headers.get("Content-Type", "")))
    parts = RequestParts(headers=CIMultiDictProxy(headers), query=MultiDict(), path="", body=parsed)
    return dict(extractor.extract(parts))


def github_event(
    event: str,
    payload: Body,
    *,
    delivery: str | None = None,
    tenant: str | None = None,
    trigger: str | None = None,
    variables: Mapping[str, Any] | None = None,
    gateway: str | Path | Any = None,
) -> Event:
    """A GitHub delivery of ``event`` (``push``, ``pull_request``, ...; the ``X-GitHub-Event`` header).

    ``delivery`` is the ``X-GitHub-Delivery`` id, hence the event id (fresh when omitted); the type is
    ``com.github.<event>``. See :func:`sender_event` for ``gateway``/``trigger`` (the trigger's variables).
    """
    headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery or new_event_id()}
    return sender_event(
        "github", payload, headers, tenant=tenant, trigger=trigger, variables=variables, gateway=gateway
    )


def stripe_event(
    payload: Body,
    *,
    tenant: str | None = None,
    trigger: str | None = None,
    variables: Mapping[str, Any] | None = None,
    gateway: str | Path | Any = None,
) -> Event:
    """A Stripe event object (``{"id": "evt_...", "type": "invoice.paid", "data": {"object": {...}}}``).

    The event id is the payload's ``id``, the type ``com.stripe.<type>``, the subject
    ``data.object.id``. See :func:`sender_event` for ``gateway``/``trigger``.
    """
    return sender_event("stripe", payload, tenant=tenant, trigger=trigger, variables=variables, gateway=gateway)
