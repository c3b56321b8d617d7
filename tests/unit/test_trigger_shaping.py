"""Per-trigger body, variable, template, filter and reply settings: validation and compilation."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from hookgate.core.settings import TopicSettings
from hookgate.gateway.config import TriggerConfig
from hookgate.gateway.http.steps import shape_event
from hookgate.gateway.shaping.bodies import BodyKind
from hookgate.gateway.shaping.templates import TemplateValues
from hookgate.gateway.triggers import Trigger, TriggerRegistry

TID = "t" * 24


def trigger_config(**extra: Any) -> TriggerConfig:
    return TriggerConfig.model_validate({"id": TID, "name": "x", "tenant": "acme", "verify": {"type": "none"}, **extra})


def compiled(**extra: Any) -> Trigger:
    trigger = TriggerRegistry([trigger_config(**extra)], TopicSettings(), 1024).get(TID)
    assert trigger is not None
    return trigger


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"key": "{tenant}/{vars.repo}"}, r"key: variable\(s\) \['repo'\] not declared"),
        ({"event": {"type": "a.{vars.action}"}}, r"event.type: variable\(s\) \['action'\] not declared"),
        ({"filter": {"conditions": [{"var": "action", "exists": True}]}}, "not declared"),
        ({"key": "{nope}"}, "unknown placeholder"),
        ({"event": {"subject": "{"}}, "unmatched"),
        ({"variables": {"1bad": {"header": "X"}}}, "variable names"),
        ({"accept_raw": True, "validate_body": True}, "contradict"),
        ({"response": {"status": 404}}, "less than or equal to 299"),
        ({"response": {"body": "x" * 5000}}, "at most 4096 bytes"),
        ({"websub": {"verify_token": "t", "extra": 1}}, "Extra inputs"),
    ],
)
def test_invalid_settings(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        trigger_config(**extra)


def test_existing_key_templates_keep_working() -> None:
    for key in ("{tenant}", "{tenant}-{trigger}", "{id}", "{type}/{subject}", "static"):
        assert trigger_config(key=key).key == key


@pytest.mark.parametrize(
    ("extra", "parsed"),
    [
        ({}, {BodyKind.JSON, BodyKind.XML}),
        ({"validate_body": False}, set()),
        ({"validate_body": True}, {BodyKind.JSON, BodyKind.XML, BodyKind.FORM, BodyKind.MULTIPART, BodyKind.TEXT}),
        ({"accept_raw": True}, set()),
        ({"variables": {"e": {"header": "X-E"}}}, {BodyKind.JSON, BodyKind.XML}),
        (
            {"accept_raw": True, "event": {"type": "t.{$.action}"}},
            {BodyKind.JSON, BodyKind.XML, BodyKind.FORM, BodyKind.MULTIPART, BodyKind.TEXT},
        ),
        (
            {"validate_body": False, "variables": {"f": {"form": "f"}}},
            {BodyKind.JSON, BodyKind.XML, BodyKind.FORM, BodyKind.MULTIPART, BodyKind.TEXT},
        ),
    ],
)
def test_which_bodies_are_parsed(extra: dict[str, Any], parsed: set[BodyKind]) -> None:
    trigger = compiled(**extra)
    assert {k for k in BodyKind if trigger.should_parse(k)} == parsed


def test_replies() -> None:
    assert compiled().reply.status == 202
    assert orjson.loads(compiled().reply.body_for("e1")) == {"id": "e1"}
    text = compiled(response={"status": 200, "body": "OK"}).reply
    assert (text.status, text.body_for("e1"), text.content_type) == (200, b"OK", "text/plain; charset=utf-8")
    js = compiled(response={"body": {"ok": True}}).reply
    assert (js.status, orjson.loads(js.body_for("e1")), js.content_type) == (202, {"ok": True}, "application/json")
    custom = compiled(response={"status": 204, "body": "", "content_type": "text/html"}).reply
    assert (custom.status, custom.body_for("e1"), custom.content_type) == (204, b"", "text/html")


def test_websub_token() -> None:
    assert compiled().websub_token is None
    assert compiled(websub={}).websub_token is None
    assert compiled(websub={"verify_token": "tok"}).websub_token == "tok"


def values(**variables: str) -> TemplateValues:
    return TemplateValues({"tenant": "acme", "trigger": "x", "id": "e1"}, variables)


def test_shape_event_defaults_without_templates() -> None:
    trigger = compiled()
    v = values()
    assert shape_event(trigger, "com.github.push", "s", v) == ("com.github.push", "s")
    assert trigger.key_template.render(v) == "s"  # the default key: the subject the sender names


def test_the_default_key_is_the_subject_else_the_event_id() -> None:
    trigger = compiled()
    v = values()
    shape_event(trigger, "com.github.push", None, v)  # a sender that names no subject (GitHub)
    assert trigger.key_template.render(v) == "e1"
    again = values()  # a redelivery: same delivery id, same key, same partition
    shape_event(trigger, "com.github.push", None, again)
    assert trigger.key_template.render(again) == "e1"
    per_tenant = compiled(key="{tenant}")
    shape_event(per_tenant, "com.github.push", "s", v)
    assert per_tenant.key_template.render(v) == "acme"
    # Any key template that renders empty is the event id, never an empty key (one partition for all).
    empty = compiled(variables={"repo": {"header": "X-R"}}, key="{vars.repo}")
    shape_event(empty, "t", None, v)
    assert empty.key_template.render(v) == "e1"
    assert empty.key_template.render(values(repo="acme/api")) == "acme/api"


def test_shape_event_templates_and_key_see_the_final_values() -> None:
    trigger = compiled(
        variables={"action": {"header": "X-A"}, "repo": {"header": "X-R"}},
        event={"type": "{type}.{vars.action}", "subject": "{vars.repo}"},
        key="{type}|{subject}",
    )
    v = values(action="opened", repo="acme/api")
    assert shape_event(trigger, "com.github.pull_request", None, v) == ("com.github.pull_request.opened", "acme/api")
    assert trigger.key_template.render(v) == "com.github.pull_request.opened|acme/api"


def test_shape_event_empty_render_falls_back() -> None:
    trigger = compiled(variables={"repo": {"header": "X-R"}}, event={"type": "{vars.repo}", "subject": "{vars.repo}"})
    assert shape_event(trigger, "dflt", "sender-subject", values()) == ("dflt", "sender-subject")


@pytest.mark.parametrize(
    ("extra", "path", "words"),
    [
        ({"event": {"type": "a.{vars.action|none}"}}, "triggers[0].event.type", "{vars.action|default:none}"),
        ({"key": "{tenant|x}"}, "triggers[0].key", "a default is written {tenant|default:x}"),
        ({"event": {"subject": "{attr.subject}"}}, "triggers[0].event.subject", "unknown placeholder {attr.subject}"),
        (
            {"filter": {"conditions": [{"var": "a", "regex": "(?<!x)y"}]}},
            "triggers[0].filter.conditions[0].regex",
            "RE2",
        ),
        ({"variables": {"a": {"jsonpath": "$.[["}}}, "triggers[0].variables.a.jsonpath", "not a valid JSONPath"),
    ],
)
def test_template_and_pattern_errors_name_the_key_path(extra: dict[str, Any], path: str, words: str) -> None:
    from hookgate.core.config import ConfigError, load_model
    from hookgate.gateway.config import GatewayConfig

    trigger = {"id": TID, "name": "x", "tenant": "acme", "verify": {"type": "none"}, **extra}
    trigger.setdefault("variables", {"action": {"header": "X-A"}})
    with pytest.raises(ConfigError) as err:
        load_model(GatewayConfig, {"triggers": [trigger]}, "gateway.yaml", env={})
    line = next(ln for ln in str(err.value).splitlines() if ln.strip().startswith(path + ":"))
    assert words in line
