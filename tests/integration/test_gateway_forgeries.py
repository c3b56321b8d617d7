"""Forged requests do not starve the real sender: the gateway on loopback against the real broker.

The gateway sits behind a trusted proxy (the loopback peer), so each request's client address is the
one its ``X-Forwarded-For`` names. Forgers send wrong tokens: they spend their own address's failure
bucket and then get 429 before their body is read, while the sender, from its own address, keeps the
whole of the trigger's rate limit.
"""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from hookgate.core.envelope import Envelope
from tests.support.builders import new_trigger_id, read_all
from tests.support.gateway import running_gateway

pytestmark = pytest.mark.kafka

TOKEN = "the-real-sender-token"
SENDER = "198.51.100.7"
FORGER = "203.0.113.66"


async def test_wrong_tokens_from_one_address_are_throttled_and_the_real_sender_still_gets_202(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    tid = new_trigger_id()
    trigger = {
        "id": tid,
        "name": "relay",
        "tenant": "acme",
        "verify": {"type": "bearer", "tokens": [TOKEN]},
        "rate_limit": {"per_second": 0.001, "burst": 3},  # nothing refills while the test runs
    }
    async with running_gateway(
        kafka_bootstrap,
        topic_prefix,
        [trigger],
        proxies={"trusted_proxies": ["127.0.0.1/32", "::1/128"]},
        limits={"auth_failures": {"per_second": 0.001, "burst": 5}},
    ) as client:

        async def send(address: str, token: str, n: int) -> tuple[int, str]:
            headers = {
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "X-Forwarded-For": address,
                "X-Request-Id": f"{address}-{n}",
            }
            resp = await client.post(f"/hooks/{tid}", data=b'{"n": %d}' % n, headers=headers)
            return resp.status, (await resp.json()).get("error", "")

        with capture_logs() as logs:
            forged = [await send(FORGER, "a-guessed-token", n) for n in range(12)]
            # Forgeries from many other addresses, two each: none of them reaches its address's limit.
            others = [await send(f"192.0.2.{i}", "another-guess", n) for i in range(1, 21) for n in range(2)]
            real = [await send(SENDER, TOKEN, n) for n in range(4)]
            late = await send(FORGER, TOKEN, 99)  # even the right token: the address is out of attempts

        assert forged == [(401, "unauthorized")] * 5 + [(429, "rate_limited")] * 7
        assert set(others) == {(401, "unauthorized")}
        assert real == [(202, "")] * 3 + [(429, "rate_limited")]  # the trigger's own burst of 3, all of it
        assert late == (429, "rate_limited")

        audit = {e["request_id"]: e for e in logs if e.get("event") == "audit"}
        assert [audit[f"{FORGER}-{n}"]["reason"] for n in range(12)] == ["bad_token"] * 5 + [
            "auth_failures_rate_limited"
        ] * 7
        assert {audit[f"{FORGER}-{n}"]["client_ip"] for n in range(12)} == {FORGER}
        assert [audit[f"{SENDER}-{n}"]["reason"] for n in range(4)] == ["ok"] * 3 + ["trigger_rate_limited"]
        metrics = await (await client.get("/metrics")).text()
        assert 'reason="auth_failures_rate_limited",status_class="4xx"} 8.0' in metrics
        assert "hookgate_gateway_auth_failure_buckets 21.0" in metrics

    records = await read_all(kafka_bootstrap, f"{topic_prefix}.acme")  # the gateway stopped: nothing more comes
    assert sorted(Envelope.from_record(r.headers, r.value).data for r in records) == [
        b'{"n": 0}',
        b'{"n": 1}',
        b'{"n": 2}',
    ]
