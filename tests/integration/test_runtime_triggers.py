"""Runtime triggers against the real broker: two gateway replicas in one process share the trigger topic.

A change made through one replica's catalog is served by the other; the measured propagation time is
printed (never asserted: the machine is noisy).
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from aiokafka.admin import AIOKafkaAdminClient

from hookgate.core.settings import TopicSettings
from hookgate.core.topics import triggers_topic
from hookgate.gateway.catalog.kafka import KafkaTriggerCatalog
from hookgate.gateway.http.app import CATALOG, create_app
from tests.support.builders import gateway_config, github_signature, github_trigger, new_trigger_id, read_topic
from tests.support.gateway import running_gateway, signed_push, until

pytestmark = pytest.mark.kafka

KEY = base64.b64encode(os.urandom(32)).decode()
CATALOG_SETTINGS: dict[str, Any] = {"catalog": {"encryption": {"keys": {"k1": KEY}}}}


def catalog_of(client: TestClient) -> KafkaTriggerCatalog:
    return client.app[CATALOG]


@asynccontextmanager
async def replicas(
    bootstrap: str, prefix: str, count: int = 2, triggers: list[dict[str, Any]] | None = None, **settings: Any
) -> AsyncIterator[list[TestClient]]:
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                running_gateway(bootstrap, prefix, triggers or [], **{**CATALOG_SETTINGS, **settings})
            )
            for _ in range(count)
        ]
        yield clients


async def test_trigger_created_on_a_accepts_deliveries_on_b(kafka_bootstrap: str, topic_prefix: str) -> None:
    async with replicas(kafka_bootstrap, topic_prefix) as (a, b):
        started = time.monotonic()
        issued = await catalog_of(a).create({"name": "gh", "tenant": "newco", "verify": {"type": "github"}})
        tid, secret = issued.trigger.id, issued.secret
        assert secret is not None
        assert issued.trigger.origin == "runtime"
        assert f"{topic_prefix}.newco" in await _topics(kafka_bootstrap)  # made before the trigger went live
        assert await signed_push(a, tid, secret) == 202  # read-your-writes on the replica that wrote
        seen = await until(lambda: _status_is(b, tid, secret, 202))
        print(f"\npropagation A -> B: {time.monotonic() - started:.3f} s (B polled for {seen:.3f} s)")
        assert await signed_push(b, tid, "not the secret") == 401
        records = await read_topic(kafka_bootstrap, f"{topic_prefix}.newco", count=2)
        assert len(records) == 2


async def _topics(bootstrap: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return list(await admin.list_topics())
    finally:
        await admin.close()


async def _status_is(client: TestClient, tid: str, secret: str, status: int) -> bool:
    return await signed_push(client, tid, secret) == status


async def test_disable_enable_and_delete_propagate(kafka_bootstrap: str, topic_prefix: str) -> None:
    async with replicas(kafka_bootstrap, topic_prefix) as (a, b):
        issued = await catalog_of(a).create({"name": "gh", "tenant": "acme", "verify": {"type": "github"}})
        tid, secret = issued.trigger.id, issued.secret
        assert secret is not None
        await until(lambda: _status_is(b, tid, secret, 202))

        started = time.monotonic()
        view = await catalog_of(a).set_enabled(tid, False)
        assert view.state == "disabled"
        assert await signed_push(a, tid, secret) == 404  # disabled answers like an unknown trigger
        await until(lambda: _status_is(b, tid, secret, 404))
        print(f"\ndisable A -> B: {time.monotonic() - started:.3f} s")
        b_view = catalog_of(b).get(tid)
        assert b_view is not None
        assert b_view.state == "disabled"

        await catalog_of(a).set_enabled(tid, True)
        await until(lambda: _status_is(b, tid, secret, 202))

        started = time.monotonic()
        await catalog_of(b).delete(tid)  # through the other replica this time
        assert catalog_of(b).get(tid) is None
        await until(lambda: _status_is(a, tid, secret, 404))
        print(f"delete B -> A: {time.monotonic() - started:.3f} s")
        assert catalog_of(a).get(tid) is None


async def test_rotation_overlap_then_old_secret_refused_on_every_replica(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    async with replicas(kafka_bootstrap, topic_prefix) as (a, b):
        issued = await catalog_of(a).create({"name": "gh", "tenant": "acme", "verify": {"type": "github"}})
        tid, old = issued.trigger.id, issued.secret
        assert old is not None
        await until(lambda: _status_is(b, tid, old, 202))

        rotated = await catalog_of(a).rotate(tid, grace_seconds=4)
        new = rotated.secret
        assert new is not None
        assert new != old
        ends = rotated.trigger.rotation_ends_at
        assert ends is not None
        await until(lambda: _status_is(b, tid, new, 202))
        # Inside the overlap both secrets pass, on both replicas.
        for client in (a, b):
            assert await signed_push(client, tid, old) == 202
            assert await signed_push(client, tid, new) == 202

        for name, client in (("A", a), ("B", b)):
            await until(lambda c=client: _status_is(c, tid, old, 401))
            late = time.time() - ends.timestamp()
            print(f"\nreplica {name} refused the old secret {late:+.3f} s after the overlap ended")
            assert await signed_push(client, tid, new) == 202
        for client in (a, b):
            view = catalog_of(client).get(tid)
            assert view is not None
            assert view.rotation_ends_at is None


async def test_token_preset_rotation(kafka_bootstrap: str, topic_prefix: str) -> None:
    async with replicas(kafka_bootstrap, topic_prefix, count=1) as (a,):
        issued = await catalog_of(a).create({"name": "tok", "tenant": "acme", "verify": {"type": "bearer"}})
        tid, old = issued.trigger.id, issued.secret
        assert old is not None

        async def bearer(token: str) -> int:
            resp = await a.post(f"/hooks/{tid}", json={}, headers={"Authorization": f"Bearer {token}"})
            return resp.status

        assert await bearer(old) == 202
        new = "a-token-the-sender-issued-" + os.urandom(4).hex()
        assert (await catalog_of(a).rotate(tid, grace_seconds=3, secret=new)).secret == new
        assert await bearer(old) == 202
        assert await bearer(new) == 202

        async def old_refused() -> bool:
            return await bearer(old) == 401

        await until(old_refused)
        assert await bearer(new) == 202


async def test_restart_of_every_replica_loses_no_runtime_trigger(kafka_bootstrap: str, topic_prefix: str) -> None:
    created: dict[str, str] = {}
    async with replicas(kafka_bootstrap, topic_prefix) as (a, b):
        for i, catalog in enumerate((catalog_of(a), catalog_of(b), catalog_of(a))):
            issued = await catalog.create({"name": f"gh{i}", "tenant": f"t{i}", "verify": {"type": "github"}})
            assert issued.secret is not None
            created[issued.trigger.id] = issued.secret
        await catalog_of(a).set_enabled(next(iter(created)), False)
        disabled = next(iter(created))
    async with replicas(kafka_bootstrap, topic_prefix) as restarted:
        for client in restarted:
            ids = {v.id for v in catalog_of(client).list() if v.origin == "runtime"}
            assert ids == set(created)
            for tid, secret in created.items():
                assert await signed_push(client, tid, secret) == (404 if tid == disabled else 202)


async def test_the_raw_topic_holds_no_secret_bytes(kafka_bootstrap: str, topic_prefix: str) -> None:
    given = "a-secret-given-by-the-caller-" + os.urandom(8).hex()
    token = "websub-token-" + os.urandom(8).hex()
    async with replicas(kafka_bootstrap, topic_prefix, count=1) as (a,):
        catalog = catalog_of(a)
        one = await catalog.create(
            {
                "name": "given",
                "tenant": "acme",
                "verify": {"type": "github", "secrets": [given]},
                "websub": {"verify_token": token},
            }
        )
        two = await catalog.create({"name": "generated", "tenant": "acme", "verify": {"type": "stripe"}})
        assert two.secret is not None
        rotated = await catalog.rotate(one.trigger.id, grace_seconds=60)
        assert rotated.secret is not None
        secrets = [given, token, two.secret, rotated.secret]
        for view in catalog.list():
            text = repr(view)
            assert not any(s in text for s in secrets)
        topic = triggers_topic(TopicSettings(prefix=topic_prefix))
        records = await read_topic(kafka_bootstrap, topic, count=3)
        assert len(records) == 3
        for rec in records:
            assert rec.value is not None
            assert b'"sealed"' in rec.value
            for s in secrets:
                assert s.encode() not in rec.value
                assert base64.b64encode(s.encode()) not in rec.value


async def test_readyz_waits_until_the_topic_is_read_to_its_end(kafka_bootstrap: str, topic_prefix: str) -> None:
    count = 1500
    async with replicas(kafka_bootstrap, topic_prefix, count=1) as (writer,):
        await _preload(catalog_of(writer), count)
    app = create_app(gateway_config(kafka_bootstrap, topic_prefix, [], **CATALOG_SETTINGS))
    catalog = app[CATALOG]
    swap = catalog.apply
    assert swap is not None
    applies: list[tuple[bool, int]] = []

    async def apply(configs: list[Any]) -> bool:
        applies.append((catalog.caught_up, len(configs)))
        return await swap(configs)

    catalog.apply = apply
    loading = 0
    async with TestClient(TestServer(app)) as client:
        while (resp := await client.get("/readyz")).status != 200:
            checks = (await resp.json())["checks"]
            loading += checks.get("triggers") == "loading"
            await asyncio.sleep(0.005)
        served = len(catalog.served())
        last = (await client.get(f"/hooks/{next(iter(catalog._live.runtime))}", allow_redirects=False)).status
    print(f"\napplies before ready: {applies}; /readyz answered 'loading' {loading} times")
    assert served == count  # ready only once every preloaded trigger was applied
    assert applies[-1] == (False, count)  # applied before readiness flipped
    assert len(applies) > 1  # it was loading (not ready) while part of the topic was read
    assert loading > 0
    assert last == 405  # served: a GET on a POST trigger (a 404 would be an unknown trigger)


async def _preload(catalog: KafkaTriggerCatalog, count: int) -> None:
    """Write ``count`` trigger records straight to the topic (the codec's own format), quicker than
    ``count`` catalog writes."""
    from hookgate.core.kafka import make_producer
    from hookgate.gateway.catalog.crypto import KeyRing
    from hookgate.gateway.catalog.record import TriggerRecord, encode

    producer = make_producer(catalog._kafka, linger_ms=20)
    await producer.start()
    try:
        now = catalog._clock()
        keys = KeyRing({}, None)
        futures = []
        for i in range(count):
            tid = new_trigger_id()
            spec = {"id": tid, "name": f"n{i}", "tenant": "acme", "verify": {"type": "none"}}
            value = encode(TriggerRecord(tid, spec, "enabled", now, now), keys)
            futures.append(await producer.send(catalog.topic, key=tid.encode(), value=value))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def test_yaml_triggers_are_read_only_through_the_catalog(kafka_bootstrap: str, topic_prefix: str) -> None:
    from hookgate.gateway.catalog.model import ReadOnlyTrigger, TriggerExists

    yaml_id = new_trigger_id()
    async with replicas(kafka_bootstrap, topic_prefix, count=1, triggers=[github_trigger(yaml_id)]) as (a,):
        catalog = catalog_of(a)
        with pytest.raises(ReadOnlyTrigger):
            await catalog.create({"id": yaml_id, "name": "other", "tenant": "acme", "verify": {"type": "github"}})
        with pytest.raises(TriggerExists):
            await catalog.create({"name": "gh", "tenant": "acme", "verify": {"type": "github"}})
        with pytest.raises(ReadOnlyTrigger):
            await catalog.update(yaml_id, {"name": "gh", "tenant": "acme", "verify": {"type": "github"}})
        with pytest.raises(ReadOnlyTrigger):
            await catalog.set_enabled(yaml_id, False)
        with pytest.raises(ReadOnlyTrigger):
            await catalog.rotate(yaml_id, grace_seconds=10)
        with pytest.raises(ReadOnlyTrigger):
            await catalog.delete(yaml_id)
        view = catalog.get(yaml_id)
        assert view is not None
        assert view.origin == "yaml"
        assert "secrets" not in view.config["verify"]


async def test_encryption_key_rotation_keeps_old_records_readable(kafka_bootstrap: str, topic_prefix: str) -> None:
    k1, k2 = KEY, base64.b64encode(os.urandom(32)).decode()
    old_only = {"catalog": {"encryption": {"keys": {"k1": k1}}}}
    both = {"catalog": {"encryption": {"keys": {"k1": k1, "k2": k2}, "active_key": "k2"}}}
    new_only = {"catalog": {"encryption": {"keys": {"k2": k2}}}}
    topic = triggers_topic(TopicSettings(prefix=topic_prefix))
    async with replicas(kafka_bootstrap, topic_prefix, count=1, **old_only) as (a,):
        issued = await catalog_of(a).create({"name": "gh", "tenant": "acme", "verify": {"type": "github"}})
        tid, secret = issued.trigger.id, issued.secret
        assert secret is not None
    async with replicas(kafka_bootstrap, topic_prefix, count=1, **both) as (a,):
        assert await signed_push(a, tid, secret) == 202  # sealed with k1, still listed
        assert await catalog_of(a).reseal() == 1
        assert await catalog_of(a).reseal() == 0
    records = await read_topic(kafka_bootstrap, topic, count=2)
    assert [b'"key":"k1"' in r.value for r in records if r.value] == [True, False]
    async with replicas(kafka_bootstrap, topic_prefix, count=1, **new_only) as (a,):
        assert await signed_push(a, tid, secret) == 202  # the newest record is sealed with k2


async def test_update_keeps_absent_secrets_and_errors_name_the_field(kafka_bootstrap: str, topic_prefix: str) -> None:
    from hookgate.gateway.catalog.model import InvalidTrigger, TriggerExists, UnknownTrigger

    async with replicas(kafka_bootstrap, topic_prefix, count=1) as (a,):
        catalog = catalog_of(a)
        with pytest.raises(InvalidTrigger) as caught:
            await catalog.create({"name": "gh", "tenant": "acme", "verify": {"type": "github", "secrets": "x"}})
        assert [e.path for e in caught.value.errors] == ["verify.secrets"]
        with pytest.raises(InvalidTrigger) as caught:
            await catalog.create({"name": "Bad Name", "tenant": "acme", "verify": {"type": "none"}, "colour": 1})
        assert {e.path for e in caught.value.errors} == {"name", "colour"}
        with pytest.raises(InvalidTrigger) as caught:  # webhook bodies into the trigger topic would define triggers
            await catalog.create({"name": "in", "tenant": "acme", "verify": {"type": "none"}, "topic": catalog.topic})
        assert [e.path for e in caught.value.errors] == ["topic"]
        issued = await catalog.create({"name": "gh", "tenant": "acme", "verify": {"type": "github"}})
        other = await catalog.create({"name": "other", "tenant": "acme", "verify": {"type": "none"}})
        tid, secret = issued.trigger.id, issued.secret
        assert secret is not None
        assert issued.trigger.config["verify"] == {"type": "github"}

        view = await catalog.update(tid, {**issued.trigger.config, "methods": ["POST", "PUT"]})
        assert view.config["methods"] == ["POST", "PUT"]
        resp = await a.put(
            f"/hooks/{tid}",
            data=b"{}",
            headers={"Content-Type": "application/json", "X-Hub-Signature-256": github_signature(b"{}", secret)},
        )
        assert resp.status == 202  # the secret was kept, the new method is served
        with pytest.raises(TriggerExists):
            await catalog.update(other.trigger.id, {"name": "gh", "tenant": "acme", "verify": {"type": "none"}})
        with pytest.raises(InvalidTrigger):
            await catalog.update(tid, {**issued.trigger.config, "id": new_trigger_id()})
        with pytest.raises(UnknownTrigger):
            await catalog.delete(new_trigger_id())
        with pytest.raises(InvalidTrigger) as caught:
            await catalog.rotate(other.trigger.id, grace_seconds=5)  # preset none: nothing to rotate
        assert [e.path for e in caught.value.errors] == ["verify"]
