"""The admin API's OpenAPI 3.1 document, built from the route table and the pydantic body models.

Served at ``GET /admin/openapi.json`` and checked in at ``docs/admin-openapi.json``; a unit test fails
when they differ. Regenerate the checked-in copy with ``make openapi`` (``python -m
hookgate.admin.openapi docs/admin-openapi.json``).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from hookgate.admin.api import ROUTES, Route

API_VERSION = "1"
_REF = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"\{([a-z_]+)\}")
_PATH_DOCS = {
    "id": "The trigger id",
    "tenant": "The tenant name",
    "event_id": "The event id (the CloudEvents id)",
}
_TRIGGER_BODY: dict[str, Any] = {
    "type": "object",
    "description": "The trigger mapping exactly as under triggers: in the gateway YAML (see docs/configuration.md); "
    "id is generated when absent, and so is the secret of a preset that needs one; a tenant token's "
    "tenant is the default tenant.",
    "additionalProperties": True,
    "examples": [{"name": "acme-github", "tenant": "acme", "verify": {"type": "github"}}],
}
_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No content",
    400: "Bad request: unparsable JSON or query",
    401: "No valid token",
    403: "The token may not manage this tenant's triggers",
    404: "No such resource (also what belongs to another tenant)",
    409: "A YAML (read-only) trigger, or a trigger with this id or name exists",
    413: "The body is too large",
    415: "The body is not JSON",
    422: "The body fails validation; each error names the field",
    503: "Kafka (the catalog or the inspector) is unavailable; nothing changed",
}


def document() -> dict[str, Any]:
    """The whole OpenAPI 3.1 document."""
    responses = {m for r in ROUTES for m in r.responses.values() if m is not None}
    bodies = {r.body for r in ROUTES if isinstance(r.body, type)}
    pairs: list[tuple[type[BaseModel], Any]] = [
        *((m, "serialization") for m in sorted(responses, key=lambda m: m.__name__)),
        *((m, "validation") for m in sorted(bodies, key=lambda m: m.__name__)),
    ]
    _, defs = models_json_schema(pairs, ref_template=_REF)
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hookgate admin API",
            "version": API_VERSION,
            "description": "Runtime triggers, inspection and replay (docs/admin.md). Every call needs a Bearer "
            "token of scope admin or tenant:<name>, except this document.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "tags": [
            {"name": "triggers", "description": "Create, list, change and delete triggers"},
            {"name": "inspection", "description": "Recent requests, events, counts and replay"},
            {"name": "meta", "description": "Who am I, and this document"},
        ],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(defs.get("$defs", {}).items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _operation(route: Route) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": route.operation_id, "summary": route.summary, "tags": list(route.tags)}
    if route.public:
        op["security"] = [{}, {"bearer": []}]
    params = [
        {"name": name, "in": "path", "required": True, "description": _PATH_DOCS[name], "schema": {"type": "string"}}
        for name in _PATH_PARAM.findall(route.path)
    ]
    params += [
        {"name": p.name, "in": "query", "required": p.required, "description": p.description, "schema": dict(p.schema)}
        for p in route.query
    ]
    if params:
        op["parameters"] = params
    if route.body == "trigger":
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _TRIGGER_BODY}}}
    elif route.body is not None:
        op["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": {"$ref": _REF.format(model=route.body.__name__)}}},
        }
    op["responses"] = {str(status): _response(status, model) for status, model in route.responses.items()}
    return op


def _response(status: int, model: type[BaseModel] | None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": _STATUS_TEXT.get(status, "Response")}
    if status == 204:
        return out
    schema = {"$ref": _REF.format(model=model.__name__)} if model is not None else {"type": "object"}
    out["content"] = {"application/json": {"schema": schema}}
    if status == 401:
        out["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}}
    if status == 503:
        out["headers"] = {"Retry-After": {"schema": {"type": "string"}, "description": "Seconds to wait"}}
    return out


def render() -> bytes:
    """The document as checked in: indented JSON, one trailing newline."""
    return orjson.dumps(document(), option=orjson.OPT_INDENT_2) + b"\n"


def main(argv: list[str]) -> int:
    """``python -m hookgate.admin.openapi [FILE]``: write the document to FILE (default: stdout)."""
    if len(argv) > 1:
        Path(argv[1]).write_bytes(render())
    else:
        sys.stdout.buffer.write(render())
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv))
