"""The admin API's OpenAPI document: checked in as served, and complete for every route."""

from __future__ import annotations

import re
from pathlib import Path

from hookgate.admin.api import ROUTES
from hookgate.admin.openapi import document, render

CHECKED_IN = Path(__file__).resolve().parents[2] / "docs" / "admin-openapi.json"


def test_checked_in_document_is_the_served_one() -> None:
    assert CHECKED_IN.read_bytes() == render(), "docs/admin-openapi.json is out of date: run `make openapi`"


def test_every_route_is_documented_with_its_parameters() -> None:
    doc = document()
    assert doc["openapi"] == "3.1.0"
    for route in ROUTES:
        op = doc["paths"][route.path][route.method.lower()]
        assert op["operationId"] == route.operation_id
        path_params = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        assert path_params == set(re.findall(r"\{([a-z_]+)\}", route.path))
        if not route.public:
            assert "401" in op["responses"], route.path
            assert "security" not in op  # the document-wide bearer requirement applies


def test_every_schema_reference_resolves() -> None:
    doc = document()
    refs = set(re.findall(r'"\$ref": ?"#/components/schemas/([^"]+)"', render().decode()))
    assert refs
    assert refs <= doc["components"]["schemas"].keys()


def test_operation_ids_are_unique() -> None:
    ids = [r.operation_id for r in ROUTES]
    assert len(ids) == len(set(ids))
