"""``consumer.group.start``: parsing, the offset it picks, and the configuration errors (pure)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from hookgate.consumer.config import ConsumerConfig
from hookgate.consumer.engine.start import GroupStart, GroupStartRefused, parse_start, start_offset
from hookgate.core.config import ConfigError, load_model


def _config(**group: object) -> ConsumerConfig:
    return load_model(ConsumerConfig, {"consumer": {"topics": ["hookgate.acme"], "group": group}}, "<t>", env={})


def test_the_choices_parse() -> None:
    assert parse_start("earliest") == GroupStart("earliest")
    assert parse_start("latest") == GroupStart("latest")
    at = parse_start("2026-01-31T09:00:00Z")
    assert at == GroupStart("time", datetime(2026, 1, 31, 9, tzinfo=UTC))
    assert at.at_ms == int(datetime(2026, 1, 31, 9, tzinfo=UTC).timestamp() * 1000)
    offset = parse_start("2026-01-31T11:00:00+02:00")
    assert offset.at == datetime(2026, 1, 31, 11, tzinfo=timezone(timedelta(hours=2)))
    assert offset.at_ms == at.at_ms  # the same instant


@pytest.mark.parametrize("value", ["", "beginning", "now", "2026-01-31", "2026-01-31T09:00:00", "09:00Z"])
def test_anything_else_is_refused_naming_the_choices(value: str) -> None:
    with pytest.raises(ValueError, match=r"earliest|RFC 3339"):
        parse_start(value)


def test_a_bad_start_in_the_config_names_its_key_path() -> None:
    with pytest.raises(ConfigError) as err:
        _config(start="yesterday")
    assert re.search(r"consumer\.group\.start", str(err.value))
    assert "earliest, latest" in str(err.value)
    assert _config(start="latest").consumer.group.start_position() == GroupStart("latest")
    assert _config().consumer.group.start_position() is None  # unset: the default is to refuse


def test_the_offset_each_choice_picks() -> None:
    kw = {"beginning": 10, "end": 50}
    assert start_offset(GroupStart("earliest"), **kw, at_time=None) == 10
    assert start_offset(GroupStart("latest"), **kw, at_time=None) == 50
    at = parse_start("2026-01-31T09:00:00Z")
    assert start_offset(at, **kw, at_time=30) == 30
    assert start_offset(at, **kw, at_time=None) == 50  # no record at or after the time: the end
    # an established group's new partition (no start set): all of it was written after the group existed
    assert start_offset(None, **kw, at_time=None) == 10


def test_the_refusal_names_the_key_and_the_choices() -> None:
    message = str(GroupStartRefused("deploys", ["hookgate.acme:0"]))
    assert "consumer.group.start" in message
    assert "'deploys' has no committed offsets" in message
    for choice in ("earliest", "latest", "RFC 3339"):
        assert choice in message


def test_the_group_subscribes_to_its_redrive_topic_beside_its_sources() -> None:
    by_name = _config()
    assert by_name.subscription() == (["hookgate.acme", "hookgate._redrive.hookgate-workflows"], None)
    by_pattern = load_model(
        ConsumerConfig, {"consumer": {"group_id": "g", "topic_pattern": r"^hookgate\."}}, "<t>", env={}
    )
    topics, pattern = by_pattern.subscription()
    assert topics == []
    assert pattern is not None
    rx = re.compile(pattern)
    assert rx.match("hookgate.acme")
    assert rx.match("hookgate._redrive.g")  # its own re-drives
    assert not rx.match("hookgate._redrive.other")  # never another group's
    assert not rx.match("hookgate._deadletter.g")
