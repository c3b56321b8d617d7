"""What the Kafka tools share: the ``-c``/``--bootstrap`` options, settings, topic names, clients.

Settings come from the ``kafka:`` section of the same YAML file the services read (gateway or
consumer config), so the tools reach the same cluster with the same security settings.
Precedence of the broker address: ``--bootstrap``, then ``KAFKA_BOOTSTRAP_SERVERS``, then the file.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.structs import ConsumerRecord

from hookgate.cli.errors import CliError
from hookgate.core import reading
from hookgate.core.config import ConfigError, load_model
from hookgate.core.kafka import connection_kwargs
from hookgate.core.settings import KafkaSettings

T = TypeVar("T")

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        envvar="HOOKGATE_CONFIG",
        help="Gateway or consumer YAML; its kafka: section is used",
        show_default=False,
    ),
]
BootstrapOpt = Annotated[
    str | None,
    typer.Option("--bootstrap", "-b", help="host:port[,host:port]; wins over the config and KAFKA_BOOTSTRAP_SERVERS"),
]


@dataclass(frozen=True, slots=True)
class KafkaAccess:
    """The ``kafka:`` settings plus the broker address the tool actually uses.

    ``document`` is the whole config file as parsed (empty without one), for the tools that need more of
    it than ``kafka:`` (``replay --dead-letter`` reads ``consumer:``); ``source`` names it in errors.
    """

    settings: KafkaSettings
    bootstrap: str
    document: Mapping[str, Any] = field(default_factory=dict)
    source: str = "<defaults>"

    def kwargs(self) -> dict[str, Any]:
        kw = connection_kwargs(self.settings)
        kw["bootstrap_servers"] = self.bootstrap
        kw["request_timeout_ms"] = min(self.settings.request_timeout_ms, 15_000)
        return kw


def load_access(config: Path | None, bootstrap: str | None) -> KafkaAccess:
    """The ``kafka:`` section of ``config`` (defaults without one) and the effective bootstrap address."""
    settings = KafkaSettings()
    data: dict[str, Any] | None = None
    if config is not None:
        try:
            data = yaml.safe_load(config.read_text(encoding="utf-8"))
        except OSError as exc:
            raise CliError(f"{config}: cannot read config file: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise CliError(f"{config}: not valid YAML: {exc}") from None
        if data is not None and not isinstance(data, dict):
            raise CliError(f"{config}: the top level must be a mapping of keys")
        try:
            settings = load_model(KafkaSettings, (data or {}).get("kafka") or {}, f"{config} (kafka)")
        except ConfigError as exc:
            raise CliError(str(exc)) from None
    source = str(config) if config is not None else "<defaults>"
    return KafkaAccess(settings, bootstrap or settings.effective_bootstrap(), data or {}, source)


def topic_names(access: KafkaAccess, topics: list[str], tenants: list[str]) -> list[str]:
    """Explicit topics plus the event topics of ``tenants`` (per the configured template)."""
    return [*topics, *(access.settings.topics.topic_for(t) for t in tenants)]


def consumer(access: KafkaAccess, **overrides: Any) -> AIOKafkaConsumer:
    """A group-less consumer that never commits: the tools only read."""
    kw = access.kwargs()
    kw.update(group_id=None, enable_auto_commit=False, auto_offset_reset="earliest")
    kw.update(overrides)
    return AIOKafkaConsumer(**kw)


def producer(access: KafkaAccess) -> AIOKafkaProducer:
    """Idempotent, acks=all: the same guarantees the gateway writes with."""
    return AIOKafkaProducer(**access.kwargs(), enable_idempotence=True, acks="all")


async def partitions_of(client: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """The partitions of ``topic``; a CliError when the topic does not exist."""
    try:
        return await reading.partitions_of(client, topic)
    except reading.UnknownTopic as exc:
        raise CliError(str(exc), code=1) from None


async def read_range(
    client: AIOKafkaConsumer, tp: TopicPartition, start: int, end: int
) -> AsyncGenerator[ConsumerRecord[bytes, bytes], None]:
    """:func:`hookgate.core.reading.read_range`, with a CliError when the partition stops short of ``end``.

    Use it with ``contextlib.aclosing`` when the loop may stop early.
    """
    try:
        async with contextlib.aclosing(reading.read_range(client, tp, start, end)) as records:
            async for record in records:
                yield record
    except reading.PartitionStalled as exc:
        raise CliError(str(exc), 1) from None


async def ensure_topic(access: KafkaAccess, topic: str) -> None:
    """Create ``topic`` when missing, with the configured partitions and replication (never broker auto-create)."""
    ts = access.settings.topics
    admin = AIOKafkaAdminClient(**access.kwargs())
    try:
        await admin.start()
        if topic in set(await admin.list_topics()):
            return
        if not access.settings.create_topics:
            raise CliError(f"topic {topic!r} does not exist and kafka.create_topics is false", 1)
        resp = await admin.create_topics(
            [NewTopic(topic, ts.partitions, ts.replication_factor, topic_configs=dict(ts.config))]
        )
        for name, code, *_ in resp.topic_errors:
            if code not in (0, TopicAlreadyExistsError.errno):
                raise CliError(f"creating topic {name} failed with Kafka error code {code}", 1)
    except (KafkaError, OSError) as exc:
        raise CliError(f"cannot create topic {topic} at {access.bootstrap}: {exc}", 1) from None
    finally:
        await admin.close()


async def start_client(client: AIOKafkaConsumer | AIOKafkaProducer, access: KafkaAccess) -> None:
    try:
        await client.start()
    except (KafkaError, OSError) as exc:
        raise CliError(f"cannot reach Kafka at {access.bootstrap}: {exc}", code=1) from None


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a tool's coroutine; Kafka failures become a CliError (a message, not a traceback)."""
    try:
        return asyncio.run(coro)
    except KafkaError as exc:
        raise CliError(f"Kafka error: {exc}", code=1) from None
