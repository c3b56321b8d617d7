"""Fixtures shared by every test layer."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.kafka import LocalBroker, provide_broker


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real broker's bootstrap address (see tests/support/kafka.py for where it comes from)."""
    with provide_broker(Path(tmp_path_factory.mktemp("broker"))) as bootstrap:
        yield bootstrap


@pytest.fixture
def topic_prefix() -> str:
    """A topic prefix no other test uses, so tests never read each other's events."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def private_broker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalBroker]:
    """A broker of the test's own, which it may stop and restart (outage tests); the session's stays up."""
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    broker = LocalBroker.started(tmp_path / "kafka")
    try:
        yield broker
    finally:
        broker.down()
