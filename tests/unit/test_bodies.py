"""Body parsing: every media type, charsets (the WHATWG labels only), the depth bound, and malicious XML."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

import orjson
import pytest
from multidict import CIMultiDict
from pydantic import TypeAdapter

from hookgate.gateway.shaping import bodies
from hookgate.gateway.shaping.bodies import (
    MAX_BODY_DEPTH,
    MAX_FORM_FIELDS,
    BodyKind,
    InvalidBody,
    LazyBody,
    MediaType,
    ParsedBody,
    json_depth_exceeds,
    media_type,
    parse_body,
)
from hookgate.gateway.shaping.charsets import CODECS, REFUSED_LABELS, python_codec
from hookgate.gateway.verify.base import WebhookRequest
from hookgate.gateway.verify.registry import VerifyConfig


def parse(body: bytes, content_type: str, **kw: int) -> ParsedBody:
    return parse_body(body, media_type(content_type), **kw)


@pytest.mark.parametrize(
    ("content_type", "kind"),
    [
        ("application/json", BodyKind.JSON),
        ("application/cloudevents+json; charset=utf-8", BodyKind.JSON),
        ("Application/JSON", BodyKind.JSON),
        ("application/xml", BodyKind.XML),
        ("text/xml; charset=iso-8859-1", BodyKind.XML),
        ("application/atom+xml", BodyKind.XML),
        ("application/x-www-form-urlencoded", BodyKind.FORM),
        ("multipart/form-data; boundary=x", BodyKind.MULTIPART),
        ("text/plain", BodyKind.TEXT),
        ("text/csv", BodyKind.TEXT),
        ("application/octet-stream", BodyKind.BINARY),
        ("", BodyKind.BINARY),
    ],
)
def test_media_type_kinds(content_type: str, kind: BodyKind) -> None:
    assert media_type(content_type).kind is kind


def test_media_type_parameters() -> None:
    mt = media_type('multipart/form-data; boundary="a b"; charset=UTF-8')
    assert (mt.essence, mt.boundary, mt.charset) == ("multipart/form-data", "a b", "utf-8")


# JSON


def test_json_document() -> None:
    parsed = parse(b'{"action": "opened", "n": [1, 2]}', "application/json")
    assert parsed.has_json
    assert parsed.json == {"action": "opened", "n": [1, 2]}


def test_json_null_is_a_document() -> None:
    parsed = parse(b"null", "application/json")
    assert parsed.has_json
    assert parsed.json is None


@pytest.mark.parametrize("body", [b'{"a": 1', b"{'a': 1}", b"[1,]", b"\xff\xfe{}", b'{"a": "\xc3"}'])
def test_invalid_json(body: bytes) -> None:
    with pytest.raises(InvalidBody, match="not valid JSON"):
        parse(body, "application/json")


def test_json_in_declared_charset() -> None:
    parsed = parse('{"name": "café"}'.encode("latin-1"), "application/json; charset=ISO-8859-1")
    assert parsed.json == {"name": "café"}
    parsed = parse('{"name": "café"}'.encode("utf-16"), "application/json; charset=utf-16")
    assert parsed.json == {"name": "café"}


def test_json_byte_order_mark_is_ignored() -> None:
    assert parse(b'\xef\xbb\xbf{"a": 1}', "application/json").json == {"a": 1}


def test_unknown_charset() -> None:
    with pytest.raises(InvalidBody, match="charset 'x-nope' is not known"):
        parse(b"{}", "application/json; charset=x-nope")


def test_empty_body_is_not_invalid() -> None:
    parsed = parse(b"", "application/json")
    assert parsed.kind is BodyKind.JSON
    assert not parsed.has_json


# XML


def test_xml_document() -> None:
    parsed = parse(b'<?xml version="1.0"?><order id="7"><item>t\xc3\xa9</item></order>', "application/xml")
    assert parsed.xml is not None
    assert parsed.xml.tag == "order"
    assert parsed.xml.get("id") == "7"
    assert parsed.xml[0].text == "té"


def test_xml_in_declared_charset() -> None:
    parsed = parse("<a>café</a>".encode("latin-1"), "text/xml; charset=iso-8859-1")
    assert parsed.xml is not None
    assert parsed.xml.text == "café"


def test_xml_declaration_encoding_honoured() -> None:
    parsed = parse('<?xml version="1.0" encoding="ISO-8859-1"?><a>café</a>'.encode("latin-1"), "application/xml")
    assert parsed.xml is not None
    assert parsed.xml.text == "café"


@pytest.mark.parametrize(
    "body",
    [b"<a><b></a>", b"<a>", b"not xml", b"<a>&undefined;</a>", b"<a>\xff</a>", b"<a/><b/>"],
)
def test_malformed_xml(body: bytes) -> None:
    with pytest.raises(InvalidBody, match="not well-formed XML"):
        parse(body, "application/xml")


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz>&lol9;</lolz>"""

