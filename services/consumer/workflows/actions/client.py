"""The HTTP/1.1 client of HTTP actions: pooled keep-alive connections, one pool per target.

A workflow's requests all go to one origin (``scheme://host:port``, fixed by its URL), and the action
only needs the status and ``Retry-After`` of a response, so the client is small: it writes a request
serialised in one piece, parses the response head, discards the body while framing it (``Content-Length``,
``chunked`` or until close) and hands the connection back to its pool when the response allows reuse.
That costs a fifth to a third of the CPU of ``aiohttp.ClientSession`` per request (``make bench``'s
``http-client`` scenario, docs/benchmarks.md), which on a consumer is most of its per-event work.

What it does not do, on purpose: follow redirects (a 3xx is a response like any other: point the URL at
its final location), decompress (it never reads the body), use proxies from the environment, or send
``Expect: 100-continue``. TLS verifies the certificate and host name with the system's trust store, as
``ssl.create_default_context()`` does.

At most ``limit`` connections per target are open; a request that finds them all busy waits for one.
Deadlines (the action's timeout) are checked by one sweep per client every :data:`SWEEP_SECONDS` while
requests are in progress, not by a timer per request: on uvloop a timer armed and cancelled per request
cost 2.5 us, and a request queued for a connection armed two. A timeout therefore fires up to 50 ms late.
A connection idle for ``idle_seconds`` is closed rather than reused (servers close idle keep-alive
connections, often after 5 to 75 s), and one the server already closed is never handed out. A request
that fails on a *reused* connection before any byte of the response arrived is sent once more on a fresh
connection: the server most likely closed the connection as the request was leaving.
"""

from __future__ import annotations

import asyncio
import base64
import re
import ssl
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, cast
from urllib.parse import quote, unquote, urlsplit

from hookgate import __version__
from hookgate.core.runtime import RunningLoop

USER_AGENT: Final = f"hookgate/{__version__}"
MAX_HEAD_BYTES: Final = 64 * 1024
SWEEP_SECONDS: Final = 0.05
"""How often a client with requests in progress or queued checks their deadlines."""
_BODY_METHODS: Final = frozenset(("POST", "PUT", "PATCH"))
_NO_BODY_STATUS: Final = frozenset((204, 304))
_STATUS_LINE: Final = re.compile(rb"^HTTP/1\.([01]) (\d{3})(?: [^\r\n]*)?$")
_CHUNK_SIZE: Final = re.compile(rb"^([0-9A-Fa-f]{1,16})(?:;[^\r\n]*)?$")
# Characters a request target may hold as they are; anything else (a space, non-ASCII) is percent-encoded.
_TARGET_SAFE: Final = "!#$%&'()*+,/:;=?@[]~-._"
_PLAIN_TARGET: Final = re.compile(r"^[A-Za-z0-9!$%&'()*+,/:;=?@\[\]~._-]*$")
_FORBIDDEN_IN_HEADER: Final = re.compile(r"[\r\n\x00]")
_GIVEN_CACHE_MAX: Final = 256

# Where a connection is in reading a response.
_IDLE, _HEAD, _LENGTH, _CHUNK_LINE, _CHUNK_DATA, _CHUNK_END, _TRAILERS, _UNTIL_EOF = range(8)


class HttpClientError(Exception):
    """A request failed before a complete response arrived; the attempt can be repeated."""


class ServerDisconnected(HttpClientError):
    """The server closed the connection before the response was complete."""


class InvalidResponse(HttpClientError):
    """The server's bytes are not an HTTP/1.x response."""


class InvalidRequest(ValueError):
    """The request cannot be sent as it is (a line break in a header); repeating cannot help."""


@dataclass(frozen=True, slots=True)
class Response:
    """Status and headers (names lower-cased, last value wins) of a complete response; the body is not kept."""

    status: int
    headers: Mapping[str, str]


