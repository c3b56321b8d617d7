"""``kafka.create_topics: false``: hookgate checks that its topics exist and never creates one (real broker)."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from hookgate.core.kafka import TopicAdmin
from hookgate.core.settings import KafkaSettings, TopicSettings
from tests.support.consumer_group import create_topics

pytestmark = pytest.mark.kafka


async def broker_topics(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def test_missing_topics_are_named_and_not_created(kafka_bootstrap: str, topic_prefix: str) -> None:
    settings = KafkaSettings(
        bootstrap_servers=kafka_bootstrap,
        create_topics=False,
        topics=TopicSettings(prefix=topic_prefix, partitions=1),
    )
    present, absent = f"{topic_prefix}.acme", f"{topic_prefix}._deadletter.g"
    await create_topics(kafka_bootstrap, [present], partitions=1)
    admin = TopicAdmin(settings)

    with pytest.raises(RuntimeError, match=r"kafka\.create_topics is false") as excinfo:
        await admin.ensure([present, absent])
    assert absent in str(excinfo.value)
    assert present not in str(excinfo.value)
    assert absent not in await broker_topics(kafka_bootstrap)

    await admin.ensure([present])
    assert admin.known(present)
    assert not admin.known(absent)


async def test_topics_are_created_by_default(kafka_bootstrap: str, topic_prefix: str) -> None:
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap, topics=TopicSettings(prefix=topic_prefix, partitions=1))
    assert settings.create_topics is True
    topic = f"{topic_prefix}.acme"
    await TopicAdmin(settings).ensure([topic])
    assert topic in await broker_topics(kafka_bootstrap)
