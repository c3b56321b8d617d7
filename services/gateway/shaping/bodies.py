"""Webhook bodies: what a body's media type says it is, and parsing it once, safely.

Parsing is pure (bytes in, document out) and happens only when something needs the document
(verification reading an event id, extraction, a filter) or the trigger asks for validation, and at
most once per request: :class:`LazyBody` keeps the parse for whichever needs it next. The Kafka
record value is the raw body whatever happens here.

XML is parsed by lxml with the rules defusedxml enforces, applied through lxml's own parser options
(defusedxml's lxml wrapper is deprecated in favour of exactly these options): entities are never
resolved, no DTD and nothing from the network is loaded, and any document type declaration is
refused, which turns billion-laughs and XXE documents into a 400 before anything is expanded or
fetched. Depth is bounded here, size by the trigger's body limit and libxml2's non-huge limits. lxml is
imported with the first XML body, not with this module: a gateway that gets none never loads libxml2.

Charsets are the WHATWG Encoding Standard's labels (:mod:`.charsets`), for every kind of body: any other
``charset`` makes the body invalid, and so does an XML declaration naming another encoding. Nesting is
bounded by one number for JSON and XML alike, :data:`MAX_BODY_DEPTH`, so a document that parses can also
be walked (JSONPath descent) and re-serialized (orjson refuses 255 levels) without hitting a limit.
"""

from __future__ import annotations

import io
import re
import urllib.parse
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from itertools import accumulate
from typing import TYPE_CHECKING, Any

import multipart
import orjson
from multidict import MultiDict, MultiDictProxy, MultiMapping

from hookgate.gateway.shaping.charsets import byte_order_mark, normalize_label, python_codec

if TYPE_CHECKING:
    from lxml import etree

MAX_BODY_DEPTH = 100
"""Nesting deeper than this makes a body invalid: JSON objects and arrays, XML elements (the outermost
counts as 1). The one depth bound of the gateway: python-jsonpath's descent (``$..x``) walks up to 100
levels, orjson serializes up to 254, so whatever parses can be extracted and re-serialized."""
MAX_FORM_FIELDS = 1000
"""More fields than this make a form body invalid."""
SLACK_PAYLOAD_FIELD = "payload"
"""The form field Slack (and others) carry a JSON document in."""

_NO_FIELDS: MultiDictProxy[str] = MultiDictProxy(MultiDict())


class BodyKind(StrEnum):
    """What a body is, by its media type."""

    JSON = "json"
    XML = "xml"
    FORM = "form"
    MULTIPART = "multipart"
    TEXT = "text"
    BINARY = "binary"


class InvalidBody(ValueError):
    """The body does not parse as its media type says; the message is a sentence for the sender."""


@dataclass(frozen=True, slots=True)
class MediaType:
    """A parsed ``Content-Type``: the kind of body plus the parameters parsing needs."""

    kind: BodyKind
    essence: str
    charset: str | None = None
    boundary: str | None = None

    @property
    def accepted(self) -> bool:
        """JSON, XML, forms and text of any kind; of other media only ``application/octet-stream``."""
        return self.kind is not BodyKind.BINARY or self.essence == "application/octet-stream"


@lru_cache(maxsize=256)  # senders repeat a handful of Content-Type values
def media_type(content_type: str) -> MediaType:
    """Classify a ``Content-Type`` value (``+json`` and ``+xml`` suffixes included)."""
    essence, params = multipart.parse_options_header(content_type)
    essence = essence.strip().lower()
    charset = params.get("charset")
    charset = normalize_label(charset) if charset else None
    if essence == "application/json" or essence.endswith("+json"):
        kind = BodyKind.JSON
    elif essence in ("application/xml", "text/xml") or essence.endswith("+xml"):
        kind = BodyKind.XML
    elif essence == "application/x-www-form-urlencoded":
        kind = BodyKind.FORM
    elif essence == "multipart/form-data":
        kind = BodyKind.MULTIPART
    elif essence.startswith("text/"):
        kind = BodyKind.TEXT
    else:
        kind = BodyKind.BINARY
    return MediaType(kind, essence, charset, params.get("boundary"))


