"""Fixtures shared by every test layer."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.kafka import LocalBroker, SharedBroker, provide_broker, wait_shared_broker, want_shared_broker

# The controller of a parallel run (pytest-xdist, `make test`) provides one broker for all its workers.
_SHARED_BROKER_INPUT = "hookgate_shared_broker"


@pytest.hookimpl(trylast=True)  # after the tmp_path plugin's: the broker's files go under the run's basetemp
def pytest_configure(config: pytest.Config) -> None:
    """In the controller of a parallel run, provide the run's one broker from a background thread.

    A worker that collected a Kafka test asks for it at once, so it boots while the first tests run; the
    workers' ``kafka_bootstrap`` waits for its address (or its start-up error) in a file the controller
    writes, and the controller stops it after the last worker is done (tests/support/kafka.py,
    ``SharedBroker``). A run that is not parallel starts its broker in ``kafka_bootstrap`` itself.
    """
    distributed = getattr(config.option, "numprocesses", None) and getattr(config.option, "dist", "no") != "no"
    if distributed and not hasattr(config, "workerinput"):
        root = config._tmp_path_factory.mktemp("broker")  # type: ignore[attr-defined]
        config.pluginmanager.register(_SharedBrokerPlugin(SharedBroker.start(root)), "hookgate-shared-broker")


class _SharedBrokerPlugin:
    def __init__(self, broker: SharedBroker) -> None:
        self.broker = broker

    def pytest_configure_node(self, node: object) -> None:
        node.workerinput[_SHARED_BROKER_INPUT] = str(self.broker.root)  # type: ignore[attr-defined]

    def pytest_unconfigure(self) -> None:
        self.broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real broker's bootstrap address (see tests/support/kafka.py for where it comes from)."""
    shared = getattr(pytestconfig, "workerinput", {}).get(_SHARED_BROKER_INPUT)
    if shared:
        yield wait_shared_broker(Path(shared))
        return
    with provide_broker(Path(tmp_path_factory.mktemp("broker"))) as bootstrap:
        yield bootstrap


@pytest.fixture
def topic_prefix() -> str:
    """A topic prefix no other test uses, so tests never read each other's events."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def _outage_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    """The broker behind ``private_broker``: started once, for the few outage tests that stop and restart it."""
    broker = LocalBroker.started(tmp_path_factory.mktemp("private-broker") / "kafka")
    try:
        yield broker
    finally:
        broker.down()


@pytest.fixture
def private_broker(_outage_broker: LocalBroker, monkeypatch: pytest.MonkeyPatch) -> LocalBroker:
    """A broker apart from the session's, which the test may stop and restart (outage tests).

    The outage tests of one test process (a parallel run's worker) take turns on one, each with its own
    topic prefix, and each finds it running: ``up`` is a no-op on a running broker and restarts one that
    a failed test left stopped.
    """
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    _outage_broker.up()
    return _outage_broker


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give every test its own node id; in a worker of a parallel run, ask for the broker if any test needs it."""
    for item in items:
        # schemathesis names each API operation's test "test_x[GET /path]" but gives them all the node id
        # "...::test_x": pytest-xdist keys its work by node id, and would run one operation of the lot.
        if isinstance(item, pytest.Function) and item.nodeid.endswith(f"::{item.originalname}"):
            params = item.name[len(item.originalname) :].removeprefix("[").removesuffix("]")
            if params and hasattr(item, "_id"):  # pytest >= 9.2: a structured node id
                item._id = item._id.with_params(params)
            elif params:
                item._nodeid = f"{item.nodeid}[{params}]"
    shared = getattr(config, "workerinput", {}).get(_SHARED_BROKER_INPUT)
    if shared is not None and any("kafka_bootstrap" in getattr(item, "fixturenames", ()) for item in items):
        want_shared_broker(Path(shared))
