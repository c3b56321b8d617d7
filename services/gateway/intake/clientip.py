"""The client's address and the URL as the sender saw it, through trusted reverse proxies only.

``X-Forwarded-For`` (or RFC 7239 ``Forwarded``) is believed only when the direct TCP peer is a
configured trusted proxy, and then the chain is walked right to left, skipping trusted hops: the first
untrusted hop is the client. Everything left of it was written by the client and may be forged. The
same rule picks ``X-Forwarded-Proto``/``X-Forwarded-Host`` (or the ``proto``/``host`` of the client's
``Forwarded`` element), from which the URL the sender signed (Twilio signs it) is rebuilt; a configured
``public_base_url`` wins over any header.

Pure: no I/O; the handler passes in the peer address, the headers and the request line.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, field_validator

from hookgate.core.config import StrictModel
from hookgate.gateway.verify.base import Headers

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_HOST = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$"
)
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError:
        raise ValueError("expected an IPv4/IPv6 address or CIDR block like 10.0.0.0/8 or 2001:db8::/32") from None


Cidr = Annotated[str, AfterValidator(_cidr)]
"""An IPv4 or IPv6 network in CIDR notation (a bare address means just that address), normalized."""


class ProxySettings(StrictModel):
    """``gateway.proxies``: which peers may tell the gateway who the client is and which URL it called."""

    trusted_proxies: list[Cidr] = Field(
        default_factory=list, description="Peers whose forwarding headers are believed (CIDRs)"
    )
    forwarded_header: Literal["x-forwarded-for", "forwarded"] = Field(
        default="x-forwarded-for",
        description="Which header family the proxies write; the other one is ignored (a client could forge it)",
    )
    public_base_url: str | None = Field(
        default=None,
        description="scheme://host[:port][/prefix] senders address; wins over forwarded headers",
    )

    @field_validator("public_base_url")
    @classmethod
    def _base_url(cls, v: str | None) -> str | None:
        if v is None:
            return None
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.netloc or not _HOST.match(parts.netloc):
            raise ValueError("expected http(s)://host[:port][/path-prefix]")
        if parts.query or parts.fragment or "@" in parts.netloc:
            raise ValueError("expected no credentials, query or fragment")
        return v.rstrip("/")


@functools.lru_cache(maxsize=4096)
def parse_ip(value: str) -> IpAddress | None:
    """An address; IPv4-mapped IPv6 (``::ffff:192.0.2.1``) becomes IPv4, so one rule covers both.

    Cached: proxies and senders repeat a few addresses, and parsing is most of the resolution's cost.
    """
    try:
        ip = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.scope_id:
            return ipaddress.IPv6Address(str(ip).split("%", 1)[0])
    return ip


@functools.lru_cache(maxsize=4096)
def _peer(peer: str) -> tuple[IpAddress | None, str]:
    """The TCP peer's address and its canonical text (formatting an address costs as much as parsing it)."""
    ip = parse_ip(peer)
    return ip, str(ip) if ip is not None else peer


def parse_node(node: str) -> IpAddress | None:
    """The address in one forwarding hop: ``192.0.2.1``, ``192.0.2.1:4711``, ``2001:db8::1``,
    ``[2001:db8::1]:4711``; ``None`` for ``unknown``, obfuscated identifiers and garbage."""
    node = node.strip().strip('"')
    if node.startswith("["):
        end = node.find("]")
        return parse_ip(node[1:end]) if end > 0 else None
    if node.count(":") == 1:
        node = node.split(":", 1)[0]
    return parse_ip(node)


def split_forwarded(value: str) -> list[dict[str, str]]:
    """RFC 7239 ``Forwarded`` elements, left to right, as lower-cased parameter dicts.

    Quoted strings may contain ``,`` and ``;``; a malformed element parses as an empty dict, which
    yields no address (so it cannot be trusted or allowed).
    """
    elements: list[dict[str, str]] = []
    current: dict[str, str] = {}
    ok = True
    i, n = 0, len(value)
    while i <= n:
        while i < n and value[i] in " \t":
            i += 1
        if i >= n or value[i] == ",":
            elements.append(current if ok else {})
            current, ok = {}, True
            i += 1
            continue
        if value[i] == ";":
            i += 1
            continue
        m = _TOKEN.match(value, i)
        if not m or m.end() >= n or value[m.end()] != "=":
            ok = False
            i = _skip_to_comma(value, i)
            continue
        name = m.group().lower()
        i = m.end() + 1
        if i < n and value[i] == '"':
            j = i + 1
            chars: list[str] = []
            while j < n and value[j] != '"':
                if value[j] == "\\" and j + 1 < n:
                    j += 1
                chars.append(value[j])
                j += 1
            if j >= n:
                ok = False
            current[name] = "".join(chars)
            i = min(j + 1, n)
        else:
            m = _TOKEN.match(value, i)
            if not m:
                ok = False
                i = _skip_to_comma(value, i)
                continue
            current[name] = m.group()
            i = m.end()
    return elements


