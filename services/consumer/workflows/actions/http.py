"""The HTTP action: its YAML form, the request built from one event, and the call itself.

By default the request is the event in CloudEvents HTTP binary mode: the body is the event data
byte-exact, attributes travel as ``ce-<name>`` headers. With ``json:``, ``form:`` or ``body:`` the
request is whatever the target expects (Jenkins parameters, a GitHub ``repository_dispatch``, a Slack
message), templated from the event (see :mod:`hookgate.consumer.workflows.templating`). Either way
``Idempotency-Key`` is stable per (workflow, event id) so a target can discard a repeat.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from hookgate.consumer.workflows.actions.client import HttpClient, HttpClientError, InvalidRequest
from hookgate.consumer.workflows.actions.retry_after import parse_retry_after
from hookgate.consumer.workflows.event import Event, event_of
from hookgate.consumer.workflows.templating import (
    Context,
    Placeholder,
    Template,
    TemplateError,
    header_escape,
    parse_form,
    parse_json,
    url_escape,
)
from hookgate.consumer.workflows.workflow import ActionResult
from hookgate.core.config import Secret, StrictModel
from hookgate.core.envelope import Envelope

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 header field name
_RETRYABLE_4XX = frozenset((408, 425, 429))
_STATUS_CLASS = re.compile(r"^[1-5]xx$")

StatusSpec = int | str
"""A status code (``429``) or a class (``"4xx"``), as ``retry_on``/``fail_on`` list them."""


def _status_spec(value: StatusSpec) -> int | str:
    """A code 100..599, or a class ``1xx``..``5xx`` (lower-case); ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"expected a status code or a class like 4xx, got {value!r}")
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        code = int(value)
        if not 100 <= code <= 599:
            raise ValueError(f"{value!r} is not an HTTP status code (100..599)")
        return code
    if isinstance(value, str) and _STATUS_CLASS.match(value.lower()):
        return value.lower()
    raise ValueError(f"expected a status code (429) or a class (4xx, 5xx), got {value!r}")


class StatusRules:
    """Which failed HTTP statuses are retried: ``retry_on``/``fail_on`` over the defaults.

    A code beats a class, the workflow's lists beat the defaults (retry 5xx, 408, 425 and 429; every
    other status below 200 or from 300 up is final). The same code or class in both lists is an error.
    """

    __slots__ = ("_classes", "_codes")

    def __init__(self, retry_on: Sequence[StatusSpec] = (), fail_on: Sequence[StatusSpec] = ()) -> None:
        retry = [_status_spec(v) for v in retry_on]
        fail = [_status_spec(v) for v in fail_on]
        both = sorted(str(v) for v in set(retry) & set(fail))
        if both:
            raise ValueError(f"{', '.join(both)} is in both retry_on and fail_on")
        self._codes: dict[int, bool] = {v: True for v in retry if isinstance(v, int)}
        self._codes.update({v: False for v in fail if isinstance(v, int)})
        self._classes: dict[str, bool] = {v: True for v in retry if isinstance(v, str)}
        self._classes.update({v: False for v in fail if isinstance(v, str)})

    def retryable(self, status: int) -> bool:
        """Whether another attempt could succeed after a ``status`` answer (not 2xx)."""
        if status in self._codes:
            return self._codes[status]
        cls = f"{status // 100}xx"
        if cls in self._classes:
            return self._classes[cls]
        return status >= 500 or status in _RETRYABLE_4XX


DEFAULT_STATUS_RULES = StatusRules()


def _url_template(url: str) -> tuple[Template, str]:
    """Parse the URL template; placeholders may only follow the authority, so the host stays fixed."""
    template = Template(url)
    head = template.literal_prefix
    parts = urlsplit(head)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("expected an http:// or https:// URL whose host is written out (no placeholder)")
    target = f"{parts.scheme}://{parts.netloc}"
    if template.placeholders and len(head) <= len(target):
        raise ValueError("placeholders may appear only after the host (in the path, query or fragment)")
    return template, target


class HttpAction(StrictModel):
    """An HTTP request per event. Choose at most one of ``json``, ``form`` and ``body``."""

    type: Literal["http"] = "http"
    url: str = Field(description="Template; placeholders only after the host, percent-encoded")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    headers: dict[str, Secret] = Field(default_factory=dict, description="Header templates (secret-safe)")
    secrets: dict[str, Secret] = Field(default_factory=dict, description="Values for {secrets.NAME}")
    json_: Any = Field(default=None, alias="json", description="JSON body; string leaves are templates")
    form: dict[str, str] | None = Field(default=None, description="Form body; values are templates")
    body: str | None = Field(default=None, description="Text body template")
    content_type: str | None = Field(default=None, description="Content-Type for body: (default text/plain)")
    timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    retry_on: list[StatusSpec] = Field(
        default_factory=list, description="Statuses retried (codes like 409 or classes like 4xx) beyond 5xx/408/425/429"
    )
    fail_on: list[StatusSpec] = Field(
        default_factory=list, description="Statuses dead-lettered at once (codes or classes), e.g. [503] for a target"
    )

    @field_validator("retry_on", "fail_on")
    @classmethod
    def _statuses(cls, v: list[StatusSpec]) -> list[StatusSpec]:
        for item in v:
            _status_spec(item)
        return v

    # Templates are parsed at load; a TemplateError is a ValueError, which pydantic reports at its key path.
    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        _url_template(v)
        return v

    @field_validator("headers")
    @classmethod
    def _headers(cls, v: dict[str, Any]) -> dict[str, Any]:
        for name, value in v.items():
            if not _TOKEN.match(name):
                raise ValueError(f"{name!r} is not a valid header name")
            try:
                Template(value.get_secret_value(), reveal=False)
            except TemplateError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return v

    @field_validator("json_")
    @classmethod
    def _json(cls, v: Any) -> Any:
        if v is not None:
            parse_json(v)
        return v

    @field_validator("form", "body")
    @classmethod
    def _texts(cls, v: Any) -> Any:
        if isinstance(v, dict):
            parse_form(v)
        elif v is not None:
            Template(v)
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        kinds = [k for k, v in (("json", self.json_), ("form", self.form), ("body", self.body)) if v is not None]
        if len(kinds) > 1:
            raise ValueError(f"choose one of json, form and body (got {', '.join(kinds)})")
        if self.content_type is not None and self.body is None:
            raise ValueError("content_type applies to body: only (json and form set their own)")
        StatusRules(self.retry_on, self.fail_on)  # the same code or class in both lists
        for placeholder in HttpRequest.parse_all(self):
            if placeholder.scope == "secrets" and placeholder.name not in self.secrets:
                raise ValueError(f"{{{placeholder.expr}}}: no secret named {placeholder.name!r} in secrets")
        return self


