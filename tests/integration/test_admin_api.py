"""The admin API over loopback HTTP, with the in-memory catalog and inspector: triggers, inspection,
replay, tenant isolation on every route, bad input, and the audit trail."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient

from hookgate.admin.api import NOT_FOUND, ROUTES
from tests.support.admin import (
    ACME_TOKEN,
    ADMIN_TOKEN,
    ALLOWED_FOR_OTHERS,
    GLOBEX_TOKEN,
    RecordingAuditor,
    admin_client,
    bearer,
    isolation_requests,
)
from tests.support.memory_catalog import MemoryCatalog
from tests.support.memory_inspector import MemoryInspector

ADMIN = bearer(ADMIN_TOKEN)
ACME = bearer(ACME_TOKEN)
GLOBEX = bearer(GLOBEX_TOKEN)
YAML_ID = "yaml-trigger-00000000000001"
BASE = "https://hooks.example.com"


def yaml_trigger() -> dict[str, Any]:
    return {"id": YAML_ID, "name": "static", "tenant": "acme", "verify": {"type": "none"}}


def spec(name: str = "gh", tenant: str = "acme", **extra: Any) -> dict[str, Any]:
    return {"name": name, "tenant": tenant, "verify": {"type": "github"}, **extra}


async def create(client: TestClient, body: dict[str, Any], headers: dict[str, str] = ADMIN) -> dict[str, Any]:
    r = await client.post("/admin/triggers", json=body, headers=headers)
    assert r.status == 201, await r.text()
    data: dict[str, Any] = await r.json()
    return data


async def test_create_get_update_disable_rotate_delete() -> None:
    catalog = MemoryCatalog(yaml=[yaml_trigger()], public_base_url=BASE)
    async with admin_client(catalog, MemoryInspector()) as client:
        created = await create(client, spec())
        tid = created["trigger"]["id"]
        assert created["url"] == f"{BASE}/hooks/{tid}" == created["trigger"]["url"]
        secret = created["secret"]
        assert isinstance(secret, str)
        assert len(secret) >= 32
        assert secret not in str(created["trigger"])
        assert catalog.spec(tid)["verify"]["secrets"] == [secret]

        r = await client.get(f"/admin/triggers/{tid}", headers=ADMIN)
        got = await r.json()
        assert r.status == 200
        assert got["preset"] == "github"
        assert got["state"] == "enabled"
        assert got["origin"] == "runtime"
        assert secret not in await r.text()

        r = await client.put(f"/admin/triggers/{tid}", json=spec(name="gh2"), headers=ADMIN)
        assert r.status == 200, await r.text()
        assert (await r.json())["name"] == "gh2"
        assert catalog.spec(tid)["verify"]["secrets"] == [secret]  # kept: the update named none

        r = await client.post(f"/admin/triggers/{tid}/disable", headers=ADMIN)
        assert (r.status, (await r.json())["state"]) == (200, "disabled")
        r = await client.post(f"/admin/triggers/{tid}/enable", headers=ADMIN)
        assert (r.status, (await r.json())["state"]) == (200, "enabled")

        r = await client.post(f"/admin/triggers/{tid}/rotate", json={"grace_seconds": 120}, headers=ADMIN)
        rotated = await r.json()
        assert r.status == 200
        assert rotated["secret"] not in (None, secret)
        assert rotated["trigger"]["rotation_ends_at"] is not None
        assert catalog.spec(tid)["verify"]["secrets"] == [rotated["secret"], secret]

        r = await client.delete(f"/admin/triggers/{tid}", headers=ADMIN)
        assert r.status == 204
        r = await client.get(f"/admin/triggers/{tid}", headers=ADMIN)
        assert (r.status, await r.json()) == (404, NOT_FOUND)


async def test_catalog_refusals_map_to_statuses() -> None:
    catalog = MemoryCatalog(yaml=[yaml_trigger()])
    async with admin_client(catalog, MemoryInspector()) as client:
        for method, path in [
            ("PUT", f"/admin/triggers/{YAML_ID}"),
            ("DELETE", f"/admin/triggers/{YAML_ID}"),
            ("POST", f"/admin/triggers/{YAML_ID}/disable"),
            ("POST", f"/admin/triggers/{YAML_ID}/rotate"),
        ]:
            body = spec(name="static") if method == "PUT" else None
            r = await client.request(method, path, json=body, headers=ADMIN)
            assert (r.status, (await r.json())["error"]) == (409, "read_only_trigger"), path
        listed = await (await client.get("/admin/triggers", headers=ADMIN)).json()
        assert [(t["id"], t["origin"]) for t in listed["items"]] == [(YAML_ID, "yaml")]

        r = await client.post("/admin/triggers", json=spec(name="static"), headers=ADMIN)
        assert (r.status, (await r.json())["error"]) == (409, "trigger_exists")
        r = await client.post("/admin/triggers", json={**spec(), "id": YAML_ID}, headers=ADMIN)
        assert r.status == 409

        r = await client.post(
            "/admin/triggers", json=spec(verify={"type": "github", "secrets": []}, methods=["BREW"]), headers=ADMIN
        )
        body = await r.json()
        assert r.status == 422
        assert body["error"] == "invalid_trigger"
        paths = {e["path"] for e in body["errors"]}
        assert {"verify.secrets", "methods"} <= paths, body

        catalog.unavailable = True
        r = await client.post("/admin/triggers", json=spec(name="later"), headers=ADMIN)
        assert r.status == 503
        assert r.headers["Retry-After"].isdigit()
        assert (await r.json())["error"] == "catalog_unavailable"
        assert catalog.list(tenant="acme", preset="github") == []


@pytest.mark.parametrize(
    ("body", "headers", "status", "error"),
    [
        (b"{not json", {"Content-Type": "application/json"}, 400, "bad_json"),
        (b"[1, 2]", {"Content-Type": "application/json"}, 400, "bad_request"),
        (b'"x"', {"Content-Type": "application/json"}, 400, "bad_request"),
        (b"{}", {"Content-Type": "application/xml"}, 415, "unsupported_media_type"),
        (b'{"a": "' + b"x" * 300_000 + b'"}', {"Content-Type": "application/json"}, 413, "body_too_large"),
        (b"\xff\xfe", {"Content-Type": "application/json"}, 400, "bad_json"),
    ],
)
async def test_bad_bodies_are_4xx(body: bytes, headers: dict[str, str], status: int, error: str) -> None:
    async with admin_client(MemoryCatalog(), MemoryInspector()) as client:
        r = await client.post("/admin/triggers", data=body, headers={**ADMIN, **headers})
        assert (r.status, (await r.json())["error"]) == (status, error)


async def test_bad_queries_and_request_bodies() -> None:
    catalog = MemoryCatalog()
    async with admin_client(catalog, MemoryInspector()) as client:
        tid = (await create(client, spec()))["trigger"]["id"]
        for path in [
            "/admin/triggers?limit=0",
            "/admin/triggers?limit=abc",
            "/admin/triggers?cursor=%%%",
            f"/admin/triggers/{tid}/events?since=yesterday",
            f"/admin/triggers/{tid}/events?outcome=maybe",
            f"/admin/triggers/{tid}/events?since=2030-01-01T00:00:00Z&until=2020-01-01T00:00:00Z",
            "/admin/stats?window_seconds=-1",
            "/admin/events/e1",  # an admin token must name the tenant
        ]:
            r = await client.get(path, headers=ADMIN)
            assert (r.status, (await r.json())["error"]) == (400, "bad_query"), path
        r = await client.post(f"/admin/triggers/{tid}/rotate", json={"grace_seconds": -5}, headers=ADMIN)
        body = await r.json()
        assert (r.status, body["error"], body["errors"][0]["path"]) == (422, "invalid_request", "grace_seconds")
        r = await client.post(f"/admin/triggers/{tid}/rotate", json={"grace": 5}, headers=ADMIN)
        assert (r.status, (await r.json())["errors"][0]["message"]) == (422, "unknown key")
        r = await client.put(f"/admin/triggers/{tid}", json={**spec(), "id": "x" * 30}, headers=ADMIN)
        assert (r.status, (await r.json())["errors"][0]["path"]) == (422, "id")


async def test_unauthenticated_calls_get_401_and_are_audited() -> None:
    auditor = RecordingAuditor()
    async with admin_client(MemoryCatalog(), MemoryInspector(), auditor) as client:
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {ADMIN_TOKEN}"}):
            r = await client.get("/admin/triggers", headers=headers)
            assert r.status == 401
            assert (await r.json())["error"] == "unauthorized"
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
        r = await client.get("/admin/openapi.json")
        assert r.status == 200
        assert (await r.json())["openapi"] == "3.1.0"
    assert [(a.actor, a.status, a.outcome, a.reason) for a in auditor.records] == [
        (None, 401, "refused", "unauthorized")
    ] * 3


async def test_openapi_can_require_a_token() -> None:
    async with admin_client(MemoryCatalog(), MemoryInspector(), openapi_public=False) as client:
        assert (await client.get("/admin/openapi.json")).status == 401
        assert (await client.get("/admin/openapi.json", headers=ACME)).status == 200


async def test_pagination_and_filters() -> None:
    catalog = MemoryCatalog()
    async with admin_client(catalog, MemoryInspector()) as client:
        for i in range(5):
            await create(client, spec(name=f"gh{i}"))
        await create(client, {"name": "tok", "tenant": "acme", "verify": {"type": "bearer"}})
        await create(client, spec(name="other", tenant="globex"))
        seen: list[str] = []
        cursor: str | None = None
        while True:
            path = "/admin/triggers?tenant=acme&limit=2" + (f"&cursor={cursor}" if cursor else "")
            page = await (await client.get(path, headers=ADMIN)).json()
            seen += [t["id"] for t in page["items"]]
            assert len(page["items"]) <= 2
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == sorted(v.id for v in catalog.list(tenant="acme"))
        assert len(seen) == 6
        page = await (await client.get("/admin/triggers?preset=bearer", headers=ADMIN)).json()
        assert [t["name"] for t in page["items"]] == ["tok"]
        # a tenant token lists only its own tenant, whatever the filter says
        page = await (await client.get("/admin/triggers", headers=GLOBEX)).json()
        assert [t["name"] for t in page["items"]] == ["other"]
        page = await (await client.get("/admin/triggers?tenant=acme", headers=GLOBEX)).json()
        assert page == {"items": [], "next_cursor": None}


async def test_tenant_token_creates_for_its_tenant_only() -> None:
    catalog = MemoryCatalog()
    async with admin_client(catalog, MemoryInspector()) as client:
        created = await create(client, {"name": "mine", "verify": {"type": "github"}}, headers=ACME)
        assert created["trigger"]["tenant"] == "acme"
        r = await client.post("/admin/triggers", json=spec(name="theirs", tenant="globex"), headers=ACME)
        assert (r.status, (await r.json())["error"]) == (403, "forbidden_tenant")
        tid = created["trigger"]["id"]
        r = await client.put(f"/admin/triggers/{tid}", json=spec(name="mine", tenant="globex"), headers=ACME)
        assert r.status == 403
        assert catalog.get(tid) is not None
        assert catalog.get(tid).tenant == "acme"
        assert [v.name for v in catalog.list()] == ["mine"]


async def test_inspection_and_replay() -> None:
    catalog = MemoryCatalog()
    inspector = MemoryInspector()
    auditor = RecordingAuditor()
    async with admin_client(catalog, inspector, auditor) as client:
        tid = (await create(client, spec()))["trigger"]["id"]
        inspector.add("e-old", trigger_id=tid, tenant="acme", ago_seconds=7200)
        inspector.add("e-1", trigger_id=tid, tenant="acme", ago_seconds=120, type="com.github.push")
        inspector.add("r-1", trigger_id=tid, tenant="acme", ago_seconds=60, outcome="refused", reason="bad_signature")
        page = await (await client.get(f"/admin/triggers/{tid}/events", headers=ACME)).json()
        assert [(e["id"], e["outcome"], e["reason"]) for e in page["items"]] == [
            ("r-1", "refused", "bad_signature"),
            ("e-1", "accepted", None),
        ]
        page = await (
            await client.get(f"/admin/triggers/{tid}/events?outcome=accepted&type=com.github.push", headers=ACME)
        ).json()
        assert [e["id"] for e in page["items"]] == ["e-1"]
        page = await (
            await client.get("/admin/tenants/acme/events?since=2000-01-01T00:00:00Z&limit=10", headers=ADMIN)
        ).json()
        assert [e["id"] for e in page["items"]] == ["r-1", "e-1", "e-old"]

        r = await client.get(f"/admin/events/e-1?trigger={tid}", headers=ACME)
        detail = await r.json()
        assert r.status == 200
        assert detail["event"]["id"] == "e-1"
        assert detail["headers"]["x-hub-signature-256"] == "[redacted]"

        stats = await (await client.get("/admin/stats", headers=ACME)).json()
        assert stats == {"window_seconds": 3600, "triggers": [{"trigger_id": tid, "accepted": 1, "refused": 1}]}

        r = await client.post("/admin/events/e-1/replay", json={"dry_run": True}, headers=ACME)
        assert (r.status, await r.json()) == (
            200,
            {"event_ids": ["e-1"], "dry_run": True, "forced": False, "replay_id": ""},
        )
        r = await client.post(f"/admin/triggers/{tid}/replay", json={"since": "2000-01-01T00:00:00Z"}, headers=ACME)
        assert (r.status, (await r.json())["errors"][0]["path"]) == (422, "since")  # more than 7 days
        r = await client.post("/admin/events/r-1/replay", json={}, headers=ACME)
        assert r.status == 404  # a refused request has no event to re-publish
        since = (datetime.now(UTC) - timedelta(hours=3)).isoformat()
        r = await client.post(f"/admin/triggers/{tid}/replay", json={"since": since, "force": True}, headers=ADMIN)
        assert (r.status, await r.json()) == (
            200,
            {"event_ids": ["e-old", "e-1"], "dry_run": False, "forced": True, "replay_id": ""},
        )
    assert [(p.event_id, p.trigger_id, p.dry_run, p.force) for p in inspector.replays] == [
        ("e-1", tid, True, False),
        (None, tid, False, True),
    ]
    replays = [a for a in auditor.records if a.route.endswith("/replay")]
    assert [(a.actor, a.status, a.details.get("dry_run"), a.details.get("replayed")) for a in replays] == [
        ("acme-portal", 200, True, 1),
        ("acme-portal", 422, False, None),
        ("acme-portal", 404, False, None),
        ("ops", 200, False, 2),
    ]
    assert replays[0].details["event_id"] == "e-1"
    assert replays[3].trigger_id == tid


async def test_without_an_inspector_inspection_is_503() -> None:
    async with admin_client(MemoryCatalog(), None) as client:
        tid = (await create(client, spec()))["trigger"]["id"]
        r = await client.get(f"/admin/triggers/{tid}/events", headers=ADMIN)
        assert (r.status, (await r.json())["error"]) == (503, "inspector_unavailable")


async def test_every_call_is_audited_without_secrets() -> None:
    auditor = RecordingAuditor()
    async with admin_client(MemoryCatalog(), MemoryInspector(), auditor) as client:
        created = await create(client, spec(verify={"type": "github", "secrets": ["my-own-secret-value-123"]}))
        tid = created["trigger"]["id"]
        assert created["secret"] is None  # the spec gave its secret: nothing generated
        rotated = await (await client.post(f"/admin/triggers/{tid}/rotate", json={}, headers=ACME)).json()
        await client.get(f"/admin/triggers/{tid}", headers=GLOBEX)
        await client.post("/admin/triggers", json=spec(name="intruder"), headers=GLOBEX)
    rows = [(a.actor, a.scope, a.method, a.route, a.trigger_id, a.tenant, a.status) for a in auditor.records]
    assert rows == [
        ("ops", "admin", "POST", "/admin/triggers", tid, "acme", 201),
        ("acme-portal", "tenant:acme", "POST", "/admin/triggers/{id}/rotate", tid, "acme", 200),
        ("globex-portal", "tenant:globex", "GET", "/admin/triggers/{id}", tid, None, 404),
        ("globex-portal", "tenant:globex", "POST", "/admin/triggers", None, "acme", 403),
    ]
    text = str([a.to_dict() for a in auditor.records])
    for secret in ("my-own-secret-value-123", rotated["secret"], ADMIN_TOKEN, ACME_TOKEN, GLOBEX_TOKEN):
        assert secret not in text
    assert all(a.to_dict()["kind"] == "admin" for a in auditor.records)


# ------------------------------------------------------------------------------------ tenant isolation


def test_the_isolation_table_names_every_route() -> None:
    assert set(isolation_requests("t", "e")) == {r.operation_id for r in ROUTES}


@pytest.mark.parametrize("operation", [r.operation_id for r in ROUTES])
async def test_another_tenants_token_sees_nothing(operation: str) -> None:
    catalog = MemoryCatalog()
    inspector = MemoryInspector()
    async with admin_client(catalog, inspector) as client:
        created = await create(client, spec())
        tid = created["trigger"]["id"]
        inspector.add("evt-acme", trigger_id=tid, tenant="acme")
        before = catalog.spec(tid)
        method, path, body = isolation_requests(tid, "evt-acme")[operation]
        r = await client.request(method, path, json=body, headers=GLOBEX)
        text = await r.text()
        assert tid not in text
        assert "evt-acme" not in text
        expected = ALLOWED_FOR_OTHERS.get(operation, 404)
        assert r.status == expected, text
        if expected == 404:
            assert await r.json() == NOT_FOUND
            # exactly what an unknown id gets
            m2, p2, b2 = isolation_requests("unknown-trigger-0000000000001", "unknown-event", "nobody")[operation]
            r2 = await client.request(m2, p2, json=b2, headers=GLOBEX)
            assert (r2.status, await r2.json()) == (404, NOT_FOUND)
        elif operation in ("listTriggers", "stats"):
            data = await r.json()
            assert data.get("items", data.get("triggers")) == []
        assert catalog.spec(tid) == before
        assert catalog.get(tid).state == "enabled"  # type: ignore[union-attr]
        assert inspector.replays == []
        assert [v.id for v in catalog.list()] == [tid]


async def test_chunked_bodies_are_read_whole_and_bounded() -> None:
    async def pieces(parts: list[bytes]) -> AsyncIterator[bytes]:
        for part in parts:
            yield part
            await asyncio.sleep(0.01)

    catalog = MemoryCatalog()
    async with admin_client(catalog, MemoryInspector()) as client:
        body = orjson.dumps(spec(name="chunked"))
        r = await client.post(
            "/admin/triggers",
            data=pieces([body[:5], body[5:20], body[20:]]),
            headers={**ADMIN, "Content-Type": "application/json"},
        )
        assert r.status == 201, await r.text()
        big = [b'{"name": "' + b"x" * 100_000] * 3 + [b'"}']
        r = await client.post(
            "/admin/triggers", data=pieces(big), headers={**ADMIN, "Content-Type": "application/json"}
        )
        assert (r.status, (await r.json())["error"]) == (413, "body_too_large")
    assert [v.name for v in catalog.list()] == ["chunked"]


class LeakingInspector(MemoryInspector):
    """An inspector whose library lets a CancelledError out although nothing cancelled the request."""

    async def events(self, query: Any) -> Any:
        raise asyncio.CancelledError


async def test_a_leaked_cancellation_is_answered_500_not_a_dropped_connection() -> None:
    catalog = MemoryCatalog()
    async with admin_client(catalog, LeakingInspector()) as client:
        r = await client.get("/admin/tenants/acme/events", headers=ADMIN)
        assert (r.status, (await r.json())["error"]) == (500, "internal_error")


async def test_reseal_is_for_admin_tokens_only_and_audited() -> None:
    catalog = MemoryCatalog()
    auditor = RecordingAuditor()
    async with admin_client(catalog, MemoryInspector(), auditor) as client:
        r = await client.post("/admin/reseal", headers=ACME)
        assert (r.status, (await r.json())["error"]) == (403, "admin_only")
        assert catalog.reseals == 0  # refused before the catalog was asked
        r = await client.post("/admin/reseal", headers=ADMIN)
        assert (r.status, await r.json()) == (200, {"records": 0})
        assert catalog.reseals == 1
        catalog.unavailable = True
        r = await client.post("/admin/reseal", headers=ADMIN)
        assert r.status == 503
    rows = [(a.actor, a.route, a.status, a.details.get("records")) for a in auditor.records]
    assert rows == [
        ("acme-portal", "/admin/reseal", 403, None),
        ("ops", "/admin/reseal", 200, 0),
        ("ops", "/admin/reseal", 503, None),
    ]


async def test_a_tenant_token_may_not_choose_the_topic_or_raise_body_limits() -> None:
    rate = {"per_second": 5, "burst": 10}
    catalog = MemoryCatalog()
    auditor = RecordingAuditor()
    async with admin_client(catalog, MemoryInspector(), auditor, tenant_max_body_bytes=1_048_576) as client:
        r = await client.post("/admin/triggers", json=spec(topic="hookgate.globex"), headers=ACME)
        body = await r.json()
        assert (r.status, body["error"]) == (403, "forbidden_key")
        assert "topic" in body["message"]
        r = await client.post("/admin/triggers", json=spec(name="big", max_body_bytes=2_000_000), headers=ACME)
        body = await r.json()
        assert (r.status, body["error"]) == (403, "forbidden_key")
        assert "max_body_bytes: at most 1048576" in body["message"]
        assert catalog.list() == []

        # An admin may; the tenant may then send back what it was shown, unchanged, and change other keys.
        created = await create(client, spec(topic="hookgate.acme-special", max_body_bytes=4_000_000))
        tid = created["trigger"]["id"]
        shown = (await (await client.get(f"/admin/triggers/{tid}", headers=ACME)).json())["config"]
        r = await client.put(f"/admin/triggers/{tid}", json={**shown, "rate_limit": rate}, headers=ACME)
        assert r.status == 200, await r.text()
        r = await client.put(f"/admin/triggers/{tid}", json={**shown, "topic": "hookgate.globex"}, headers=ACME)
        assert (r.status, (await r.json())["error"]) == (403, "forbidden_key")
        assert catalog.spec(tid)["topic"] == "hookgate.acme-special"
        assert catalog.spec(tid)["rate_limit"] == rate
    refusals = [a for a in auditor.records if a.status == 403]
    assert [a.details.get("refused_keys") for a in refusals] == [["topic"], ["max_body_bytes"], ["topic"]]
