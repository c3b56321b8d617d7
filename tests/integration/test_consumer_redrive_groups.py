"""Re-drives are scoped to one consumer group, and a successful one resolves its dead letter.

Two groups run a workflow of the same name on the same topic; one of them dead-letters an event. Its
re-drive (``hookgate replay --dead-letter GROUP``, a separate process) runs that group's workflow again and
never the other group's; the letter is then resolved: the waiting gauge drops to 0, ``replay --dead-letter
--dry-run`` no longer lists it, and ``hookgate inspect --id --group`` tells each group's story.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
import yaml

from hookgate.consumer import Consumer, Event, Fail
from hookgate.consumer.metrics import ConsumerMetrics
from tests.support.builders import read_topic
from tests.support.cli import hookgate
from tests.support.events import consumer_config, create_topic, event, produce, running_consumer, sample, wait_committed

pytestmark = pytest.mark.kafka

WAITING = "hookgate_consumer_dead_letters_waiting"
REDRIVES = "hookgate_consumer_redrives_total"


class Team:
    """A group's ``deploy`` handler: what it saw per run, and whether it fails the event ``e1`` for now."""

    def __init__(self, name: str, *, broken: bool) -> None:
        self.broken = broken
        self.runs: list[tuple[str, int, bool, str | None, int | None]] = []
        self.app = Consumer(name)
        self.app.add("deploy", self._deploy)

    async def _deploy(self, event: Event) -> None:
        self.runs.append((event.id, event.attempt, event.is_redrive, event.topic, event.offset))
        if self.broken and event.id == "e1":
            raise Fail("the environment is locked", permanent=True)


async def _gauge(metrics: ConsumerMetrics, value: float) -> None:
    """Wait until this member reports ``value`` dead letters waiting for ``deploy``."""
    async with asyncio.timeout(60):
        while sample(metrics, WAITING, workflow="deploy") != value:  # noqa: ASYNC110  # a gauge has no event to await
            await asyncio.sleep(0.1)


async def test_a_redrive_runs_only_the_named_groups_workflow_and_resolves_its_letter(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    topic = f"{topic_prefix}.acme"
    blue, green = f"{topic_prefix}-blue", f"{topic_prefix}-green"
    await create_topic(kafka_bootstrap, topic, 2)
    cfg = tmp_path / "consumer.yaml"
    cfg.write_text(
        yaml.safe_dump({"kafka": {"bootstrap_servers": kafka_bootstrap, "topics": {"prefix": topic_prefix}}})
    )
    blue_team, green_team = Team("blue", broken=True), Team("green", broken=False)
    blue_config = consumer_config(kafka_bootstrap, topic_prefix, blue, [])
    green_config = consumer_config(kafka_bootstrap, topic_prefix, green, [])
    async with (
        running_consumer(blue_config, blue_team.app.workflows) as (_, blue_metrics),
        running_consumer(green_config, green_team.app.workflows) as (_, green_metrics),
    ):
        await produce(kafka_bootstrap, topic, [event("e1"), event("e2")], spread=2)
        (dead,) = await read_topic(kafka_bootstrap, blue_config.dead_letter_topic(), count=1, timeout=60)
        offset = dead.headers[[k for k, _ in dead.headers].index("hookgate_source_offset")][1]
        for group in (blue, green):
            await wait_committed(kafka_bootstrap, group, topic)
        await _gauge(blue_metrics, 1)
        assert sample(green_metrics, WAITING, workflow="deploy") == 0

        blue_team.broken = False  # the operator unlocked the environment
        code, _, err = await hookgate("replay", "-c", str(cfg), "--dead-letter", blue)
        assert code == 0, err
        assert f"replayed 1: 1 to {blue_config.redrive_topic()}" in err
        redrive_id = err.rsplit("re-drive ", 1)[1].strip()
        await wait_committed(kafka_bootstrap, blue, blue_config.redrive_topic())
        await _gauge(blue_metrics, 0)
        assert sample(blue_metrics, REDRIVES, workflow="deploy", outcome="succeeded") == 1

        # Re-driven onto the shared topic by hand (--to-topic): green sees the record and skips it, because the
        # marker names blue; blue's run already succeeded, so it does not run again either.
        code, _, err = await hookgate(
            "replay", "-c", str(cfg), "--dead-letter", blue, "--include-resolved", "--to-topic", topic
        )
        assert code == 0, err
        for group in (blue, green):
            await wait_committed(kafka_bootstrap, group, topic)
        assert sample(green_metrics, REDRIVES, workflow="deploy", outcome="other_group") == 1
        assert sample(blue_metrics, REDRIVES, workflow="deploy", outcome="deduplicated") == 1

    e1 = [r for r in blue_team.runs if r[0] == "e1"]
    assert e1 == [("e1", 1, False, topic, int(offset)), ("e1", 1, True, topic, int(offset))]
    assert [r for r in green_team.runs if r[0] == "e1"] == [("e1", 1, False, topic, int(offset))]
    assert sorted(r[0] for r in green_team.runs) == ["e1", "e2"]  # green ran each event once, never a re-drive

    # The letter is resolved: a dry run lists nothing, unless resolved letters are asked for.
    code, out, err = await hookgate("replay", "-c", str(cfg), "--dead-letter", blue, "--dry-run")
    assert code == 0, err
    assert out == ""
    assert "would replay 0: nothing; skipped 1 resolved" in err
    code, out, err = await hookgate("replay", "-c", str(cfg), "--dead-letter", blue, "--dry-run", "--include-resolved")
    assert code == 0, err
    assert [orjson.loads(line)["attributes"]["id"] for line in out.splitlines()] == ["e1"]

    # What each group did with e1.
    code, out, err = await hookgate("inspect", "-c", str(cfg), "--id", "e1", "--group", blue)
    assert code == 0, err
    (deploy,) = orjson.loads(out)["workflows"]
    assert deploy["workflow"] == "deploy"
    assert deploy["matched"] is True
    assert deploy["outcome"] == "succeeded"
    assert deploy["succeeded"] is True
    assert deploy["attempts"] == 1
    assert deploy["dead_lettered"] == 1
    assert deploy["dead_letters"][0]["error"] == "the environment is locked"
    assert deploy["redriven"] == [redrive_id]  # the one by hand ran nothing and went to the shared topic
    assert deploy["resolved"] is True
    code, out, err = await hookgate("inspect", "-c", str(cfg), "--id", "e1", "--group", green)
    assert code == 0, err
    (deploy,) = orjson.loads(out)["workflows"]
    assert (deploy["outcome"], deploy["attempts"], deploy["dead_lettered"], deploy["redriven"]) == (
        "succeeded",
        1,
        0,
        [],
    )
    code, _, err = await hookgate("inspect", "-c", str(cfg), "--id", "nope", "--group", green)
    assert code == 1
    assert "has no record of event 'nope'" in err
