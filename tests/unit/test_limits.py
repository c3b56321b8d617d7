"""Token buckets, the rate limiter, the in-flight limiter and header limits, over an injected clock."""

from __future__ import annotations

import pytest

from hookgate.gateway.intake.limits import (
    AuthFailureLimit,
    AuthFailureLimiter,
    HeaderLimits,
    InFlightLimiter,
    LimitSettings,
    RateLimit,
    RateLimiter,
    TokenBucket,
    failure_address,
    header_violation,
    retry_after_seconds,
    server_handler_args,
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


def test_check_refuses_an_empty_bucket_but_never_takes_a_token() -> None:
    clock = FakeClock()
    rl = RateLimiter({"gh": RateLimit(per_second=0.1, burst=2)}, ["acme"], LimitSettings(), clock)
    for _ in range(10):  # requests that were checked and then failed verification
        assert rl.check("gh", "acme") is None
    assert rl.acquire("gh", "acme") is None
    assert rl.acquire("gh", "acme") is None
    refused = rl.check("gh", "acme")
    assert refused is not None
    assert (refused.reason, refused.retry_after) == ("trigger_rate_limited", 10)
    assert rl.acquire("gh", "acme") is not None


def test_auth_failures_are_counted_per_trigger_and_address_and_refill() -> None:
    clock = FakeClock()
    lim = AuthFailureLimiter(AuthFailureLimit(per_second=0.5, burst=3), clock)
    assert lim.check("gh", "203.0.113.9") is None
    assert len(lim) == 0  # an address that never failed holds no bucket
    for _ in range(3):
        assert lim.check("gh", "203.0.113.9") is None
        lim.failed("gh", "203.0.113.9")
    refused = lim.check("gh", "203.0.113.9")
    assert refused is not None
    assert (refused.scope, refused.reason, refused.retry_after) == ("auth_failures", "auth_failures_rate_limited", 2)
    lim.failed("gh", "203.0.113.9")  # more failures while empty do not lengthen the wait
    assert lim.check("gh", "203.0.113.9") == refused
    # Another address, and the same address on another trigger, are untouched.
    assert lim.check("gh", "198.51.100.7") is None
    assert lim.check("other", "203.0.113.9") is None
    clock.now += 2.0
    assert lim.check("gh", "203.0.113.9") is None  # one failure regained
    clock.now += 10.0
    assert lim.check("gh", "203.0.113.9") is None
    assert len(lim) == 0  # refilled buckets are dropped


def test_ipv6_failures_count_against_the_slash_64() -> None:
    assert failure_address("203.0.113.9") == "203.0.113.9"
    assert failure_address("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert failure_address("") == ""
    assert failure_address("not:an:address") == "not:an:address"
    lim = AuthFailureLimiter(AuthFailureLimit(per_second=0.01, burst=2), FakeClock())
    lim.failed("gh", "2001:db8:1:2::1")
    lim.failed("gh", "2001:db8:1:2::ffff")
    assert lim.check("gh", "2001:db8:1:2:9::9") is not None
    assert lim.check("gh", "2001:db8:1:3::1") is None


def test_auth_failure_buckets_are_bounded_least_recently_failed_first() -> None:
    lim = AuthFailureLimiter(AuthFailureLimit(per_second=0.01, burst=1, max_addresses=2), FakeClock())
    lim.failed("gh", "192.0.2.1")
    lim.failed("gh", "192.0.2.2")
    lim.failed("gh", "192.0.2.1")  # .1 failed again: .2 is now the least recent
    lim.failed("gh", "192.0.2.3")
    assert len(lim) == 2
    assert lim.check("gh", "192.0.2.1") is not None
    assert lim.check("gh", "192.0.2.2") is None  # forgotten
    assert lim.check("gh", "192.0.2.3") is not None


def test_auth_failure_limit_defaults_and_server_args_never_decompress() -> None:
    assert LimitSettings().auth_failures == AuthFailureLimit(per_second=1.0, burst=20, max_addresses=10_000)
    assert server_handler_args(LimitSettings())["auto_decompress"] is False
