"""A tiny workflow endpoint for `make dev`: logs each delivery as one JSON line and answers 200.

Run: python examples/receiver.py [port]   (default 9000)
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import orjson
from aiohttp import web


async def handle(request: web.Request) -> web.Response:
    body = await request.read()
    line = {
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "event": "workflow_received",
        "path": request.path,
        "ce_id": request.headers.get("ce-id"),
        "ce_type": request.headers.get("ce-type"),
        "tenant": request.headers.get("ce-tenant"),
        "idempotency_key": request.headers.get("Idempotency-Key"),
        "bytes": len(body),
        "body_preview": body[:200].decode("utf-8", "replace"),
    }
    sys.stdout.write(orjson.dumps(line).decode() + "\n")
    sys.stdout.flush()
    return web.json_response({"ok": True})


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
