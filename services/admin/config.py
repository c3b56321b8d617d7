"""``gateway.admin``: the admin API's listener, its tokens and their scopes, optional mTLS.

The admin side is off unless ``gateway.admin`` is set. It listens on a port of its own (never the
webhook port: senders on the internet must not reach it). Callers present a Bearer token; each token
has a name (what the audit trail records, never the token) and a scope: ``admin`` (everything) or
``tenant:<name>`` (only that tenant's triggers and events).

Tokens are listed inline (each ``token`` a secret: literal, ``${ENV}`` or ``file:/path``) and/or in a
tokens file (``tokens_file``, typically a mounted Kubernetes Secret) of the same shape::

    tokens:
      - name: ops
        scope: admin
        token: 3c6f...            # at least 24 characters
      - name: acme-portal
        scope: tenant:acme
        token: file:/run/secrets/acme-token

The file is read when the configuration is loaded; its errors name ``gateway.admin.tokens_file`` and
the key path inside the file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Self

import yaml
from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from hookgate.core.config import ConfigError, Secret, StrictModel, interpolate_env, validation_message
from hookgate.gateway.http.tls import TlsSettings

MIN_TOKEN_LENGTH = 24
_SCOPE = re.compile(r"^(admin|tenant:[a-z0-9][a-z0-9_-]{0,62})$")
_TOKEN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


class AdminListen(StrictModel):
    """Where the admin API listens (a port of its own; 8090 by default, apart from the gateway's 8080 and the
    consumer's 8081, so that all three run on one host as they are)."""

    host: str = "0.0.0.0"
    port: int = Field(default=8090, ge=0, le=65535)


class AdminToken(StrictModel):
    """One Bearer token: its name (recorded in the audit trail), its scope and the token itself."""

    name: str = Field(description="Who holds the token; recorded in the audit trail instead of the token")
    scope: str = Field(description='"admin" (everything) or "tenant:<name>" (only that tenant)')
    token: Secret = Field(description=f"The Bearer token (at least {MIN_TOKEN_LENGTH} characters); ${{ENV}} or file:")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _TOKEN_NAME.match(v):
            raise ValueError("expected letters, digits, '.', '-' or '_' (1-63, starting alphanumeric)")
        return v

    @field_validator("scope")
    @classmethod
    def _scope(cls, v: str) -> str:
        if not _SCOPE.match(v):
            raise ValueError('expected "admin" or "tenant:<tenant name>"')
        return v

    @field_validator("token")
    @classmethod
    def _long(cls, v: Any) -> Any:
        if len(v.get_secret_value()) < MIN_TOKEN_LENGTH:
            raise ValueError(f"a token is at least {MIN_TOKEN_LENGTH} characters (use `hookgate gen-id`)")
        return v

    @property
    def tenant(self) -> str | None:
        """The tenant a ``tenant:`` token is limited to; None for ``admin``."""
        return self.scope.removeprefix("tenant:") if self.scope != "admin" else None


class TokensFile(StrictModel):
    """The tokens file: ``tokens: [...]`` as under ``gateway.admin.tokens``."""

    tokens: list[AdminToken] = Field(default_factory=list)


class AdminSettings(StrictModel):
    """``gateway.admin``: the admin API (trigger management, inspection, replay) on its own listener."""

    listen: AdminListen = Field(default_factory=AdminListen)
    tokens: list[AdminToken] = Field(default_factory=list, description="Bearer tokens and their scopes")
    tokens_file: str | None = Field(
        default=None, description="A YAML file (e.g. a mounted Secret) with more tokens: {tokens: [...]}"
    )
    tls: TlsSettings | None = Field(
        default=None, description="Serve the admin API over TLS; client_ca + require_client_cert for mTLS"
    )
    max_body_bytes: int = Field(default=262_144, ge=1024, le=16 * 1_048_576, description="Largest request body")
    openapi_public: bool = Field(
        default=True, description="Serve /admin/openapi.json without a token (it holds no data)"
    )

    _resolved: list[AdminToken] = PrivateAttr(default_factory=list)

    @model_validator(mode="after")
    def _tokens(self) -> Self:
        everything = [*self.tokens, *(read_tokens_file(self.tokens_file) if self.tokens_file else [])]
        if not everything:
            raise ValueError("tokens: the admin API needs at least one token (tokens or tokens_file)")
        names: set[str] = set()
        values: set[str] = set()
        for t in everything:
            if t.name in names:
                raise ValueError(f"tokens: duplicate token name {t.name!r}")
            value = t.token.get_secret_value()
            if value in values:
                raise ValueError(f"tokens: token {t.name!r} has the same value as another token")
            names.add(t.name)
            values.add(value)
        self._resolved = everything
        return self

    def all_tokens(self) -> list[AdminToken]:
        """The inline tokens, then the tokens file's (read once, when the settings were loaded)."""
        return list(self._resolved)


def read_tokens_file(path: str) -> list[AdminToken]:
    """The tokens of a tokens file; a :class:`ValueError` naming the file and the key path otherwise."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"tokens_file: cannot read {p}: {exc.strerror}") from None
    except yaml.YAMLError:
        raise ValueError(f"tokens_file: {p} is not valid YAML") from None
    if not isinstance(data, dict):
        raise ValueError(f"tokens_file: {p}: expected a mapping with a tokens: list")
    try:
        return TokensFile.model_validate(interpolate_env(data, os.environ)).tokens
    except ConfigError as exc:
        raise ValueError(f"tokens_file: {p}: {exc}") from None
    except ValidationError as exc:
        detail = validation_message(str(p), exc, data).replace("\n", ";")
        raise ValueError(f"tokens_file: {detail}") from None
