"""Re-driving dead letters with ``hookgate replay --dead-letter``: the failed workflow runs again, once.

A real broker, a real HTTP target, and the CLI run as a user runs it (a separate process). Re-drives go to
the group's own re-drive topic; a successful one marks its dead letter resolved, which later re-drives skip.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from hookgate.consumer.config import ConsumerConfig
from hookgate.consumer.state.deadletter import H_REDRIVE, H_REDRIVE_GROUP, H_REDRIVE_WORKFLOW, H_WORKFLOW
from hookgate.consumer.workflows.actions.client import HttpClients
from hookgate.consumer.workflows.subscriptions import build_workflows
from tests.support.builders import read_all, read_topic
from tests.support.events import (
    consumer_config,
    create_topic,
    end_offsets,
    event,
    http_workflow,
    produce,
    running_consumer,
    sample,
    wait_committed,
)
from tests.support.receiver import Received, Receiver, run_receiver

pytestmark = pytest.mark.kafka

REDRIVES = "hookgate_consumer_redrives_total"


def _runs(receiver: Receiver) -> Counter[tuple[str, str]]:
    """(workflow path, event id) -> requests the target received."""
    return Counter((r.path, r.headers["ce-id"]) for r in receiver.received)


def _broken(receiver: Receiver, broken: set[str]) -> None:
    """``/deploy`` answers 400 (a permanent failure: dead-lettered at once) for the ids in ``broken``."""

    def respond(r: Received) -> int:
        return 400 if r.path == "/deploy" and r.headers["ce-id"] in broken else 200

    receiver.respond = respond


def _config(bootstrap: str, prefix: str, receiver: Receiver) -> ConsumerConfig:
    return consumer_config(
        bootstrap,
        prefix,
        f"{prefix}-g",
        [http_workflow("deploy", f"{receiver.url}/deploy"), http_workflow("audit", f"{receiver.url}/audit")],
        retry={"attempts": 3, "base_delay_seconds": 0.1, "max_delay_seconds": 0.5},
    )


async def _redrive(
    tmp_path: Path, bootstrap: str, prefix: str, consumer: dict[str, Any] | None = None, *extra: str
) -> str:
    """``hookgate replay -c consumer.yaml --dead-letter GROUP``, as an operator runs it; returns its stderr.

    ``consumer`` is the file's ``consumer:`` section (none by default: only ``kafka:``).
    """
    cfg = tmp_path / "consumer.yaml"
    doc: dict[str, Any] = {"kafka": {"bootstrap_servers": bootstrap, "topics": {"prefix": prefix}}}
    if consumer is not None:
        doc["consumer"] = consumer
    cfg.write_text(yaml.safe_dump(doc))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hookgate", "replay", "-c", str(cfg), "--dead-letter", f"{prefix}-g", *extra,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    return err.decode()


async def _rewind(bootstrap: str, group: str, *topics: str) -> None:
    """Redeliver everything: move the (idle) group's committed offsets back to the start."""
    tps = [TopicPartition(topic, p) for topic in topics for p in await end_offsets(bootstrap, topic)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.commit({tp: OffsetAndMetadata(0, "") for tp in tps})
    finally:
        await consumer.stop()


async def _settled(bootstrap: str, group: str, config: ConsumerConfig, topic: str) -> None:
    """The group finished everything on its source topic and its re-drive topic."""
    await wait_committed(bootstrap, group, topic)
    await wait_committed(bootstrap, group, config.redrive_topic())


async def test_a_redrive_reruns_only_the_failed_workflow_once(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    topic, group = f"{topic_prefix}.acme", f"{topic_prefix}-g"
    await create_topic(kafka_bootstrap, topic, 3)
    async with run_receiver() as receiver, HttpClients() as clients:
        _broken(receiver, {"e1"})
        config = _config(kafka_bootstrap, topic_prefix, receiver)
        redrives = config.redrive_topic()
        async with running_consumer(config, build_workflows(config.workflows, clients)) as (_, metrics):
            await produce(kafka_bootstrap, topic, [event("e1"), event("e2")])
            (dead,) = await read_topic(kafka_bootstrap, config.dead_letter_topic(), count=1, timeout=60)
            await wait_committed(kafka_bootstrap, group, topic)
            assert dict(dead.headers)[H_WORKFLOW] == b"deploy"
            before = {("/deploy", "e1"): 1, ("/audit", "e1"): 1, ("/deploy", "e2"): 1, ("/audit", "e2"): 1}
            assert _runs(receiver) == before

            # The operator fixes the target and re-drives the dead letters.
            _broken(receiver, set())
            err = await _redrive(tmp_path, kafka_bootstrap, topic_prefix)
            assert f"replayed 1: 1 to {redrives}" in err
            await _settled(kafka_bootstrap, group, config, topic)
            assert _runs(receiver) == {**before, ("/deploy", "e1"): 2}  # deploy ran again; audit did not
            assert sample(metrics, REDRIVES, workflow="deploy", outcome="succeeded") == 1
            assert sample(metrics, REDRIVES, workflow="audit", outcome="other_workflow") == 1
            rerun = receiver.received[-1]
            assert (rerun.path, rerun.headers["ce-id"]) == ("/deploy", "e1")
            assert rerun.headers["Idempotency-Key"] == "deploy:e1"  # the original id travelled back

            # The letter is resolved now: a second re-drive skips it, unless told to include resolved letters,
            # and then the re-drive runs nothing (the run already succeeded).
            err = await _redrive(tmp_path, kafka_bootstrap, topic_prefix)
            assert "replayed 0: nothing; skipped 1 resolved" in err
            await _redrive(tmp_path, kafka_bootstrap, topic_prefix, None, "--include-resolved")
            await _settled(kafka_bootstrap, group, config, topic)
            assert sample(metrics, REDRIVES, workflow="deploy", outcome="deduplicated") == 1
            assert sample(metrics, REDRIVES, workflow="audit", outcome="other_workflow") == 2
        assert _runs(receiver) == {**before, ("/deploy", "e1"): 2}

        # A crash or rebalance redelivers the re-driven records (here: all of them, to a new process that
        # restores the dedupe state from the changelog): the succeeded entry blocks the re-run.
        await _rewind(kafka_bootstrap, group, topic, redrives)
        async with running_consumer(config, build_workflows(config.workflows, clients)) as (_, metrics):
            await _settled(kafka_bootstrap, group, config, topic)
            assert sample(metrics, REDRIVES, workflow="deploy", outcome="deduplicated") == 2
            assert sample(metrics, "hookgate_consumer_deliveries_total", workflow="deploy", outcome="succeeded") == 0
    assert _runs(receiver) == {**before, ("/deploy", "e1"): 2}
    source = await read_all(kafka_bootstrap, topic)  # every consumer and re-drive has stopped
    assert all(H_REDRIVE not in dict(r.headers) for r in source)  # nothing was written back to the shared topic
    redriven = [dict(r.headers) for r in await read_topic(kafka_bootstrap, redrives, count=2)]
    assert len(redriven) == 2
    assert all(h["ce_id"] == b"e1" and h[H_REDRIVE_WORKFLOW] == b"deploy" for h in redriven)
    assert all(h[H_REDRIVE_GROUP] == group.encode() for h in redriven)
    assert redriven[0][H_REDRIVE] != redriven[1][H_REDRIVE]  # one re-drive id per replay command


async def test_a_redrive_that_fails_again_dead_letters_once_and_a_redelivery_does_not_run_it_again(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    topic, group = f"{topic_prefix}.acme", f"{topic_prefix}-g"
    await create_topic(kafka_bootstrap, topic, 1)
    async with run_receiver() as receiver, HttpClients() as clients:
        _broken(receiver, {"e1"})
        config = _config(kafka_bootstrap, topic_prefix, receiver)
        dead_topic = config.dead_letter_topic()
        async with running_consumer(config, build_workflows(config.workflows, clients)):
            await produce(kafka_bootstrap, topic, [event("e1")])
            await read_topic(kafka_bootstrap, dead_topic, count=1, timeout=60)
            await _settled(kafka_bootstrap, group, config, topic)
            # Re-driven before the target is fixed: one more attempt, one more dead letter, without a marker.
            await _redrive(tmp_path, kafka_bootstrap, topic_prefix)
            dead = await read_topic(kafka_bootstrap, dead_topic, count=2, timeout=60)
            await _settled(kafka_bootstrap, group, config, topic)
        assert len(dead) == 2
        assert all(H_REDRIVE not in dict(d.headers) for d in dead)
        assert _runs(receiver) == {("/deploy", "e1"): 2, ("/audit", "e1"): 1}

        # The re-driven record is redelivered (a new process, offsets rewound): that re-drive already ran.
        await _rewind(kafka_bootstrap, group, topic, config.redrive_topic())
        _broken(receiver, set())
        async with running_consumer(config, build_workflows(config.workflows, clients)) as (_, metrics):
            await _settled(kafka_bootstrap, group, config, topic)
            assert _runs(receiver) == {("/deploy", "e1"): 2, ("/audit", "e1"): 1}
            assert sample(metrics, REDRIVES, workflow="deploy", outcome="deduplicated") == 1

            # Fixed, then both dead letters of the event re-driven by one command: one run, not two.
            err = await _redrive(tmp_path, kafka_bootstrap, topic_prefix)
            assert f"replayed 2: 2 to {config.redrive_topic()}" in err
            await _settled(kafka_bootstrap, group, config, topic)
            assert sample(metrics, REDRIVES, workflow="deploy", outcome="succeeded") == 1
            assert sample(metrics, REDRIVES, workflow="deploy", outcome="deduplicated") == 2
    assert _runs(receiver) == {("/deploy", "e1"): 3, ("/audit", "e1"): 1}


async def test_a_redrive_reads_the_dead_letter_topic_the_consumer_config_names(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    """``consumer.dead_letter.topic`` set: the consumer writes there, and ``replay --dead-letter`` reads there."""
    topic, group = f"{topic_prefix}.acme", f"{topic_prefix}-g"
    custom = f"{topic_prefix}-failed-deploys"
    await create_topic(kafka_bootstrap, topic, 1)
    async with run_receiver() as receiver, HttpClients() as clients:
        _broken(receiver, {"e1"})
        config = consumer_config(
            kafka_bootstrap,
            topic_prefix,
            group,
            [http_workflow("deploy", f"{receiver.url}/deploy"), http_workflow("audit", f"{receiver.url}/audit")],
            dead_letter={"topic": custom},
        )
        async with running_consumer(config, build_workflows(config.workflows, clients)) as (_, metrics):
            await produce(kafka_bootstrap, topic, [event("e1")])
            (dead,) = await read_topic(kafka_bootstrap, custom, count=1, timeout=60)
            assert dict(dead.headers)[H_WORKFLOW] == b"deploy"
            await _settled(kafka_bootstrap, group, config, topic)

            _broken(receiver, set())
            section = {"group_id": group, "topic_pattern": f"^{topic_prefix}\\.", "dead_letter": {"topic": custom}}
            err = await _redrive(tmp_path, kafka_bootstrap, topic_prefix, consumer=section)
            assert f"scanned 1 records of {custom}; replayed 1: 1 to {config.redrive_topic()}" in err
            await _settled(kafka_bootstrap, group, config, topic)
            assert sample(metrics, REDRIVES, workflow="deploy", outcome="succeeded") == 1
    assert _runs(receiver) == {("/deploy", "e1"): 2, ("/audit", "e1"): 1}
