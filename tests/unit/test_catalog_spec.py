"""Runtime trigger specs: the YAML model's errors with their field paths, secret fields, generated values."""

from __future__ import annotations

from typing import Any

import pytest

from hookgate.gateway.catalog.model import InvalidTrigger
from hookgate.gateway.catalog.spec import (
    RuntimeRules,
    generated_secret_field,
    new_secret,
    new_trigger_id,
    secret_fields,
    validate,
    without,
)
from hookgate.gateway.config import TRIGGER_ID


def spec(**extra: Any) -> dict[str, Any]:
    return {
        "id": new_trigger_id(),
        "name": "gh",
        "tenant": "acme",
        "verify": {"type": "github", "secrets": ["s"]},
        **extra,
    }


def errors_of(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidTrigger) as caught:
        validate(data)
    return {e.path: e.message for e in caught.value.errors}


def test_errors_name_the_field_as_the_user_wrote_it() -> None:
    errors = errors_of(spec(verify={"type": "github"}, nmae="x"))
    assert "verify.secrets" in errors  # not verify.github.secrets: the union tag is no key
    assert errors["nmae"] == "unknown key"
    assert "name" in errors_of({"id": new_trigger_id(), "tenant": "acme", "verify": {"type": "none"}})
    assert "id" in errors_of(spec(id="short"))
    assert "key" in errors_of(spec(key="{vars.missing"))


def test_nothing_is_interpolated_and_file_references_are_refused(tmp_path: Any) -> None:
    secret_file = tmp_path / "s"
    secret_file.write_text("from-a-file")
    errors = errors_of(spec(verify={"type": "github", "secrets": [f"file:{secret_file}"]}))
    assert list(errors) == ["verify.secrets"]
    assert "file:" in errors["verify.secrets"]
    config = validate(spec(verify={"type": "github", "secrets": ["${HOME}"]}))
    assert config.verify.secrets[0].get_secret_value() == "${HOME}"  # type: ignore[union-attr]
    # A non-secret text starting with file: is no reference and stays valid.
    assert validate(spec(source="file:/not/read")).source == "file:/not/read"


def test_secret_fields_are_found_from_the_model() -> None:
    data = spec(websub={"verify_token": "tok"})
    config = validate(data)
    paths = secret_fields(config, data)
    assert paths == [("verify", "secrets"), ("websub", "verify_token")]
    public = without(data, paths)
    assert public["verify"] == {"type": "github"}
    assert public["websub"] == {}
    assert data["verify"]["secrets"] == ["s"]  # a copy: the spec itself is untouched
    tokens = {"id": new_trigger_id(), "name": "t", "tenant": "a", "verify": {"type": "bearer", "tokens": ["x"]}}
    assert secret_fields(validate(tokens), tokens) == [("verify", "tokens")]
    credentials = [{"username": "u", "password": "p"}, {"username": "v", "password": "q"}]
    basic = {
        "id": new_trigger_id(),
        "name": "b",
        "tenant": "a",
        "verify": {"type": "basic", "credentials": credentials},
    }
    paths = secret_fields(validate(basic), basic)
    assert paths == [("verify", "credentials", 0, "password"), ("verify", "credentials", 1, "password")]
    assert without(basic, paths)["verify"]["credentials"] == [{"username": "u"}, {"username": "v"}]


@pytest.mark.parametrize(
    ("verify", "field"),
    [
        ({"type": "github"}, "secrets"),
        ({"type": "stripe"}, "secrets"),
        ({"type": "standard-webhooks"}, "secrets"),
        ({"type": "bearer"}, "tokens"),
        ({"type": "query_token", "param": "t"}, "tokens"),
        ({"type": "github", "secrets": ["given"]}, None),
        ({"type": "none"}, None),
        ({"type": "basic", "credentials": [{"username": "u", "password": "p"}]}, None),
    ],
)
def test_generated_secret_field(verify: dict[str, Any], field: str | None) -> None:
    assert generated_secret_field({"verify": verify}) == field


@pytest.mark.parametrize("preset", ["github", "stripe", "standard_webhooks", "svix", "bearer", "hmac"])
def test_generated_secrets_validate_for_their_preset(preset: str) -> None:
    verify: dict[str, Any] = {"type": preset}
    field = generated_secret_field({"verify": verify}) or "secrets"
    if preset == "hmac":
        verify.update(header="X-Sig")
    verify[field] = [new_secret(preset)]
    validate(spec(verify=verify))


def test_generated_ids_are_valid_trigger_ids() -> None:
    ids = {new_trigger_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(TRIGGER_ID.match(i) for i in ids)


def test_runtime_rules_refuse_internal_topics_and_certificates_without_mtls() -> None:
    rules = RuntimeRules("hookgate._")
    assert rules.problems(validate(spec(topic="hookgate.acme-extra"))) == []
    errors = rules.problems(validate(spec(topic="hookgate._triggers", client_cert_subjects=["sender.example"])))
    assert [e.path for e in errors] == ["topic", "client_cert_subjects"]
    with pytest.raises(InvalidTrigger):
        rules.check(validate(spec(topic="hookgate._audit")))
    assert RuntimeRules("hookgate._", client_ca=True).problems(validate(spec(client_cert_subjects=["x"]))) == []


def test_generated_trigger_ids_never_start_like_a_command_line_option() -> None:
    from hookgate.gateway.catalog.spec import new_trigger_id
    from hookgate.gateway.config import TRIGGER_ID

    ids = [new_trigger_id() for _ in range(3000)]  # about 94 would start with '-' or '_' if nothing prevented it
    assert all(i[0].isalnum() for i in ids)
    assert all(TRIGGER_ID.match(i) for i in ids)
    assert len(set(ids)) == len(ids)
