"""The ceiling: a bare aiohttp server that reads the body and answers 202, nothing else.

It runs under the same interpreter and event loop (uvloop, via ``hookgate.core.runtime.run``) as the
gateway, so the gap between the two is what the gateway's own work costs. With ``--low-level`` it serves
through aiohttp's low-level ``web.Server`` (a prefix check instead of the router, no application, no
middleware): the gap between the two modes is what ``web.Application`` routing costs per request.
With ``--raw`` it is no framework at all: an ``asyncio.Protocol`` over ``httptools`` (llhttp, the parser
aiohttp's C extension is built on too) that answers every complete request with the same 202, keeping
the connection alive: what a hand-written HTTP server could cost at best, without any of the limits,
timeouts or routing a public listener needs.
"""

from __future__ import annotations

import argparse
import asyncio

from aiohttp import web

from hookgate.core.runtime import run

REPLY = b'{"id":"00000000-0000-0000-0000-000000000000"}'


async def accept(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(status=202, body=REPLY, content_type="application/json")


async def healthz(_: web.Request) -> web.Response:
    return web.Response(text="ok")


async def low_level(request: web.BaseRequest) -> web.StreamResponse:
    path = request.path
    if path.startswith("/hooks/") and request.method == "POST":
        await request.read()
        return web.Response(status=202, body=REPLY, content_type="application/json")
    if path == "/readyz":
        return web.Response(text="ok")
    return web.Response(status=404)


RAW_REPLY = (
    b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(REPLY)
) + REPLY
RAW_OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


class RawProtocol(asyncio.Protocol):
    """One connection: parse with httptools, answer each request when its body is complete."""

    def __init__(self) -> None:
        import httptools  # only this mode needs it (the dev extra installs it)

        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._body: list[bytes] = []
        self._url = b""
        self.body_bytes = 0  # read as the other modes read it: joined into one bytes object

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except Exception:  # a malformed request ends the connection
            if self._transport is not None:
                self._transport.close()

    # httptools' callbacks
    def on_url(self, url: bytes) -> None:
        self._url = url

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self.body_bytes += len(b"".join(self._body))
        self._body.clear()
        if self._transport is not None:
            self._transport.write(RAW_REPLY if self._url.startswith(b"/hooks/") else RAW_OK)


async def serve_raw(port: int, stop: asyncio.Event) -> int:
    server = await asyncio.get_running_loop().create_server(
        RawProtocol, "127.0.0.1", port, backlog=1024, reuse_address=True
    )
    await stop.wait()
    server.close()
    await server.wait_closed()
    return 0


async def serve(port: int, stop: asyncio.Event, *, plain: bool = False) -> int:
    runner: web.BaseRunner
    if plain:
        runner = web.ServerRunner(web.Server(low_level), access_log=None)
    else:
        app = web.Application()
        app.router.add_post("/hooks/{trigger_id}", accept)
        app.router.add_get("/readyz", healthz)
        runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024, reuse_address=True).start()
    await stop.wait()
    await runner.cleanup()
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--low-level", action="store_true", help="aiohttp's web.Server instead of web.Application")
    mode.add_argument("--raw", action="store_true", help="no framework: an asyncio.Protocol over httptools")
    args = parser.parse_args()
    if args.raw:
        raise SystemExit(run(lambda stop: serve_raw(args.port, stop)))
    raise SystemExit(run(lambda stop: serve(args.port, stop, plain=args.low_level)))


if __name__ == "__main__":
    main()
