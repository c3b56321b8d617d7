"""Admission: the checks a webhook request passes before its body is read.

In handler order: the client's concurrency limit (429), header limits (431), the client address's
failed-authentication bucket for the trigger (429), the client's address and network identity (IP
allowlist, client certificate; a terse 401 like any other authentication failure), then the trigger's and
tenant's rate limits (429). The places among the requests reading their body (503) and in flight (503,
once the body is read) are taken later, through the request's
:class:`~hookgate.gateway.intake.concurrency.Ticket`. Each check answers a :class:`Refusal` or ``None``;
the handler turns a refusal into the reply.

The rate limits are only *checked* before the body: their tokens are taken by :meth:`Admission.charge`
once the request verified, so forged requests never spend a sender's tokens. Forgeries spend their own
address's failure bucket instead (:meth:`Admission.failed_authentication`, for every 401). The logic lives
in :mod:`~hookgate.gateway.intake.limits`, :mod:`~hookgate.gateway.intake.concurrency`,
:mod:`~hookgate.gateway.intake.clientip` and :mod:`~hookgate.gateway.http.tls`; this module binds it to a
request and to the configured triggers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge

from hookgate.gateway.config import GatewayConfig, TriggerConfig
from hookgate.gateway.http.errors import UNAUTHORIZED
from hookgate.gateway.http.tls import subject_allowed
from hookgate.gateway.intake.clientip import ClientAddress, ClientResolver, IpAllowlist
from hookgate.gateway.intake.concurrency import Budgets, Ticket
from hookgate.gateway.intake.limits import AuthFailureLimiter, Clock, RateDecision, RateLimiter, header_violation


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request refused before its body was read: the reply, and the outcome/reason it is counted under."""

    status: int
    code: str
    message: str
    outcome: str
    reason: str
    headers: Mapping[str, str] | None = None


