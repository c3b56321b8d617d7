from __future__ import annotations

import re

import pytest

from hookgate.consumer.config import ConsumerConfig
from hookgate.core.config import ConfigError, load_model


def _load(consumer: dict[str, object]) -> ConsumerConfig:
    return load_model(ConsumerConfig, {"consumer": {"topics": ["hookgate.acme"], **consumer}}, "<t>", env={})


def test_guarantee_settings_have_safe_defaults() -> None:
    s = _load({}).consumer
    assert s.dedupe.enabled
    assert s.retry.attempts == 5
    assert s.breaker.enabled
    assert s.max_in_flight == 1000


def test_bad_guarantee_settings_name_the_key_path() -> None:
    with pytest.raises(ConfigError, match=r"consumer\.retry\.attempts"):
        _load({"retry": {"attempts": 0}})
    with pytest.raises(ConfigError, match=r"consumer\.retry: .*max_delay_seconds"):
        _load({"retry": {"base_delay_seconds": 5, "max_delay_seconds": 1}})
    with pytest.raises(ConfigError, match=r"consumer\.dedupe\.ttl: unknown key"):
        _load({"dedupe": {"ttl": 5}})
    with pytest.raises(ConfigError, match=r"consumer\.group_id"):
        _load({"group_id": "has space"})


def test_the_topic_pattern_never_matches_hookgates_internal_topics() -> None:
    cfg = load_model(
        ConsumerConfig,
        {"consumer": {"group_id": "wf", "topic_pattern": r"^hookgate\."}},
        "<t>",
        env={},
    )
    source = cfg.source_pattern()
    assert source is not None
    pattern = re.compile(source)
    assert pattern.match("hookgate.acme")
    assert not pattern.match(cfg.dedupe_topic())
    assert not pattern.match(cfg.dead_letter_topic())
    assert (cfg.dedupe_topic(), cfg.dead_letter_topic()) == ("hookgate._dedupe.wf", "hookgate._deadletter.wf")
    assert not pattern.match("other.acme")


def test_configured_internal_topics_are_used_and_left_out_of_the_pattern_even_outside_the_prefix() -> None:
    cfg = load_model(
        ConsumerConfig,
        {
            "consumer": {
                "group_id": "wf",
                "topic_pattern": r"^hookgate\.",
                "dead_letter": {"topic": "hookgate.failed"},
                "dedupe": {"topic": "hookgate.done"},
            }
        },
        "<t>",
        env={},
    )
    assert (cfg.dead_letter_topic(), cfg.dedupe_topic()) == ("hookgate.failed", "hookgate.done")
    source = cfg.source_pattern()
    assert source is not None
    pattern = re.compile(source)
    assert [bool(pattern.match(t)) for t in ("hookgate.failed", "hookgate.done", "hookgate.failed2")] == [
        False,
        False,
        True,
    ]
