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


def test_group_membership_defaults_are_kafkas() -> None:
    g = _load({}).consumer.group
    assert (g.session_timeout_ms, g.heartbeat_ms(), g.max_poll_interval_ms) == (10_000, 3_000, 300_000)


def test_a_short_session_gets_a_heartbeat_of_a_third_unless_one_is_set() -> None:
    assert _load({"group": {"session_timeout_ms": 6000}}).consumer.group.heartbeat_ms() == 2000
    g = _load({"group": {"session_timeout_ms": 6000, "heartbeat_interval_ms": 500, "max_poll_interval_ms": 60_000}})
    assert (g.consumer.group.heartbeat_ms(), g.consumer.group.max_poll_interval_ms) == (500, 60_000)
    assert _load({"group": {"session_timeout_ms": 1_800_000}}).consumer.group.heartbeat_ms() == 3000


@pytest.mark.parametrize("session", [5999, 1_800_001, 0])
def test_a_session_timeout_outside_the_brokers_default_range_names_the_key_and_the_broker_settings(
    session: int,
) -> None:
    with pytest.raises(ConfigError) as err:
        _load({"group": {"session_timeout_ms": session}})
    message = str(err.value)
    assert "consumer.group.session_timeout_ms: " in message
    assert "between 6000 and 1800000" in message
    assert "group.min.session.timeout.ms" in message
    assert "group.max.session.timeout.ms" in message


def test_a_heartbeat_above_a_third_of_the_session_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"consumer\.group\.heartbeat_interval_ms: .*a third of session_timeout_ms"):
        _load({"group": {"session_timeout_ms": 6000, "heartbeat_interval_ms": 2001}})
    with pytest.raises(ConfigError, match=r"consumer\.group\.heartbeat_interval_ms: .*a third"):
        _load({"group": {"heartbeat_interval_ms": 3334}})  # against the default 10 s session
    exactly_a_third = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 2000}
    assert _load({"group": exactly_a_third}).consumer.group.heartbeat_ms() == 2000
    with pytest.raises(ConfigError, match=r"consumer\.group\.heartbeat_interval_ms: .*greater than or equal to 100"):
        _load({"group": {"heartbeat_interval_ms": 10}})


def test_bad_poll_intervals_and_unknown_group_keys_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"consumer\.group\.max_poll_interval_ms: .*greater than or equal to 1000"):
        _load({"group": {"max_poll_interval_ms": 999}})
    with pytest.raises(ConfigError, match=r"consumer\.group\.session_timeout: unknown key"):
        _load({"group": {"session_timeout": 6000}})
    with pytest.raises(ConfigError, match=r"consumer\.group\.session_timeout_ms: "):
        _load({"group": {"session_timeout_ms": "soon"}})
