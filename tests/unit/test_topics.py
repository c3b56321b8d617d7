"""Topic names come from one place (hookgate.core.topics); the CLI's dead-letter source asks it too."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from hookgate.cli.errors import CliError
from hookgate.cli.kafka_access import load_access
from hookgate.cli.replay import dead_letter_source
from hookgate.core.settings import TopicSettings
from hookgate.core.topics import (
    audit_topic,
    dead_letter_topic,
    dedupe_topic,
    event_topic,
    internal_prefix,
    source_pattern,
    triggers_topic,
)

DEFAULT = TopicSettings()
ACME = TopicSettings(prefix="acme-prod", template="{prefix}.in.{tenant}")


def test_event_topics_follow_the_template_and_lose_characters_kafka_rejects() -> None:
    assert event_topic(DEFAULT, "acme") == "hookgate.acme"
    assert event_topic(ACME, "big corp/eu") == "acme-prod.in.big_corp_eu"
    assert DEFAULT.topic_for("acme") == event_topic(DEFAULT, "acme")


def test_internal_topics_share_the_prefix_and_say_what_they_hold() -> None:
    assert internal_prefix(DEFAULT) == "hookgate._"
    assert dead_letter_topic(DEFAULT, "wf") == "hookgate._deadletter.wf"
    assert dedupe_topic(DEFAULT, "wf") == "hookgate._dedupe.wf"
    assert audit_topic(ACME) == "acme-prod._audit"
    assert triggers_topic(ACME) == "acme-prod._triggers"
    for name in (dead_letter_topic(ACME, "g"), dedupe_topic(ACME, "g"), audit_topic(ACME), triggers_topic(ACME)):
        assert name.startswith(internal_prefix(ACME))


def test_a_configured_name_wins_over_the_default() -> None:
    assert dead_letter_topic(DEFAULT, "wf", "failed-deploys") == "failed-deploys"
    assert dedupe_topic(DEFAULT, "wf", "wf-done") == "wf-done"


def test_the_source_pattern_leaves_out_internal_and_excluded_topics() -> None:
    pattern = re.compile(source_pattern(DEFAULT, r"^hookgate\.", exclude=["hookgate.failed"]))
    assert pattern.match("hookgate.acme")
    assert not pattern.match(audit_topic(DEFAULT))
    assert not pattern.match(triggers_topic(DEFAULT))
    assert not pattern.match("hookgate.failed")
    assert pattern.match("hookgate.failed.not")  # excluded names are whole names, not prefixes


def _config(tmp_path: Path, doc: dict[str, object]) -> Path:
    path = tmp_path / "consumer.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_replay_dead_letter_reads_the_topic_the_consumer_config_names(tmp_path: Path) -> None:
    consumer = {"group_id": "wf", "topics": ["hookgate.acme"], "dead_letter": {"topic": "failed-deploys"}}
    access = load_access(_config(tmp_path, {"consumer": consumer}), None)
    assert dead_letter_source(access, "wf") == "failed-deploys"
    # Another group's dead letters: that group's default name (the file does not describe it).
    assert dead_letter_source(access, "other") == "hookgate._deadletter.other"


def test_replay_dead_letter_defaults_without_a_consumer_section(tmp_path: Path) -> None:
    access = load_access(_config(tmp_path, {"kafka": {"topics": {"prefix": "acme-prod"}}}), None)
    assert dead_letter_source(access, "wf") == "acme-prod._deadletter.wf"
    assert dead_letter_source(load_access(None, None), "wf") == "hookgate._deadletter.wf"


def test_a_bad_consumer_section_is_reported_with_its_key_path(tmp_path: Path) -> None:
    consumer = {"group_id": "wf", "topics": ["hookgate.acme"], "dead_letter": {"topics": "x"}}
    access = load_access(_config(tmp_path, {"consumer": consumer}), None)
    with pytest.raises(CliError, match=r"consumer\.yaml \(consumer\).*\n\s+dead_letter\.topics: unknown key"):
        dead_letter_source(access, "wf")


def test_the_topic_template_is_the_one_template_language() -> None:
    # Braces escape as in every other template, and an unknown placeholder is refused at load, naming the
    # sources; str.format's own syntax (a format spec, a conversion) is not a second dialect.
    assert event_topic(TopicSettings(template="{{{prefix}}}-{tenant}"), "a") == "_hookgate_-a"
    with pytest.raises(ValueError, match=r"unknown placeholder \{team\}.*prefix, tenant"):
        TopicSettings(template="{prefix}.{team}")
    with pytest.raises(ValueError, match="unknown placeholder"):
        TopicSettings(template="{tenant!r}")
