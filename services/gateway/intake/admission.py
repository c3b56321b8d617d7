"""Admission: the checks a webhook request passes before its body is read.

In handler order: the global in-flight limit (503 ``overloaded``), header limits (431), the client's
address and network identity (IP allowlist, client certificate; a terse 401 like any other
authentication failure), then the trigger's and tenant's rate limits (429). Each check answers a
:class:`Refusal` or ``None``; the handler turns a refusal into the reply. The logic lives in
:mod:`~hookgate.gateway.intake.limits`, :mod:`~hookgate.gateway.intake.clientip` and :mod:`~hookgate.gateway.http.tls`;
this module binds it to a request and to the configured triggers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge

from hookgate.gateway.config import GatewayConfig
from hookgate.gateway.http.errors import UNAUTHORIZED
from hookgate.gateway.http.tls import subject_allowed
from hookgate.gateway.intake.clientip import ClientAddress, ClientResolver, IpAllowlist
from hookgate.gateway.intake.limits import Clock, InFlightLimiter, RateLimiter, header_violation


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
        triggers = [t for t in config.triggers if t.enabled]
        self._limits = limits
        self._resolver = ClientResolver(config.gateway.proxies)
        self.in_flight = InFlightLimiter(limits.max_in_flight)
        self._allow = {t.name: IpAllowlist(t.allow_ips) for t in triggers if t.allow_ips is not None}
        self._subjects = {t.name: frozenset(t.client_cert_subjects) for t in triggers if t.client_cert_subjects}
        rates = {t.name: t.rate_limit for t in triggers if t.rate_limit is not None}
        tenants = {t.tenant for t in triggers}
        self._rates = (
            RateLimiter(rates, tenants, limits) if clock is None else RateLimiter(rates, tenants, limits, clock)
        )
        Gauge(
            "hookgate_gateway_in_flight_limit",
            "Webhook requests handled at once before new ones are shed with 503.",
            registry=registry,
        ).set(limits.max_in_flight)
        Gauge(
            "hookgate_gateway_rate_limit_buckets",
            "Token buckets of rate-limited triggers and tenants (per replica).",
            registry=registry,
        ).set(len(self._rates))

    def overloaded(self) -> Refusal:
        """The reply when :attr:`in_flight` refuses a slot."""
        return Refusal(
            503,
            "overloaded",
            "The gateway is at capacity; retry later.",
            "failed",
            "overloaded",
            {"Retry-After": str(self._limits.overload_retry_after_seconds)},
        )

    def client(self, request: web.BaseRequest) -> ClientAddress:
        """The client's address and the URL as it addressed the gateway (through trusted proxies)."""
        return self._resolver.resolve(
            request.remote or "", request.headers, request.scheme, request.host, request.raw_path
        )

    def head(self, request: web.BaseRequest) -> Refusal | None:
        """431 when the request head is over the configured count or total size."""
        reason = header_violation(request.raw_headers, self._limits.headers)
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

    def rate(self, trigger: str, tenant: str) -> Refusal | None:
        """429 with ``Retry-After`` when the trigger's or the tenant's bucket is empty."""
        refused = self._rates.acquire(trigger, tenant)
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
