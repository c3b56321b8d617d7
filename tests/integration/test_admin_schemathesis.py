"""Schemathesis over the served OpenAPI document, against a live admin app: no 5xx, and every response
(status, content type, body, headers) as the document says. Once with the in-memory catalog and
inspector, once with a gateway's real Kafka catalog and Kafka event inspector (the real broker)."""

from __future__ import annotations

import base64
import json
import os
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from hookgate.admin.api import create_admin_app
from hookgate.admin.openapi import document
from tests.support.admin import (
    ACME_TOKEN,
    ADMIN_TOKEN,
    admin_in_thread,
    admin_settings,
    bearer,
    gateway_and_admin_in_thread,
)
from tests.support.builders import gateway_config
from tests.support.memory_catalog import MemoryCatalog
from tests.support.memory_inspector import MemoryInspector

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
TRIGGER = "schemathesis-trigger-0000000001"


def seeded() -> tuple[MemoryCatalog, MemoryInspector]:
    yaml = {"id": "yaml-trigger-00000000000001", "name": "static", "tenant": "acme", "verify": {"type": "none"}}
    catalog = MemoryCatalog(yaml=[yaml], public_base_url="https://hooks.example.com")
    inspector = MemoryInspector()
    inspector.add("evt-1", trigger_id=TRIGGER, tenant="acme")
    inspector.add("req-2", trigger_id=TRIGGER, tenant="acme", outcome="refused", reason="bad_signature")
    return catalog, inspector


@pytest.fixture(scope="module")
def admin_url() -> Iterator[str]:
    catalog, inspector = seeded()
    with admin_in_thread(create_admin_app(admin_settings(), catalog, inspector)) as url:
        import asyncio

        asyncio.run(catalog.create({"id": TRIGGER, "name": "gh", "tenant": "acme", "verify": {"type": "github"}}))
        yield url


# Loaded when the module is collected (schemathesis' lazy fixture loading does not work with this pytest);
# test_the_served_document_is_the_one_tested checks that the live app serves exactly this document.
schema = schemathesis.openapi.from_dict(document())


def test_the_served_document_is_the_one_tested(admin_url: str) -> None:
    with urllib.request.urlopen(f"{admin_url}/admin/openapi.json", timeout=10) as response:
        assert json.loads(response.read()) == document()


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_admin_api_conforms_to_its_document(case: Any, admin_url: str) -> None:
    # Each generated request is sent with an admin token and with a tenant token.
    for token in (ADMIN_TOKEN, ACME_TOKEN):
        case.call_and_validate(base_url=admin_url, headers=bearer(token), checks=CHECKS)


@pytest.fixture(scope="module")
def kafka_admin_url(kafka_bootstrap: str) -> Iterator[str]:
    key = base64.b64encode(os.urandom(32)).decode()
    config = gateway_config(
        kafka_bootstrap,
        f"t{uuid.uuid4().hex[:12]}",
        [],
        catalog={"encryption": {"keys": {"k1": key}}},
        proxies={"public_base_url": "https://hooks.example.com"},
    )
    with gateway_and_admin_in_thread(config, admin_settings()) as (_, admin_url):
        yield admin_url


@pytest.mark.kafka
@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_admin_api_on_the_kafka_catalog_conforms(case: Any, kafka_admin_url: str) -> None:
    for token in (ADMIN_TOKEN, ACME_TOKEN):
        case.call_and_validate(base_url=kafka_admin_url, headers=bearer(token), checks=CHECKS)
