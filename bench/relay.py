"""The relay peer: what a user could write in an afternoon instead of running the gateway.

aiohttp + aiokafka: check GitHub's ``X-Hub-Signature-256`` HMAC in constant time, produce the body
with ``send_and_wait`` (``acks=all``, idempotent), answer 202 after the acknowledgement. No presets,
no audit, no metrics, no limits: the gap between it and the gateway is what hookgate's own work costs.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import uuid

from aiohttp import web
from aiokafka import AIOKafkaProducer

from hookgate.core.runtime import run


async def serve(port: int, bootstrap: str, topic: str, secret: bytes, stop: asyncio.Event) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=2)
    await producer.start()

    async def accept(request: web.Request) -> web.Response:
        body = await request.read()
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-Hub-Signature-256", "")):
            return web.json_response({"error": "unauthorized"}, status=401)
        event_id = request.headers.get("X-GitHub-Delivery") or str(uuid.uuid4())
        headers = [("ce_id", event_id.encode()), ("content-type", b"application/json")]
        await producer.send_and_wait(topic, body, key=event_id.encode(), headers=headers)
        return web.json_response({"id": event_id}, status=202)

    async def ready(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hooks/{trigger_id}", accept)
    app.router.add_get("/readyz", ready)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024, reuse_address=True).start()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await producer.stop()
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--secret", required=True)
    args = parser.parse_args()
    raise SystemExit(run(lambda stop: serve(args.port, args.bootstrap, args.topic, args.secret.encode(), stop)))


if __name__ == "__main__":
    main()
