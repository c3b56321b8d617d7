"""Templated HTTP actions: placeholders, escaping by position, missing values, secrets, Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from hookgate.consumer.workflows.actions.http import HttpAction, HttpRequest, classify
from hookgate.consumer.workflows.actions.retry_after import parse_retry_after
from hookgate.consumer.workflows.event import Event
from hookgate.consumer.workflows.templating import Context, Template, TemplateError, url_escape
from hookgate.core.config import ConfigError, load_model
from hookgate.core.envelope import Envelope

BODY = {
    "ref": "refs/heads/main",
    "repository": {"full_name": "acme/api", "private": True, "stars": 3},
    "pusher": {"name": 'Zoë "zo" <z@acme.io>'},
    "head_commit": {"message": "fix: a & b\nsecond line"},
}


def event(data: Any = BODY, variables: dict[str, Any] | None = None) -> Event:
    ext = {"tenant": "acme", "trigger": "github"}
    ext["vars"] = orjson.dumps(
        variables if variables is not None else {"ref": "refs/heads/main", "env": "prod"}
    ).decode()
    return Event(
        Envelope(
            id="d-1",
            source="/hookgate/github",
            type="com.github.push",
            data=data if isinstance(data, bytes) else orjson.dumps(data),
            datacontenttype="application/json",
            subject="refs/heads/main",
            time="2026-01-01T00:00:00.000Z",
            extensions=ext,
        )
    )


def action(env: dict[str, str] | None = None, **fields: Any) -> HttpAction:
    return load_model(HttpAction, {"type": "http", **fields}, "<test>", env=env or {})


def build(
    ev: Event | None = None, env: dict[str, str] | None = None, **fields: Any
) -> tuple[str, dict[str, str], bytes]:
    return HttpRequest(action(env, **fields)).build("deploy", ev or event())


class TestTemplate:
    def test_literal_braces_and_placeholders(self) -> None:
        t = Template("{{ {attr.type} }} {workflow}")
        assert t.render(Context(event(), "wf", {})) == "{ com.github.push } wf"

    @pytest.mark.parametrize("text", ["{attr.type", "a } b", "{nope}", "{attr.}", "{data.repository}", "{data.$.[}"])
    def test_parse_errors(self, text: str) -> None:
        with pytest.raises(TemplateError):
            Template(text)

    def test_hidden_template_errors_do_not_echo_text(self) -> None:
        with pytest.raises(TemplateError) as err:
            Template("Bearer s3cr3t{oops}", reveal=False)
        assert "s3cr3t" not in str(err.value)
        assert "oops" not in str(err.value)

    def test_sources(self) -> None:
        ctx = Context(event(), "wf", {"tok": "t0k"})
        render = lambda s: Template(s).render(ctx)  # noqa: E731
        assert render("{attr.id}/{attr.tenant}/{attr.subject}/{attr.trigger}") == "d-1/acme/refs/heads/main/github"
        assert render("{vars.env}") == "prod"
        assert render("{data.$.repository.full_name}") == "acme/api"
        assert render("{data.$.repository.private}") == "true"
        assert render("{secrets.tok}") == "t0k"
        assert orjson.loads(render("{vars}")) == {"ref": "refs/heads/main", "env": "prod"}
        assert orjson.loads(render("{data}")) == BODY

    def test_missing_values_fail_unless_defaulted(self) -> None:
        ctx = Context(event(variables={}), "wf", {})
        with pytest.raises(TemplateError, match=r"\{vars.ref\} has no value"):
            Template("x={vars.ref}").render(ctx)
        with pytest.raises(TemplateError):
            Template("{data.$.nope}").render(ctx)
        with pytest.raises(TemplateError):
            Template("{attr.priority}").render(ctx)
        assert Template("x={vars.ref|default:main}").render(ctx) == "x=main"
        assert Template("{data.$.nope|default:}").render(ctx) == ""

    def test_a_json_string_body_is_not_read_as_a_document(self) -> None:
        ctx = Context(event(data=rb'"{\"a\": \"injected\"}"'), "wf", {})
        assert Template("{data.$.a|default:none}").render(ctx) == "none"
        assert Template("{data}").render(ctx) == '{"a": "injected"}'

    def test_the_gateway_default_form_is_refused_here_too(self) -> None:
        with pytest.raises(TemplateError, match=r"a default is written \{vars.ref\|default:main\}"):
            Template("{vars.ref|main}")

    def test_a_body_too_deep_for_a_path_fails_the_render_not_the_process(self) -> None:
        deep = b'{"a":' * 120 + b'{"id": 1}' + b"}" * 120
        ctx = Context(event(data=deep), "wf", {})
        with pytest.raises(TemplateError, match="cannot search this document"):
            Template("{data.$..id}").render(ctx)
        _, _, body = build(event(data=deep), url="http://h/x", json={"top": "{data.$.a.a.a|default:-}"})
        assert "a" in orjson.loads(body)["top"]  # a shallower path still renders

    def test_a_non_json_body_renders_as_text(self) -> None:
        ctx = Context(event(data=b"plain text"), "wf", {})
        assert Template("{data}").render(ctx) == "plain text"
        with pytest.raises(TemplateError):
            Template("{data.$.a}").render(ctx)


class TestRequests:
    def test_default_is_the_event_byte_exact_with_ce_headers(self) -> None:
        raw = b'{"b": 1,   "a": 2}'
        url, headers, body = build(event(data=raw), url="http://127.0.0.1:9/hook")
        assert body == raw
        assert url == "http://127.0.0.1:9/hook"
        assert headers["ce-id"] == "d-1"
        assert headers["ce-type"] == "com.github.push"
        assert headers["ce-tenant"] == "acme"
        assert headers["Content-Type"] == "application/json"
        assert headers["Idempotency-Key"] == "deploy:d-1"

    def test_a_get_carries_the_event_in_headers_only(self) -> None:
        url, headers, body = build(method="GET", url="http://127.0.0.1:9/status?id={attr.id}")
        assert url == "http://127.0.0.1:9/status?id=d-1"
        assert body == b""
        assert headers["ce-id"] == "d-1"

    def test_url_placeholders_are_percent_encoded(self) -> None:
        ev = event(variables={"ref": "refs/heads/a&b=c d", "env": "../../admin"})
        url, _, _ = build(ev, url="http://ci:8080/job/{vars.env}/buildWithParameters?token=t&REF={vars.ref}")
        parts = urlsplit(url)
        assert parts.netloc == "ci:8080"
        assert parts.path == "/job/..%2F..%2Fadmin/buildWithParameters"
        assert parse_qs(parts.query) == {"token": ["t"], "REF": ["refs/heads/a&b=c d"]}

    def test_placeholders_cannot_choose_the_host(self) -> None:
        for url in ("http://{vars.host}/x", "http://ci{vars.env}/x", "{vars.url}", "ftp://h/{vars.ref}"):
            with pytest.raises(ConfigError, match="  url: "):
                action(url=url)

    def test_jenkins_build_with_parameters(self) -> None:
        url, headers, body = build(
            env={"JENKINS_TOKEN": "tok/en+1"},
            method="POST",
            url="http://jenkins:8080/job/deploy/buildWithParameters?token={secrets.jenkins}&REF={vars.ref}",
            secrets={"jenkins": "${JENKINS_TOKEN}"},
            form={"REPO": "{data.$.repository.full_name}", "MESSAGE": "{data.$.head_commit.message}"},
        )
        assert parse_qs(urlsplit(url).query) == {"token": ["tok/en+1"], "REF": ["refs/heads/main"]}
        assert headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert parse_qs(body.decode()) == {"REPO": ["acme/api"], "MESSAGE": ["fix: a & b\nsecond line"]}

    def test_github_repository_dispatch_keeps_json_types(self) -> None:
        _, headers, body = build(
            url="https://api.github.com/repos/acme/deploys/dispatches",
            headers={"Authorization": "Bearer {secrets.gh}", "Accept": "application/vnd.github+json"},
            secrets={"gh": "ghp_x"},
            json={
                "event_type": "deploy-{vars.env}",
                "client_payload": {
                    "ref": "{vars.ref}",
                    "private": "{data.$.repository.private}",
                    "stars": "{data.$.repository.stars}",
                    "pusher": "{data.$.pusher.name}",
                    "vars": "{vars}",
                    "fixed": 1,
                },
            },
        )
        assert headers["Authorization"] == "Bearer ghp_x"
        assert headers["Content-Type"] == "application/json"
        assert "ce-id" not in headers
        assert orjson.loads(body) == {
            "event_type": "deploy-prod",
            "client_payload": {
                "ref": "refs/heads/main",
                "private": True,
                "stars": 3,
                "pusher": 'Zoë "zo" <z@acme.io>',
                "vars": {"ref": "refs/heads/main", "env": "prod"},
                "fixed": 1,
            },
        }

    def test_slack_text_with_quotes_and_newlines_is_valid_json(self) -> None:
        _, _, body = build(
            url="https://hooks.slack.com/services/T/B/X",
            json={
                "text": "Push to {data.$.repository.full_name} by {data.$.pusher.name}: {data.$.head_commit.message}"
            },
        )
        assert orjson.loads(body) == {"text": 'Push to acme/api by Zoë "zo" <z@acme.io>: fix: a & b\nsecond line'}

    def test_text_body_and_content_type(self) -> None:
        _, headers, body = build(url="http://h/x", body="ref={vars.ref}", content_type="text/x-ref")
        assert body == b"ref=refs/heads/main"
        assert headers["Content-Type"] == "text/x-ref"

    def test_header_values_cannot_inject_lines(self) -> None:
        req = HttpRequest(action(url="http://h/x", headers={"X-Message": "{data.$.head_commit.message}"}))
        with pytest.raises(TemplateError, match="line break"):
            req.build("deploy", event())

    def test_secrets_come_from_env_and_files_and_stay_hidden(self, tmp_path: Any) -> None:
        secret_file = tmp_path / "tok"
        secret_file.write_text("from-file\n")
        act = action(
            env={"CI_TOKEN": "from-env"},
            url="http://h/x",
            headers={"Authorization": "${CI_TOKEN}", "X-Other": "Token {secrets.f}"},
            secrets={"f": f"file:{secret_file}"},
        )
        _, headers, _ = HttpRequest(act).build("deploy", event())
        assert headers["Authorization"] == "from-env"
        assert headers["X-Other"] == "Token from-file"
        assert "from-env" not in repr(act)
        assert "from-file" not in repr(act)

    @pytest.mark.parametrize(
        ("fields", "path", "words"),
        [
            ({"headers": {"Authorization": "Bearer {secrets.nope}"}}, "action", "no secret named 'nope'"),
            ({"json": {"a": 1}, "body": "x"}, "action", "choose one of json, form and body"),
            ({"content_type": "text/plain"}, "action", "content_type applies to body"),
            ({"headers": {"Bad Header": "x"}}, "action.headers", "not a valid header name"),
            ({"json": {"a": ["{attr.}"]}}, "action.json", "$.a[0]"),
            ({"form": {"A": "{bad}"}}, "action.form", "A:"),
            ({"method": "TRACE"}, "action.method", "Input should be"),
        ],
    )
    def test_validation_names_the_key_path(self, fields: dict[str, Any], path: str, words: str) -> None:
        from hookgate.consumer.workflows.subscriptions import WorkflowConfig

        with pytest.raises(ConfigError) as err:
            load_model(WorkflowConfig, {"name": "w", "action": {"url": "http://h/x", **fields}}, "<test>", env={})
        line = next(ln for ln in str(err.value).splitlines() if ln.strip().startswith(path + ":"))
        assert words in line


def test_url_escape_leaves_only_unreserved_characters() -> None:
    assert url_escape("a/b?c=d&e f#g") == "a%2Fb%3Fc%3Dd%26e%20f%23g"
    assert url_escape("A-z_0.9~") == "A-z_0.9~"
    assert url_escape(12) == "12"


class TestRetryAfter:
    NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("120", 120.0),
            (" 0 ", 0.0),
            ("1.5", 1.5),
            ("-3", 0.0),
            (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
            (format_datetime(NOW - timedelta(seconds=90), usegmt=True), 0.0),
            ("Sun, 01 Mar 2026 12:00:30 GMT", 30.0),
            ("Sunday, 01-Mar-26 12:00:30 GMT", 30.0),  # obsolete RFC 850 form
            ("soon", None),
            ("", None),
            (None, None),
            ("nan", None),
        ],
    )
    def test_seconds_and_dates(self, value: str | None, expected: float | None) -> None:
        assert parse_retry_after(value, self.NOW) == expected

    def test_classify(self) -> None:
        assert classify(204, None, self.NOW).ok
        for status in (400, 401, 403, 404, 410, 422):
            r = classify(status, "10", self.NOW)
            assert not r.ok
            assert not r.retryable
            assert r.retry_after is None
        for status in (408, 425, 429, 500, 502, 503):
            r = classify(status, "7", self.NOW)
            assert not r.ok
            assert r.retryable
            assert r.retry_after == 7.0
            assert r.status == status
        assert classify(503, None, self.NOW).retry_after is None
