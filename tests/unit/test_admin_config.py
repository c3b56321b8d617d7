"""``gateway.admin``: off by default, tokens inline or from a file, errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from hookgate.core.config import ConfigError, load_model, load_yaml
from hookgate.gateway.config import GatewayConfig

TOKEN = "t" * 32


def gateway(admin: object, **gateway: object) -> GatewayConfig:
    return load_model(GatewayConfig, {"gateway": {"admin": admin, **gateway}}, "<test>", env={})


def test_off_by_default() -> None:
    assert load_model(GatewayConfig, {}, "<test>", env={}).gateway.admin is None


def test_inline_tokens_and_env() -> None:
    cfg = load_model(
        GatewayConfig,
        {"gateway": {"admin": {"tokens": [{"name": "ops", "scope": "admin", "token": "${ADMIN_TOKEN}"}]}}},
        "<test>",
        env={"ADMIN_TOKEN": TOKEN},
    )
    admin = cfg.gateway.admin
    assert admin is not None
    assert admin.listen.port == 8090
    [token] = admin.all_tokens()
    assert token.token.get_secret_value() == TOKEN
    assert TOKEN not in repr(admin)


def test_tokens_file(tmp_path: Path) -> None:
    secret = tmp_path / "acme"
    secret.write_text("s" * 30 + "\n")
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(
        f"tokens:\n  - {{name: ops, scope: admin, token: {TOKEN}}}\n"
        f"  - {{name: acme-portal, scope: 'tenant:acme', token: 'file:{secret}'}}\n"
    )
    admin = gateway({"tokens_file": str(tokens)}).gateway.admin
    assert admin is not None
    got = {t.name: (t.scope, t.token.get_secret_value()) for t in admin.all_tokens()}
    assert got == {"ops": ("admin", TOKEN), "acme-portal": ("tenant:acme", "s" * 30)}
    assert admin.all_tokens()[1].tenant == "acme"


@pytest.mark.parametrize(
    ("admin", "expected"),
    [
        ({}, "gateway.admin: Value error, tokens: the admin API needs at least one token"),
        ({"tokens": [{"name": "ops", "scope": "root", "token": TOKEN}]}, "gateway.admin.tokens[0].scope"),
        ({"tokens": [{"name": "ops", "scope": "tenant:Acme!", "token": TOKEN}]}, "gateway.admin.tokens[0].scope"),
        ({"tokens": [{"name": "ops", "scope": "admin", "token": "short"}]}, "gateway.admin.tokens[0].token"),
        ({"tokens": [{"name": "ops", "scope": "admin", "token": TOKEN, "x": 1}]}, "gateway.admin.tokens[0].x"),
        (
            {
                "tokens": [
                    {"name": "a", "scope": "admin", "token": TOKEN},
                    {"name": "a", "scope": "admin", "token": "u" * 30},
                ]
            },
            "duplicate token name",
        ),
        (
            {
                "tokens": [
                    {"name": "a", "scope": "admin", "token": TOKEN},
                    {"name": "b", "scope": "admin", "token": TOKEN},
                ]
            },
            "same value as another token",
        ),
        ({"tokens_file": "/nonexistent/tokens.yaml"}, "tokens_file: cannot read /nonexistent/tokens.yaml"),
    ],
)
def test_errors_name_the_key(admin: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        gateway(admin)
    assert expected in str(err.value)
    assert TOKEN not in str(err.value)


def test_bad_tokens_file_names_the_key_inside(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text("tokens:\n  - {name: ops, scope: admin}\n")
    with pytest.raises(ConfigError) as err:
        gateway({"tokens_file": str(tokens)})
    assert "tokens_file" in str(err.value)
    assert "tokens[0].token" in str(err.value)


def test_admin_port_apart_from_the_webhook_port() -> None:
    with pytest.raises(ConfigError, match=r"admin\.listen\.port"):
        gateway({"listen": {"port": 8080}, "tokens": [{"name": "ops", "scope": "admin", "token": TOKEN}]})


def test_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        "gateway:\n  admin:\n    listen: {port: 9000}\n"
        f"    tokens:\n      - {{name: ops, scope: admin, token: {TOKEN}}}\n"
    )
    admin = load_yaml(GatewayConfig, path, env={}).gateway.admin
    assert admin is not None
    assert admin.listen.port == 9000
