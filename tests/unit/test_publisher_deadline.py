"""What a 503 at the publish deadline means: dropped before the producer (never written) or possibly written.

The publisher runs over an in-memory producer (its ``producer_factory`` and ``admin`` seams) that behaves
as aiokafka's does during a broker outage: ``send()`` appends to a batch while it has room and returns
the record's delivery future, and once the batch is full it waits for room; delivery futures resolve
only when the broker answers, here when the test says.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import orjson
from aiohttp import web
from aiokafka.errors import KafkaError, KafkaTimeoutError

from hookgate.core.settings import KafkaSettings
from hookgate.gateway.config import ProducerSettings
from hookgate.gateway.http.steps import MAY_BE_STORED, NOT_STORED
from hookgate.gateway.metrics import GatewayMetrics
from hookgate.gateway.publish.publisher import Publisher
from hookgate.gateway.publish.sink import Ack, PublishFailure
from tests.support.builders import gateway_config, github_signature, github_trigger, new_trigger_id
from tests.support.events import event
from tests.support.sinks import MemorySink
from tests.support.webhooks import chain, webhook_request

DEADLINE = 0.05  # seconds; nothing below waits on it except the events that are meant to miss it


class Broker:
    """The producer's view of the broker: each delivery future resolves when the test answers it."""

    def __init__(self) -> None:
        self.client = SimpleNamespace(fetch_all_metadata=self._metadata)
        self.answer: str | None = None  # None: silent (an outage); "ok" or "error": answer at once

    async def _metadata(self) -> None:
        return None


class MemoryProducer:
    """Appends records to a batch of ``room`` records; a full batch makes ``send()`` wait, as aiokafka's does."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.appended: list[tuple[bytes, asyncio.Future[Any]]] = []
        self.broker = Broker()
        self.client = self.broker.client
        self.fail_send: Exception | None = None
        self._freed = asyncio.Event()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def flush(self) -> None:
        return None

    async def send(self, topic: str, value: bytes, key: bytes, headers: list[Any]) -> asyncio.Future[Any]:
        if self.fail_send is not None:
            raise self.fail_send
        while len(self.appended) >= self.room:  # the batch is full: wait until the sender drains it
            self._freed.clear()
            await self._freed.wait()
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.appended.append((key, fut))
        if self.broker.answer == "ok":
            fut.set_result(SimpleNamespace(topic=topic, partition=0, offset=len(self.appended) - 1))
        elif self.broker.answer == "error":
            fut.set_exception(KafkaTimeoutError())
        return fut

    def make_room(self, records: int) -> None:
        self.room += records
        self._freed.set()

    @property
    def keys(self) -> list[bytes]:
        return [key for key, _ in self.appended]


class KnownTopics:
    def known(self, topic: str) -> bool:
        return True

    async def ensure(self, topics: list[str]) -> None:
        return None


async def publisher(producer: MemoryProducer) -> Publisher:
    pub = Publisher(
        KafkaSettings(),
        ProducerSettings(),
        GatewayMetrics(),
        ["hg.acme"],
        timeout=DEADLINE,
        producer_factory=lambda: producer,  # type: ignore[arg-type,return-value]
        admin=KnownTopics(),  # type: ignore[arg-type]
    )
    await pub.start()
    for _ in range(1000):  # the connect task starts the in-memory producer on its first turns
        if pub.readiness()[0]:
            return pub
        await asyncio.sleep(0.001)
    raise AssertionError("the publisher did not connect to the in-memory producer")


async def publish(pub: Publisher, key: str) -> Ack | PublishFailure:
    return await pub.publish("hg.acme", key.encode(), event(key))


async def test_only_events_already_in_the_producer_may_be_written_after_their_503() -> None:
    producer = MemoryProducer(room=1)  # the broker is away and the batch holds one record
    pub = await publisher(producer)
    try:
        # a: appended to the batch. b: the pump is inside send(), waiting for room. c: queued behind b.
        a, b, c = await asyncio.gather(publish(pub, "a"), publish(pub, "b"), publish(pub, "c"))
        assert a == PublishFailure("kafka_timeout", "Kafka did not acknowledge in time", may_be_stored=True)
        assert isinstance(b, PublishFailure)
        assert isinstance(c, PublishFailure)
        assert (b.reason, b.may_be_stored) == (c.reason, c.may_be_stored) == ("kafka_timeout_dropped", False)
        assert producer.keys == [b"a"]

        # The broker is back: room in the batch, answers at once. b's cancelled send() appends nothing
        # now, c was skipped, and the pump goes on with the next event.
        producer.broker.answer = "ok"
        producer.make_room(10)
        d = await publish(pub, "d")
        assert isinstance(d, Ack)
        assert producer.keys == [b"a", b"d"]
    finally:
        await pub.stop()


async def test_a_failed_send_is_not_stored_and_a_failed_delivery_may_be() -> None:
    producer = MemoryProducer(room=10)
    pub = await publisher(producer)
    try:
        producer.fail_send = KafkaError("refused before appending")
        refused = await publish(pub, "refused")
        assert refused == PublishFailure("kafka_error", "KafkaError", may_be_stored=False)
        producer.fail_send = None
        producer.broker.answer = "error"  # appended, then the delivery fails (a batch that expired in flight)
        failed = await publish(pub, "failed")
        assert failed == PublishFailure("kafka_error", "KafkaTimeoutError", may_be_stored=True)
        assert producer.keys == [b"failed"]
    finally:
        await pub.stop()


def reply_body(response: web.StreamResponse) -> Any:
    assert isinstance(response, web.Response)
    assert response.body is not None
    return orjson.loads(response.body)  # type: ignore[arg-type]


async def test_the_503_says_whether_the_event_may_still_be_stored() -> None:
    body = b'{"action": "opened"}'
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": github_signature(body),
        "X-GitHub-Delivery": "d-7",
        "X-GitHub-Event": "push",
    }
    for failure, message in (
        (PublishFailure("kafka_timeout", may_be_stored=True), MAY_BE_STORED),
        (PublishFailure("kafka_timeout_dropped"), NOT_STORED),
        (PublishFailure("kafka_unavailable"), NOT_STORED),
    ):
        tid = new_trigger_id()
        gw = chain(gateway_config("127.0.0.1:9", "hg", [github_trigger(tid)]), MemorySink(failure=failure))
        resp = await gw.send(webhook_request(tid, body, headers))
        assert resp.status == 503
        assert reply_body(resp) == {"error": "unavailable", "message": message}
        assert gw.counted("failed", failure.reason, "5xx") == 1
        (record,) = gw.audited
        assert (record.reason, record.event_id) == (failure.reason, "d-7")
    assert "may still be stored" in MAY_BE_STORED
    assert "same delivery id" in MAY_BE_STORED
    assert "not stored" in NOT_STORED
