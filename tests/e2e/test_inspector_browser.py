"""The web inspector in a real browser: Debian's chromium driven by Playwright, against a gateway (with its
trigger catalog and admin API), a consumer and a real HTTP workflow target, all on the real broker; and the
``hookgate gateway`` process serving the pages and an inspector that works.

A user logs in, creates a trigger, a sender delivers a signed webhook and a forged one, the user sees both
with the right outcome, opens the event, replays it, and the workflow target has still received it once.
The pages' screenshots in docs/images/ come from this test: ``HOOKGATE_SCREENSHOTS=1`` writes them there
(otherwise they go to the test's temporary directory, so every run still renders and photographs each page).

The browser is ``deploy/tools/chromium.sh``'s (Debian's package); Playwright's own browser download is never
used (``executable_path``).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import os
import subprocess
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import Browser, Page, async_playwright, expect

from hookgate.admin.api import create_admin_app
from hookgate.admin.inspect.kafka import KafkaEventInspector
from hookgate.admin.web import CONTENT_SECURITY_POLICY
from hookgate.consumer.workflows.actions.client import HttpClients
from hookgate.consumer.workflows.subscriptions import build_workflows
from hookgate.gateway.http.app import CATALOG, create_app
from tests.support.admin import ACME_TOKEN, ADMIN_TOKEN, GLOBEX_TOKEN, admin_settings
from tests.support.builders import gateway_config, github_signature, github_trigger, new_trigger_id
from tests.support.events import consumer_config, create_topic, http_workflow, running_consumer, wait_committed
from tests.support.gateway import wait_ready
from tests.support.kafka import free_port
from tests.support.processes import start_service
from tests.support.receiver import Receiver, run_receiver

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_SH = ROOT / "deploy" / "tools" / "chromium.sh"
DOCS_IMAGES = ROOT / "docs" / "images"
VIEWPORT = {"width": 1280, "height": 800}
# A body a sender controls: shown as text, never run (a dialog would fail the test).
HOSTILE = "<img src=x onerror=alert(1)><script>alert(2)</script>"


@functools.cache
def chromium() -> str:
    """Debian's chromium (installed by deploy/tools/chromium.sh when missing); the script prints its path last."""
    res = subprocess.run(["bash", str(CHROMIUM_SH)], capture_output=True, text=True, timeout=1500, check=False)
    assert res.returncode == 0, f"deploy/tools/chromium.sh failed ({res.returncode}):\n{res.stderr}{res.stdout}"
    return res.stdout.strip().splitlines()[-1]


@dataclass
class Stack:
    gateway: TestClient
    admin_url: str
    receiver: Receiver
    bootstrap: str
    group: str
    topic: str
    shots: Path

    async def settled(self) -> None:
        await wait_committed(self.bootstrap, self.group, self.topic)

    def runs(self, event_id: str) -> int:
        return sum(1 for r in self.receiver.received if r.headers.get("ce-id") == event_id)


@pytest.fixture
async def stack(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> AsyncIterator[Stack]:
    shots = DOCS_IMAGES if os.environ.get("HOOKGATE_SCREENSHOTS") == "1" else tmp_path
    port = free_port()
    config = gateway_config(
        kafka_bootstrap,
        topic_prefix,
        [],
        audit={"topic": True, "include_headers": True},
        catalog={"encryption": {"keys": {"k1": base64.b64encode(os.urandom(32)).decode()}}},
        proxies={"public_base_url": f"http://127.0.0.1:{port}"},
    )
    group, topic = f"{topic_prefix}-inspector", f"{topic_prefix}.acme"
    # The tenant topic exists before the consumer subscribes, so its pattern sees it at once.
    await create_topic(kafka_bootstrap, topic, 3)
    async with AsyncExitStack() as stack:
        receiver = await stack.enter_async_context(run_receiver())
        clients = await stack.enter_async_context(HttpClients())
        gateway_app = create_app(config)
        gateway = await stack.enter_async_context(TestClient(TestServer(gateway_app, host="127.0.0.1", port=port)))
        await wait_ready(gateway)
        consumer = consumer_config(
            kafka_bootstrap, topic_prefix, group, [http_workflow("deliver", f"{receiver.url}/deliver")]
        )
        await stack.enter_async_context(running_consumer(consumer, build_workflows(consumer.workflows, clients)))
        catalog = gateway_app[CATALOG]
        inspector = await stack.enter_async_context(KafkaEventInspector.for_gateway(config, catalog))
        admin = await stack.enter_async_context(
            TestClient(TestServer(create_admin_app(admin_settings(), catalog, inspector), host="127.0.0.1"))
        )
        yield Stack(gateway, str(admin.make_url("")).rstrip("/"), receiver, kafka_bootstrap, group, topic, shots)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        # --no-sandbox: the tests run as root, where chromium's sandbox refuses to start.
        b = await p.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        try:
            yield b
        finally:
            await b.close()


async def new_page(browser: Browser, problems: list[str]) -> Page:
    page = await browser.new_page(viewport=VIEWPORT)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("dialog", lambda d: problems.append(f"dialog: {d.message}"))
    page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
    return page


async def log_in(page: Page, base: str, token: str, shot: Path | None = None) -> None:
    await page.goto(f"{base}/admin/ui/triggers")
    await page.wait_for_url("**/admin/ui/login**")
    await page.fill("#token", token)
    if shot is not None:
        await page.screenshot(path=str(shot))
    await page.click("#login-form button[type=submit]")
    await page.wait_for_url("**/admin/ui/triggers")
    await expect(page.locator("#session")).to_be_visible()


async def deliver(stack: Stack, tid: str, secret: str, delivery: str, *, forged: bool = False) -> int:
    body = orjson.dumps({"ref": "refs/heads/main", "note": HOSTILE, "repository": {"full_name": "acme/api"}})
    signature = github_signature(body, "a secret the sender got wrong" if forged else secret)
    resp = await stack.gateway.post(
        f"/hooks/{tid}",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": signature,
            "User-Agent": "GitHub-Hookshot/inspector-test",
        },
    )
    return resp.status


