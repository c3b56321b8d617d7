"""Load protection: token-bucket rate limits, failed-authentication buckets, the global in-flight limit
and header limits.

Everything here is pure (no I/O, no sleeping): the clock is injected, so the bucket arithmetic is
unit-tested exactly. Limits are per gateway replica: N replicas behind a load balancer admit up to N
times the configured rate in total (size ``per_second`` accordingly, or route a tenant to one replica).
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from hookgate.core.config import StrictModel
from hookgate.core.logging import get_logger

_log = get_logger("hookgate.gateway.http")

Clock = Callable[[], float]


class RateLimit(StrictModel):
    """A token bucket: ``per_second`` tokens are added continuously, at most ``burst`` are kept."""

    per_second: float = Field(gt=0, le=1_000_000, description="Sustained requests per second (0.5 = 30/min)")
    burst: int = Field(ge=1, le=1_000_000, description="Requests admitted at once after a quiet period")


class AuthFailureLimit(StrictModel):
    """``gateway.limits.auth_failures``: a token bucket per trigger and client address, spent only by
    requests that failed authentication (401). Once it is empty, that address's requests to that trigger get
    429 before their body is read, until it refills; other addresses, and the trigger's own rate limit, are
    untouched."""

    per_second: float = Field(default=1.0, gt=0, le=1_000_000, description="Failed attempts regained per second")
    burst: int = Field(default=20, ge=1, le=1_000_000, description="Failed attempts allowed at once")
    max_addresses: int = Field(
        default=10_000,
        ge=1,
        le=1_000_000,
        description="Buckets kept (least recently failed dropped first); bounds memory under a spread-out flood",
    )


class HeaderLimits(StrictModel):
    """Bounds on the request head.

    ``max_line_bytes``, ``max_field_bytes`` and ``max_count`` are enforced by the HTTP parser while
    it reads (a violation closes the connection with 400, the handler never runs);
    ``max_total_bytes`` is checked by the handler, which answers 431.
    """

    max_count: int = Field(default=100, ge=8, le=1000)
    max_line_bytes: int = Field(default=8190, ge=256, le=65536, description="Request line (method, URL)")
    max_field_bytes: int = Field(default=8190, ge=256, le=65536, description="One header line")
    max_total_bytes: int = Field(default=32768, ge=1024, le=1_048_576, description="All header lines together")


class LimitSettings(StrictModel):
    """``gateway.limits``: in-flight shedding, slow and idle clients, connections, header and rate limits."""

    max_in_flight: int = Field(
        default=256,
        ge=1,
        le=100_000,
        description="Webhook requests handled at once once their body is read; above it 503 overloaded "
        "(also caps the produce queue)",
    )
    max_reading_bodies: int = Field(
        default=128,
        ge=1,
        le=100_000,
        description="Requests waiting for the rest of their body at once; above it 503 overloaded "
        "(a body already received whole needs no place)",
    )
    max_concurrent_per_client: int | None = Field(
        default=32,
        ge=1,
        le=100_000,
        description="Requests at once from one client address (IPv6: one /64), through trusted proxies; "
        "above it 429; null = no per-client limit",
    )
    overload_retry_after_seconds: int = Field(default=1, ge=1, le=3600)
    head_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="A connection must complete a request head within this of connecting, or of the first byte "
        "after its last reply; else it is closed",
    )
    idle_timeout_seconds: float = Field(
        default=75.0,
        gt=0,
        le=3600,
        description="A keep-alive connection with no request for this long is closed "
        "(behind a load balancer: above its idle timeout)",
    )
    body_timeout_seconds: float = Field(
        default=10.0, gt=0, le=600, description="The whole body must arrive within this of the head; else 408"
    )
    min_body_bytes_per_second: int = Field(
        default=1024,
        ge=0,
        le=1_073_741_824,
        description="After body_rate_grace_seconds, a body arriving slower than this on average gets 408; 0 = off",
    )
    body_rate_grace_seconds: float = Field(
        default=2.0, ge=0, le=600, description="Seconds a body may arrive at any rate before the minimum applies"
    )
    max_connections: int | None = Field(
        default=None,
        ge=1,
        le=10_000_000,
        description="Open connections on the webhook port; more are answered 503 and closed. "
        "null = what the file-descriptor limit allows (always capped by it)",
    )
    headers: HeaderLimits = Field(default_factory=HeaderLimits)
    tenant_rate_limits: dict[str, RateLimit] = Field(default_factory=dict)
    default_tenant_rate_limit: RateLimit | None = Field(
        default=None, description="For every tenant without an entry in tenant_rate_limits"
    )
    auth_failures: AuthFailureLimit | None = Field(
        default_factory=AuthFailureLimit,
        description="Failed authentications allowed per trigger and client address; null = unlimited",
    )


class TokenBucket:
    """A token bucket over an injected monotonic clock.

    Starts full. ``wait(now)`` says how long until one token is available (0 when one is);
    ``take(now)`` removes one. The two are separate so that a request checked against several
    buckets takes from none of them unless all of them admit it.
    """

    __slots__ = ("_last", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._tokens = float(burst)
        self._last = now

    def _refill(self, now: float) -> None:
        if now > self._last:  # a clock that steps back adds nothing rather than removing tokens
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now

    def tokens(self, now: float) -> float:
        self._refill(now)
        return self._tokens

    def wait(self, now: float) -> float:
        """Seconds until one token is available; 0.0 when one is now."""
        missing = 1.0 - self.tokens(now)
        return 0.0 if missing <= 0 else missing / self.rate

    def take(self, now: float) -> None:
        self._refill(now)
        self._tokens -= 1.0


@dataclass(frozen=True, slots=True)
class RateDecision:
    """A refusal: which bucket refused (``trigger`` or ``tenant``) and the ``Retry-After`` in whole seconds."""

    scope: str
    retry_after: int

    @property
    def reason(self) -> str:
        """The metrics/audit reason: ``trigger_rate_limited`` or ``tenant_rate_limited``."""
        return f"{self.scope}_rate_limited"


def retry_after_seconds(wait: float) -> int:
    """A wait as a ``Retry-After`` value: whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(wait - 1e-9))