class _Connection(asyncio.Protocol):
    """One keep-alive connection: writes a request, frames its response, tells whether it can be reused."""

    def __init__(self) -> None:
        # Made by loop.create_connection, so in the loop; kept, since asking for it costs a system call.
        self._loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._buf = bytearray()
        self._waiter: asyncio.Future[Response] | None = None
        self.deadline = 0.0  # of the request in progress (the client's sweep expires it)
        self._state = _IDLE
        self._remaining = 0
        self._status = 0
        self._headers: dict[str, str] = {}
        self._keep_alive = False
        self.got_bytes = False
        self.reusable = False

    # -- asyncio.Protocol ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:
            # Bytes nobody asked for (the server is not speaking HTTP/1.1 as we do): never reuse this one.
            self.close()
            return
        self.got_bytes = True
        self._buf += data
        try:
            self._parse()
        except InvalidResponse as exc:
            self._fail(exc)

    def eof_received(self) -> bool:
        if self._state == _UNTIL_EOF:
            self._done(False)
        self.closed = True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None:
            if self._state == _UNTIL_EOF:
                self._done(False)
            else:
                err = ServerDisconnected("the server closed the connection before the response was complete")
                self._fail(err)

    # -- requests --------------------------------------------------------------------------------

    def send(self, request: bytes, body: bytes, deadline: float) -> asyncio.Future[Response]:
        """Write the request; the future settles with the response, or fails (``TimeoutError`` at ``deadline``)."""
        transport = self.transport
        if transport is None or self.closed:
            raise ServerDisconnected("the connection is closed")
        waiter: asyncio.Future[Response] = self._loop.create_future()
        self._waiter = waiter
        self.deadline = deadline
        self._state = _HEAD
        self.got_bytes = False
        self.reusable = False
        if body:
            transport.writelines((request, body))
        else:
            transport.write(request)
        return waiter

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def expire(self) -> None:
        """The request's deadline passed: fail it with ``TimeoutError`` (the connection is not reused)."""
        self._fail(TimeoutError("no complete response before the action's timeout"))

    def _fail(self, exc: Exception) -> None:
        waiter, self._waiter = self._waiter, None
        self.close()
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def _done(self, reusable: bool) -> None:
        waiter, self._waiter = self._waiter, None
        self._state = _IDLE
        self.reusable = reusable and not self._buf and not self.closed
        if waiter is not None and not waiter.done():
            waiter.set_result(Response(self._status, self._headers))

    # -- response framing ------------------------------------------------------------------------

    def _parse(self) -> None:
        buf = self._buf
        while True:
            state = self._state
            if state == _HEAD:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(buf) > MAX_HEAD_BYTES:
                        raise InvalidResponse("response head too large")
                    return
                head = bytes(buf[:end])
                del buf[: end + 4]
                if not self._head(head):
                    continue  # 1xx: the real response follows
            elif state == _LENGTH:
                take = min(self._remaining, len(buf))
                del buf[:take]
                self._remaining -= take
                if self._remaining:
                    return
                self._done(self._keep_alive)
                return
            elif state == _CHUNK_LINE:
                end = buf.find(b"\r\n")
                if end < 0:
                    if len(buf) > 1024:
                        raise InvalidResponse("chunk size line too long")
                    return
                m = _CHUNK_SIZE.match(bytes(buf[:end]))
                if m is None:
                    raise InvalidResponse("invalid chunk size")
                del buf[: end + 2]
                self._remaining = int(m.group(1), 16)
                self._state = _CHUNK_DATA if self._remaining else _TRAILERS
            elif state == _CHUNK_DATA:
                take = min(self._remaining, len(buf))
                del buf[:take]
                self._remaining -= take
                if self._remaining:
                    return
                self._state = _CHUNK_END
            elif state == _CHUNK_END:
                if len(buf) < 2:
                    return
                if buf[:2] != b"\r\n":
                    raise InvalidResponse("chunk not followed by CRLF")
                del buf[:2]
                self._state = _CHUNK_LINE
            elif state == _TRAILERS:
                end = buf.find(b"\r\n")
                if end < 0:
                    if len(buf) > MAX_HEAD_BYTES:
                        raise InvalidResponse("trailers too large")
                    return
                del buf[: end + 2]
                if end == 0:  # the empty line after the trailers
                    self._done(self._keep_alive)
                    return
            elif state == _UNTIL_EOF:
                buf.clear()
                return
            else:
                return

    def _head(self, head: bytes) -> bool:
        """Take a response head; False for an interim (1xx) response, which is skipped."""
        lines = head.split(b"\r\n")
        m = _STATUS_LINE.match(lines[0])
        if m is None:
            raise InvalidResponse("not an HTTP/1.x status line")
        status = int(m.group(2))
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep or not name or name != name.strip():
                raise InvalidResponse("malformed header line")
            key = name.decode("latin-1").lower()
            text = value.strip().decode("latin-1")
            if key in headers and key in ("content-length", "transfer-encoding", "connection"):
                headers[key] = f"{headers[key]}, {text}"
            else:
                headers[key] = text
        if 100 <= status < 200:
            if status == 101:
                raise InvalidResponse("the server switched protocols")
            return False
        connection = headers.get("connection", "").lower()
        if m.group(1) == b"1":
            self._keep_alive = "close" not in connection
        else:
            self._keep_alive = "keep-alive" in connection
        self._status, self._headers = status, headers
        if status in _NO_BODY_STATUS:
            self._done(self._keep_alive)
            return True
        encoding = headers.get("transfer-encoding")
        if encoding is not None:
            if encoding.lower().replace(" ", "").split(",")[-1] != "chunked":
                self._state, self._keep_alive = _UNTIL_EOF, False  # framed by the end of the connection
                return True
            self._state = _CHUNK_LINE
            return True
        length = headers.get("content-length")
        if length is not None:
            values = {v.strip() for v in length.split(",")}
            if len(values) != 1 or not next(iter(values)).isdigit():
                raise InvalidResponse("invalid Content-Length")
            self._remaining = int(next(iter(values)))
            if self._remaining == 0:
                self._done(self._keep_alive)
            else:
                self._state = _LENGTH
            return True
        self._state, self._keep_alive = _UNTIL_EOF, False
        return True


