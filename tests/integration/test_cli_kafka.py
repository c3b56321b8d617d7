"""``hookgate tail``, ``inspect`` and ``replay`` run as a user runs them, against a real broker."""

from __future__ import annotations

import uuid
from pathlib import Path

import orjson
import pytest
import yaml
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from hookgate.core.envelope import EXT_TENANT, Envelope
from tests.support.builders import read_all, read_topic
from tests.support.cli import hookgate

pytestmark = pytest.mark.kafka


async def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()


def event(eid: str, kind: str, body: bytes) -> Envelope:
    return Envelope(
        id=eid,
        source="/hookgate/gh",
        type=kind,
        data=body,
        time="2026-01-01T00:00:00.000Z",
        datacontenttype="application/json",
        extensions={EXT_TENANT: "acme"},
    )


# (id, type, body, partition)
EVENTS = [
    ("evt-1", "com.github.push", b'{"n": 1}', 0),
    ("evt-2", "com.github.issues", b'{"n": 2, "x": "\xc3\xa9"}', 1),
    ("evt-3", "com.github.push", b'{"n": 3}', 0),
]


@pytest.fixture
async def seeded(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> tuple[Path, str, dict[str, tuple[int, int]]]:
    """``{prefix}.acme`` (2 partitions) holding EVENTS; returns the config file, topic and each id's position."""
    topic = f"{topic_prefix}.acme"
    await create_topic(kafka_bootstrap, topic, 2)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    positions: dict[str, tuple[int, int]] = {}
    try:
        for eid, kind, body, partition in EVENTS:
            ev = event(eid, kind, body)
            md = await producer.send_and_wait(topic, body, key=b"acme", headers=ev.to_headers(), partition=partition)
            positions[eid] = (md.partition, md.offset)
    finally:
        await producer.stop()
    cfg = tmp_path / "gateway.yaml"
    cfg.write_text(
        yaml.safe_dump({"kafka": {"bootstrap_servers": kafka_bootstrap, "topics": {"prefix": topic_prefix}}})
    )
    return cfg, topic, positions


async def test_tail_prints_each_event_as_a_json_line(seeded: tuple[Path, str, dict[str, tuple[int, int]]]) -> None:
    cfg, topic, positions = seeded
    code, out, _ = await hookgate("tail", "-c", str(cfg), "--tenant", "acme", "--from-beginning", "--body", "-n", "3")
    assert code == 0
    lines = [orjson.loads(line) for line in out.splitlines()]
    assert len(lines) == 3
    by_id = {doc["attributes"]["id"]: doc for doc in lines}
    assert set(by_id) == {"evt-1", "evt-2", "evt-3"}
    for eid, kind, body, _ in EVENTS:
        doc = by_id[eid]
        assert doc["topic"] == topic
        assert (doc["partition"], doc["offset"]) == positions[eid]
        assert doc["key"] == "acme"
        assert doc["attributes"]["type"] == kind
        assert doc["attributes"]["tenant"] == "acme"
        assert doc["body"].encode() == body

    code, out, _ = await hookgate(
        "tail", "-c", str(cfg), "--topic", topic, "--from-beginning", "--type", "com.github.push", "--idle-timeout", "3"
    )
    assert code == 0
    docs = [orjson.loads(line) for line in out.splitlines()]
    assert sorted(d["attributes"]["id"] for d in docs) == ["evt-1", "evt-3"]
    assert all("body" not in d for d in docs)


async def test_tail_by_pattern(seeded: tuple[Path, str, dict[str, tuple[int, int]]], topic_prefix: str) -> None:
    cfg, _, _ = seeded
    pattern = f"^{topic_prefix}\\."
    code, out, _ = await hookgate("tail", "-c", str(cfg), "--pattern", pattern, "--from-beginning", "-n", "3")
    assert code == 0
    assert sorted(orjson.loads(line)["attributes"]["id"] for line in out.splitlines()) == ["evt-1", "evt-2", "evt-3"]


async def test_inspect_by_offset_and_by_id(seeded: tuple[Path, str, dict[str, tuple[int, int]]]) -> None:
    cfg, topic, positions = seeded
    partition, offset = positions["evt-2"]
    code, out, _ = await hookgate("inspect", "-c", str(cfg), "--topic", topic, "-p", str(partition), "-o", str(offset))
    assert code == 0
    doc = orjson.loads(out)
    assert doc["attributes"]["id"] == "evt-2"
    assert doc["body"].encode() == EVENTS[1][2]

    code, out, _ = await hookgate("inspect", "-c", str(cfg), "--tenant", "acme", "--id", "evt-3", "--no-body")
    assert code == 0
    (doc,) = [orjson.loads(line) for line in out.splitlines()]
    assert (doc["partition"], doc["offset"]) == positions["evt-3"]
    assert "body" not in doc

    code, _, err = await hookgate("inspect", "-c", str(cfg), "--topic", topic, "--id", "evt-404")
    assert code == 1
    assert "no event with id 'evt-404'" in err
    code, _, err = await hookgate("inspect", "-c", str(cfg), "--topic", topic, "-p", "0", "-o", "99")
    assert code == 1
    assert "no record at" in err
    code, _, err = await hookgate("inspect", "-c", str(cfg), "--topic", f"{topic}-missing", "--id", "x")
    assert code == 1
    assert "does not exist" in err


async def test_replay_dry_run_then_byte_exact_copy(
    seeded: tuple[Path, str, dict[str, tuple[int, int]]], kafka_bootstrap: str, topic_prefix: str
) -> None:
    cfg, topic, _ = seeded
    target = f"{topic_prefix}.replayed"
    code, out, err = await hookgate(
        "replay", "-c", str(cfg), "--from-topic", topic, "--to-topic", target, "--type", "com.github.push", "--dry-run"
    )
    assert code == 0
    assert sorted(orjson.loads(line)["attributes"]["id"] for line in out.splitlines()) == ["evt-1", "evt-3"]
    assert "would replay 2" in err
    assert await read_all(kafka_bootstrap, target) == []  # the dry run (it has exited) wrote nothing

    code, _, err = await hookgate(
        "replay", "-c", str(cfg), "--from-tenant", "acme", "--to-topic", target, "--type", "com.github.push"
    )
    assert code == 0, err
    assert "replayed 2" in err
    originals = {r.value: r for r in await read_topic(kafka_bootstrap, topic, count=3)}
    copies = await read_topic(kafka_bootstrap, target, count=2)
    assert len(copies) == 2
    for copy in copies:
        original = originals[copy.value]
        assert copy.key == original.key
        assert list(copy.headers) == list(original.headers)

    # One partition, an offset range: exactly the second record of partition 0.
    code, out, _ = await hookgate(
        "replay", "-c", str(cfg), "--from-topic", topic, "--to-topic", target, "-p", "0",
        "--start-offset", "1", "--end-offset", "2", "--dry-run",
    )  # fmt: skip
    assert code == 0
    assert [orjson.loads(line)["attributes"]["id"] for line in out.splitlines()] == ["evt-3"]


async def test_replay_by_time_window(seeded: tuple[Path, str, dict[str, tuple[int, int]]]) -> None:
    cfg, topic, _ = seeded
    base = ["replay", "-c", str(cfg), "--from-topic", topic, "--to-topic", f"{topic}-copy", "--dry-run"]
    code, out, _ = await hookgate(*base, "--since", "2000-01-01T00:00:00Z")
    assert code == 0
    assert len(out.splitlines()) == 3
    code, out, err = await hookgate(*base, "--since", "2999-01-01T00:00:00Z")
    assert code == 0
    assert out == ""
    assert "would replay 0" in err
    code, out, _ = await hookgate(*base, "--until", "946684800000")  # 2000-01-01 in unix ms: before every record
    assert code == 0
    assert out == ""


async def test_replay_dead_letters_to_their_groups_redrive_topic(
    seeded: tuple[Path, str, dict[str, tuple[int, int]]], kafka_bootstrap: str, topic_prefix: str
) -> None:
    cfg, topic, _ = seeded
    dead = f"{topic_prefix}._deadletter.workflows"
    redrives = f"{topic_prefix}._redrive.workflows"  # the group's consumer creates it; here the test does
    ev = event("evt-dead", "com.github.push", b'{"dead": true}')
    headers = [*ev.to_headers(), ("hookgate_source_topic", topic.encode()), ("hookgate_workflow", b"deploy")]
    await create_topic(kafka_bootstrap, dead, 1)
    await create_topic(kafka_bootstrap, redrives, 1)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(dead, ev.data, key=b"acme", headers=headers)
    finally:
        await producer.stop()

    code, out, err = await hookgate(
        "replay", "-c", str(cfg), "--dead-letter", "workflows", "--id", "evt-dead", "--dry-run"
    )
    assert code == 0, err
    (shown,) = [orjson.loads(line) for line in out.splitlines()]
    assert shown["headers"]["hookgate_redrive_workflow"] == "deploy"  # the headers as they would be written
    code, _, err = await hookgate("replay", "-c", str(cfg), "--dead-letter", "workflows", "--id", "evt-dead")
    assert code == 0, err
    assert f"replayed 1: 1 to {redrives}" in err
    (back,) = await read_topic(kafka_bootstrap, redrives, count=1)
    assert back.value == b'{"dead": true}'
    # A re-drive: every header kept (ce_id included), plus the marker naming the dead-lettered workflow and
    # the group; it went to that group's re-drive topic, which no other group reads.
    assert list(back.headers)[: len(headers)] == headers
    marker = dict(list(back.headers)[len(headers) :])
    assert marker["hookgate_redrive_workflow"] == b"deploy"
    assert marker["hookgate_redrive_group"] == b"workflows"
    assert str(uuid.UUID(marker["hookgate_redrive"].decode())) in err  # the summary names the re-drive


async def test_unreachable_kafka_is_a_message_not_a_traceback() -> None:
    code, _, err = await hookgate("tail", "--topic", "x", "-b", "127.0.0.1:1", "--idle-timeout", "1")
    assert code == 1
    assert "cannot reach Kafka at 127.0.0.1:1" in err