class RateLimiter:
    """The buckets of every rate-limited trigger and tenant, created once from the configuration.

    The set of buckets is bounded by the configuration (never by traffic), so nothing is evicted.
    """

    def __init__(
        self,
        triggers: Mapping[str, RateLimit],
        tenants: Iterable[str],
        settings: LimitSettings,
        clock: Clock = time.monotonic,
    ) -> None:
        self._clock = clock
        self._settings = settings
        self._limits: dict[str, RateLimit] = {}
        self._triggers: dict[str, TokenBucket] = {}
        self._tenants: dict[str, TokenBucket] = {}
        self.update(triggers, tenants)

    def update(self, triggers: Mapping[str, RateLimit], tenants: Iterable[str]) -> None:
        """Hold the buckets of exactly these triggers and tenants (the trigger set changed at run time).

        A bucket whose limit is unchanged is kept with its tokens, so a change elsewhere refills nothing.
        """
        now = self._clock()
        settings = self._settings
        self._triggers = {
            name: self._triggers[name]
            if name in self._triggers and self._limits.get(name) == r
            else TokenBucket(r.per_second, r.burst, now)
            for name, r in triggers.items()
        }
        self._limits = dict(triggers)
        buckets: dict[str, TokenBucket] = {}
        for tenant in set(tenants) | set(settings.tenant_rate_limits):
            r = settings.tenant_rate_limits.get(tenant, settings.default_tenant_rate_limit)
            if r is not None:
                buckets[tenant] = self._tenants.get(tenant) or TokenBucket(r.per_second, r.burst, now)
        self._tenants = buckets

    def __len__(self) -> int:
        return len(self._triggers) + len(self._tenants)

    def check(self, trigger: str, tenant: str) -> RateDecision | None:
        """Refuse when the trigger's or the tenant's bucket is empty, taking nothing either way.

        The pre-body check: requests that may still fail authentication must not spend tokens, or a
        forger could drain a sender's bucket; :meth:`acquire` takes them once the request verified.
        """
        now = self._clock()
        return self._refusal(now, self._active(trigger, tenant))

    def acquire(self, trigger: str, tenant: str) -> RateDecision | None:
        """Take a token from the trigger's and the tenant's bucket, or refuse without taking any."""
        now = self._clock()
        active = self._active(trigger, tenant)
        refused = self._refusal(now, active)
        if refused is None:
            for _, b in active:
                b.take(now)
        return refused

    def _active(self, trigger: str, tenant: str) -> list[tuple[str, TokenBucket]]:
        buckets = {"trigger": self._triggers.get(trigger), "tenant": self._tenants.get(tenant)}
        return [(scope, b) for scope, b in buckets.items() if b is not None]

    @staticmethod
    def _refusal(now: float, active: list[tuple[str, TokenBucket]]) -> RateDecision | None:
        refused = [(wait, scope) for scope, b in active if (wait := b.wait(now)) > 0]
        if not refused:
            return None
        wait, scope = max(refused)  # the longer wait: retrying earlier would be refused again
        return RateDecision(scope, retry_after_seconds(wait))


