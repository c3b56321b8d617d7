"""The concurrency budgets a webhook request passes through, and one request's hold on them.

Three budgets, each refused with its own reason:

- **per client address** (``max_concurrent_per_client``, 429 ``client_concurrency_limited``): from the
  moment the handler sees the request to its reply. One address cannot take every place below.
  IPv6 clients are counted per /64, the block one subscriber usually holds.
- **reading bodies** (``max_reading_bodies``, 503 ``reading_overloaded``): only a request whose body has
  not fully arrived when its turn comes takes a place, for as long as it waits for bytes (bounded by
  the body deadline and the minimum rate, see :mod:`~hookgate.gateway.intake.deadlines`).
- **in flight** (``max_in_flight``, 503 ``overloaded``): taken once the body is read, for verification,
  parsing and publishing. A slow body never holds one, so trickling senders cannot starve the signed ones.

Everything here is pure bookkeeping (no I/O, no awaiting).
"""

from __future__ import annotations

import ipaddress

from hookgate.gateway.intake.limits import InFlightLimiter


def client_key(ip: str) -> str:
    """The key a client address is counted under: IPv4 as is, IPv6 by its /64 ("" stays "": unknown)."""
    if ":" not in ip:
        return ip
    try:
        addr = ipaddress.IPv6Address(ip)
    except ValueError:
        return ip
    mapped = addr.ipv4_mapped
    if mapped is not None:
        return str(mapped)
    return str(ipaddress.IPv6Network((int(addr) >> 64 << 64, 64)))


class PerClientLimiter:
    """Requests at once per client key; the table holds only clients with a request in progress."""

    __slots__ = ("_counts", "limit")

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self._counts: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._counts)

    def try_acquire(self, key: str) -> bool:
        count = self._counts.get(key, 0)
        if self.limit is not None and count >= self.limit:
            return False
        self._counts[key] = count + 1
        return True

    def release(self, key: str) -> None:
        count = self._counts.get(key, 0) - 1
        if count > 0:
            self._counts[key] = count
        else:
            self._counts.pop(key, None)


class Budgets:
    """The three budgets of one gateway (per replica)."""

    __slots__ = ("clients", "in_flight", "reading")

    def __init__(self, *, max_in_flight: int, max_reading: int, max_per_client: int | None) -> None:
        self.in_flight = InFlightLimiter(max_in_flight)
        self.reading = InFlightLimiter(max_reading)
        self.clients = PerClientLimiter(max_per_client)

    def enter(self, ip: str) -> Ticket | None:
        """A ticket for a request from ``ip``, or ``None`` when that client is at its limit."""
        key = client_key(ip)
        if not self.clients.try_acquire(key):
            return None
        return Ticket(self, key)


class Ticket:
    """One request's places in the budgets. :meth:`release` gives back whatever it still holds."""

    __slots__ = ("_budgets", "_handling", "_key", "_reading")

    def __init__(self, budgets: Budgets, key: str) -> None:
        self._budgets = budgets
        self._key: str | None = key
        self._reading = False
        self._handling = False

    def start_reading(self) -> bool:
        """Take a place among the requests waiting for their body; ``False`` when none is free."""
        if self._reading or self._budgets.reading.try_acquire():
            self._reading = True
            return True
        return False

    def start_handling(self) -> bool:
        """Leave the readers and take an in-flight place; ``False`` when none is free."""
        self._stop_reading()
        if self._handling or self._budgets.in_flight.try_acquire():
            self._handling = True
            return True
        return False

    def _stop_reading(self) -> None:
        if self._reading:
            self._reading = False
            self._budgets.reading.release()

    def release(self) -> None:
        self._stop_reading()
        if self._handling:
            self._handling = False
            self._budgets.in_flight.release()
        if self._key is not None:
            self._budgets.clients.release(self._key)
            self._key = None