@dataclass(slots=True)
class ParsedBody:
    """A parsed body. Only the attributes for its kind are set.

    ``json`` holds the JSON document for JSON bodies, and for forms whose ``payload`` field carries
    JSON (Slack's interactive and slash-command style); ``has_json`` says whether there is one,
    since ``null`` is a valid document.
    """

    kind: BodyKind
    json: Any = None
    has_json: bool = False
    xml: etree._Element | None = None
    form: MultiMapping[str] = field(default_factory=lambda: _NO_FIELDS)  # shared, read-only
    text: str | None = None


def parse_body(body: bytes, media: MediaType, *, max_depth: int = MAX_BODY_DEPTH) -> ParsedBody:
    """Parse ``body`` as ``media`` says; raises :class:`InvalidBody` with a sentence saying why not.

    An empty body parses to an empty document of its kind (nothing to extract, nothing invalid).
    Binary bodies are never parsed. JSON and XML nested deeper than ``max_depth`` are invalid.
    """
    kind = media.kind
    if not body or kind is BodyKind.BINARY:
        return ParsedBody(kind)
    if kind is BodyKind.JSON:
        return ParsedBody(kind, json=_parse_json(body, media.charset, "The body", max_depth), has_json=True)
    if kind is BodyKind.XML:
        return ParsedBody(kind, xml=_parse_xml(body, media.charset, max_depth))
    if kind is BodyKind.FORM:
        return _with_payload(ParsedBody(kind, form=_parse_urlencoded(body, media.charset)), max_depth)
    if kind is BodyKind.MULTIPART:
        return _with_payload(ParsedBody(kind, form=_parse_multipart(body, media)), max_depth)
    return ParsedBody(kind, text=decode_text(body, media.charset))


def codec_for(charset: str | None) -> str:
    """The Python codec for a declared ``charset`` (UTF-8 when none is), or :class:`InvalidBody` when the
    charset is not one of the WHATWG Encoding Standard's labels (see :mod:`.charsets`)."""
    if charset is None:
        return "utf-8"
    codec = python_codec(charset)
    if codec is None:
        raise InvalidBody(f"The declared charset {charset!r} is not known.")
    return codec


def decode_text(body: bytes, charset: str | None, what: str = "The body") -> str:
    """``body`` as text in its declared charset (UTF-8 when none is declared); a byte order mark wins
    over the label, as the WHATWG decode algorithm says."""
    codec = codec_for(charset)
    bom = byte_order_mark(body)
    if bom is not None:
        codec, body = bom[0], body[bom[1] :]
    try:
        return body.decode(codec)
    except UnicodeError as exc:  # stateful codecs may raise UnicodeError itself, not only UnicodeDecodeError
        where = f" (byte {exc.start})" if isinstance(exc, UnicodeDecodeError) else ""
        raise InvalidBody(f"{what} is not valid {charset or 'utf-8'} text{where}.") from None


# A JSON string (escapes included; atomic, so linear), and the translation of the four brackets to
# +1 / -1 as signed bytes: the running sum of what is left is the nesting depth at each bracket.
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_BRACKET_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


def json_depth_exceeds(document: bytes, limit: int) -> bool:
    """Whether valid JSON ``document`` nests objects and arrays deeper than ``limit``.

    Counted on the bytes (strings removed, then brackets only), so no walk of the parsed document in
    Python; a document with no more brackets than ``limit`` is not scanned at all.
    """
    if document.count(b"[") + document.count(b"{") <= limit:
        return False
    steps = _JSON_STRING.sub(b"", document).translate(None, _NOT_BRACKETS).translate(_BRACKET_STEPS)
    return max(accumulate(memoryview(steps).cast("b")), default=0) > limit


