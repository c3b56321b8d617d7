from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from hookgate.core.config import ConfigError, interpolate_env, load_model, load_yaml
from hookgate.gateway.config import ConfigWarning, GatewayConfig
from hookgate.gateway.http.app import create_app

TID = "abcdefghijklmnopqrstuvwxyz012345"


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "gw.yaml"
    p.write_text(text)
    return p


def test_a_valid_config_loads_with_env_and_file_secrets(tmp_path: Path) -> None:
    (tmp_path / "s").write_text("from-file\n")
    cfg = load_yaml(
        GatewayConfig,
        write(
            tmp_path,
            f"""
triggers:
  - id: {TID}
    name: gh
    tenant: acme
    verify: {{type: github, secrets: ["${{GH_SECRET}}", "file:{tmp_path}/s"]}}
""",
        ),
        env={"GH_SECRET": "from-env"},
    )
    secrets = [s.get_secret_value() for s in cfg.triggers[0].verify.secrets]  # type: ignore[union-attr]
    assert secrets == ["from-env", "from-file"]
    assert "from-env" not in repr(cfg)


def test_unknown_key_names_the_file_and_path(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
triggers:
  - id: {TID}
    name: gh
    tenant: acme
    verify: {{type: github, secrets: [x], colour: red}}
""",
    )
    with pytest.raises(ConfigError) as err:
        load_yaml(GatewayConfig, path, env={})
    assert str(path) in str(err.value)
    assert "triggers[0].verify.colour: unknown key" in str(err.value)


def test_short_trigger_id_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "triggers:\n  - {id: short, name: gh, tenant: acme, verify: {type: none}}\n")
    with pytest.raises(ConfigError, match=r"triggers\[0\]\.id: .*128 random bits"):
        load_yaml(GatewayConfig, path, env={})


def test_missing_env_var_is_named(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"triggers:\n  - {{id: {TID}, name: gh, tenant: acme, verify: {{type: github, secrets: ['${{NOPE}}']}}}}\n",
    )
    with pytest.raises(ConfigError, match=r"triggers\[0\]\.verify\.secrets\[0\]: environment variable NOPE"):
        load_yaml(GatewayConfig, path, env={})


def test_secret_values_never_appear_in_errors(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"triggers:\n  - {{id: {TID}, name: gh, tenant: acme, verify: {{type: github, secrets: 'hunter2'}}}}\n",
    )
    with pytest.raises(ConfigError) as err:
        load_yaml(GatewayConfig, path, env={})
    assert "hunter2" not in str(err.value)


def test_duplicate_ids_and_bad_yaml(tmp_path: Path) -> None:
    t = f"{{id: {TID}, name: a, tenant: acme, verify: {{type: none}}}}"
    with pytest.raises(ConfigError, match="duplicate id"):
        load_yaml(GatewayConfig, write(tmp_path, f"triggers: [{t}, {t}]\n"), env={})
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_yaml(GatewayConfig, write(tmp_path, "triggers: [\n"), env={})


# --- error paths are the paths the user wrote -------------------------------------------------


def problems(data: dict[str, object]) -> str:
    with pytest.raises(ConfigError) as err:
        load_model(GatewayConfig, data, "gw.yaml", env={})
    return str(err.value)


def trigger(verify: dict[str, object]) -> dict[str, object]:
    return {"triggers": [{"id": TID, "name": "t", "tenant": "acme", "verify": verify}]}


def test_errors_inside_a_preset_name_the_key_not_the_preset() -> None:
    text = problems(trigger({"type": "sendgrid", "public_keys": ["bm90IGEga2V5"]}))
    assert "triggers[0].verify.public_keys[0]: " in text
    assert "sendgrid" not in text


def test_a_missing_preset_option_is_named_where_it_belongs() -> None:
    text = problems(trigger({"type": "hmac", "secrets": ["s"]}))
    assert "triggers[0].verify.header: Field required" in text


def test_a_preset_level_error_is_reported_at_verify() -> None:
    text = problems(trigger({"type": "standard_webhooks"}))
    assert "triggers[0].verify: " in text
    assert "standard_webhooks" not in text.split("\n", 1)[1]


def test_errors_in_the_second_trigger_keep_their_index() -> None:
    ok = {"id": TID, "name": "a", "tenant": "acme", "verify": {"type": "none"}}
    bad = {"id": TID[::-1], "name": "b", "tenant": "acme", "verify": {"type": "github", "secrets": []}}
    text = problems({"triggers": [ok, bad]})
    assert "triggers[1].verify.secrets: " in text


# --- $${ is a literal ${ ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$${HOME}", "${HOME}"),
        ("pre $${NAME} ${SET} $${", "pre ${NAME} value ${"),
        ("$$ and $", "$$ and $"),
        ("$$${SET}", "$${SET}"),  # leftmost first: a "$" then the escape
    ],
)
def test_double_dollar_brace_is_a_literal(text: str, expected: str) -> None:
    assert interpolate_env({"k": text}, {"SET": "value"}) == {"k": expected}


def test_an_escaped_reference_reaches_the_config_as_text(tmp_path: Path) -> None:
    entry = f"{{id: {TID}, name: t, tenant: acme, verify: {{type: none}}, response: {{body: 'use $${{TOKEN}} here'}}}}"
    cfg = load_yaml(GatewayConfig, write(tmp_path, f"triggers:\n  - {entry}\n"), env={})
    assert cfg.triggers[0].response.body == "use ${TOKEN} here"


# --- tolerance_seconds: null warns at start-up ------------------------------------------------


def test_a_switched_off_replay_window_is_a_start_up_warning() -> None:
    data = {
        "triggers": [
            {"id": TID, "name": "gh", "tenant": "acme", "verify": {"type": "github", "secrets": ["s"]}},
            {
                "id": TID[::-1],
                "name": "pay",
                "tenant": "acme",
                "verify": {"type": "stripe", "secrets": ["s"], "tolerance_seconds": None},
            },
        ]
    }
    cfg = load_model(GatewayConfig, data, "gw.yaml", env={})
    (warning,) = cfg.startup_warnings()
    assert warning == ConfigWarning(
        "replay_window_disabled",
        trigger="pay",
        key="triggers[1].verify.tolerance_seconds",
        message=warning.message,
    )
    assert "replay" in warning.message
    with capture_logs() as logs:
        create_app(cfg)
    (line,) = [entry for entry in logs if entry["event"] == "replay_window_disabled"]
    assert (line["log_level"], line["trigger"], line["key"]) == (
        "warning",
        "pay",
        "triggers[1].verify.tolerance_seconds",
    )
