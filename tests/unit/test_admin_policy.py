"""What a tenant token may not set on its own tenant's triggers: the topic, and body limits above the gateway's."""

from __future__ import annotations

from hookgate.admin.policy import tenant_refusals

LIMIT = 1_048_576


def refused(spec: dict[str, object], current: dict[str, object] | None = None) -> list[str]:
    return [key for key, _ in tenant_refusals(spec, current, max_body_bytes=LIMIT)]


def test_an_ordinary_spec_is_allowed() -> None:
    spec = {"name": "gh", "tenant": "acme", "verify": {"type": "github"}, "rate_limit": {"per_second": 50}}
    assert refused(spec) == []
    assert refused({**spec, "max_body_bytes": LIMIT, "decompress": {"max_bytes": 1024, "max_ratio": 20}}) == []


def test_the_topic_and_larger_limits_are_refused() -> None:
    spec = {
        "name": "gh",
        "topic": "hookgate.globex",
        "max_body_bytes": LIMIT + 1,
        "decompress": {"max_bytes": 64 * LIMIT, "max_ratio": 1000},
    }
    assert refused(spec) == ["topic", "max_body_bytes", "decompress.max_bytes", "decompress.max_ratio"]
    assert "gateway.max_body_bytes" in tenant_refusals(spec, None, max_body_bytes=LIMIT)[1][1]


def test_what_an_admin_set_may_be_sent_back_unchanged_but_not_changed() -> None:
    current = {"name": "gh", "topic": "hookgate.special", "max_body_bytes": 8 * LIMIT}
    assert refused(dict(current), current) == []
    assert refused({**current, "topic": "hookgate.globex"}, current) == ["topic"]
    assert refused({**current, "max_body_bytes": 16 * LIMIT}, current) == ["max_body_bytes"]
    assert refused({**current, "max_body_bytes": 1024}, current) == []  # lowering is the tenant's choice
    assert refused({"name": "gh"}, current) == []  # leaving a key out is never refused


def test_body_limits_are_unchecked_when_the_gateway_limit_is_unknown() -> None:
    assert tenant_refusals({"max_body_bytes": 64 * LIMIT}, None, max_body_bytes=None) == []
    assert tenant_refusals({"topic": "x"}, None, max_body_bytes=None) != []


def test_values_of_the_wrong_type_are_left_to_validation() -> None:
    assert refused({"max_body_bytes": "huge", "decompress": {"max_ratio": True}}) == []
    assert refused({"decompress": "gzip"}) == []
