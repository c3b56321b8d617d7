"""Typed payloads against a real broker: a body that fails the workflow's model is dead-lettered at once with the
validation errors (one attempt, never retried) while valid events of the same partition run with the model."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from hookgate.consumer import Consumer, Event
from hookgate.consumer.state.deadletter import H_ATTEMPTS, H_ERROR, H_WORKFLOW
from tests.support.builders import read_topic
from tests.support.events import (
    consumer_config,
    create_topic,
    event,
    produce,
    running_consumer,
    sample,
    wait_committed,
)

pytestmark = pytest.mark.kafka


class Repository(BaseModel):
    full_name: str


class Push(BaseModel):
    ref: str
    repository: Repository


async def test_a_body_that_fails_the_model_is_dead_lettered_at_once_with_the_errors(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}.acme"
    await create_topic(kafka_bootstrap, topic, 1)
    app = Consumer("team")
    seen: list[tuple[str, str]] = []

    @app.workflow("deploy", model=Push)
    async def deploy(event: Event, push: Push) -> None:
        seen.append((event.id, push.repository.full_name))

    good = b'{"ref": "refs/heads/main", "repository": {"full_name": "acme/api"}}'
    bad = b'{"ref": "refs/heads/main", "repository": {"name": "api"}}'
    config = consumer_config(
        kafka_bootstrap,
        topic_prefix,
        f"{topic_prefix}-g",
        [],
        retry={"attempts": 5, "base_delay_seconds": 0.2, "max_delay_seconds": 1},
    )
    events = [event("bad-1", data=bad), event("good-1", data=good), event("bad-2", data=b"not json")]
    async with running_consumer(config, app.workflows) as (_, metrics):
        await produce(kafka_bootstrap, topic, events)
        dead = await read_topic(kafka_bootstrap, config.dead_letter_topic(), count=2, timeout=60)
        await wait_committed(kafka_bootstrap, f"{topic_prefix}-g", topic)
        assert sample(metrics, "hookgate_consumer_deliveries_total", workflow="deploy", outcome="deadlettered") == 2
        assert sample(metrics, "hookgate_consumer_deliveries_total", workflow="deploy", outcome="succeeded") == 1
        assert sample(metrics, "hookgate_consumer_actions_total", workflow="deploy", outcome="failed") == 2

    assert seen == [("good-1", "acme/api")]
    by_id = {dict(r.headers)["ce_id"].decode(): dict(r.headers) for r in dead}
    assert set(by_id) == {"bad-1", "bad-2"}
    for headers in by_id.values():
        assert headers[H_WORKFLOW] == b"deploy"
        assert headers[H_ATTEMPTS] == b"1"  # never retried: no retry changes a body
    assert by_id["bad-1"][H_ERROR] == b"payload is not a valid Push (1 error): repository.full_name: Field required"
    assert by_id["bad-2"][H_ERROR].startswith(b"payload is not a valid Push (1 error): (body): Invalid JSON")
