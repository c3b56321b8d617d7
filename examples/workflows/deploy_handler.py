"""A team's Python workflow handler, ready to copy: deploy every push to main, announce releases.

Run it beside the YAML workflows of ``consumer.yaml`` (same runner, metrics, dedupe and retries)::

    hookgate consumer -c examples/workflows/consumer.yaml --handlers examples.workflows.deploy_handler:app

or as its own program::

    python examples/workflows/deploy_handler.py examples/workflows/consumer.yaml

``DEPLOY_API_URL`` points at the (here imaginary) deploy service; ``make dev``'s example receiver on
port 9000 stands in for it.
"""

from __future__ import annotations

import os
import sys

import aiohttp

from hookgate.consumer import Consumer, Event, Fail, Retry, match

app = Consumer("team-deploys")

DEPLOY_API_URL = os.environ.get("DEPLOY_API_URL", "http://127.0.0.1:9000/deploys")


@app.workflow(
    "deploy-main",
    # vars.ref is extracted by the gateway trigger (variables: {ref: {jsonpath: "$.ref"}}).
    match=match.type("com.github.push")
    & match.var("ref", "refs/heads/main")
    & match.data("$.repository.full_name", glob="acme/*")
    & ~match.data("$.deleted", True),
    ordered=True,  # a failing deploy holds back later pushes of the same key instead of being overtaken
    timeout_seconds=30,
)
async def deploy_main(event: Event) -> None:
    """Ask the deploy service to roll out the pushed commit. Return = done; raise = not done."""
    push = event.json()
    request = {"repository": push["repository"]["full_name"], "sha": push.get("after"), "event_id": event.id}
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            DEPLOY_API_URL,
            json=request,
            # The same key on every attempt lets the deploy service drop a repeat (see docs/consumers.md).
            headers={"Idempotency-Key": f"deploy-main:{event.id}"},
            timeout=aiohttp.ClientTimeout(total=20),
        ) as resp,
    ):
        if resp.status == 409:
            raise Retry("another deploy of this repository is running", after=30)
        if resp.status in (400, 404, 422):
            raise Fail(f"deploy service refused the request: HTTP {resp.status}", permanent=True)
        if resp.status >= 300:
            raise Fail(f"deploy service answered HTTP {resp.status}")  # retried with backoff


@app.workflow("announce-release", match=match.type("com.github.release.*") & match.subject(regex=r"^v\d+\."))
async def announce_release(event: Event) -> None:
    """A handler that only logs; anything it raises is retried, then dead-lettered."""
    sys.stdout.write(f"release {event.subject} of {event.json()['repository']['full_name']}\n")


if __name__ == "__main__":
    raise SystemExit(app.run(sys.argv[1] if len(sys.argv) > 1 else "examples/workflows/consumer.yaml"))