QUADRATIC_BLOWUP = (
    b'<?xml version="1.0"?><!DOCTYPE b [<!ENTITY a "' + b"x" * 10_000 + b'">]><b>' + b"&a;" * 1000 + b"</b>"
)


@pytest.mark.parametrize("body", [BILLION_LAUGHS, QUADRATIC_BLOWUP])
def test_entity_expansion_is_refused(body: bytes) -> None:
    with pytest.raises(InvalidBody, match="document type declaration"):
        parse(body, "application/xml")


def test_xxe_file_entity_is_refused_and_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    body = f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]><r>&x;</r>'.encode()
    with pytest.raises(InvalidBody, match="document type declaration") as info:
        parse(body, "application/xml")
    assert "TOP-SECRET" not in str(info.value)


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]><r>&x;</r>',
        b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:9/r.dtd"><r/>',
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]><r/>',
        b"<!DOCTYPE r><r/>",
    ],
)
def test_external_references_and_any_dtd_are_refused(body: bytes) -> None:
    with pytest.raises(InvalidBody):
        parse(body, "application/xml")


def test_xml_depth_is_bounded() -> None:
    ok = b"<a>" * 10 + b"</a>" * 10
    assert parse(ok, "application/xml", max_depth=10).xml is not None
    deep = b"<a>" * 11 + b"</a>" * 11
    with pytest.raises(InvalidBody, match="deeper than 10 levels"):
        parse(deep, "application/xml", max_depth=10)
    with pytest.raises(InvalidBody):
        parse(b"<a>" * 5000 + b"</a>" * 5000, "application/xml")


def test_oversized_xml_text_node_is_refused() -> None:
    # libxml2's non-huge limit on a single text node is 10 MB; the gateway never asks for huge trees.
    body = b"<a>" + b"x" * (10_000_000 + 1) + b"</a>"
    with pytest.raises(InvalidBody):
        parse(body, "application/xml")


# forms


def test_urlencoded_form() -> None:
    parsed = parse(b"a=1&b=caf%C3%A9&b=two&empty=&plus=x+y", "application/x-www-form-urlencoded")
    assert parsed.form.get("a") == "1"
    assert parsed.form.getall("b") == ["café", "two"]
    assert parsed.form.get("empty") == ""
    assert parsed.form.get("plus") == "x y"
    assert not parsed.has_json


def test_urlencoded_form_in_declared_charset() -> None:
    parsed = parse(b"name=caf%E9", "application/x-www-form-urlencoded; charset=iso-8859-1")
    assert parsed.form.get("name") == "café"


def test_urlencoded_form_not_utf8() -> None:
    with pytest.raises(InvalidBody, match="not valid utf-8"):
        parse(b"name=caf%E9", "application/x-www-form-urlencoded")


