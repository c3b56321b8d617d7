"""A trigger's ``event_id`` source: configuration, the ids it gives, and its precedence in the chain."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import pytest
from multidict import CIMultiDict

from hookgate.core.config import ConfigError, load_model
from hookgate.gateway.config import GatewayConfig, TriggerConfig
from hookgate.gateway.shaping import eventid
from hookgate.gateway.shaping.bodies import LazyBody, media_type
from hookgate.gateway.shaping.eventid import MAX_PLAIN_ID, ContentHash, TemplateId
from hookgate.gateway.shaping.templates import IdTemplate, TemplateValues
from tests.support.builders import gateway_config, github_signature, github_trigger, new_trigger_id
from tests.support.webhooks import chain, webhook_request

BODY = b'{"order": {"id": 42}, "status": "paid"}'


def trigger(**extra: Any) -> dict[str, Any]:
    return {"id": "t" * 24, "name": "shop", "tenant": "acme", "verify": {"type": "none"}, **extra}


def load(**extra: Any) -> TriggerConfig:
    return load_model(TriggerConfig, trigger(**extra), "<t>")


def config_error(**extra: Any) -> str:
    with pytest.raises(ConfigError) as exc:
        load_model(GatewayConfig, {"triggers": [trigger(**extra)]}, "gw.yaml")
    return str(exc.value)


def values(headers: list[tuple[str, str]] | None = None, body: bytes = BODY, **variables: str) -> TemplateValues:
    parsed = LazyBody(body, media_type("application/json")).parsed()
    return TemplateValues({"tenant": "acme", "trigger": "shop"}, variables, CIMultiDict(headers or []), {}, parsed)


# Configuration


def test_the_three_forms_are_accepted() -> None:
    assert load(event_id="{header.Idempotency-Key}").event_id == "{header.Idempotency-Key}"
    short = load(event_id="content_hash").event_id
    assert isinstance(short, eventid.ContentHashConfig)
    assert short.content_hash.headers == []
    full = load(event_id={"content_hash": {"headers": ["X-Event-Type", "x-event-type", "X-Shop"]}}).event_id
    assert isinstance(full, eventid.ContentHashConfig)
    assert full.content_hash.headers == ["x-event-type", "x-shop"]  # lower case, each once
    assert load(event_id={"content_hash": {}}).event_id == short
    assert load().event_id is None


@pytest.mark.parametrize(
    ("event_id", "expected"),
    [
        ("{id}", "unknown placeholder {id}"),  # the id is what is being made
        ("{type}", "unknown placeholder {type}"),
        ("order-1", "must use a value of the request"),  # a constant: every event the same id
        ("{tenant}/{trigger}", "must use a value of the request"),
        ("{header.X-Id|default:none}", "takes no default text"),
        ("{header.X-Id", "unmatched"),
        ("{vars.order}", "variable(s) ['order'] not declared"),
        ({"content_hash": {"headers": ["X Bad"]}}, "not header names"),
        ({"content_hash": {"header": ["X-A"]}}, "unknown key"),
        ({"sha256": {}}, "event_id.sha256: unknown key"),
        (42, "expected a template, content_hash, or {content_hash: {headers: [...]}}"),
        (["{header.X-Id}"], "expected a template, content_hash"),
    ],
)
def test_bad_sources_are_refused_at_their_key_path(event_id: Any, expected: str) -> None:
    message = config_error(event_id=event_id)
    assert "triggers[0]" in message
    assert expected in message


def test_a_template_may_use_every_request_source_and_an_empty_default() -> None:
    cfg = load(
        event_id="{tenant}:{vars.order}:{header.X-Attempt|default:}{query.src}{$.status}",
        variables={"order": {"jsonpath": "$.order.id"}},
    )
    source = eventid.build(cfg.event_id, cfg.tenant, cfg.name)  # type: ignore[arg-type]
    assert source.reads_body
    assert source.variables == {"order"}


# The ids


def test_a_template_id_is_the_rendered_value_or_none_when_a_placeholder_has_none() -> None:
    source = TemplateId(IdTemplate("{header.Idempotency-Key}"))
    assert source.event_id(values([("Idempotency-Key", "key-1")]), BODY) == "key-1"
    assert source.event_id(values(), BODY) is None
    assert source.event_id(values([("Idempotency-Key", "")]), BODY) is None
    both = TemplateId(IdTemplate("{vars.order}:{header.Idempotency-Key}"))
    assert both.event_id(values(order="42"), BODY) is None  # never "42:" for every request without the key
    assert both.event_id(values([("Idempotency-Key", "k")], order="42"), BODY) == "42:k"
    body = TemplateId(IdTemplate("order-{$.order.id}"))
    assert body.event_id(values(), BODY) == "order-42"


def test_a_long_or_multiline_template_id_becomes_its_digest() -> None:
    source = TemplateId(IdTemplate("{header.X-Id}"))
    plain = "k" * MAX_PLAIN_ID
    assert source.event_id(values([("X-Id", plain)]), BODY) == plain
    long = plain + "k"
    assert source.event_id(values([("X-Id", long)]), BODY) == hashlib.sha256(long.encode()).hexdigest()
    lines = TemplateId(IdTemplate("{$.note}"))
    got = lines.event_id(values(body=b'{"note": "a\\nb"}'), BODY)
    assert got == hashlib.sha256(b"a\nb").hexdigest()


def test_a_content_hash_is_stable_and_covers_trigger_headers_and_body() -> None:
    source = ContentHash("acme", "shop", ("x-event",))
    base = source.event_id(values([("X-Event", "paid")]), BODY)
    assert len(base) == 64
    assert int(base, 16) >= 0  # hex SHA-256
    assert source.event_id(values([("X-Event", "paid"), ("X-Unlisted", "1")]), BODY) == base
    assert source.event_id(values([("x-event", "paid")]), BODY) == base  # header names are case-insensitive
    different = [
        source.event_id(values([("X-Event", "paid")]), BODY + b" "),
        source.event_id(values([("X-Event", "refunded")]), BODY),
        source.event_id(values([]), BODY),
        source.event_id(values([("X-Event", "paid"), ("X-Event", "paid")]), BODY),
        source.event_id(values([("X-Event", "paid, paid")]), BODY),
        ContentHash("acme", "other", ("x-event",)).event_id(values([("X-Event", "paid")]), BODY),
        ContentHash("globex", "shop", ("x-event",)).event_id(values([("X-Event", "paid")]), BODY),
    ]
    assert len({base, *different}) == len(different) + 1


def test_the_content_hash_frames_its_parts() -> None:
    # Moving bytes from one part to the next changes the id: every part is length-prefixed.
    assert ContentHash("ab", "c").event_id(values(), b"") != ContentHash("a", "bc").event_id(values(), b"")
    assert ContentHash("a", "b").event_id(values(), b"c") != ContentHash("a", "bc").event_id(values(), b"")


# In the chain: precedence


def signed(body: bytes, delivery: str, **extra: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": github_signature(body),
        "X-GitHub-Delivery": delivery,
        "X-GitHub-Event": "push",
        **extra,
    }


async def test_the_same_body_twice_gets_one_id_with_content_hash_and_two_without() -> None:
    hashed, plain = new_trigger_id(), new_trigger_id()
    gw = chain(
        gateway_config(
            "127.0.0.1:9",
            "hg",
            [
                {**trigger(event_id="content_hash"), "id": hashed},
                {**trigger(), "id": plain, "name": "plain"},
            ],
        )
    )
    headers = {"Content-Type": "application/json"}
    for tid in (hashed, hashed, plain, plain):
        assert (await gw.send(webhook_request(tid, BODY, headers))).status == 202
    ids = [stored.envelope.id for stored in gw.sink.events]
    assert ids[0] == ids[1]
    assert ids[2] != ids[3]
    assert [r.event_id for r in gw.audited] == ids
    resp = await gw.send(webhook_request(hashed, BODY, headers))
    assert resp.body is not None
    assert orjson.loads(resp.body) == {"id": ids[0]}  # type: ignore[arg-type]


async def test_the_configured_source_wins_over_the_delivery_id_and_falls_back_to_it() -> None:
    tid = new_trigger_id()
    cfg = gateway_config(
        "127.0.0.1:9",
        "hg",
        [github_trigger(tid, event_id="{header.Idempotency-Key}", key="{id}", event={"subject": "{id}"})],
    )
    gw = chain(cfg)
    body = b'{"action": "opened"}'
    await gw.send(webhook_request(tid, body, signed(body, "d-1", **{"Idempotency-Key": "idem-1"})))
    await gw.send(webhook_request(tid, body, signed(body, "d-2")))
    first, second = (stored.envelope for stored in gw.sink.events)
    assert first.id == "idem-1"
    assert (gw.sink.events[0].key, first.subject) == (b"idem-1", "idem-1")  # {id} in later templates is the id
    assert second.id == "d-2"  # no Idempotency-Key: the sender's delivery id


async def test_no_value_and_no_delivery_id_gives_a_fresh_id() -> None:
    tid = new_trigger_id()
    gw = chain(gateway_config("127.0.0.1:9", "hg", [{**trigger(event_id="{header.Idempotency-Key}"), "id": tid}]))
    for _ in range(2):
        await gw.send(webhook_request(tid, BODY, {"Content-Type": "application/json"}))
    await gw.send(webhook_request(tid, BODY, {"Content-Type": "application/json", "Idempotency-Key": "k-1"}))
    first, second, third = (stored.envelope.id for stored in gw.sink.events)
    assert first != second
    assert "k-1" not in (first, second)
    assert third == "k-1"