async def test_log_in_create_deliver_inspect_and_replay_in_a_browser(stack: Stack, browser: Browser) -> None:
    problems: list[str] = []
    page = await new_page(browser, problems)
    base = stack.admin_url

    # 1. Log in with the admin token.
    await log_in(page, base, ADMIN_TOKEN, stack.shots / "inspector-login.png")
    await expect(page.locator("#whoami")).to_contain_text("admin")

    # 2. Create a trigger through the form; its URL and secret are shown once.
    await page.click("#new-trigger")
    await page.wait_for_url("**/admin/ui/triggers/new")
    await page.fill("#f-name", "github-main")
    await page.fill("#f-tenant", "acme")
    await page.select_option("#f-preset", "github")
    await page.screenshot(path=str(stack.shots / "inspector-new.png"))
    await page.click("#create-form button[type=submit]")
    await expect(page.locator("#created")).to_be_visible()
    url = await page.locator("#created-url").inner_text()
    secret = await page.locator("#created-secret").inner_text()
    assert url.startswith(str(stack.gateway.make_url("/hooks/")))
    tid = url.rsplit("/", 1)[1]
    assert len(secret) >= 16

    # 3. A signed delivery and a forged one.
    assert await deliver(stack, tid, secret, "delivery-signed") == 202
    assert await deliver(stack, tid, secret, "delivery-forged", forged=True) == 401
    await stack.settled()
    assert stack.runs("delivery-signed") == 1

    # 4. The trigger's page shows both, live, with the right outcome and the refusal's reason.
    await page.click("#created-link")
    await page.wait_for_url(f"**/admin/ui/triggers/{tid}")
    accepted = page.locator("tr[data-event='delivery-signed']")
    await expect(accepted).to_have_attribute("data-outcome", "accepted")
    refused = page.locator("tr[data-outcome='refused']")
    await expect(refused).to_have_count(1)
    await expect(refused).to_contain_text("401")
    await expect(refused).to_contain_text("bad_signature")
    await expect(page.locator("#trigger-facts")).to_contain_text(url)
    await page.screenshot(path=str(stack.shots / "inspector-trigger.png"), full_page=True)

    # The triggers page counts them (last hour).
    await page.goto(f"{base}/admin/ui/triggers")
    row = page.locator(f"tr[data-trigger-row='{tid}']")
    await expect(row.locator("[data-count='accepted']")).to_have_text("1")
    await expect(row.locator("[data-count='refused']")).to_have_text("1")
    await page.screenshot(path=str(stack.shots / "inspector-triggers.png"), full_page=True)

    # 5. The event: redacted headers, the body as text (the hostile markup shown, not run), the outcome.
    await page.goto(f"{base}/admin/ui/triggers/{tid}")
    await page.click("tr[data-event='delivery-signed'] a")
    await page.wait_for_url("**/admin/ui/events/delivery-signed**")
    await expect(page.locator("tr[data-workflow='deliver']")).to_contain_text("succeeded")
    headers = page.locator("#headers")
    await expect(headers).to_contain_text("x-hub-signature-256")
    await expect(headers).to_contain_text("[redacted]")
    assert "sha256=" not in await headers.inner_text()
    body = await page.locator("#body").inner_text()
    assert HOSTILE in body
    assert '"repository": {' in body  # pretty-printed JSON
    await expect(page.locator("#attributes")).to_contain_text("com.github.push")
    assert await page.locator("img[src='x']").count() == 0

    # 6. Replay it: the event is written again with its id, and the workflow does not run twice.
    await page.click("#replay-button")
    await expect(page.locator("#replay-result")).to_have_text("Replayed delivery-signed")
    await stack.settled()
    assert stack.runs("delivery-signed") == 1
    # The event's page now lists both records of the id: the delivery and its replay.
    await page.reload()
    await expect(page.locator("#deliveries tbody tr")).to_have_count(2)
    await expect(page.locator("tr[data-workflow='deliver']")).to_contain_text("succeeded")
    await page.screenshot(path=str(stack.shots / "inspector-event.png"), full_page=True)

    # The refused request's page: its reason and where it came from (no body is kept for it).
    await page.goto(f"{base}/admin/ui/triggers/{tid}")
    await page.click("tr[data-outcome='refused'] a")
    await expect(page.locator("#event-facts")).to_contain_text("bad_signature")
    await expect(page.locator("#event-facts")).to_contain_text("127.0.0.1")
    await expect(page.locator("#replay")).to_be_hidden()

    # A tenant token sees its own tenant only: globex's portal sees no acme trigger, acme's sees it.
    expected_404: list[str] = []  # the API's answer to another tenant's trigger, which chromium logs
    globex = await new_page(browser, expected_404)
    await log_in(globex, base, GLOBEX_TOKEN)
    await expect(globex.locator("#triggers-empty")).to_be_visible()
    await expect(globex.locator("#triggers tbody tr")).to_have_count(0)
    await globex.goto(f"{base}/admin/ui/triggers/{tid}")
    await expect(globex.locator("#trigger-error")).to_have_text("No such trigger.")
    await globex.close()
    assert expected_404 == ["console: Failed to load resource: the server responded with a status of 404 (Not Found)"]
    acme = await new_page(browser, problems)
    await log_in(acme, base, ACME_TOKEN)
    await expect(acme.locator(f"tr[data-trigger-row='{tid}']")).to_be_visible()
    await acme.close()

    assert problems == []


