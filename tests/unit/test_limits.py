"""Token buckets, the rate limiter, the in-flight limiter and header limits, over an injected clock."""

from __future__ import annotations

import pytest

from hookgate.gateway.intake.limits import (
    HeaderLimits,
    InFlightLimiter,
    LimitSettings,
    RateLimit,
    RateLimiter,
    TokenBucket,
    header_violation,
    retry_after_seconds,
)


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_bucket_starts_full_then_refills_at_the_rate() -> None:
    b = TokenBucket(rate=2.0, burst=3, now=0.0)
    for _ in range(3):
        assert b.wait(0.0) == 0.0
        b.take(0.0)
    assert b.wait(0.0) == pytest.approx(0.5)  # 1 token at 2/s
    assert b.wait(0.25) == pytest.approx(0.25)
    assert b.wait(0.5) == 0.0
    b.take(0.5)
    assert b.wait(0.5) == pytest.approx(0.5)


def test_bucket_never_holds_more_than_burst_and_ignores_a_clock_stepping_back() -> None:
    b = TokenBucket(rate=100.0, burst=2, now=0.0)
    assert b.tokens(3600.0) == 2.0
    b.take(3600.0)
    b.take(3600.0)
    assert b.tokens(10.0) == 0.0  # stepped back: no tokens added, none removed
    assert b.tokens(3600.01) == pytest.approx(1.0)


def test_retry_after_rounds_up_to_whole_seconds_at_least_one() -> None:
    assert retry_after_seconds(0.001) == 1
    assert retry_after_seconds(1.0) == 1
    assert retry_after_seconds(1.0001) == 2
    assert retry_after_seconds(59.5) == 60


def test_burst_beyond_the_rate_is_refused_with_retry_after_until_refilled() -> None:
    clock = FakeClock()
    rl = RateLimiter({"gh": RateLimit(per_second=0.2, burst=2)}, ["acme"], LimitSettings(), clock)
    assert rl.acquire("gh", "acme") is None
    assert rl.acquire("gh", "acme") is None
    refused = rl.acquire("gh", "acme")
    assert refused is not None
    assert (refused.scope, refused.reason, refused.retry_after) == ("trigger", "trigger_rate_limited", 5)
    clock.now += 4.0
    refused = rl.acquire("gh", "acme")
    assert refused is not None
    assert refused.retry_after == 1
    clock.now += 1.0
    assert rl.acquire("gh", "acme") is None
    assert rl.acquire("other", "acme") is None  # no limit configured for it


def test_tenant_bucket_is_shared_by_its_triggers_and_a_refusal_takes_no_token() -> None:
    clock = FakeClock()
    settings = LimitSettings(tenant_rate_limits={"acme": RateLimit(per_second=1, burst=2)})
    rl = RateLimiter({"a": RateLimit(per_second=0.5, burst=1)}, ["acme", "beta"], settings, clock)
    assert rl.acquire("a", "acme") is None
    refused = rl.acquire("a", "acme")  # a's own bucket is empty ...
    assert refused is not None
    assert (refused.reason, refused.retry_after) == ("trigger_rate_limited", 2)
    assert rl.acquire("b", "acme") is None  # ... and its refusal left the tenant's second token to b
    refused = rl.acquire("b", "acme")
    assert refused is not None
    assert (refused.reason, refused.retry_after) == ("tenant_rate_limited", 1)
    clock.now += 1.0
    refused = rl.acquire("a", "acme")  # half a token in a's bucket, a whole one in the tenant's
    assert refused is not None
    assert (refused.reason, refused.retry_after) == ("trigger_rate_limited", 1)
    assert rl.acquire("b", "acme") is None
    assert rl.acquire("x", "beta") is None  # beta has no limit and there is no default


def test_default_tenant_limit_applies_to_each_tenant_separately() -> None:
    clock = FakeClock()
    settings = LimitSettings(default_tenant_rate_limit=RateLimit(per_second=1, burst=1))
    rl = RateLimiter({}, ["acme", "beta"], settings, clock)
    assert len(rl) == 2
    assert rl.acquire("t", "acme") is None
    assert rl.acquire("t", "beta") is None
    assert rl.acquire("t", "acme") is not None


def test_in_flight_limiter_refuses_above_the_limit_and_frees_on_release() -> None:
    lim = InFlightLimiter(2)
    assert lim.try_acquire()
    assert lim.try_acquire()
    assert not lim.try_acquire()
    assert lim.in_flight == 2
    lim.release()
    assert lim.try_acquire()
    for _ in range(5):
        lim.release()
    assert lim.in_flight == 0


def test_header_limits_count_and_total_size() -> None:
    limits = HeaderLimits(max_count=8, max_total_bytes=1024)
    few = [(b"Host", b"x"), (b"Content-Type", b"application/json")]
    assert header_violation(few, limits) is None
    many = [(f"X-{i}".encode(), b"v") for i in range(9)]
    assert header_violation(many, limits) == "too_many_headers"
    big = [(b"X-A", b"v" * 600), (b"X-B", b"v" * 600)]
    assert header_violation(big, limits) == "headers_too_large"