def failure_address(ip: str) -> str:
    """The address a failed authentication is counted against: the IPv4 address, or the IPv6 /64.

    A single IPv6 host usually holds a whole /64, so counting per address would let it rotate
    through fresh buckets. An unknown address (``""``, see the client resolver) is one address.
    """
    if ":" not in ip:
        return ip
    try:
        return str(ipaddress.IPv6Network((ip, 64), strict=False).network_address) + "/64"
    except ValueError:
        return ip


class AuthFailureLimiter:
    """Failed authentications per (trigger, client address), each a token bucket that starts full.

    Buckets exist only for keys that failed recently: a sender that authenticates costs a dict lookup.
    At most ``max_addresses`` are kept; the least recently failed goes first (a full bucket and no
    bucket admit alike, so dropping one forgets at most that key's recent failures).
    """

    def __init__(self, limit: AuthFailureLimit, clock: Clock = time.monotonic) -> None:
        self._limit = limit
        self._clock = clock
        self._buckets: OrderedDict[tuple[str, str], TokenBucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def check(self, trigger: str, ip: str) -> RateDecision | None:
        """Refuse (scope ``auth_failures``) while this trigger's bucket for this address is empty."""
        if not self._buckets:  # nothing failed lately: the usual case costs no address parsing
            return None
        key = (trigger, failure_address(ip))
        bucket = self._buckets.get(key)
        if bucket is None:
            return None
        now = self._clock()
        if bucket.tokens(now) >= bucket.burst:  # refilled: as good as no bucket, so free its slot
            del self._buckets[key]
            return None
        wait = bucket.wait(now)
        return None if wait <= 0 else RateDecision("auth_failures", retry_after_seconds(wait))

    def failed(self, trigger: str, ip: str) -> None:
        """Count one failed authentication from ``ip`` on ``trigger``."""
        key = (trigger, failure_address(ip))
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self._limit.per_second, self._limit.burst, now)
            if len(self._buckets) > self._limit.max_addresses:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        if bucket.tokens(now) >= 1.0:  # an empty bucket stays at 0: a flood is not owed a longer wait
            bucket.take(now)


class InFlightLimiter:
    """Counts requests being handled and refuses new ones above ``limit`` (load shedding).

    Checked before the body is read, so a shed request costs the process almost nothing; the
    caller must :meth:`release` every slot it acquired.
    """

    __slots__ = ("_count", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._count = 0

    @property
    def in_flight(self) -> int:
        return self._count

    def try_acquire(self) -> bool:
        if self._count >= self.limit:
            return False
        self._count += 1
        return True

    def release(self) -> None:
        self._count = max(0, self._count - 1)


def header_violation(raw_headers: Iterable[tuple[bytes, bytes]], limits: HeaderLimits) -> str | None:
    """``too_many_headers`` or ``headers_too_large`` when the head exceeds the limits, else ``None``.

    Each header counts as ``name: value\\r\\n``, as on the wire.
    """
    count = 0
    total = 0
    for name, value in raw_headers:
        count += 1
        total += len(name) + len(value) + 4
    if count > limits.max_count:
        return "too_many_headers"
    if total > limits.max_total_bytes:
        return "headers_too_large"
    return None


class _ParseErrorFilter(logging.Filter):
    """Replaces aiohttp's "Error handling request" record (ERROR with a traceback whose message quotes
    the first 100 bytes of the offending header line, possibly a credential) by one terse structured
    WARNING naming only the error class and the peer."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None:
            return True
        peer = record.args[0] if isinstance(record.args, tuple) and record.args else None
        _log.warning("http_request_malformed", reason=type(exc).__name__, peer=str(peer) if peer else None)
        return False


def _server_logger() -> logging.Logger:
    logger = logging.getLogger("hookgate.gateway.http")
    if not any(isinstance(f, _ParseErrorFilter) for f in logger.filters):
        logger.addFilter(_ParseErrorFilter())
    return logger


def server_handler_args(limits: LimitSettings) -> dict[str, Any]:
    """Keyword arguments for aiohttp's request handler (``web.Application(handler_args=...)``): the
    parser's head limits, the keep-alive (idle) timeout, a logger that never writes header contents, and
    no automatic decompression: a compressed body is decoded only for a trigger that opted in, within
    bounds (:mod:`hookgate.gateway.shaping.encoding`), never by the server for every route."""
    headers = limits.headers
    return {
        "auto_decompress": False,
        "max_line_size": headers.max_line_bytes,
        "max_field_size": headers.max_field_bytes,
        "max_headers": headers.max_count,
        # aiohttp's default (3630 s) lets idle sockets pile up to the fd limit.
        "keepalive_timeout": limits.idle_timeout_seconds,
        "logger": _server_logger(),
    }
