"""Kafka client factories and topic administration, configured from :class:`KafkaSettings`."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.client import AIOKafkaClient
from aiokafka.cluster import ClusterMetadata
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from hookgate.core.backoff import RECONNECT
from hookgate.core.logging import get_logger
from hookgate.core.outage import DependencyWatch
from hookgate.core.settings import KafkaSettings

log = get_logger("hookgate.kafka")


def connection_kwargs(settings: KafkaSettings) -> dict[str, Any]:
    """Arguments every aiokafka client takes: servers, security, timeouts."""
    kw: dict[str, Any] = {
        "bootstrap_servers": settings.effective_bootstrap(),
        "client_id": settings.client_id,
        "security_protocol": settings.security_protocol,
        "request_timeout_ms": settings.request_timeout_ms,
    }
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        ctx = ssl.create_default_context(cafile=settings.ssl_cafile)
        if settings.ssl_certfile:
            ctx.load_cert_chain(settings.ssl_certfile, settings.ssl_keyfile)
        kw["ssl_context"] = ctx
    if settings.sasl_mechanism:
        kw["sasl_mechanism"] = settings.sasl_mechanism
        kw["sasl_plain_username"] = settings.sasl_username
        kw["sasl_plain_password"] = settings.sasl_password.get_secret_value() if settings.sasl_password else None
    return kw


def make_producer(settings: KafkaSettings, **overrides: Any) -> AIOKafkaProducer:
    """An idempotent producer (acks=all): a retried send never writes a record twice."""
    kw = connection_kwargs(settings)
    kw.update(
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
        max_batch_size=256 * 1024,
        compression_type=None,
    )
    kw.update(overrides)
    return AIOKafkaProducer(**kw)


def make_consumer(
    settings: KafkaSettings,
    *topics: str,
    offset_reset: Literal["earliest", "latest", "none"],
    **overrides: Any,
) -> AIOKafkaConsumer:
    """A consumer that never auto-commits: callers commit what they have finished.

    ``offset_reset`` (aiokafka's ``auto_offset_reset``) is the caller's to choose, never a default here:
    it decides where a partition without a valid position starts, which is a product decision (see the
    consumer's ``consumer.group.start``), not a client detail.
    """
    kw = connection_kwargs(settings)
    kw.update(enable_auto_commit=False, auto_offset_reset=offset_reset, isolation_level="read_committed")
    kw.update(overrides)
    return AIOKafkaConsumer(*topics, **kw)


async def probe_metadata(client: AIOKafkaClient, topics: Sequence[str]) -> None:
    """Ask a broker for the metadata of ``topics`` (every topic's when there are none), into a throw-away
    copy: the client's own view is untouched. Raises ``KafkaError`` when no broker answers.

    What ``client.fetch_all_metadata()`` does, scoped: that one fetches every topic of the cluster, which on
    a shared cluster of thousands of partitions is a large response parsed (and held) on every probe.
    aiokafka has no public call for it; this is the one place that reaches for ``_metadata_update`` (the same
    request the client sends for its own topics), pinned by tests/integration/test_gateway_lazy_imports.py.
    """
    if not await client._metadata_update(ClusterMetadata(), list(topics) or None):
        raise KafkaError("Unable to get cluster metadata over all known brokers")


async def stop_consumer(consumer: AIOKafkaConsumer) -> None:
    """Stop ``consumer``, swallowing the CancelledError aiokafka raises from within its own stop.

    ``stop()`` cancels the consumer's fetch and offset tasks and awaits them; one cancelled while it
    sleeps between retries (a broker just gone) or before it ever ran re-raises CancelledError into the
    caller, though nothing cancelled the caller. That one is swallowed; a real cancellation of the caller
    (``cancelling()``) is not.
    """
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise


class TopicAdmin:
    """Creates topics with explicit settings, once each; remembers which exist.

    With ``kafka.create_topics: false`` it only checks that the topics exist (a RuntimeError names the missing
    ones), for clusters where topics are created by their operators.
    """

    def __init__(self, settings: KafkaSettings) -> None:
        self._settings = settings
        self._known: set[str] = set()
        self._lock = asyncio.Lock()

    def known(self, topic: str) -> bool:
        return topic in self._known

    async def ensure(
        self,
        topics: list[str],
        *,
        partitions: int | None = None,
        config: dict[str, str] | None = None,
    ) -> None:
        """Create the missing ones among ``topics``; raises a KafkaError when the broker is unreachable."""
        missing = [t for t in dict.fromkeys(topics) if t not in self._known]
        if not missing:
            return
        async with self._lock:
            missing = [t for t in missing if t not in self._known]
            if not missing:
                return
            ts = self._settings.topics
            admin = AIOKafkaAdminClient(**connection_kwargs(self._settings))
            await admin.start()
            try:
                existing = set(await admin.list_topics())
                if not self._settings.create_topics:
                    absent = [t for t in missing if t not in existing]
                    if absent:
                        # Topics managed elsewhere (Strimzi, MSK, ACLs): say which are missing, never create them.
                        raise RuntimeError(f"topics {absent} do not exist and kafka.create_topics is false")
                    self._known.update(missing)
                    return
                new = [
                    NewTopic(
                        name=t,
                        num_partitions=partitions or ts.partitions,
                        replication_factor=ts.replication_factor,
                        topic_configs={**ts.config, **(config or {})},
                    )
                    for t in missing
                    if t not in existing
                ]
                if new:
                    resp = await admin.create_topics(new)
                    for name, code, *_ in resp.topic_errors:
                        # 36 = TOPIC_ALREADY_EXISTS: a racing replica created it first.
                        if code not in (0, TopicAlreadyExistsError.errno):
                            raise RuntimeError(f"creating topic {name} failed with Kafka error code {code}")
                    log.info("topics_created", topics=[t.name for t in new])
                self._known.update(missing)
            finally:
                await admin.close()


async def start_producer(
    make: Callable[[], AIOKafkaProducer], ensure: Callable[[], Awaitable[None]], watch: DependencyWatch
) -> AIOKafkaProducer:
    """A started producer whose topics exist: retried with :data:`~hookgate.core.backoff.RECONNECT` until
    the broker answers, each failure reported to ``watch`` (one warning per outage, not one per retry).

    ``make`` builds a fresh producer for each attempt (a producer whose ``start()`` failed cannot be
    started again); ``ensure`` creates or checks the topics once the producer is up.
    """
    async for _ in RECONNECT.attempts():
        producer = make()
        try:
            await producer.start()
            await ensure()
        except (KafkaError, OSError, RuntimeError) as exc:
            watch.down(type(exc).__name__, str(exc) or None)
            with contextlib.suppress(Exception):
                await producer.stop()
            continue
        return producer
    raise AssertionError("RECONNECT.attempts() without a stop event never ends")  # pragma: no cover
