"""Client address through trusted proxies (and spoofing attempts), the URL as the sender saw it, allowlists."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from hookgate.core.config import ConfigError, load_model
from hookgate.gateway.intake.clientip import (
    ClientAddress,
    ClientResolver,
    IpAllowlist,
    ProxySettings,
    parse_node,
    split_forwarded,
)

PROXIES = ["10.0.0.0/8", "2001:db8:ffff::/48"]


def resolve(
    peer: str,
    headers: list[tuple[str, str]],
    *,
    mode: str = "x-forwarded-for",
    base: str | None = None,
    trusted: list[str] = PROXIES,
) -> ClientAddress:
    settings = ProxySettings(trusted_proxies=trusted, forwarded_header=mode, public_base_url=base)  # type: ignore[arg-type]
    return ClientResolver(settings).resolve(peer, CIMultiDict(headers), "http", "gw.internal:8080", "/hooks/x?a=1")


def test_untrusted_peer_is_the_client_whatever_it_claims() -> None:
    got = resolve(
        "203.0.113.9",
        [
            ("X-Forwarded-For", "10.1.1.1"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "evil.example"),
            ("Forwarded", "for=10.1.1.1;proto=https;host=evil.example"),
        ],
    )
    assert got == ClientAddress("203.0.113.9", "203.0.113.9", "http://gw.internal:8080/hooks/x?a=1", False)


def test_trusted_proxy_names_the_client_and_the_url_it_was_addressed_by() -> None:
    got = resolve(
        "10.0.0.5",
        [
            ("X-Forwarded-For", "198.51.100.7"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "hooks.example.com"),
        ],
    )
    assert got == ClientAddress("198.51.100.7", "10.0.0.5", "https://hooks.example.com/hooks/x?a=1", True)


def test_chain_is_walked_right_to_left_and_a_forged_left_part_is_ignored() -> None:
    # The client sent "X-Forwarded-For: 10.9.9.9" (a trusted-looking address) itself; two proxies appended.
    got = resolve("10.0.0.5", [("X-Forwarded-For", "10.9.9.9, 1.2.3.4, 198.51.100.7, 10.0.0.4")])
    assert got.ip == "198.51.100.7"
    # Repeated header lines are one list, in order.
    got = resolve("10.0.0.5", [("X-Forwarded-For", "1.2.3.4"), ("X-Forwarded-For", "198.51.100.7, 10.0.0.4")])
    assert got.ip == "198.51.100.7"


def test_forged_proto_and_host_left_of_the_client_facing_proxy_are_not_used() -> None:
    got = resolve(
        "10.0.0.5",
        [
            ("X-Forwarded-For", "198.51.100.7, 10.0.0.4"),
            ("X-Forwarded-Proto", "http, https, http"),  # the client's own, then LB1's, then LB2's
            ("X-Forwarded-Host", "evil.example, hooks.example.com, lb2.internal"),
        ],
    )
    assert got.url == "https://hooks.example.com/hooks/x?a=1"


def test_every_hop_trusted_means_the_leftmost_and_unknown_hops_mean_no_address() -> None:
    assert resolve("10.0.0.5", [("X-Forwarded-For", "10.0.0.1, 10.0.0.2")]).ip == "10.0.0.1"
    assert resolve("10.0.0.5", [("X-Forwarded-For", "unknown")]).ip == ""
    assert resolve("10.0.0.5", [("X-Forwarded-For", "")]).ip == ""
    assert resolve("10.0.0.5", [("X-Forwarded-For", "1.2.3.4, garbage")]).ip == ""


def test_trusted_proxy_without_forwarding_headers_is_itself_the_client() -> None:
    assert resolve("10.0.0.5", []) == ClientAddress(
        "10.0.0.5", "10.0.0.5", "http://gw.internal:8080/hooks/x?a=1", False
    )


def test_invalid_forwarded_proto_and_host_fall_back_to_what_this_hop_saw() -> None:
    got = resolve(
        "10.0.0.5",
        [
            ("X-Forwarded-For", "198.51.100.7"),
            ("X-Forwarded-Proto", "javascript"),
            ("X-Forwarded-Host", "a.example/evil?x"),
        ],
    )
    assert got.url == "http://gw.internal:8080/hooks/x?a=1"


def test_ipv6_hops_and_ipv4_mapped_peers() -> None:
    got = resolve("2001:db8:ffff::1", [("X-Forwarded-For", "[2001:db8::7]:4711, 2001:db8:ffff::2")])
    assert got.ip == "2001:db8::7"
    got = resolve("::ffff:10.0.0.5", [("X-Forwarded-For", "198.51.100.7:5555")])
    assert (got.ip, got.peer) == ("198.51.100.7", "10.0.0.5")


def test_forwarded_header_mode_uses_the_client_element_and_ignores_x_forwarded() -> None:
    got = resolve(
        "10.0.0.5",
        [
            (
                "Forwarded",
                'for=10.7.7.7;proto=http;host=evil.example, for="198.51.100.7:443";proto=https;host=hooks.example.com',
            ),
            ("Forwarded", 'for="[2001:db8:ffff::9]";proto=http;host=lb.internal'),
            ("X-Forwarded-For", "192.0.2.66"),
        ],
        mode="forwarded",
    )
    assert got == ClientAddress("198.51.100.7", "10.0.0.5", "https://hooks.example.com/hooks/x?a=1", True)
    # In x-forwarded-for mode the Forwarded header is ignored.
    assert resolve("10.0.0.5", [("Forwarded", "for=192.0.2.1")]).ip == "10.0.0.5"


def test_public_base_url_wins_over_every_header() -> None:
    got = resolve(
        "10.0.0.5",
        [("X-Forwarded-For", "198.51.100.7"), ("X-Forwarded-Proto", "http"), ("X-Forwarded-Host", "other.example")],
        base="https://hooks.example.com/gw/",
    )
    assert got.url == "https://hooks.example.com/gw/hooks/x?a=1"
    assert got.ip == "198.51.100.7"


def test_split_forwarded_handles_quotes_case_and_malformed_elements() -> None:
    assert split_forwarded('For="[2001:db8::1]:80";Proto=HTTPS, for=1.2.3.4') == [
        {"for": "[2001:db8::1]:80", "proto": "HTTPS"},
        {"for": "1.2.3.4"},
    ]
    assert split_forwarded('for="a,b;c", for=5.6.7.8') == [{"for": "a,b;c"}, {"for": "5.6.7.8"}]
    assert split_forwarded("garbage, for=5.6.7.8") == [{}, {"for": "5.6.7.8"}]
    assert split_forwarded('for="unterminated') == [{}]


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("192.0.2.1:4711", "192.0.2.1"),
        ("2001:db8::1", "2001:db8::1"),
        ("[2001:db8::1]:4711", "2001:db8::1"),
        ('"[2001:db8::1]"', "2001:db8::1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("unknown", None),
        ("_hidden", None),
        ("[2001:db8::1", None),
        ("", None),
    ],
)
def test_parse_node(node: str, expected: str | None) -> None:
    got = parse_node(node)
    assert (str(got) if got is not None else None) == expected


def test_allowlist_ipv4_ipv6_and_mapped_addresses() -> None:
    allow = IpAllowlist(["192.0.2.0/24", "2001:db8::/32", "198.51.100.7"])
    assert allow.allows("192.0.2.200")
    assert allow.allows("::ffff:192.0.2.1")
    assert allow.allows("2001:db8:1::5")
    assert allow.allows("198.51.100.7")
    assert not allow.allows("198.51.100.8")
    assert not allow.allows("192.0.3.1")
    assert not allow.allows("2001:db9::1")
    assert not allow.allows("")
    assert not allow.allows("unknown")


def test_settings_validate_cidrs_and_base_url_without_echoing_values() -> None:
    ok = load_model(ProxySettings, {"trusted_proxies": ["10.0.0.1/8", "::1"]}, "<t>", env={})
    assert ok.trusted_proxies == ["10.0.0.0/8", "::1/128"]
    with pytest.raises(ConfigError, match=r"trusted_proxies\[1\]: .*CIDR") as bad:
        load_model(ProxySettings, {"trusted_proxies": ["10.0.0.0/8", "10.0.0.300"]}, "<t>", env={})
    assert "10.0.0.300" not in str(bad.value)
    for url in ("ftp://x.example", "https://u:p@x.example", "https://x.example/?q=1", "hooks.example.com"):
        with pytest.raises(ConfigError, match="public_base_url"):
            load_model(ProxySettings, {"public_base_url": url}, "<t>", env={})