async def test_the_gateway_process_serves_the_inspector_and_its_api(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    """``hookgate gateway`` as a user runs it, with ``gateway.admin``: the pages, and an inspector that reads
    the audit topic (a forged delivery shows up as refused, with its reason)."""
    tid = new_trigger_id()
    port, admin_port = free_port(), free_port()
    config = {
        "gateway": {
            "listen": {"host": "127.0.0.1", "port": port},
            "audit": {"topic": True},
            "catalog": {"encryption": {"keys": {"k1": base64.b64encode(os.urandom(32)).decode()}}},
            "admin": {
                "listen": {"host": "127.0.0.1", "port": admin_port},
                "tokens": [{"name": "ops", "scope": "admin", "token": "${ADMIN_TOKEN}"}],
            },
        },
        "kafka": {"bootstrap_servers": kafka_bootstrap, "topics": {"prefix": topic_prefix, "partitions": 2}},
        "triggers": [github_trigger(tid)],
    }
    service = start_service("gateway", config, tmp_path, port, env={"ADMIN_TOKEN": ADMIN_TOKEN})
    try:
        await asyncio.to_thread(service.wait_ready)
        admin = f"http://127.0.0.1:{admin_port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{admin}/admin/ui/login") as page:
                assert page.status == 200
                assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
            body = b'{"zen": "forged"}'
            forged = {"X-Hub-Signature-256": github_signature(body, "wrong"), "Content-Type": "application/json"}
            async with http.post(f"{service.url}/hooks/{tid}", data=body, headers=forged) as resp:
                assert resp.status == 401
            refused: list[dict[str, object]] = []
            async with asyncio.timeout(60):
                while not refused:
                    async with http.get(
                        f"{admin}/admin/triggers/{tid}/events", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
                    ) as resp:
                        assert resp.status == 200, await resp.text()
                        refused = [e for e in (await resp.json())["items"] if e["outcome"] == "refused"]
                    await asyncio.sleep(0.3)
            assert [(e["status"], e["reason"]) for e in refused] == [(401, "bad_signature")]
    finally:
        assert service.stop() == 0, service.logs()
