"""``hookgate send`` against the real gateway and broker: what it signs, the gateway accepts."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient

from hookgate.core.envelope import Envelope
from tests.support.builders import github_trigger, new_trigger_id, read_topic
from tests.support.cli import hookgate
from tests.support.gateway import running_gateway

pytestmark = pytest.mark.kafka

GITHUB_SECRET = "It's a Secret to Everybody"  # github_trigger's secret
STRIPE_SECRET = "whsec_stripe_test_secret"
STANDARD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
async def gateway(kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[tuple[TestClient, dict[str, str]]]:
    ids = {"github": new_trigger_id(), "stripe": new_trigger_id(), "standard-webhooks": new_trigger_id()}
    async with running_gateway(
        kafka_bootstrap,
        topic_prefix,
        [
            github_trigger(ids["github"]),
            {
                "id": ids["stripe"],
                "name": "stripe",
                "tenant": "shop",
                "verify": {"type": "stripe", "secrets": [STRIPE_SECRET]},
            },
            {
                "id": ids["standard-webhooks"],
                "name": "std",
                "tenant": "std",
                "verify": {"type": "standard_webhooks", "secrets": [STANDARD_SECRET]},
            },
        ],
    ) as client:
        yield client, ids


async def test_github_signed_by_send_is_accepted_and_stored(
    gateway: tuple[TestClient, dict[str, str]], kafka_bootstrap: str, topic_prefix: str
) -> None:
    client, ids = gateway
    url = str(client.make_url(f"/hooks/{ids['github']}"))
    body = '{"ref": "refs/heads/main"}'
    code, out, err = await hookgate(
        "send", url, "-p", "github", "-s", GITHUB_SECRET, "-d", body, "-e", "push", "--id", "delivery-42"
    )
    assert code == 0, err
    assert out.startswith("HTTP 202")
    assert '"delivery-42"' in out
    (record,) = await read_topic(kafka_bootstrap, f"{topic_prefix}.acme", count=1)
    assert record.value == body.encode()
    event = Envelope.from_record(record.headers, record.value)
    assert event.id == "delivery-42"
    assert event.type == "com.github.push"


async def test_stripe_signed_by_send_is_accepted_and_stored(
    gateway: tuple[TestClient, dict[str, str]], kafka_bootstrap: str, topic_prefix: str
) -> None:
    client, ids = gateway
    url = str(client.make_url(f"/hooks/{ids['stripe']}"))
    body = '{"id": "evt_1Nx", "type": "invoice.paid", "data": {"object": {"id": "in_9"}}}'
    code, out, err = await hookgate("send", url, "-p", "stripe", "-s", STRIPE_SECRET, "-d", body)
    assert code == 0, err
    assert out.startswith("HTTP 202")
    (record,) = await read_topic(kafka_bootstrap, f"{topic_prefix}.shop", count=1)
    assert record.value == body.encode()
    assert Envelope.from_record(record.headers, record.value).id == "evt_1Nx"


async def test_standard_webhooks_signed_by_send_is_accepted(
    gateway: tuple[TestClient, dict[str, str]], kafka_bootstrap: str, topic_prefix: str
) -> None:
    client, ids = gateway
    url = str(client.make_url(f"/hooks/{ids['standard-webhooks']}"))
    code, _, err = await hookgate("send", url, "-p", "standard-webhooks", "-s", STANDARD_SECRET, "--id", "msg_7")
    assert code == 0, err
    (record,) = await read_topic(kafka_bootstrap, f"{topic_prefix}.std", count=1)
    assert Envelope.from_record(record.headers, record.value).id == "msg_7"


async def test_wrong_secret_gets_401_and_exit_1(gateway: tuple[TestClient, dict[str, str]]) -> None:
    client, ids = gateway
    url = str(client.make_url(f"/hooks/{ids['github']}"))
    code, out, _ = await hookgate("send", url, "-p", "github", "-s", "not the secret")
    assert code == 1
    assert out.startswith("HTTP 401")
