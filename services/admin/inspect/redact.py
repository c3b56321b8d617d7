"""What the inspector hides before it shows a request: the audit log's header rules, and credential fields
of bodies. Pure.

Headers follow :mod:`hookgate.gateway.audit.record` exactly (:func:`~hookgate.gateway.audit.record.redact_headers`):
credentials, cookies, signatures, ``gateway.audit.redact_headers`` and every header the trigger's verify
preset reads. The gateway already redacted the headers it wrote to the audit topic; the inspector applies
the same rules again, so a record written with a narrower configuration is not shown wider.

Bodies are the sender's event, which the tenant owns, so they are shown; but a field whose name is a
credential (``token``, ``password``, ``client_secret``, ``api_key``, ...) has its value replaced, in JSON
and form bodies. Field names are matched by whole words (``author`` is not ``auth``), since bodies are
full of ordinary names that merely contain such letters. XML and other bodies are shown as they are.
"""

from __future__ import annotations

import base64
import itertools
import re
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson

from hookgate.gateway.audit.record import REDACTED, redact_headers

__all__ = ["REDACTED", "RedactedBody", "redact_body", "redact_request_headers", "verify_header_names"]

# Words that make a field a credential; a field name is split into words at every non-alphanumeric
# character and at camelCase humps ("clientSecret" -> client, secret).
CREDENTIAL_WORDS = frozenset(
    {"auth", "authorization", "token", "secret", "password", "passwd", "signature", "hmac", "cookie", "apikey"}
)
CREDENTIAL_PAIRS = frozenset({("api", "key"), ("private", "key"), ("access", "key"), ("secret", "key")})
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_MAX_DEPTH = 64


def is_credential_field(name: str) -> bool:
    """Whether a body field named ``name`` holds a credential (whole words, see the module docstring)."""
    words = [w.lower() for w in _WORDS.findall(name)]
    if any(w in CREDENTIAL_WORDS for w in words):
        return True
    return any(pair in CREDENTIAL_PAIRS for pair in itertools.pairwise(words))


def redact_request_headers(
    headers: Mapping[str, str], verify_headers: Iterable[str], extra: Iterable[str]
) -> dict[str, str]:
    """The audit log's redaction of request headers, for a trigger whose verify preset reads ``verify_headers``."""
    names = frozenset(h.lower() for h in (*verify_headers, *extra))
    return redact_headers(headers.items(), names)


@dataclass(frozen=True, slots=True)
class RedactedBody:
    """A body as the inspector shows it: text, or base64 when it is not UTF-8."""

    text: str | None
    base64: str | None
    redacted: bool  # some field's value was replaced


def redact_body(raw: bytes, content_type: str | None) -> RedactedBody:
    """``raw`` with the values of credential fields replaced (JSON and form bodies); others as they are."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return RedactedBody(None, base64.b64encode(raw).decode(), False)
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        return _redact_form(text)
    if media == "application/json" or media.endswith("+json") or (not media and text.lstrip()[:1] in ("{", "[")):
        return _redact_json(text)
    return RedactedBody(text, None, False)


def _redact_json(text: str) -> RedactedBody:
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        return RedactedBody(text, None, False)
    cleaned, changed = _redact_value(doc, 0)
    if not changed:
        return RedactedBody(text, None, False)  # byte-exact when nothing was hidden
    return RedactedBody(orjson.dumps(cleaned).decode(), None, True)


def _redact_value(value: Any, depth: int) -> tuple[Any, bool]:
    if depth > _MAX_DEPTH:
        return value, False
    if isinstance(value, dict):
        changed = False
        out: dict[str, Any] = {}
        for key, item in value.items():
            if is_credential_field(key) and item not in (None, "", [], {}):
                out[key] = REDACTED
                changed = True
                continue
            out[key], sub = _redact_value(item, depth + 1)
            changed = changed or sub
        return out, changed
    if isinstance(value, list):
        items = [_redact_value(item, depth + 1) for item in value]
        return [v for v, _ in items], any(c for _, c in items)
    return value, False


def _redact_form(text: str) -> RedactedBody:
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return RedactedBody(text, None, False)
    if not any(is_credential_field(k) and v for k, v in pairs):
        return RedactedBody(text, None, False)
    cleaned = [(k, REDACTED if is_credential_field(k) and v else v) for k, v in pairs]
    return RedactedBody(urlencode(cleaned), None, True)


def verify_header_names(verify: Mapping[str, Any] | None) -> frozenset[str]:
    """The headers a trigger's verify section reads (:meth:`PresetConfig.header_names`), lower case.

    The section comes from the trigger catalog with its secrets removed, so it is not validated: the
    preset's model is constructed without validation, which is enough for the header options and the
    preset's fixed headers. A section that does not even name a known preset gives every value of an
    option called ``header`` or ``*_header``, so a configured credential header is still hidden.
    """
    if not verify:
        return frozenset()
    preset = _preset_class(verify.get("type"))
    if preset is not None:
        try:
            return frozenset(h.lower() for h in preset.model_construct(**dict(verify)).header_names())
        except Exception:  # noqa: S110 - a section the model cannot hold falls back to its header options
            pass
    return frozenset(
        str(v).lower() for k, v in verify.items() if isinstance(v, str) and (k == "header" or k.endswith("_header"))
    )


def _preset_class(name: Any) -> Any:
    from hookgate.gateway.verify.registry import VerifyConfig, canonical_name

    if not isinstance(name, str):
        return None
    wanted = canonical_name(name)
    union = typing.get_args(VerifyConfig)[0]
    for cls in typing.get_args(union):
        field = cls.model_fields.get("type")
        if field is not None and wanted in typing.get_args(field.annotation):
            return cls
    return None
