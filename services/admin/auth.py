"""Who is calling the admin API: a Bearer token, looked up in constant time, gives a :class:`Principal`.

A principal's scope is ``admin`` (everything) or ``tenant:<name>``. A tenant principal sees only its
tenant's triggers and events; everything else is reported to it exactly as a thing that does not exist
(the API answers the same 404 body), so a tenant token cannot probe for other tenants' trigger ids.
Tokens are kept only as SHA-256 digests, and every digest is compared (no early exit), so neither
the answer's time nor a memory dump tells a token.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from hookgate.admin.config import AdminToken


@dataclass(frozen=True, slots=True)
class Principal:
    """The holder of a token: its name (for the audit trail) and its scope."""

    name: str
    scope: str

    @property
    def tenant(self) -> str | None:
        """The only tenant this principal sees; None for an ``admin`` principal (it sees all)."""
        return None if self.scope == "admin" else self.scope.removeprefix("tenant:")

    @property
    def is_admin(self) -> bool:
        return self.scope == "admin"

    def sees(self, tenant: str | None) -> bool:
        """Whether the principal may see (and change) what belongs to ``tenant``."""
        return self.is_admin or (tenant is not None and tenant == self.tenant)


class TokenTable:
    """The configured tokens, as digests, and the principal each one stands for."""

    def __init__(self, tokens: Iterable[AdminToken]) -> None:
        self._entries = [(_digest(t.token.get_secret_value()), Principal(name=t.name, scope=t.scope)) for t in tokens]

    def __len__(self) -> int:
        return len(self._entries)

    def authenticate(self, authorization: str | None) -> Principal | None:
        """The principal of an ``Authorization: Bearer <token>`` header value; None when it names none."""
        token = bearer_token(authorization)
        if token is None:
            return None
        presented = _digest(token)
        found: Principal | None = None
        for digest, principal in self._entries:
            # Every entry is compared, whether or not one matched already.
            if hmac.compare_digest(digest, presented):
                found = principal
        return found


def bearer_token(authorization: str | None) -> str | None:
    """The token of a ``Bearer`` authorization header (scheme case-insensitive), None otherwise."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
