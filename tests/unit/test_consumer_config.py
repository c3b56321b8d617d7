from __future__ import annotations

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
