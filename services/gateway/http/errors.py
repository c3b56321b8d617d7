"""JSON error replies: ``{"error": "<stable_code>", "message": "<sentence>"}``.

Codes are stable API. To an unauthenticated caller they never reveal whether a trigger exists or
which check failed beyond 401/404.
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from aiohttp import web


def error_response(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=orjson.dumps({"error": code, "message": message}),
        content_type="application/json",
        headers=headers,
    )


def json_response(status: int, payload: object, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(payload), content_type="application/json", headers=headers)


NOT_FOUND = (404, "not_found", "No trigger at this URL.")
UNAUTHORIZED = (401, "unauthorized", "The request could not be authenticated.")