def _skip_to_comma(value: str, i: int) -> int:
    j = value.find(",", i)
    return len(value) if j < 0 else j


def _header_list(headers: Headers, name: str) -> list[str]:
    """A list-valued header, across repeated header lines, left to right."""
    return [item.strip() for line in headers.getall(name, []) for item in line.split(",")]


@dataclass(frozen=True, slots=True)
class ClientAddress:
    """Who sent the request and which URL it addressed."""

    ip: str  # the client's address; "" when a trusted proxy could not say
    peer: str  # the direct TCP peer
    url: str  # absolute URL as the sender addressed it (what URL-signing senders sign)
    via_proxy: bool  # the forwarding headers were believed


class ClientResolver:
    """Applies :class:`ProxySettings` to requests."""

    def __init__(self, settings: ProxySettings) -> None:
        self._trusted = [ipaddress.ip_network(c) for c in settings.trusted_proxies]
        self._forwarded = settings.forwarded_header == "forwarded"
        self._base = settings.public_base_url

    def trusted(self, ip: IpAddress | None) -> bool:
        return ip is not None and any(ip in net for net in self._trusted)

    def resolve(self, peer: str, headers: Headers, scheme: str, host: str, raw_path: str) -> ClientAddress:
        """``peer`` is the TCP peer, ``scheme``/``host`` what this hop saw, ``raw_path`` path and query as sent."""
        peer_ip, peer_s = _peer(peer)
        client, via = peer_s, False
        if self.trusted(peer_ip):
            found = self._from_forwarded(headers) if self._forwarded else self._from_x_forwarded(headers)
            if found is not None:
                client, fwd_scheme, fwd_host = found
                scheme, host, via = fwd_scheme or scheme, fwd_host or host, True
        base = self._base or f"{scheme}://{host}"
        return ClientAddress(client, peer_s, base + raw_path, via)

    def _client_index(self, hops: Sequence[IpAddress | None]) -> int:
        for i in range(len(hops) - 1, -1, -1):
            if not self.trusted(hops[i]):
                return i
        return 0  # every hop is a trusted proxy: the leftmost is as far as anyone can tell

    def _from_forwarded(self, headers: Headers) -> tuple[str, str | None, str | None] | None:
        elements = [e for line in headers.getall("Forwarded", []) for e in split_forwarded(line)]
        if not elements:
            return None
        hops = [parse_node(e.get("for", "")) for e in elements]
        idx = self._client_index(hops)
        # The element naming the client was written by the proxy the client connected to: its
        # proto and host are what the sender addressed.
        chosen = elements[idx]
        return _text(hops[idx]), _valid_proto(chosen.get("proto")), _valid_host(chosen.get("host"))

    def _from_x_forwarded(self, headers: Headers) -> tuple[str, str | None, str | None] | None:
        if "X-Forwarded-For" not in headers:
            return None
        hops = [parse_node(h) for h in _header_list(headers, "X-Forwarded-For")]
        idx = self._client_index(hops)
        # Trusted proxies between the client and us (the peer included); with proxies that append,
        # the client-facing one wrote the k-th X-Forwarded-Proto/Host value from the right.
        k = len(hops) - idx
        proto = _pick(_header_list(headers, "X-Forwarded-Proto"), k)
        host = _pick(_header_list(headers, "X-Forwarded-Host"), k)
        return _text(hops[idx]), _valid_proto(proto), _valid_host(host)


def _text(ip: IpAddress | None) -> str:
    return str(ip) if ip is not None else ""


def _pick(values: list[str], k: int) -> str | None:
    return values[max(0, len(values) - k)] if values else None


def _valid_proto(value: str | None) -> str | None:
    v = (value or "").strip().lower()
    return v if v in ("http", "https") else None


def _valid_host(value: str | None) -> str | None:
    v = (value or "").strip()
    return v if v and len(v) <= 260 and _HOST.match(v) else None


class IpAllowlist:
    """CIDR membership for IPv4 and IPv6 alike; an unknown or unparsable address is never allowed."""

    def __init__(self, cidrs: Iterable[str]) -> None:
        self._nets: list[IpNetwork] = [ipaddress.ip_network(c, strict=False) for c in cidrs]

    def allows(self, ip: str) -> bool:
        addr = parse_ip(ip)
        return addr is not None and any(addr in net for net in self._nets)