class HttpRequest:
    """An :class:`HttpAction` with every template parsed once, ready to render per event."""

    def __init__(self, action: HttpAction) -> None:
        self.action = action
        self.url, self.target = _url_template(action.url)
        self.headers = {k: Template(v.get_secret_value(), reveal=False) for k, v in action.headers.items()}
        self.secrets = {k: v.get_secret_value() for k, v in action.secrets.items()}
        self.json = parse_json(action.json_) if action.json_ is not None else None
        self.form = parse_form(action.form) if action.form is not None else None
        self.body = Template(action.body) if action.body is not None else None
        self.statuses = StatusRules(action.retry_on, action.fail_on) if action.retry_on or action.fail_on else None

    @staticmethod
    def parse_all(action: HttpAction) -> list[Placeholder[Context]]:
        request = HttpRequest(action)
        found = list(request.url.placeholders)
        for t in request.headers.values():
            found.extend(t.placeholders)
        if request.json is not None:
            found.extend(request.json.placeholders)
        if request.form is not None:
            found.extend(request.form.placeholders)
        if request.body is not None:
            found.extend(request.body.placeholders)
        return found

    def build(self, workflow: str, event: Event) -> tuple[str, dict[str, str], bytes]:
        """URL, headers and body for one event; raises :class:`TemplateError` when a value is missing."""
        ctx = Context(event, workflow, self.secrets)
        url = self.url.render(ctx, url_escape)
        headers: dict[str, str] = {}
        if self.json is not None:
            body = self.json.render_bytes(ctx)
            headers["Content-Type"] = "application/json"
        elif self.form is not None:
            body = self.form.render(ctx).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif self.body is not None:
            body = self.body.render(ctx).encode()
            headers["Content-Type"] = self.action.content_type or "text/plain; charset=utf-8"
        else:
            # A GET or DELETE carries the event in its ce-* headers only: a body there is undefined.
            body = event.data if self.action.method not in ("GET", "DELETE") else b""
            headers.update(cloudevents_headers(event.envelope))
        headers["Idempotency-Key"] = idempotency_key(workflow, event.id)
        for name, template in self.headers.items():
            headers[name] = template.render(ctx, header_escape)
        return url, headers, body


def idempotency_key(workflow: str, event_id: str) -> str:
    """Stable per (workflow, event): a target that remembers it can discard a redelivered request."""
    return f"{workflow}:{event_id}"


def cloudevents_headers(event: Envelope) -> dict[str, str]:
    """CloudEvents HTTP binary mode: ``ce-<attribute>`` headers plus ``Content-Type``."""
    headers = {f"ce-{k}": v for k, v in event.attributes().items() if k != "datacontenttype"}
    if event.datacontenttype:
        headers["Content-Type"] = event.datacontenttype
    return headers


_SUCCEEDED: Final = {status: ActionResult(ok=True, status=status) for status in range(200, 300)}


def classify(
    status: int, retry_after: str | None, now: datetime | None = None, rules: StatusRules | None = None
) -> ActionResult:
    """2xx succeeds; by default 5xx, 408, 425 and 429 are worth repeating and anything else cannot succeed
    by repeating; ``rules`` (the action's ``retry_on``/``fail_on``) adjust that. ``now`` is what a
    ``Retry-After`` date is counted from (the current time when None)."""
    if 200 <= status < 300:
        return _SUCCEEDED[status]  # results are immutable: one per status, not one per event
    retryable = (rules or DEFAULT_STATUS_RULES).retryable(status)
    wait = None
    if retryable and retry_after is not None:
        wait = parse_retry_after(retry_after, now if now is not None else datetime.now(UTC))
    return ActionResult(
        ok=False, status=status, error=f"HTTP {status}", retryable=retryable, retry_after=wait, cause="status"
    )


async def run_http(client: HttpClient, workflow: str, request: HttpRequest, event: Envelope) -> ActionResult:
    """One attempt. Template failures are permanent; transport failures and timeouts are retryable."""
    try:
        url, headers, body = request.build(workflow, event_of(event))
    except TemplateError as exc:
        return ActionResult(ok=False, error=f"template: {exc}", retryable=False)
    action = request.action
    try:
        # The rendered URL starts with the target (its authority is fixed at load): send the rest.
        response = await client.request(
            action.method, url[len(request.target) :], headers, body, action.timeout_seconds
        )
    except InvalidRequest as exc:
        return ActionResult(ok=False, error=f"request: {exc}", retryable=False)
    except (HttpClientError, OSError, TimeoutError) as exc:
        return ActionResult(ok=False, error=type(exc).__name__)
    return classify(response.status, response.headers.get("retry-after"), None, request.statuses)