class Admission:
    """The pre-body checks, compiled once from the configuration."""

    def __init__(self, config: GatewayConfig, registry: CollectorRegistry, clock: Clock | None = None) -> None:
        limits = config.gateway.limits
        triggers = config.triggers
        self.limits = limits
        self._resolver = ClientResolver(config.gateway.proxies)
        self.budgets = Budgets(
            max_in_flight=limits.max_in_flight,
            max_reading=limits.max_reading_bodies,
            max_per_client=limits.max_concurrent_per_client,
        )
        self.in_flight = self.budgets.in_flight
        self._allow: dict[str, IpAllowlist] = {}
        self._subjects: dict[str, frozenset[str]] = {}
        self._rates = RateLimiter({}, (), limits) if clock is None else RateLimiter({}, (), limits, clock)
        self.set_triggers(triggers)
        failures = limits.auth_failures
        self._failures: AuthFailureLimiter | None = None
        if failures is not None:
            self._failures = AuthFailureLimiter(failures) if clock is None else AuthFailureLimiter(failures, clock)
        Gauge(
            "hookgate_gateway_in_flight_limit",
            "Webhook requests handled at once before new ones are shed with 503.",
            registry=registry,
        ).set(limits.max_in_flight)
        Gauge(
            "hookgate_gateway_reading_bodies_limit",
            "Requests waiting for the rest of their body at once before new ones get 503.",
            registry=registry,
        ).set(limits.max_reading_bodies)
        Gauge(
            "hookgate_gateway_requests_reading_body",
            "Requests waiting for the rest of their body.",
            registry=registry,
        ).set_function(lambda: self.budgets.reading.in_flight)
        Gauge(
            "hookgate_gateway_rate_limit_buckets",
            "Token buckets of rate-limited triggers and tenants (per replica).",
            registry=registry,
        ).set_function(lambda: len(self._rates))
        tracked = Gauge(
            "hookgate_gateway_auth_failure_buckets",
            "Failed-authentication buckets held, one per (trigger, client address) that failed recently.",
            registry=registry,
        )
        tracked.set_function(lambda: len(self._failures) if self._failures is not None else 0)

    def set_triggers(self, triggers: Iterable[TriggerConfig]) -> None:
        """Check requests against these triggers' allowlists, certificates and rate limits from now on
        (the trigger set changed at run time); each map is swapped whole."""
        enabled = [t for t in triggers if t.enabled]
        self._allow = {t.name: IpAllowlist(t.allow_ips) for t in enabled if t.allow_ips is not None}
        self._subjects = {t.name: frozenset(t.client_cert_subjects) for t in enabled if t.client_cert_subjects}
        self._rates.update(
            {t.name: t.rate_limit for t in enabled if t.rate_limit is not None}, {t.tenant for t in enabled}
        )

    def overloaded(self) -> Refusal:
        """The reply when :attr:`in_flight` refuses a slot."""
        return Refusal(
            503,
            "overloaded",
            "The gateway is at capacity; retry later.",
            "failed",
            "overloaded",
            {"Retry-After": str(self.limits.overload_retry_after_seconds)},
        )

    def reading_overloaded(self) -> Refusal:
        """The reply when no place is free among the requests waiting for their body."""
        return Refusal(
            503,
            "overloaded",
            "The gateway is at capacity; retry later.",
            "failed",
            "reading_overloaded",
            {"Retry-After": str(self.limits.overload_retry_after_seconds)},
        )

    def enter(self, client: ClientAddress) -> Ticket | Refusal:
        """The request's ticket to the concurrency budgets, or 429 when its client is at its limit."""
        ticket = self.budgets.enter(client.ip)
        if ticket is not None:
            return ticket
        return Refusal(
            429,
            "too_many_requests",
            "Too many requests at once from this address; retry later.",
            "rejected",
            "client_concurrency_limited",
            {"Retry-After": str(self.limits.overload_retry_after_seconds)},
        )

    def client(self, request: web.BaseRequest) -> ClientAddress:
        """The client's address and the URL as it addressed the gateway (through trusted proxies)."""
        return self._resolver.resolve(
            request.remote or "", request.headers, request.scheme, request.host, request.raw_path
        )

    def head(self, request: web.BaseRequest) -> Refusal | None:
        """431 when the request head is over the configured count or total size."""
        reason = header_violation(request.raw_headers, self.limits.headers)
        if reason is None:
            return None
        return Refusal(431, "request_header_fields_too_large", "The request headers are too large.", "rejected", reason)

    def network(self, trigger: str, client: ClientAddress, request: web.BaseRequest) -> Refusal | None:
        """401 when the client's address is outside the trigger's allowlist, or its TLS client
        certificate is not one the trigger accepts (the reason shows in metrics and audit only)."""
        allow = self._allow.get(trigger)
        if allow is not None and not allow.allows(client.ip):
            return _unauthorized("ip_not_allowed")
        subjects = self._subjects.get(trigger)
        if subjects is not None:
            peercert = request.transport.get_extra_info("peercert") if request.transport is not None else None
            if not subject_allowed(peercert, subjects):
                return _unauthorized("client_cert_not_allowed")
        return None

    def failures(self, trigger: str, client: ClientAddress) -> Refusal | None:
        """429 with ``Retry-After`` while the client's address has no failed authentications left on
        ``trigger`` (reason ``auth_failures_rate_limited``; the reply is the one every rate limit gives)."""
        if self._failures is None:
            return None
        return _rate_limited(self._failures.check(trigger, client.ip))

    def failed_authentication(self, trigger: str, client: ClientAddress) -> None:
        """Spend one of the client address's failed authentications on ``trigger`` (after a 401)."""
        if self._failures is not None:
            self._failures.failed(trigger, client.ip)

    def rate(self, trigger: str, tenant: str) -> Refusal | None:
        """429 with ``Retry-After`` when the trigger's or the tenant's bucket is empty, taking no token."""
        return _rate_limited(self._rates.check(trigger, tenant))

    def charge(self, trigger: str, tenant: str) -> Refusal | None:
        """Take the verified request's token from the trigger's and the tenant's bucket, or 429 when one
        emptied since :meth:`rate` (concurrent requests), taking none."""
        return _rate_limited(self._rates.acquire(trigger, tenant))


def _rate_limited(refused: RateDecision | None) -> Refusal | None:
    if refused is None:
        return None
    return Refusal(
        429,
        "rate_limited",
        f"Too many requests; retry in {refused.retry_after} s.",
        "rejected",
        refused.reason,
        {"Retry-After": str(refused.retry_after)},
    )


def _unauthorized(reason: str) -> Refusal:
    status, code, message = UNAUTHORIZED  # the reply of every other authentication failure
    return Refusal(status, code, message, "rejected", reason)
