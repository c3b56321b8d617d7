"""Client-certificate names and the per-trigger subject allowlist; TLS settings validation."""

from __future__ import annotations

import pytest

from hookgate.core.config import ConfigError, load_model
from hookgate.gateway.config import GatewayConfig
from hookgate.gateway.http.tls import TlsSettings, certificate_names, subject_allowed

PEERCERT = {
    "subject": ((("countryName", "US"),), (("organizationName", "Example"),), (("commonName", "relay.example.com"),)),
    "subjectAltName": (("DNS", "relay-2.example.com"), ("URI", "spiffe://example/relay"), ("IP Address", "10.0.0.1")),
}


def test_names_are_the_common_name_and_dns_uri_alternative_names() -> None:
    assert certificate_names(PEERCERT) == {"relay.example.com", "relay-2.example.com", "spiffe://example/relay"}
    assert certificate_names(None) == set()
    assert certificate_names({}) == set()


def test_subject_allowlist_matches_exactly() -> None:
    assert subject_allowed(PEERCERT, ["relay.example.com"])
    assert subject_allowed(PEERCERT, ["other", "spiffe://example/relay"])
    assert not subject_allowed(PEERCERT, ["example.com", "Example", "10.0.0.1"])
    assert not subject_allowed(None, ["relay.example.com"])


def test_required_client_cert_needs_a_ca() -> None:
    with pytest.raises(ConfigError, match="require_client_cert needs client_ca"):
        load_model(TlsSettings, {"certfile": "c.pem", "keyfile": "k.pem", "require_client_cert": True}, "<t>")
    ok = load_model(TlsSettings, {"certfile": "c.pem", "keyfile": "k.pem", "client_ca": "ca.pem"}, "<t>")
    assert not ok.require_client_cert


def test_client_cert_subjects_need_the_gateway_to_terminate_mtls() -> None:
    trigger = {
        "id": "abcdefghijklmnopqrstuvwxyz012345",
        "name": "relay",
        "tenant": "acme",
        "verify": {"type": "none"},
        "client_cert_subjects": ["relay.example.com"],
    }
    with pytest.raises(ConfigError, match=r"triggers\[0\]\.client_cert_subjects: needs gateway.tls.client_ca"):
        load_model(GatewayConfig, {"triggers": [trigger]}, "<t>", env={})
    tls = {"certfile": "c.pem", "keyfile": "k.pem", "client_ca": "ca.pem"}
    cfg = load_model(GatewayConfig, {"gateway": {"tls": tls}, "triggers": [trigger]}, "<t>", env={})
    assert cfg.triggers[0].client_cert_subjects == ["relay.example.com"]