def test_urlencoded_form_field_count_is_bounded() -> None:
    body = "&".join(f"f{i}=1" for i in range(MAX_FORM_FIELDS + 1)).encode()
    with pytest.raises(InvalidBody, match="more than"):
        parse(body, "application/x-www-form-urlencoded")


def test_slack_payload_field_is_json() -> None:
    body = b"payload=%7B%22type%22%3A%22block_actions%22%2C%22user%22%3A%7B%22id%22%3A%22U1%22%7D%7D"
    parsed = parse(body, "application/x-www-form-urlencoded")
    assert parsed.has_json
    assert parsed.json == {"type": "block_actions", "user": {"id": "U1"}}


def test_slack_payload_field_invalid_json() -> None:
    with pytest.raises(InvalidBody, match="'payload' is not valid JSON"):
        parse(b"payload=%7Bnope", "application/x-www-form-urlencoded")


def test_payload_field_that_is_not_json_is_just_a_field() -> None:
    parsed = parse(b"payload=hello", "application/x-www-form-urlencoded")
    assert not parsed.has_json
    assert parsed.form.get("payload") == "hello"


MULTIPART = (
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="title"\r\n\r\n'
    b"caf\xc3\xa9\r\n"
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="upload"; filename="a.bin"\r\n'
    b"Content-Type: application/octet-stream\r\n\r\n"
    b"\x00\xff\x01\r\n"
    b"--XyZ--\r\n"
)


def test_multipart_fields() -> None:
    parsed = parse(MULTIPART, "multipart/form-data; boundary=XyZ")
    assert parsed.form.get("title") == "café"
    assert "upload" not in parsed.form  # file parts are not variables


def test_multipart_without_boundary() -> None:
    with pytest.raises(InvalidBody, match="no boundary"):
        parse(MULTIPART, "multipart/form-data")


@pytest.mark.parametrize("body", [b"garbage", MULTIPART[:-12], MULTIPART.replace(b"caf\xc3\xa9", b"caf\xc3")])
def test_malformed_multipart(body: bytes) -> None:
    with pytest.raises(InvalidBody):
        parse(body, "multipart/form-data; boundary=XyZ")


# text and binary


def test_text_default_utf8_and_declared_charset() -> None:
    assert parse("naïve".encode(), "text/plain").text == "naïve"
    assert parse("naïve".encode("cp1252"), "text/plain; charset=windows-1252").text == "naïve"


def test_text_not_in_its_charset() -> None:
    with pytest.raises(InvalidBody, match="not valid utf-8 text"):
        parse(b"caf\xe9", "text/plain")


def test_binary_is_never_parsed() -> None:
    parsed = parse(b"\x00\xff\xfe garbage", "application/octet-stream")
    assert parsed.kind is BodyKind.BINARY
    assert (parsed.has_json, parsed.xml, parsed.text, len(parsed.form)) == (False, None, None, 0)


@pytest.mark.parametrize(
    ("content_type", "accepted"),
    [
        ("application/json", True),
        ("application/cloudevents+json; charset=utf-8", True),
        ("application/atom+xml", True),
        ("text/xml", True),
        ("application/x-www-form-urlencoded", True),
        ("multipart/form-data; boundary=x", True),
        ("text/csv", True),
        ("application/octet-stream", True),
        ("image/png", False),
        ("application/pdf", False),
    ],
)
def test_which_media_types_the_gateway_accepts(content_type: str, accepted: bool) -> None:
    assert media_type(content_type).accepted is accepted


# --- one parse per request, shared by verification and the handler ------------------------------


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[BodyKind]:
    """Every call of the project's parse function, by the kind it parsed as."""
    calls: list[BodyKind] = []
    real = bodies.parse_body

    def counting(body: bytes, media: MediaType, **kw: Any) -> ParsedBody:
        calls.append(media.kind)
        return real(body, media, **kw)

    monkeypatch.setattr(bodies, "parse_body", counting)
    return calls


