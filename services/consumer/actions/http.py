"""Deliver an event to an HTTP workflow endpoint, CloudEvents HTTP binary mode.

The body is the event data byte-exact, attributes travel as ``ce-<name>`` headers, and
``Idempotency-Key`` is stable per (workflow, event id) so a target can discard a repeat.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp

from hookgate.consumer.workflows import ActionResult
from hookgate.core.envelope import Envelope

if TYPE_CHECKING:
    from hookgate.consumer.subscriptions import HttpAction


def request_headers(workflow: str, event: Envelope, extra: dict[str, str]) -> dict[str, str]:
    headers = {f"ce-{k}": v for k, v in event.attributes().items() if k != "datacontenttype"}
    if event.datacontenttype:
        headers["Content-Type"] = event.datacontenttype
    headers["Idempotency-Key"] = f"{workflow}:{event.id}"
    headers.update(extra)
    return headers


async def run_http(session: aiohttp.ClientSession, workflow: str, action: HttpAction, event: Envelope) -> ActionResult:
    extra = {k: v.get_secret_value() for k, v in action.headers.items()}
    try:
        async with session.request(
            action.method,
            str(action.url),
            data=event.data,
            headers=request_headers(workflow, event, extra),
            timeout=aiohttp.ClientTimeout(total=action.timeout_seconds),
        ) as resp:
            await resp.read()
            if 200 <= resp.status < 300:
                return ActionResult(ok=True, status=resp.status)
            retryable = resp.status >= 500 or resp.status in (408, 425, 429)
            return ActionResult(ok=False, status=resp.status, error=f"HTTP {resp.status}", retryable=retryable)
    except (aiohttp.ClientError, TimeoutError) as exc:
        return ActionResult(ok=False, error=type(exc).__name__)
