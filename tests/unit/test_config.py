from __future__ import annotations

from pathlib import Path

import pytest

from hookgate.core.config import ConfigError, load_yaml
from hookgate.gateway.config import GatewayConfig

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
    assert "triggers[0].verify.github.colour: unknown key" in str(err.value)


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
