"""Admin tokens: Bearer parsing, lookup, scopes."""

from __future__ import annotations

import pytest

from hookgate.admin.auth import Principal, TokenTable, bearer_token
from hookgate.admin.config import AdminToken

OPS = "o" * 30
ACME = "a" * 30


def table() -> TokenTable:
    return TokenTable(
        [
            AdminToken.model_validate({"name": "ops", "scope": "admin", "token": OPS}),
            AdminToken.model_validate({"name": "acme-portal", "scope": "tenant:acme", "token": ACME}),
        ]
    )


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"Bearer {OPS}", "ops"),
        (f"bearer   {ACME}  ", "acme-portal"),
        (None, None),
        ("", None),
        ("Bearer", None),
        ("Bearer ", None),
        (f"Basic {OPS}", None),
        (f"Bearer {OPS}x", None),
        (f"Bearer {OPS[:-1]}", None),
        ("Bearer \udcff\udcfe", None),
    ],
)
def test_authenticate(header: str | None, expected: str | None) -> None:
    principal = table().authenticate(header)
    assert (principal.name if principal else None) == expected


def test_scopes() -> None:
    ops = table().authenticate(f"Bearer {OPS}")
    acme = table().authenticate(f"Bearer {ACME}")
    assert ops == Principal("ops", "admin")
    assert ops.is_admin
    assert ops.tenant is None
    assert ops.sees("anyone")
    assert acme is not None
    assert not acme.is_admin
    assert acme.tenant == "acme"
    assert acme.sees("acme")
    assert not acme.sees("globex")
    assert not acme.sees(None)


def test_bearer_token() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("Token abc") is None