class HttpClient:
    """Keep-alive connections to one target (``scheme://host[:port]``), at most ``limit`` open at once."""

    def __init__(
        self,
        target: str,
        *,
        limit: int = 100,
        idle_seconds: float = 15.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{target!r}: expected http:// or https:// and a host")
        self.target = target
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._tls: ssl.SSLContext | None = None
        if parts.scheme == "https":
            self._tls = ssl_context or ssl.create_default_context()
        host = f"[{self._host}]" if ":" in self._host else self._host
        default_port = (parts.scheme == "https" and self._port == 443) or (parts.scheme == "http" and self._port == 80)
        self._host_header = host if default_port else f"{host}:{self._port}"
        self._authorization: str | None = None
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            self._authorization = "Basic " + base64.b64encode(pair.encode()).decode()
        self._limit = limit
        self._idle_seconds = idle_seconds
        self._idle: list[_Connection] = []
        self._open = 0
        self._busy: set[_Connection] = set()  # a request in progress on each
        self._waiters: deque[tuple[float, asyncio.Future[None]]] = deque()  # (deadline, turn) of queued requests
        self._sweep_handle: asyncio.TimerHandle | None = None
        self._closed = False
        self._given: dict[tuple[str, ...], frozenset[str]] = {}  # header names -> their lower-case set
        self._loop = RunningLoop()

    @property
    def open_connections(self) -> int:
        return self._open

    async def request(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes, timeout: float
    ) -> Response:
        """Send one request (``target``: the path and query) and return once its response is complete.

        Raises :class:`InvalidRequest` for a request that cannot be written, :class:`HttpClientError`,
        ``OSError`` (connection refused, TLS failure) or ``TimeoutError`` otherwise.
        """
        request = self._serialise(method, target, headers, body)
        # time.monotonic, not the loop's clock: asyncio.get_running_loop() is a getpid system call each time.
        deadline = time.monotonic() + timeout
        conn, reused = self._idle_connection() or await self._acquire(deadline)
        try:
            return await self._exchange(conn, request, body, deadline)
        except (HttpClientError, OSError):
            if not reused or conn.got_bytes:
                raise
        # A reused connection the server closed as the request left it: once more on a fresh one.
        conn, _ = await self._acquire(deadline, fresh=True)
        return await self._exchange(conn, request, body, deadline)

    async def _exchange(self, conn: _Connection, request: bytes, body: bytes, deadline: float) -> Response:
        busy = self._busy
        busy.add(conn)
        if self._sweep_handle is None:
            self._arm_sweep()
        try:
            response = await conn.send(request, body, deadline)
        except BaseException:
            conn.close()
            self._release(conn)
            raise
        finally:
            busy.discard(conn)
        self._release(conn)
        return response

    def _arm_sweep(self) -> None:
        self._sweep_handle = asyncio.get_running_loop().call_later(SWEEP_SECONDS, self._sweep)

    def _sweep(self) -> None:
        """Fail the requests, in progress or queued for a connection, whose deadline passed."""
        self._sweep_handle = None
        now = time.monotonic()
        for conn in [c for c in self._busy if c.deadline <= now]:
            conn.expire()
        for deadline, turn in self._waiters:
            if deadline <= now and not turn.done():
                turn.set_exception(TimeoutError("no connection to the target became free before the action's timeout"))
        if self._busy or self._waiters:
            self._arm_sweep()

    def _serialise(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> bytes:
        if not _PLAIN_TARGET.match(target):
            target = quote(target, safe=_TARGET_SAFE)
        target = target.partition("#")[0]
        if not target.startswith("/"):
            target = "/" + target  # "http://host" or "http://host?q=1"
        names = tuple(headers)
        given = self._given.get(names)
        if given is None:
            # A workflow sends the same header names every time: lower-case them once per set of names.
            if len(self._given) >= _GIVEN_CACHE_MAX:
                self._given.clear()
            given = self._given[names] = frozenset(name.lower() for name in names)
        fields = "".join([f"{name}: {value}\r\n" for name, value in headers.items()])
        # One check for all of them: each field adds exactly one CR and one LF; a value with a line break
        # (or a NUL) of its own would add more.
        n = len(headers)
        if fields.count("\n") != n or fields.count("\r") != n or "\x00" in fields:
            bad = next(k for k, v in headers.items() if _FORBIDDEN_IN_HEADER.search(f"{k}{v}"))
            raise InvalidRequest(f"header {bad!r} holds a line break")
        lines = [f"{method} {target} HTTP/1.1\r\nHost: {self._host_header}\r\n", fields]
        if "user-agent" not in given:
            lines.append(f"User-Agent: {USER_AGENT}\r\n")
        if "accept" not in given:
            lines.append("Accept: */*\r\n")
        if self._authorization is not None and "authorization" not in given:
            lines.append(f"Authorization: {self._authorization}\r\n")
        if body or method in _BODY_METHODS:
            if body and "content-type" not in given:
                lines.append("Content-Type: application/octet-stream\r\n")
            lines.append(f"Content-Length: {len(body)}\r\n")
        lines.append("\r\n")
        return "".join(lines).encode()

    def _idle_connection(self) -> tuple[_Connection, bool] | None:
        """The most recently used idle connection that is still good, if any (closing the stale ones)."""
        if self._closed:
            return None
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and now - conn.idle_since < self._idle_seconds:
                return conn, True
            conn.close()
            self._open -= 1
        return None

    async def _acquire(self, deadline: float, *, fresh: bool = False) -> tuple[_Connection, bool]:
        """A connection for one request, and whether it was used before; ``TimeoutError`` at ``deadline``."""
        loop = self._loop()
        while True:
            if self._closed:
                raise ServerDisconnected("the client is closed")
            if not fresh:
                found = self._idle_connection()
                if found is not None:
                    return found
            elif self._idle and self._open >= self._limit:
                # Make room for the fresh connection by closing an idle one.
                self._idle.pop(0).close()
                self._open -= 1
            if self._open < self._limit:
                self._open += 1
                try:
                    async with asyncio.timeout(deadline - time.monotonic()):
                        _, conn = await loop.create_connection(
                            _Connection,
                            self._host,
                            self._port,
                            ssl=self._tls,
                            server_hostname=self._host if self._tls is not None else None,
                        )
                except BaseException:
                    self._open -= 1
                    self._wake()
                    raise
                return conn, False
            # Every connection is busy: wait for one (the sweep fails the wait at the deadline).
            waiter: asyncio.Future[None] = loop.create_future()
            entry = (deadline, waiter)
            self._waiters.append(entry)
            if self._sweep_handle is None:
                self._arm_sweep()
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                    self._wake()  # pass on the turn this request was given but will not take
                elif entry in self._waiters:
                    self._waiters.remove(entry)
                raise

    def _release(self, conn: _Connection) -> None:
        if conn.reusable and not conn.closed and not self._closed:
            conn.idle_since = time.monotonic()
            self._idle.append(conn)
        else:
            conn.close()
            self._open -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            _, waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def close(self) -> None:
        """Close every idle connection; busy ones close when their request ends."""
        self._closed = True
        for conn in self._idle:
            conn.close()
        self._open -= len(self._idle)
        self._idle.clear()
        while self._waiters:
            _, waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
        if self._sweep_handle is not None and not self._busy:
            self._sweep_handle.cancel()
            self._sweep_handle = None
        await asyncio.sleep(0)


class HttpClients:
    """One :class:`HttpClient` per target, created on first use and shared by every workflow (and reload)."""

    def __init__(self, *, limit_per_target: int = 100, idle_seconds: float = 15.0) -> None:
        self._limit = limit_per_target
        self._idle_seconds = idle_seconds
        self._by_target: dict[str, HttpClient] = {}

    def get(self, target: str) -> HttpClient:
        client = self._by_target.get(target)
        if client is None:
            client = self._by_target[target] = HttpClient(target, limit=self._limit, idle_seconds=self._idle_seconds)
        return client

    async def close(self) -> None:
        for client in self._by_target.values():
            await client.close()
        self._by_target.clear()

    async def __aenter__(self) -> HttpClients:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
