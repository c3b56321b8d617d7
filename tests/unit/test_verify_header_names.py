"""Every preset declares each request header its verifier reads (``PresetConfig.header_names``).

The audit record redacts those headers whatever they are called, so a miss here would log a credential.
The headers a verifier reads are observed, not listed by hand: each request of the negative-case table
(genuine, and with the credential missing, repeated, truncated or flipped) and a few more with every
option of the presets that have options runs against a header mapping that records each name looked
up; the preset's declaration must hold all of them.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from multidict import CIMultiDict, MultiDict, MultiDictProxy

from hookgate.gateway.shaping.bodies import LazyBody, media_type
from hookgate.gateway.verify.base import WebhookRequest
from hookgate.gateway.verify.registry import VerifyConfig
from tests.unit.test_verify_negative import (
    ADAPTER,
    CASES,
    JSON_BODY,
    NOW,
    SECRET,
    Case,
    Signed,
    credential,
    flip_char,
    hexmac,
    with_credential,
)


class RecordingHeaders(CIMultiDict[str]):
    """Request headers that remember every name a verifier asks for (lower case)."""

    read: set[str]

    def __init__(self, items: list[tuple[str, str]]) -> None:
        super().__init__(items)
        self.read = set()

    def getall(self, key: str, *default: Any) -> Any:  # type: ignore[override]
        self.read.add(key.lower())
        return super().getall(key, *default)

    def getone(self, key: str, *default: Any) -> Any:  # type: ignore[override]
        self.read.add(key.lower())
        return super().getone(key, *default)

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.read.add(key.lower())
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.read.add(key.lower())
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.read.add(key.lower())
        return super().__contains__(key)

    def __iter__(self) -> Iterator[str]:
        self.read.add("*")  # a verifier that walks every header could not declare what it reads
        return super().__iter__()

    def items(self) -> Any:  # type: ignore[override]
        self.read.add("*")
        return super().items()


def headers_read(config: dict[str, Any], signed: Signed) -> set[str]:
    """The header names the preset's verifier looked up while verifying ``signed``."""
    verifier = ADAPTER.validate_python(config).build()
    content_type = "application/json" if signed.body.startswith(b"{") else "application/x-www-form-urlencoded"
    headers = RecordingHeaders(signed.headers)
    query = MultiDictProxy(MultiDict(parse_qsl(urlsplit(signed.url).query, keep_blank_values=True)))
    shared = LazyBody(signed.body, media_type(content_type))  # as the handler passes it: no Content-Type lookup
    verifier.verify(WebhookRequest("POST", signed.url, headers, signed.body, query, now=NOW, shared_body=shared))
    return headers.read


def variants(case: Case) -> list[Signed]:
    """The genuine request and its tamperings from the negative table: each takes a different path."""
    signed = case.sign(SECRET, NOW)
    value = credential(case, signed)
    return [
        signed,
        with_credential(case, signed, []),
        with_credential(case, signed, [value, value]),
        with_credential(case, signed, [value[:-8]]),
        with_credential(case, signed, [flip_char(value, len(value) - 6)]),
    ]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_header_a_preset_reads_is_declared(case: Case) -> None:
    config = case.config(SECRET)
    declared = ADAPTER.validate_python(config).header_names()
    read = set().union(*(headers_read(config, signed) for signed in variants(case)))
    assert read <= declared, f"{case.name} reads {sorted(read - declared)} without declaring them"
    if not case.credential.startswith("?"):  # a header credential is redacted: it is among the declared
        assert case.credential.lower() in declared


GENERIC_HMAC = {
    "type": "hmac",
    "secrets": [SECRET],
    "header": "X-Sig",
    "template": "{id}.{timestamp}.{body}",
    "timestamp_header": "X-Sig-Time",
    "id_header": "X-Sig-Id",
    "type_header": "X-Sig-Kind",
    "type_prefix": "com.acme",
}

# Options the table does not exercise, each with a request that reaches the code reading its headers.
OPTIONS: list[tuple[str, dict[str, Any], Signed, set[str]]] = [
    (
        "hmac with every header option",
        GENERIC_HMAC,
        Signed(
            [
                ("X-Sig-Id", "d-1"),
                ("X-Sig-Time", str(NOW)),
                ("X-Sig-Kind", "order.paid"),
                ("X-Sig", hexmac(SECRET, f"d-1.{NOW}.".encode() + JSON_BODY)),
            ]
        ),
        {"x-sig", "x-sig-time", "x-sig-id", "x-sig-kind"},
    ),
    (
        "github with allow_sha1, legacy header only",
        {"type": "github", "secrets": [SECRET], "allow_sha1": True},
        Signed([("X-Hub-Signature", "sha1=" + hexmac(SECRET, JSON_BODY, "sha1"))]),
        {"x-hub-signature", "x-hub-signature-256", "x-github-delivery", "x-github-event"},
    ),
    (
        "header_token on a header of the trigger's choosing",
        {"type": "header_token", "header": "X-Relay-Key", "tokens": [SECRET]},
        Signed([("X-Relay-Key", SECRET)]),
        {"x-relay-key"},
    ),
]


@pytest.mark.parametrize(("config", "signed", "expected"), [o[1:] for o in OPTIONS], ids=[o[0] for o in OPTIONS])
def test_configured_header_names_are_declared(config: dict[str, Any], signed: Signed, expected: set[str]) -> None:
    declared = ADAPTER.validate_python(config).header_names()
    read = headers_read(config, signed)
    assert expected <= read  # the request did reach every header the option names
    assert read <= declared


def preset_types() -> set[str]:
    """Every ``type`` the ``verify`` union accepts."""
    union = typing.get_args(VerifyConfig)[0]
    names: set[str] = set()
    for model in typing.get_args(union):
        names.update(typing.get_args(model.model_fields["type"].annotation))
    return names


def test_the_table_covers_every_preset() -> None:
    covered = {ADAPTER.validate_python(c.config(SECRET)).type for c in CASES}
    assert covered == preset_types() - {"none"}
    assert ADAPTER.validate_python({"type": "none"}).header_names() == frozenset()
