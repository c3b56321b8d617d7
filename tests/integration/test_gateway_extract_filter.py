"""Variables, templates, filters and per-trigger replies through the gateway into a real broker."""

from __future__ import annotations

import orjson
import pytest

from hookgate.core.envelope import Envelope
from tests.support.builders import github_signature, github_trigger, new_trigger_id, read_all, read_topic
from tests.support.gateway import running_gateway

pytestmark = pytest.mark.kafka

PR_OPENED = orjson.dumps(
    {
        "action": "opened",
        "number": 7,
        "pull_request": {"head": {"ref": "refs/heads/feat/x"}, "draft": False},
        "repository": {"full_name": "acme/api"},
    }
)


def github_headers(body: bytes, event: str, delivery: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": github_signature(body),
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
    }


GITHUB_VARIABLES = {
    "action": {"jsonpath": "$.action"},
    "repo": {"jsonpath": "$.repository.full_name"},
    "branch": {"jsonpath": "$.pull_request.head.ref", "regex": "^refs/heads/(.+)$"},
    "number": {"jsonpath": "$.number"},
    "event": {"header": "X-GitHub-Event"},
    "env": {"query": "env", "default": "staging"},
}


async def test_variables_travel_as_ce_vars_and_templates_shape_type_subject_key(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    tid = new_trigger_id()
    trigger = github_trigger(
        tid,
        variables=GITHUB_VARIABLES,
        event={
            "type": "com.github.{header.X-GitHub-Event}.{$.action|default:none}",
            "subject": "{vars.repo}#{vars.number}",
        },
        key="{tenant}/{vars.repo}",
    )
    async with running_gateway(kafka_bootstrap, topic_prefix, [trigger]) as client:
        resp = await client.post(
            f"/hooks/{tid}?env=prod", data=PR_OPENED, headers=github_headers(PR_OPENED, "pull_request", "d-1")
        )
        assert resp.status == 202
        assert await resp.json() == {"id": "d-1"}
    records = await read_topic(kafka_bootstrap, f"{topic_prefix}.acme", count=1)
    assert len(records) == 1
    rec = records[0]
    assert rec.value == PR_OPENED
    assert rec.key == b"acme/acme/api"
    headers = dict(rec.headers)
    assert orjson.loads(headers["ce_vars"]) == {
        "action": "opened",
        "repo": "acme/api",
        "branch": "feat/x",
        "number": "7",
        "event": "pull_request",
        "env": "prod",
    }
    event = Envelope.from_record(rec.headers, rec.value)
    assert event.type == "com.github.pull_request.opened"
    assert event.subject == "acme/api#7"
    assert event.id == "d-1"
    assert event.variables["branch"] == "feat/x"


async def test_filter_ignores_non_matching_requests_and_produces_matching_ones(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    tid = new_trigger_id()
    trigger = github_trigger(
        tid,
        variables=GITHUB_VARIABLES,
        filter={
            "types": ["com.github.pull_request"],
            "conditions": [
                {"var": "action", "equals": ["opened", "synchronize"]},
                {"var": "branch", "regex": "feat/.+"},
            ],
        },
    )
    closed = PR_OPENED.replace(b'"opened"', b'"closed"')
    push = b'{"ref": "refs/heads/main"}'
    async with running_gateway(kafka_bootstrap, topic_prefix, [trigger]) as client:
        for body, event, delivery in [(closed, "pull_request", "d-closed"), (push, "push", "d-push")]:
            resp = await client.post(f"/hooks/{tid}", data=body, headers=github_headers(body, event, delivery))
            assert resp.status == 200
            assert await resp.json() == {"ignored": True}
        resp = await client.post(
            f"/hooks/{tid}", data=PR_OPENED, headers=github_headers(PR_OPENED, "pull_request", "d-ok")
        )
        assert resp.status == 202
        metrics = await (await client.get("/metrics")).text()
    records = await read_all(kafka_bootstrap, f"{topic_prefix}.acme")  # the gateway stopped: nothing more comes
    assert [Envelope.from_record(r.headers, r.value).id for r in records] == ["d-ok"]
    assert (
        'hookgate_gateway_requests_total{outcome="ignored",reason="condition_filtered",status_class="2xx"} 1.0'
        in metrics
    )
    assert 'hookgate_gateway_requests_total{outcome="ignored",reason="type_filtered",status_class="2xx"} 1.0' in metrics


async def test_xml_form_and_path_variables(kafka_bootstrap: str, topic_prefix: str) -> None:
    xml_tid, form_tid = new_trigger_id(), new_trigger_id()
    xml_trigger = {
        "id": xml_tid,
        "name": "orders",
        "tenant": "acme",
        "verify": {"type": "none"},
        "allow_subpaths": True,
        "variables": {
            "order": {"xpath": "/order/@id"},
            "region": {"path": True, "regex": "^/region/([a-z0-9-]+)$"},
        },
        "event": {"type": "com.example.order.{vars.region}", "subject": "{vars.order}"},
    }
    form_trigger = {
        "id": form_tid,
        "name": "slack",
        "tenant": "acme",
        "verify": {"type": "none"},
        "variables": {"kind": {"jsonpath": "$.type"}, "team": {"form": "team_domain"}},
        "event": {"type": "com.slack.{vars.kind}"},
    }
    order = b'<?xml version="1.0"?><order id="o-9"><line sku="a"/></order>'
    slack = b"team_domain=acme&payload=%7B%22type%22%3A%22view_submission%22%7D"
    async with running_gateway(kafka_bootstrap, topic_prefix, [xml_trigger, form_trigger]) as client:
        resp = await client.post(
            f"/hooks/{xml_tid}/region/eu-west", data=order, headers={"Content-Type": "application/xml"}
        )
        assert resp.status == 202
        resp = await client.post(
            f"/hooks/{form_tid}", data=slack, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert resp.status == 202
        # Sub-paths are served only by triggers that allow them.
        resp = await client.post(f"/hooks/{form_tid}/x", data=slack, headers={"Content-Type": "text/plain"})
        assert resp.status == 404
    records = await read_all(kafka_bootstrap, f"{topic_prefix}.acme")
    events = {e.type: e for e in (Envelope.from_record(r.headers, r.value) for r in records)}
    assert set(events) == {"com.example.order.eu-west", "com.slack.view_submission"}
    assert events["com.example.order.eu-west"].subject == "o-9"
    assert events["com.example.order.eu-west"].data == order
    assert events["com.slack.view_submission"].variables == {"kind": "view_submission", "team": "acme"}
    assert events["com.slack.view_submission"].data == slack


async def test_per_trigger_methods_and_static_reply(kafka_bootstrap: str, topic_prefix: str) -> None:
    tid = new_trigger_id()
    trigger = {
        "id": tid,
        "name": "monitor",
        "tenant": "acme",
        "verify": {"type": "none"},
        "methods": ["PUT", "POST"],
        "response": {"status": 200, "body": "OK"},
    }
    async with running_gateway(kafka_bootstrap, topic_prefix, [trigger]) as client:
        put = await client.put(f"/hooks/{tid}", data=b"up", headers={"Content-Type": "text/plain"})
        assert put.status == 200
        assert put.headers["Content-Type"].startswith("text/plain")
        assert await put.text() == "OK"
        patch = await client.patch(f"/hooks/{tid}", data=b"up")
        assert patch.status == 405
        assert patch.headers["Allow"] == "PUT, POST"
    records = await read_all(kafka_bootstrap, f"{topic_prefix}.acme")
    assert [r.value for r in records] == [b"up"]


async def test_hostile_bodies_and_patterns_are_bounded(kafka_bootstrap: str, topic_prefix: str) -> None:
    """A JSON string is not re-read as a document; a body too deep for a JSONPath is a 400, not a 500; a
    catastrophic regex in the filter answers at once."""
    tid = new_trigger_id()
    trigger = {
        "id": tid,
        "name": "hostile",
        "tenant": "acme",
        "verify": {"type": "none"},
        "variables": {
            "a": {"jsonpath": "$.a"},
            "ids": {"jsonpath": "$..id"},
            "tag": {"jsonpath": "$.tag", "max_length": 65_536},
        },
        "event": {"type": "com.example.{vars.a|default:none}"},
        "filter": {"conditions": [{"not": {"var": "tag", "regex": "(a+)+$"}}]},
    }
    injected = b'"{\\"a\\": \\"injected\\"}"'
    deep = b'{"a":' * 101 + b'{"id": 1}' + b"}" * 101
    json = {"Content-Type": "application/json"}
    async with running_gateway(kafka_bootstrap, topic_prefix, [trigger]) as client:
        resp = await client.post(f"/hooks/{tid}", data=injected, headers=json)
        assert resp.status == 202
        resp = await client.post(f"/hooks/{tid}", data=deep, headers=json)
        assert resp.status == 400
        assert (await resp.json())["error"] == "invalid_body"
        resp = await client.post(f"/hooks/{tid}", data=orjson.dumps({"tag": "a" * 60_000}), headers=json)
        assert resp.status == 200
        assert await resp.json() == {"ignored": True}
        resp = await client.post(f"/hooks/{tid}", data=orjson.dumps({"tag": "a" * 60_000 + "!"}), headers=json)
        assert resp.status == 202
        metrics = await (await client.get("/metrics")).text()
    assert 'hookgate_gateway_requests_total{outcome="rejected",reason="invalid_body",status_class="4xx"} 1.0' in metrics
    records = await read_topic(kafka_bootstrap, f"{topic_prefix}.acme", count=2, timeout=10)
    events = [Envelope.from_record(r.headers, r.value) for r in records]
    assert [e.type for e in events] == ["com.example.none", "com.example.none"]
    # Keyed by event id (the default), the two records may sit on different partitions: find the string one.
    (string_body,) = [e for e in events if e.data == injected]
    assert "a" not in string_body.variables
