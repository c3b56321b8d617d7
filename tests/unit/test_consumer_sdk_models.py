"""Typed payloads: ``model=`` validates the body before the handler runs; a body that fails is a dead letter."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel

from hookgate.consumer import Consumer, Event, Fail
from hookgate.consumer.workflows.sdk import HandlerWorkflow
from hookgate.core.envelope import Envelope


class Repository(BaseModel):
    full_name: str


class Push(BaseModel):
    ref: str
    after: str
    repository: Repository


def envelope(data: bytes) -> Envelope:
    return Envelope(id="e-1", source="/hookgate/github", type="com.github.push", data=data)


def only(app: Consumer) -> HandlerWorkflow:
    [wf] = app.handlers
    return wf


GOOD = b'{"ref": "refs/heads/main", "after": "abc", "repository": {"full_name": "acme/api"}, "extra": 1}'


def test_the_handler_gets_the_validated_model() -> None:
    app = Consumer("team")
    seen: list[tuple[str, Push]] = []

    @app.workflow("deploy", model=Push)
    async def deploy(event: Event, push: Push) -> None:
        seen.append((event.id, push))

    result = asyncio.run(only(app).run(envelope(GOOD)))
    assert result.ok
    [(event_id, push)] = seen
    assert event_id == "e-1"
    assert isinstance(push, Push)
    assert push.repository.full_name == "acme/api"
    assert only(app).model_name == "Push"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (b'{"ref": "refs/heads/main", "after": "abc"}', ["repository: Field required"]),
        (
            b'{"ref": 7, "after": "abc", "repository": {}}',
            ["ref: Input should be a valid string", "repository.full_name"],
        ),
        (b"not json", ["(body): Invalid JSON"]),
        (b"", ["(body): Invalid JSON"]),
    ],
)
def test_an_invalid_body_is_dead_lettered_at_once_with_the_errors(body: bytes, fields: list[str]) -> None:
    app = Consumer("team")
    calls: list[object] = []

    @app.workflow("deploy", model=Push)
    async def deploy(event: Event, push: Push) -> None:
        calls.append(push)

    result = asyncio.run(only(app).run(envelope(body)))
    assert calls == []  # the handler never ran
    assert not result.ok
    assert result.retryable is False  # no retry can change a body
    assert result.error is not None
    assert result.error.startswith("payload is not a valid Push (")
    for text in fields:
        assert text in result.error
    assert "refs/heads" not in result.error  # errors name fields, never quote the body


def test_validation_errors_are_listed_up_to_a_bound() -> None:
    class Wide(BaseModel):
        model_config = {"extra": "forbid"}

    app = Consumer("team")
    app.add("wide", _with_model, model=Wide)
    body = b"{" + b",".join(b'"k%d": 1' % i for i in range(25)) + b"}"
    result = asyncio.run(only(app).run(envelope(body)))
    assert result.retryable is False
    assert "(25 errors)" in (result.error or "")
    assert "and 15 more" in (result.error or "")


async def _with_model(event: Event, payload: object) -> None:
    return None


def test_model_may_be_any_type_pydantic_validates() -> None:
    app = Consumer("team")
    got: list[object] = []

    async def handler(event: Event, payload: dict[str, int]) -> None:
        got.append(payload)

    app.add("counts", handler, model=dict[str, int])
    assert asyncio.run(only(app).run(envelope(b'{"a": 1}'))).ok
    assert got == [{"a": 1}]


def test_a_model_pydantic_cannot_build_is_refused_at_registration() -> None:
    class NotAModel:
        pass

    with pytest.raises(TypeError, match=r"model=.*not a type pydantic can validate"):
        Consumer("team").add("x", _with_model, model=NotAModel)


def test_fail_and_timeouts_keep_their_meaning_with_a_model() -> None:
    app = Consumer("team")

    @app.workflow("perm", model=Push)
    async def perm(event: Event, push: Push) -> None:
        raise Fail("unknown environment", permanent=True)

    @app.workflow("own-timeout", model=Push, timeout_seconds=30)
    async def own_timeout(event: Event, push: Push) -> None:
        raise TimeoutError("the deploy API timed out")

    perm_wf, own = app.handlers
    assert asyncio.run(perm_wf.run(envelope(GOOD))).retryable is False
    # A TimeoutError of the handler's own (a client's) is its error, not "handler timed out after 30 s".
    result = asyncio.run(own.run(envelope(GOOD)))
    assert result.retryable
    assert result.error == "TimeoutError: the deploy API timed out"