def _parse_json(data: bytes | str, charset: str | None, what: str, max_depth: int) -> Any:
    source: bytes | str = data
    # JSON is UTF-8 (RFC 8259); honour another declared charset by decoding first.
    if isinstance(data, bytes) and charset is not None and codec_for(charset) != "utf-8":
        source = decode_text(data, charset, what)
    elif isinstance(data, bytes) and data.startswith(b"\xef\xbb\xbf"):
        source = data[3:]  # RFC 8259 lets parsers ignore a byte order mark; orjson refuses one
    try:
        document = orjson.loads(source)
    except orjson.JSONDecodeError as exc:
        raise InvalidBody(f"{what} is not valid JSON: {exc.msg} at position {exc.pos}.") from None
    raw = source if isinstance(source, bytes) else source.encode("utf-8", "surrogatepass")
    if json_depth_exceeds(raw, max_depth):
        raise InvalidBody(f"{what} nests JSON deeper than {max_depth} levels.")
    return document


def _parse_xml(body: bytes, charset: str | None, max_depth: int) -> etree._Element:
    from lxml import etree

    override: str | None = None
    if charset is not None and codec_for(charset) != "utf-8":
        # libxml2 knows its own set of encodings: decode a declared charset here, with the one table,
        # and hand libxml2 UTF-8 that overrides the XML declaration (the charset parameter wins).
        body = decode_text(body, charset).encode("utf-8", "surrogatepass")
        override = "utf-8"
    depth = 0
    root: etree._Element | None = None
    try:
        events = etree.iterparse(
            io.BytesIO(body),
            events=("start", "end"),
            resolve_entities=False,
            load_dtd=False,
            no_network=True,
            huge_tree=False,
            encoding=override,
        )
        for event, element in events:
            if event == "end":
                depth -= 1
                continue
            if root is None:
                root = element
                if root.getroottree().docinfo.doctype:  # type: ignore[union-attr]  # lxml-stubs lack it
                    raise InvalidBody("XML with a document type declaration (DTD or entities) is not accepted.")
            depth += 1
            if depth > max_depth:
                raise InvalidBody(f"The XML body nests elements deeper than {max_depth} levels.")
    except etree.XMLSyntaxError as exc:
        raise InvalidBody(f"The body is not well-formed XML: {exc.msg}.") from None
    except LookupError:  # pragma: no cover - libxml2 reports unknown declared encodings as syntax errors
        raise InvalidBody("The XML declaration names an unknown encoding.") from None
    if root is None:  # pragma: no cover - lxml raises on a document without a root element
        raise InvalidBody("The body is not well-formed XML: no root element.")
    declared = root.getroottree().docinfo.encoding
    if override is None and declared and python_codec(declared) is None:
        raise InvalidBody(f"The XML declaration's encoding {declared!r} is not known.")
    return root


def _parse_urlencoded(body: bytes, charset: str | None) -> MultiDict[str]:
    codec = codec_for(charset)
    text = decode_text(body, charset)
    # Counted here rather than by parse_qsl's max_num_fields, whose ValueError would be
    # indistinguishable from a decoding error (and was once reported as one).
    if text.count("&") >= MAX_FORM_FIELDS:
        raise InvalidBody(f"The form has more than {MAX_FORM_FIELDS} fields.")
    try:
        # Percent-decoded bytes are decoded strictly: a form that is not valid text is invalid.
        pairs = urllib.parse.parse_qsl(text, keep_blank_values=True, encoding=codec, errors="strict")
    except UnicodeError as exc:
        where = f" (byte {exc.start})" if isinstance(exc, UnicodeDecodeError) else ""
        raise InvalidBody(f"A form field is not valid {charset or 'utf-8'} text{where}.") from None
    return MultiDict(pairs)


