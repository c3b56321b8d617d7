"""The HTTP actions' client against real loopback servers: keep-alive, framing, limits, failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from hookgate.consumer.workflows.actions.client import (
    HttpClient,
    InvalidRequest,
    InvalidResponse,
    ServerDisconnected,
)
from tests.support.kafka import free_port

Reply = Callable[[bytes], bytes | None]
"""Given the raw request, the raw bytes to answer with (None: close without answering)."""


class RawServer:
    """A TCP server that answers each request (head and Content-Length body) with scripted bytes."""

    def __init__(self, reply: Reply, *, close_after: bool = False) -> None:
        self.reply = reply
        self.close_after = close_after
        self.connections = 0
        self.requests: list[bytes] = []
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                answer = self.reply(head + body)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def aiohttp_target(handle: Callable[[web.Request], Awaitable[web.Response]]) -> AsyncIterator[str]:
    """An aiohttp server answering ``POST /`` with ``handle`` on a free loopback port; yields its base URL."""
    app = web.Application()
    app.router.add_post("/", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def raw_server(reply: Reply, *, close_after: bool = False) -> AsyncIterator[RawServer]:
    srv = RawServer(reply, close_after=close_after)
    server = await asyncio.start_server(srv.handle, "127.0.0.1", 0)
    srv.port = server.sockets[0].getsockname()[1]
    try:
        yield srv
    finally:
        server.close()
        await server.wait_closed()


def ok(body: bytes = b"ok") -> Reply:
    return lambda _: b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


async def test_requests_reuse_one_keep_alive_connection() -> None:
    async with raw_server(ok()) as srv:
        client = HttpClient(f"http://127.0.0.1:{srv.port}")
        for i in range(5):
            resp = await client.request("POST", f"/hook?n={i}", {"X-A": "b"}, b"{}", 5)
            assert resp.status == 200
        await client.close()
    assert srv.connections == 1
    first = srv.requests[0]
    assert first.startswith(b"POST /hook?n=0 HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{srv.port}".encode() in first
    assert b"X-A: b\r\n" in first
    assert b"Content-Length: 2\r\n" in first
    assert b"Content-Type: application/octet-stream\r\n" in first
    assert first.endswith(b"\r\n\r\n{}")


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nT: 1\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
    ],
    ids=["chunked", "interim-100", "no-content", "empty"],
)
async def test_responses_framed_by_length_chunks_or_status_keep_the_connection(answer: bytes) -> None:
    async with raw_server(lambda _: answer) as srv:
        client = HttpClient(f"http://127.0.0.1:{srv.port}")
        for _ in range(3):
            assert (await client.request("POST", "/", {}, b"x", 5)).status in (200, 204)
        await client.close()
    assert srv.connections == 1


async def test_a_response_framed_by_the_end_of_the_connection_is_complete_and_not_reused() -> None:
    answer = b"HTTP/1.1 202 Accepted\r\nConnection: close\r\n\r\nwhatever until EOF"
    async with raw_server(lambda _: answer, close_after=True) as srv:
        client = HttpClient(f"http://127.0.0.1:{srv.port}")
        for _ in range(2):
            assert (await client.request("POST", "/", {}, b"x", 5)).status == 202
        await client.close()
    assert srv.connections == 2


async def test_status_and_retry_after_come_back_and_redirects_are_not_followed() -> None:
    script = iter(
        [
            b"HTTP/1.1 429 Too Many\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n",
            b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n",
        ]
    )
    async with raw_server(lambda _: next(script)) as srv:
        client = HttpClient(f"http://127.0.0.1:{srv.port}")
        busy = await client.request("POST", "/", {}, b"x", 5)
        assert (busy.status, busy.headers["retry-after"]) == (429, "7")
        moved = await client.request("POST", "/", {}, b"x", 5)
        assert moved.status == 302
        await client.close()
    assert len(srv.requests) == 2  # the redirect was not followed


async def test_a_server_that_closed_an_idle_connection_costs_no_failed_attempt() -> None:
    async with raw_server(ok(), close_after=True) as srv:  # answers, then closes: like an idle timeout
        client = HttpClient(f"http://127.0.0.1:{srv.port}")
        for _ in range(3):
            assert (await client.request("POST", "/", {}, b"x", 5)).status == 200
            await asyncio.sleep(0.05)  # the server's FIN arrives before the next request
        await client.close()
    assert srv.connections == 3


async def test_a_reused_connection_dropped_as_the_request_leaves_is_retried_on_a_fresh_one() -> None:
    calls = 0

    def reply(_: bytes) -> bytes | None:
        nonlocal calls
        calls += 1
        return None if calls == 2 else ok()(b"")  # the second request: closed without a byte

    async with raw_server(reply) as srv:
        client = HttpClient(f"http://127.0.0.1:{srv.port}")
        assert (await client.request("POST", "/", {}, b"x", 5)).status == 200
        assert (await client.request("POST", "/", {}, b"x", 5)).status == 200
        await client.close()
    assert srv.connections == 2


async def test_failures_the_action_reports() -> None:
    async with raw_server(lambda _: b"SMTP ready\r\n\r\n") as srv:
        client = HttpClient(f"http://127.0.0.1:{srv.port}")
        with pytest.raises(InvalidResponse):
            await client.request("POST", "/", {}, b"x", 5)
        with pytest.raises(InvalidRequest):
            await client.request("POST", "/", {"X-Evil": "a\r\nInjected: 1"}, b"x", 5)
        await client.close()
    async with raw_server(lambda _: None) as srv:  # closes every connection without an answer
        client = HttpClient(f"http://127.0.0.1:{srv.port}")
        with pytest.raises(ServerDisconnected):
            await client.request("POST", "/", {}, b"x", 5)
        await client.close()
    refused = HttpClient(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ConnectionRefusedError):
        await refused.request("POST", "/", {}, b"x", 5)


async def test_a_slow_target_times_out_and_its_connection_is_not_reused() -> None:
    release = asyncio.Event()

    async def handle(request: web.Request) -> web.Response:
        if request.query.get("slow"):
            await release.wait()
        return web.Response(text="ok")

    async with aiohttp_target(handle) as url:
        try:
            client = HttpClient(url)
            with pytest.raises(TimeoutError):
                await client.request("POST", "/?slow=1", {}, b"x", 0.2)
            assert client.open_connections == 0
            assert (await client.request("POST", "/", {}, b"x", 5)).status == 200
            await client.close()
        finally:
            release.set()


async def test_at_most_limit_connections_and_the_others_wait_for_one() -> None:
    in_flight = 0
    most = 0
    gate = asyncio.Event()

    async def handle(request: web.Request) -> web.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        if in_flight >= 3:
            gate.set()
        await gate.wait()
        in_flight -= 1
        return web.Response(text="ok")

    async with aiohttp_target(handle) as url:
        client = HttpClient(url, limit=3)
        replies = await asyncio.gather(*(client.request("POST", "/", {}, b"x", 30) for _ in range(12)))
        assert {r.status for r in replies} == {200}
        assert most == 3
        assert client.open_connections == 3
        await client.close()


async def test_a_request_queued_for_a_busy_connection_times_out_at_its_deadline() -> None:
    release, arrived = asyncio.Event(), asyncio.Event()

    async def handle(request: web.Request) -> web.Response:
        arrived.set()
        await release.wait()
        return web.Response(text="ok")

    async with aiohttp_target(handle) as url:
        try:
            client = HttpClient(url, limit=1)
            holding = asyncio.create_task(client.request("POST", "/", {}, b"x", 30))
            await arrived.wait()  # the only connection is busy now
            with pytest.raises(TimeoutError, match="no connection to the target became free"):
                await client.request("POST", "/", {}, b"x", 0.2)
            release.set()
            assert (await holding).status == 200  # the request that held the connection was not disturbed
            assert (await client.request("POST", "/", {}, b"x", 5)).status == 200  # nor the turn passed on
            await client.close()
        finally:
            release.set()


async def test_a_request_target_is_percent_encoded_where_it_must_be() -> None:
    async with raw_server(ok()) as srv:
        client = HttpClient(f"http://127.0.0.1:{srv.port}")
        await client.request("GET", "/a b/ü?q=x y#frag", {}, b"", 5)
        await client.request("POST", "", {}, b"", 5)
        await client.close()
    assert srv.requests[0].startswith(b"GET /a%20b/%C3%BC?q=x%20y HTTP/1.1\r\n")
    assert b"Content-Length" not in srv.requests[0]  # a GET without a body says nothing of one
    assert srv.requests[1].startswith(b"POST / HTTP/1.1\r\n")
    assert b"Content-Length: 0\r\n" in srv.requests[1]
