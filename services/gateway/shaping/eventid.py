"""A trigger's event id source: where the CloudEvents ``id`` comes from when the trigger says.

The id is what the consumers deduplicate on, per workflow. By default it is the sender's delivery id,
found by the verify preset (``X-GitHub-Delivery``), so a sender's retry carries the same id; a sender
without one gets a fresh UUID per request, so its retry of a request that was stored after all (a 503
``kafka_timeout``, see docs/operations.md) runs every workflow again. ``event_id:`` gives such a
trigger an id that a retry repeats:

- a template of the one template language (:class:`~hookgate.gateway.shaping.templates.IdTemplate`):
  ``"{header.Idempotency-Key}"``, ``"{vars.order}"``, ``"{$.event.id}"``, for senders that name each
  delivery somewhere the preset does not read;
- ``content_hash``, or ``{content_hash: {headers: [X-Event-Type]}}``: the SHA-256 (hex) of the trigger
  (its tenant and name), the listed headers and the body, for senders that retry byte-identical bodies
  and name nothing. Two genuinely different events with identical bodies and listed headers collapse
  into one: hash a header that tells them apart, or use a template.

The configured source wins over the sender's delivery id when it gives a value (the trigger asked for
it); when it gives none (the header is absent, a placeholder has no value) the id falls back to the
delivery id, else a fresh one. A template's id is used as rendered when it is 1 to
:data:`MAX_PLAIN_ID` printable ASCII characters, else replaced by its SHA-256 (hex), so a long or
multi-line value still gives a stable id that fits a header (the consumers send ``Idempotency-Key:
<workflow>:<id>``). Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from multidict import MultiMapping
from pydantic import AfterValidator, BeforeValidator, Discriminator, Field, Tag, field_validator

from hookgate.core.config import StrictModel
from hookgate.gateway.shaping.templates import ID_BUILTINS, IdTemplate, TemplateValues

CONTENT_HASH = "content_hash"
MAX_PLAIN_ID = 200
_PLAIN_ID = re.compile(rf"[\x20-\x7e]{{1,{MAX_PLAIN_ID}}}")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")  # an HTTP token (RFC 9110)
_DOMAIN = b"hookgate content_hash v1"  # a version tag: a change of the framing below changes it too


class ContentHashOptions(StrictModel):
    """``content_hash:`` options."""

    headers: list[str] = Field(
        default_factory=list, description="Headers hashed with the trigger and body (e.g. X-Event-Type)"
    )

    @field_validator("headers")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        bad = [name for name in v if not _HEADER_NAME.match(name)]
        if bad:
            raise ValueError(f"not header names: {bad}")
        return list(dict.fromkeys(name.lower() for name in v))


class ContentHashConfig(StrictModel):
    """``event_id: {content_hash: {headers: [...]}}`` (``event_id: content_hash`` is this without headers)."""

    content_hash: ContentHashOptions = Field(default_factory=ContentHashOptions)


def _id_template(text: str) -> str:
    template = IdTemplate(text)  # a TemplateError is a ValueError, reported at the key path
    if all(p.scope in ID_BUILTINS for p in template.placeholders):
        raise ValueError(
            "an event_id template must use a value of the request ({header.X}, {query.X}, {vars.X} or {$...}):"
            " otherwise every event of the trigger gets the same id and the consumers run only the first"
        )
    with_default = [p.expr for p in template.placeholders if p.default]
    if with_default:
        raise ValueError(
            f"an event_id template takes no default text ({with_default}): every request without the value"
            " would get the same id; without a default such requests get the delivery id or a fresh one"
        )
    return text


def _shorthand(value: Any) -> Any:
    return {CONTENT_HASH: {}} if value == CONTENT_HASH else value


def _kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "template"
    return CONTENT_HASH if isinstance(value, Mapping | ContentHashConfig) else None


EventIdConfig = Annotated[
    Annotated[str, AfterValidator(_id_template), Tag("template")] | Annotated[ContentHashConfig, Tag(CONTENT_HASH)],
    Discriminator(
        _kind,
        custom_error_type="event_id",
        custom_error_message="expected a template, content_hash, or {content_hash: {headers: [...]}}",
    ),
    BeforeValidator(_shorthand),
]
"""A trigger's ``event_id``: a template, ``content_hash``, or ``{content_hash: {headers: [...]}}``."""


class EventIdSource(Protocol):
    """Gives one request's event id, or ``None`` to fall back to the delivery id, else a fresh id."""

    @property
    def reads_body(self) -> bool:
        """Whether :meth:`event_id` needs the parsed body."""
        ...

    @property
    def variables(self) -> set[str]:
        """The extracted variables it reads."""
        ...

    def event_id(self, values: TemplateValues, body: bytes) -> str | None:
        """The id for the request whose template values and raw body (as stored) are given."""
        ...


@dataclass(frozen=True, slots=True)
class TemplateId:
    """The id a template renders (long or non-printable ones as their digest)."""

    template: IdTemplate

    @property
    def reads_body(self) -> bool:
        return self.template.reads_body

    @property
    def variables(self) -> set[str]:
        return self.template.variables

    def event_id(self, values: TemplateValues, body: bytes) -> str | None:
        del body
        text = self.template.event_id(values)
        if text is None or _PLAIN_ID.fullmatch(text):
            return text
        return hashlib.sha256(_raw(text)).hexdigest()


@dataclass(frozen=True, slots=True)
class ContentHash:
    """The SHA-256 (hex) of the trigger, the listed headers (every value, in order) and the body."""

    tenant: str
    trigger: str
    headers: tuple[str, ...] = ()

    @property
    def reads_body(self) -> bool:
        return False  # the raw bytes, not the parse

    @property
    def variables(self) -> set[str]:
        return set()

    def event_id(self, values: TemplateValues, body: bytes) -> str:
        digest = hashlib.sha256(_DOMAIN)
        # Every part is length-prefixed, so no two different inputs frame to the same bytes.
        for part in self._parts(values.headers, body):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
        return digest.hexdigest()

    def _parts(self, headers: Mapping[str, str], body: bytes) -> Iterable[bytes]:
        yield self.tenant.encode()
        yield self.trigger.encode()
        for name in self.headers:
            sent = headers.getall(name, []) if isinstance(headers, MultiMapping) else _single(headers.get(name))
            yield name.encode()
            yield str(len(sent)).encode()
            yield from (_raw(value) for value in sent)
        yield body


def build(config: str | ContentHashConfig, tenant: str, trigger: str) -> EventIdSource:
    """The source a trigger's validated ``event_id`` describes."""
    if isinstance(config, str):
        return TemplateId(IdTemplate(config))
    return ContentHash(tenant, trigger, tuple(config.content_hash.headers))


def _single(value: str | None) -> list[str]:
    return [] if value is None else [value]


def _raw(text: str) -> bytes:
    """The bytes of a header value as received (aiohttp keeps undecodable bytes as surrogates)."""
    return text.encode("utf-8", "surrogateescape")