def _parse_multipart(body: bytes, media: MediaType) -> MultiDict[str]:
    if not media.boundary:
        raise InvalidBody("The multipart body's Content-Type names no boundary.")
    default = codec_for(media.charset)  # part headers, and fields that declare no charset of their own
    fields: MultiDict[str] = MultiDict()
    parser = multipart.MultipartParser(
        io.BytesIO(body),
        media.boundary,
        content_length=len(body),
        charset=default,
        strict=True,
        part_limit=MAX_FORM_FIELDS,
        spool_limit=len(body) + 1,  # the body is already in memory: never spool parts to disk
        memory_limit=len(body) + 1,
    )
    try:
        for part in parser:
            if part.filename is None:  # file parts stay in the record value; only fields are variables
                fields.add(part.name, _decode_part(part, media.charset))
    except multipart.MultipartError as exc:
        raise InvalidBody(f"The multipart body is malformed: {exc}.") from None
    return fields


def _decode_part(part: multipart.MultipartPart, body_charset: str | None) -> str:
    """A field's text, in the charset its own Content-Type declares, else the body's."""
    _, params = multipart.parse_options_header(part.headers.get("Content-Type", ""))
    declared = params.get("charset")
    if declared is not None and python_codec(declared) is None:
        raise InvalidBody(f"A multipart field declares an unknown charset {declared!r}.")
    return decode_text(part.raw, declared or body_charset, "A multipart field")


def _with_payload(parsed: ParsedBody, max_depth: int) -> ParsedBody:
    """Forms whose ``payload`` field holds a JSON document (Slack) expose it as ``json``."""
    payload = parsed.form.get(SLACK_PAYLOAD_FIELD)
    if payload is not None and payload.lstrip()[:1] in ("{", "["):
        parsed.json = _parse_json(payload, None, f"The form field {SLACK_PAYLOAD_FIELD!r}", max_depth)
        parsed.has_json = True
    return parsed


class LazyBody:
    """A request's body, parsed at most once, by whichever needs it first.

    One instance per request is shared by verification (presets that read the delivery id, type or
    a handshake from the body) and the handler (validation, variables, templates), so a JSON webhook
    costs one parse however many of them read it. A failed parse is kept as well: each caller gets
    the same :class:`InvalidBody`, and decides what it means (verification ignores it, the handler
    answers 400).
    """

    __slots__ = ("_error", "_others", "_parsed", "media", "raw")

    def __init__(self, raw: bytes, media: MediaType) -> None:
        self.raw = raw
        self.media = media
        self._parsed: ParsedBody | None = None
        self._error: InvalidBody | None = None
        self._others: dict[BodyKind, ParsedBody | None] = {}

    def parsed(self) -> ParsedBody:
        """The body parsed as its media type says; raises :class:`InvalidBody` when it does not parse."""
        if self._error is not None:
            raise self._error
        if self._parsed is None:
            try:
                self._parsed = parse_body(self.raw, self.media)
            except InvalidBody as exc:
                self._error = exc
                raise
        return self._parsed

    def as_kind(self, kind: BodyKind) -> ParsedBody | None:
        """The body read as ``kind``, or ``None`` when it does not parse as one.

        When the media type says ``kind`` this is the shared parse. Otherwise the body is read as
        ``kind`` anyway, once (senders label bodies loosely, or not at all, and a preset knows what
        its sender sends); the handler never sees that reading, it parses by the media type.
        """
        if kind is self.media.kind:
            try:
                return self.parsed()
            except InvalidBody:
                return None
        if kind not in self._others:
            try:
                self._others[kind] = parse_body(self.raw, MediaType(kind, kind.value, self.media.charset))
            except InvalidBody:
                self._others[kind] = None
        return self._others[kind]

    def json_object(self) -> dict[str, Any] | None:
        """The body as a JSON object, or ``None`` when it is not one."""
        if self.media.kind is not BodyKind.JSON and self.raw.lstrip()[:1] != b"{":
            return None  # not labelled JSON and does not look like an object: no parse at all
        parsed = self.as_kind(BodyKind.JSON)
        document = parsed.json if parsed is not None and parsed.has_json else None
        return document if isinstance(document, dict) else None