def test_a_json_preset_and_the_handler_share_one_parse(parses: list[BodyKind]) -> None:
    body = b'{"id":"evt_1","type":"invoice.paid","data":{"object":{"id":"in_1"}}}'
    ts = 1_700_000_000
    sig = hmac.new(b"s", f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    verifier = TypeAdapter(VerifyConfig).validate_python({"type": "stripe", "secrets": ["s"]}).build()
    headers = CIMultiDict([("Content-Type", "application/json"), ("Stripe-Signature", f"t={ts},v1={sig}")])
    # what the handler does: one LazyBody for the request, given to verification, then parsed for itself
    shared = LazyBody(body, media_type("application/json"))
    verdict = verifier.verify(WebhookRequest("POST", "https://h/hooks/x", headers, body, now=ts, shared_body=shared))
    assert (verdict.ok, verdict.delivery_id, verdict.event_type) == (True, "evt_1", "com.stripe.invoice.paid")
    assert shared.parsed().json["data"]["object"]["id"] == "in_1"
    assert parses == [BodyKind.JSON]


def test_a_body_that_does_not_parse_fails_once_for_everyone(parses: list[BodyKind]) -> None:
    shared = LazyBody(b'{"broken": ', media_type("application/json"))
    assert shared.json_object() is None  # verification: no mapping, no failure
    with pytest.raises(InvalidBody, match="not valid JSON"):
        shared.parsed()  # the handler: a 400
    with pytest.raises(InvalidBody):
        shared.parsed()
    assert parses == [BodyKind.JSON]


def test_a_body_labelled_otherwise_is_read_as_json_once_and_the_handler_keeps_its_own_kind(
    parses: list[BodyKind],
) -> None:
    shared = LazyBody(b'{"event_id": "e1"}', media_type("text/plain"))
    assert shared.json_object() == {"event_id": "e1"}
    assert shared.json_object() == {"event_id": "e1"}
    assert shared.parsed().text == '{"event_id": "e1"}'
    assert parses == [BodyKind.JSON, BodyKind.TEXT]


def test_a_body_that_is_no_json_object_is_not_parsed_for_verification(parses: list[BodyKind]) -> None:
    assert LazyBody(b"a=1&b=2", media_type("application/x-www-form-urlencoded")).json_object() is None
    assert parses == []


# --- charsets: the WHATWG labels only, for every kind of body ------------------------------------

NOT_WEB_CHARSETS = ["punycode", "undefined", "rot13", "idna", "base64", "unicode_escape", "utf-7", "x-nope"]
"""Names Python's codec registry knows (or not), none of them a WHATWG label: ``punycode`` and
``undefined`` once raised UnicodeError (not UnicodeDecodeError) out of the parser, and XML a LookupError."""

MULTIPART_PART_CHARSET = (
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="title"\r\n'
    b"Content-Type: text/plain; charset=%s\r\n\r\n"
    b"abc\r\n"
    b"--XyZ--\r\n"
)


@pytest.mark.parametrize("charset", NOT_WEB_CHARSETS)
@pytest.mark.parametrize(
    ("essence", "body"),
    [
        ("application/json", b'{"a": 1}'),
        ("text/plain", b"hello"),
        ("application/xml", b"<a>1</a>"),
        ("text/xml", b"<a>1</a>"),
        ("application/x-www-form-urlencoded", b"a=1&b=2"),
        ("multipart/form-data; boundary=XyZ", MULTIPART),
    ],
)
def test_a_charset_no_web_sender_means_is_invalid(essence: str, body: bytes, charset: str) -> None:
    with pytest.raises(InvalidBody, match=f"charset '{charset}' is not known"):
        parse(body, f"{essence}; charset={charset}")


@pytest.mark.parametrize("charset", NOT_WEB_CHARSETS)
def test_a_multipart_field_in_a_charset_no_web_sender_means_is_invalid(charset: str) -> None:
    with pytest.raises(InvalidBody, match=f"unknown charset '{charset}'"):
        parse(MULTIPART_PART_CHARSET % charset.encode(), "multipart/form-data; boundary=XyZ")


def test_a_multipart_field_in_its_own_web_charset() -> None:
    body = MULTIPART_PART_CHARSET.replace(b"abc", "café".encode("cp1252")) % b"windows-1252"
    assert parse(body, "multipart/form-data; boundary=XyZ").form.get("title") == "café"


def test_the_refused_whatwg_encodings_are_invalid() -> None:
    for label in REFUSED_LABELS:
        with pytest.raises(InvalidBody, match="is not known"):
            parse(b"hello", f"text/plain; charset={label}")


@pytest.mark.parametrize("label", sorted(CODECS))
def test_every_whatwg_label_decodes_text_json_xml_and_forms(label: str) -> None:
    # Each label's codec must exist and round-trip ASCII (UTF-16 and ISO-2022-JP included).
    codec = CODECS[label]
    assert parse("hi".encode(codec), f"text/plain; charset={label}").text == "hi"
    assert parse('{"a": "b"}'.encode(codec), f"application/json; charset={label}").json == {"a": "b"}
    xml = parse("<a>b</a>".encode(codec), f"application/xml; charset={label}").xml
    assert xml is not None
    assert xml.text == "b"
    assert parse("a=b".encode(codec), f"application/x-www-form-urlencoded; charset={label}").form.get("a") == "b"


def test_labels_match_ascii_case_insensitively_only() -> None:
    assert parse("café".encode("cp1252"), 'text/plain; charset=" WINDOWS-1252"').text == "café"
    assert python_codec("\tKOI8-R\n") == "koi8-r"
    assert python_codec("\u212aoi8-r") is None  # KELVIN SIGN, which str.lower() would make a "k"


def test_latin1_means_windows_1252_as_on_the_web() -> None:
    assert parse(b"\x80 5", "text/plain; charset=iso-8859-1").text == "€ 5"


def test_a_byte_order_mark_wins_over_the_label() -> None:
    assert parse(b"\xff\xfeh\x00i\x00", "text/plain; charset=windows-1252").text == "hi"
    assert parse(b"\xef\xbb\xbfcaf\xc3\xa9", "text/plain; charset=iso-8859-2").text == "café"


def test_xml_declaring_an_encoding_no_web_sender_means_is_invalid() -> None:
    for encoding in ("utf-7", "punycode", "UTF-32"):
        with pytest.raises(InvalidBody, match="not"):
            parse(f'<?xml version="1.0" encoding="{encoding}"?><a/>'.encode(), "application/xml")
    declared = parse('<?xml version="1.0" encoding="Shift_JIS"?><a>日本</a>'.encode("cp932"), "application/xml")
    assert declared.xml is not None
    assert declared.xml.text == "日本"


def test_a_declared_charset_overrides_the_xml_declaration() -> None:
    body = '<?xml version="1.0" encoding="UTF-8"?><a>café</a>'.encode("cp1252")
    parsed = parse(body, "text/xml; charset=windows-1252")
    assert parsed.xml is not None
    assert parsed.xml.text == "café"


def test_text_in_a_stateful_codec_that_does_not_decode() -> None:
    with pytest.raises(InvalidBody, match="not valid iso-2022-jp text"):
        parse(b"\x1b$B\xff\xff", "text/plain; charset=iso-2022-jp")


# --- the form parser names its real error (it once answered "more than 1000 fields" for all) --------


@pytest.mark.parametrize("charset", ["punycode", "undefined", "x-nope"])
def test_a_form_in_an_unknown_charset_says_so(charset: str) -> None:
    with pytest.raises(InvalidBody) as info:
        parse(b"a=1&b=2", f"application/x-www-form-urlencoded; charset={charset}")
    assert str(info.value) == f"The declared charset {charset!r} is not known."


def test_a_form_field_not_in_its_charset_says_so() -> None:
    with pytest.raises(InvalidBody) as info:
        parse(b"a=1&b=%FF%FE", "application/x-www-form-urlencoded; charset=utf-8")
    assert str(info.value) == "A form field is not valid utf-8 text (byte 0)."
    with pytest.raises(InvalidBody, match="The body is not valid utf-8 text"):
        parse(b"a=\xff", "application/x-www-form-urlencoded")


def test_the_form_field_bound_is_exact() -> None:
    at_bound = "&".join(f"f{i}=1" for i in range(MAX_FORM_FIELDS)).encode()
    assert len(parse(at_bound, "application/x-www-form-urlencoded").form) == MAX_FORM_FIELDS
    with pytest.raises(InvalidBody) as info:
        parse(at_bound + b"&one=more", "application/x-www-form-urlencoded")
    assert str(info.value) == f"The form has more than {MAX_FORM_FIELDS} fields."


# --- one depth bound, MAX_BODY_DEPTH, for JSON and XML ------------------------------------------


def nested_json(depth: int, inner: bytes = b"1") -> bytes:
    return b'{"a":' * (depth - 1) + b'{"id":' + inner + b"}" + b"}" * (depth - 1)


def test_json_at_the_depth_bound_parses_and_re_serializes() -> None:
    for document in (nested_json(MAX_BODY_DEPTH), b"[" * MAX_BODY_DEPTH + b"]" * MAX_BODY_DEPTH):
        parsed = parse(document, "application/json")
        assert orjson.loads(orjson.dumps(parsed.json)) == parsed.json


@pytest.mark.parametrize(
    "document",
    [
        nested_json(MAX_BODY_DEPTH + 1),
        b"[" * (MAX_BODY_DEPTH + 1) + b"]" * (MAX_BODY_DEPTH + 1),
        b"[" * 255 + b"]" * 255,  # orjson would parse it, then refuse to serialize it
        b"[" * 1000 + b"]" * 1000,
        b'[{"x": [' + b"[" * MAX_BODY_DEPTH + b"]" * MAX_BODY_DEPTH + b"]}]",
    ],
)
def test_json_deeper_than_the_bound_is_invalid(document: bytes) -> None:
    with pytest.raises(InvalidBody, match=f"deeper than {MAX_BODY_DEPTH} levels"):
        parse(document, "application/json")


def test_brackets_inside_strings_are_not_nesting() -> None:
    text = '"' + "[{" * 500 + '\\"]' + '"'
    document = ('{"s": ' + text + ', "t": ["\\\\", "{"]}').encode()
    assert parse(document, "application/json").json["t"] == ["\\", "{"]
    assert not json_depth_exceeds(document, 2)
    assert json_depth_exceeds(b'{"a": [[[]]]}', 3)


def test_the_depth_bound_holds_for_json_in_a_charset_and_in_a_form_payload() -> None:
    deep = b"[" * (MAX_BODY_DEPTH + 1) + b"]" * (MAX_BODY_DEPTH + 1)
    with pytest.raises(InvalidBody, match="deeper than"):
        parse(deep.decode().encode("utf-16"), "application/json; charset=utf-16")
    form = b"payload=" + deep.replace(b"[", b"%5B").replace(b"]", b"%5D")
    with pytest.raises(InvalidBody, match="'payload' nests JSON deeper than"):
        parse(form, "application/x-www-form-urlencoded")


def test_xml_depth_uses_the_same_bound() -> None:
    ok = b"<a>" * MAX_BODY_DEPTH + b"</a>" * MAX_BODY_DEPTH
    assert parse(ok, "application/xml").xml is not None
    deep = b"<a>" * (MAX_BODY_DEPTH + 1) + b"</a>" * (MAX_BODY_DEPTH + 1)
    with pytest.raises(InvalidBody, match=f"deeper than {MAX_BODY_DEPTH} levels"):
        parse(deep, "application/xml")
