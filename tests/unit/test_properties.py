"""Property tests: whatever a client sends, each stage gives a value or the project's own error, never another
exception (an exception the handler does not expect is a 500).

Layout, so a stage is added as one more section:

1. strategies: header values as aiohttp hands them over (any bytes, decoded UTF-8 with ``surrogateescape``),
   Content-Type values, bodies of every kind, hostile hosts;
2. bodies (:mod:`hookgate.gateway.shaping.bodies`): ``media_type``, ``parse_body``, ``LazyBody``;
   a parsed JSON document can also be re-serialized and descended (the one depth bound);
3. verification: every preset, built from a valid config (the negative table's, plus the options it
   does not cover), fed arbitrary headers, query, URL, body and clock: always a :class:`Verdict`;
4. shaping: variables (every source, regexes incl. a catastrophic one), templates and the ingress filter
   (every operator) over whatever parsed: a value, or :class:`InvalidBody` for a body too deep to search.

Examples are bounded per test (``max_examples``) and have no deadline: the machine is shared and noisy.
"""

from __future__ import annotations

import contextlib
import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, get_args
from urllib.parse import parse_qsl, urlsplit

import jsonpath
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, MultiDict, MultiDictProxy
from pydantic import TypeAdapter

from hookgate.gateway.intake.headertext import header_bytes, header_text
from hookgate.gateway.shaping.bodies import (
    MAX_BODY_DEPTH,
    BodyKind,
    InvalidBody,
    LazyBody,
    ParsedBody,
    media_type,
    parse_body,
)
from hookgate.gateway.shaping.charsets import CODECS, REFUSED_LABELS
from hookgate.gateway.shaping.extract import Extractor, RequestParts, VariableConfig
from hookgate.gateway.shaping.filter import IGNORED_CONDITION, IGNORED_TYPE, FilterConfig
from hookgate.gateway.shaping.templates import Template, TemplateValues
from hookgate.gateway.verify.base import Verdict, WebhookRequest
from hookgate.gateway.verify.registry import VerifyConfig
from tests.unit.test_verify_negative import (
    CASES,
    NOW,
    SECRET,
    URL,
    Case,
    b64mac,
    ed25519_key,
    ed25519_public_raw,
    hexmac,
    std_content,
    twilio_sig,
    whsec,
)

# No example database: nothing is written into the work tree, and a run does not depend on earlier ones.
PROPERTY = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
NARROW = settings(PROPERTY, max_examples=100)  # properties whose inputs vary in fewer ways
ADAPTER: TypeAdapter[Any] = TypeAdapter(VerifyConfig)

# --- 1. strategies -----------------------------------------------------------------------------


def as_aiohttp_decodes(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


# Header values: raw bytes as aiohttp decodes them (lone surrogates for what is not UTF-8), or any text.
header_values = st.one_of(
    st.binary(max_size=80).map(as_aiohttp_decodes),
    st.text(st.characters(exclude_categories=()), max_size=40),
    st.sampled_from(["", " ", "sha256=", "v0=", "v1,", "t=", "Bearer ", "Basic ", "=", ",", ";", "\udcff\udcfe"]),
)

CHARSETS = st.one_of(
    st.sampled_from(sorted(CODECS)),
    st.sampled_from(sorted(REFUSED_LABELS)),
    st.sampled_from(["punycode", "undefined", "rot13", "idna", "base64", "hex", "utf-7", "utf-32", "zlib"]),
    header_values,
)
ESSENCES = [
    "application/json",
    "application/vnd.x+json",
    "application/xml",
    "text/xml",
    "application/atom+xml",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "text/plain",
    "text/csv",
    "application/octet-stream",
    "image/png",
]


@st.composite
def content_types(draw: st.DrawFn) -> str:
    essence = draw(st.sampled_from(ESSENCES))
    params = []
    if draw(st.booleans()):
        params.append(f"charset={draw(CHARSETS)}")
    if essence.startswith("multipart/") or draw(st.booleans()):
        params.append(f"boundary={draw(st.sampled_from(['XyZ', 'b', '', draw(header_values)]))}")
    return "; ".join([essence, *params]) if draw(st.booleans()) else draw(header_values)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=30,
)


@st.composite
def nested(draw: st.DrawFn) -> bytes:
    """JSON or XML nested around the depth bound (and far past it)."""
    depth = draw(st.sampled_from([MAX_BODY_DEPTH - 1, MAX_BODY_DEPTH, MAX_BODY_DEPTH + 1, 254, 255, 1024, 1025]))
    opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"id":', b"}"), (b"<a>", b"</a>")]))
    inner = b"" if opener != b'{"id":' else b"1"
    return opener * depth + inner + closer * depth


@st.composite
def form_bodies(draw: st.DrawFn) -> bytes:
    pairs = draw(st.lists(st.tuples(st.text(max_size=6), st.text(max_size=6)), max_size=6))
    text = "&".join(f"{k}={v}" for k, v in pairs)
    escapes = draw(st.lists(st.sampled_from(["%FF", "%C3", "%", "%zz", "+", "%7B", "&&", "payload=%7B"]), max_size=4))
    return (text + "".join(escapes)).encode("utf-8", "surrogatepass")


@st.composite
def multipart_bodies(draw: st.DrawFn) -> bytes:
    parts = []
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from([b"title", b"payload", b"\xff", b""]))
        headers = [b'Content-Disposition: form-data; name="' + name + b'"']
        if draw(st.booleans()):
            headers.append(b"Content-Type: text/plain; charset=" + header_bytes(draw(CHARSETS)))
        parts.append(b"--XyZ\r\n" + b"\r\n".join(headers) + b"\r\n\r\n" + draw(st.binary(max_size=20)) + b"\r\n")
    return b"".join(parts) + draw(st.sampled_from([b"--XyZ--\r\n", b"--XyZ", b""]))


bodies_any = st.one_of(
    st.binary(max_size=300),
    json_values.map(orjson.dumps),
    nested(),
    form_bodies(),
    multipart_bodies(),
    st.sampled_from(
        [
            b'<?xml version="1.0" encoding="punycode"?><a/>',
            b'<?xml version="1.0" encoding="utf-7"?><a/>',
            b'<?xml version="1.0" encoding="UTF-16"?><a/>',
            b"<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>",
            b"\xef\xbb\xbf{}",
            b"\xff\xfe{\x00}\x00",
            b"\xfe\xff\x00{\x00}",
        ]
    ),
)


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` with a few bytes flipped, inserted or cut."""
    out = bytearray(data)
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["flip", "insert", "cut"]))
        at = draw(st.integers(0, len(out)))
        if op == "flip" and at < len(out):
            out[at] = draw(st.integers(0, 255))
        elif op == "insert":
            out[at:at] = draw(st.binary(min_size=1, max_size=3))
        else:
            del out[at : at + draw(st.integers(1, 4))]
    return bytes(out)


HOSTILE_HOSTS = ["\udcff", "h\udcc3:8080", "[", "[::1", "h:99999", "h:port", "a?b", "a#b", "", "hooks.example.com"]

# --- 2. bodies ---------------------------------------------------------------------------------


def parse_or_invalid(body: bytes, content_type: str) -> ParsedBody | None:
    """``parse_body``'s result, or ``None`` for the project's own :class:`InvalidBody`; anything else raises."""
    try:
        return parse_body(body, media_type(content_type))
    except InvalidBody as exc:
        message = str(exc)
    assert message.endswith("."), "an InvalidBody carries a sentence for the sender"
    return None


@PROPERTY
@given(content_type=content_types())
def test_any_content_type_classifies(content_type: str) -> None:
    media = media_type(content_type)
    assert isinstance(media.kind, BodyKind)
    assert media.charset is None or isinstance(media.charset, str)


@PROPERTY
@given(body=bodies_any, content_type=content_types())
def test_any_body_parses_or_is_invalid(body: bytes, content_type: str) -> None:
    parsed = parse_or_invalid(body, content_type)
    if parsed is not None and parsed.has_json:
        # The one depth bound: what parses re-serializes (orjson stops at 255) and descends (JSONPath at 101).
        assert orjson.loads(orjson.dumps(parsed.json)) == parsed.json
        jsonpath.findall("$..id", parsed.json)


@PROPERTY
@given(data=st.data(), seed=st.one_of(json_values.map(orjson.dumps), nested(), form_bodies(), multipart_bodies()))
def test_any_mutation_of_a_valid_body_parses_or_is_invalid(data: st.DataObject, seed: bytes) -> None:
    body = data.draw(mutated(seed))
    essence = data.draw(st.sampled_from(ESSENCES[:8]))
    charset = data.draw(st.sampled_from(["", "; charset=utf-8", "; charset=utf-16", "; charset=iso-2022-jp"]))
    parse_or_invalid(body, f"{essence}{charset}; boundary=XyZ")


@PROPERTY
@given(body=bodies_any, content_type=content_types())
def test_the_shared_body_never_raises_for_verification(body: bytes, content_type: str) -> None:
    shared = LazyBody(body, media_type(content_type))
    document = shared.json_object()
    assert document is None or isinstance(document, dict)
    for kind in BodyKind:
        got = shared.as_kind(kind)
        assert got is None or isinstance(got, ParsedBody)


# --- 3. verification: every preset -------------------------------------------------------------


@PROPERTY
@given(raw=st.binary(max_size=200))
def test_header_bytes_are_the_bytes_that_arrived(raw: bytes) -> None:
    # What verification signs and compares with secrets is exactly what the sender sent.
    assert header_bytes(as_aiohttp_decodes(raw)) == raw


@PROPERTY
@given(text=st.text(st.characters(exclude_categories=())) | header_values)
def test_header_bytes_and_text_never_raise(text: str) -> None:
    assert isinstance(header_bytes(text), bytes)
    named = header_text(text)
    assert named is not None
    assert named.encode("utf-8").decode("utf-8") == named


@dataclass(frozen=True)
class Preset:
    """A preset built from a valid config, and a request it accepts (the seed that inputs mutate)."""

    name: str
    config: dict[str, Any]
    headers: list[tuple[str, str]]
    body: bytes
    url: str


def from_case(case: Case) -> Preset:
    signed = case.sign(SECRET, NOW)
    return Preset(case.name, case.config(SECRET), signed.headers, signed.body, signed.url)


# Options and presets the negative table does not build, so every code path of every preset is fed.
SIGNED_URL = "https://hooks.example.com/hooks/t"
EVERYTHING = "{method} {url} {id} {timestamp} {body}"
EXTRA: list[Preset] = [
    Preset("none", {"type": "none"}, [], b"{}", URL),
    Preset(
        "github_sha1",
        {"type": "github", "secrets": [SECRET], "allow_sha1": True},
        [("X-Hub-Signature", "sha1=" + hexmac(SECRET, b"{}", "sha1"))],
        b"{}",
        URL,
    ),
    Preset(
        "discord_events",
        {"type": "discord", "public_keys": [ed25519_public_raw(SECRET).hex()], "endpoint": "events"},
        [
            ("X-Signature-Timestamp", str(NOW)),
            ("X-Signature-Ed25519", ed25519_key(SECRET).sign(f'{NOW}{{"type": 1}}'.encode()).hex()),
        ],
        b'{"type": 1}',
        URL,
    ),
    Preset(
        "twilio_signed_url",
        {"type": "twilio", "secrets": [SECRET], "signed_url": SIGNED_URL},
        [("X-Twilio-Signature", twilio_sig(SECRET, SIGNED_URL + "?src=test", b"a=1"))],
        b"a=1",
        URL,
    ),
    Preset(
        "hmac_everything",
        {
            "type": "hmac",
            "secrets": [SECRET],
            "header": "X-Signature",
            "template": EVERYTHING,
            "timestamp_header": "X-Timestamp",
            "id_header": "X-Id",
            "type_header": "X-Type",
            "type_prefix": "com.acme",
            "tolerance_seconds": None,
        },
        [
            ("X-Id", "1"),
            ("X-Timestamp", str(NOW)),
            ("X-Type", "a.b"),
            ("X-Signature", hexmac(SECRET, f"POST {URL} 1 {NOW} {{}}".encode())),
        ],
        b"{}",
        URL,
    ),
    Preset(
        "hmac_url",
        {"type": "hmac", "secrets": [SECRET], "header": "X-Signature", "encoding": "base64", "template": "{url}{body}"},
        [("X-Signature", b64mac(SECRET, URL.encode() + b"{}"))],
        b"{}",
        URL,
    ),
    Preset(
        "standard_webhooks_typed",
        {"type": "standard_webhooks", "secrets": [whsec(SECRET)], "type_prefix": "com.acme"},
        [
            ("webhook-id", "m"),
            ("webhook-timestamp", str(NOW)),
            ("webhook-signature", "v1," + b64mac(SECRET, std_content("m", NOW, b'{"type": "a"}'))),
        ],
        b'{"type": "a"}',
        URL,
    ),
]
PRESETS = {p.name: p for p in [*map(from_case, CASES), *EXTRA]}


def preset_types() -> set[str]:
    """Every ``type`` the registry's union accepts."""
    union = get_args(VerifyConfig)[0]
    return {name for model in get_args(union) for name in get_args(model.model_fields["type"].annotation)}


def test_every_preset_type_is_fed() -> None:
    assert {p.config["type"] for p in PRESETS.values()} == preset_types()


def seed_request(preset: Preset, extra: Sequence[tuple[str, str]] = ()) -> WebhookRequest:
    """The preset's genuine request, with ``extra`` headers added."""
    query = MultiDictProxy(MultiDict(parse_qsl(urlsplit(preset.url).query, keep_blank_values=True)))
    headers = CIMultiDict([*preset.headers, *extra])
    return WebhookRequest("POST", preset.url, headers, preset.body, query, now=float(NOW))


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_seed_request_is_accepted(name: str) -> None:
    # The seeds are genuine, so the properties below also reach what a preset reads after the signature.
    verdict = verifier_for(PRESETS[name])(seed_request(PRESETS[name]))
    assert (verdict.ok, verdict.reason) == (True, "ok")


# Names each preset reads, the common ones, and a few any request may carry.
COMMON_HEADERS = ["Content-Type", "Authorization", "X-Hub-Signature-256", "X-Hub-Signature", "Host"]
token_chars = st.text(string.ascii_letters + string.digits + "-_", min_size=1, max_size=12)


@st.composite
def requests_for(draw: st.DrawFn, preset: Preset) -> WebhookRequest:
    names = sorted({k for k, _ in preset.headers} | set(COMMON_HEADERS))
    headers = list(preset.headers)
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["replace", "add", "delete", "mutate"]))
        name = draw(st.sampled_from(names) | token_chars)
        if op == "delete":
            headers = [(k, v) for k, v in headers if k.lower() != name.lower()]
        elif op == "mutate" and headers:
            i = draw(st.integers(0, len(headers) - 1))
            raw = header_bytes(headers[i][1])
            headers[i] = (headers[i][0], as_aiohttp_decodes(draw(mutated(raw))))
        else:
            if op == "replace":
                headers = [(k, v) for k, v in headers if k.lower() != name.lower()]
            headers.append((name, draw(header_values)))
    body = draw(st.one_of(st.just(preset.body), mutated(preset.body), bodies_any))
    host = draw(st.sampled_from(HOSTILE_HOSTS) | header_values)
    url = draw(st.just(preset.url) | st.builds(lambda h, q: f"http://{h}/hooks/t?{q}", st.just(host), header_values))
    query = draw(st.lists(st.tuples(st.sampled_from(["key", "token", "bodySHA256", "src"]), header_values), max_size=3))
    method = draw(st.sampled_from(["POST", "GET", "PUT"]) | header_values)
    now = draw(st.sampled_from([float(NOW), 0.0, -1.0, 1e300]) | st.floats(allow_nan=True, allow_infinity=True))
    return WebhookRequest(
        method=method,
        url=url,
        headers=CIMultiDict(headers),
        body=body,
        query=MultiDictProxy(MultiDict(query)),
        client_ip=draw(st.sampled_from(["", "127.0.0.1", "::1", "not an ip"])),
        now=now,
    )


def assert_a_verdict(verdict: object) -> None:
    assert isinstance(verdict, Verdict)
    assert re.fullmatch(r"[a-z0-9]+(?:_[a-z0-9]+)*", verdict.reason), verdict.reason  # a stable metrics label
    if verdict.ok:  # what it names goes into Kafka headers and JSON: valid text
        for named in (verdict.delivery_id, verdict.event_type, verdict.subject):
            assert named is None or isinstance(named.encode("utf-8"), bytes)


def verifier_for(preset: Preset) -> Callable[[WebhookRequest], Verdict]:
    verify: Callable[[WebhookRequest], Verdict] = ADAPTER.validate_python(preset.config).build().verify
    return verify


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_any_request_gets_a_verdict_from_every_preset(name: str) -> None:
    preset = PRESETS[name]
    verify = verifier_for(preset)

    @PROPERTY
    @given(request=requests_for(preset))
    def check(request: WebhookRequest) -> None:
        assert_a_verdict(verify(request))

    check()


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_a_genuine_request_with_hostile_descriptive_headers_gets_a_verdict(name: str) -> None:
    # The signature stays genuine, so the preset gets past it and reads ids, types, subjects and bodies.
    preset = PRESETS[name]
    verify = verifier_for(preset)
    descriptive = [
        "X-GitHub-Delivery",
        "X-GitHub-Event",
        "X-Gitlab-Event",
        "Idempotency-Key",
        "X-Gitlab-Event-UUID",
        "X-Request-UUID",
        "X-Event-Key",
        "X-Shopify-Webhook-Id",
        "X-Shopify-Topic",
        "X-Shopify-Shop-Domain",
        "Linear-Delivery",
        "Twitch-Eventsub-Message-Type",
        "Twitch-Eventsub-Subscription-Type",
        "I-Twilio-Idempotency-Token",
        "X-Twilio-Webhooks-Signature-Settings",
        "X-Type",
        "Content-Type",
    ]

    @NARROW
    @given(extra=st.lists(st.tuples(st.sampled_from(descriptive), header_values), max_size=4))
    def check(extra: list[tuple[str, str]]) -> None:
        assert_a_verdict(verify(seed_request(preset, extra)))

    check()


# --- 4. shaping: variables, templates, the ingress filter --------------------------------------
# Compiled from configs that exercise every source and operator (the same shapes a user writes); fed
# whatever body parsed, any headers, query and path: a value, or the project's own error.

VARIABLES = Extractor(
    {
        name: VariableConfig.model_validate(cfg)
        for name, cfg in {
            "deep_ids": {"jsonpath": "$..id"},
            "first": {"jsonpath": "$[0]"},
            "all": {"jsonpath": "$", "max_length": 64},
            "filtered": {"jsonpath": "$.items[?@.n > 1].name"},
            "matched": {"jsonpath": "$.ref", "regex": "^refs/heads/(.+)$", "default": "none"},
            "catastrophic": {"header": "X-Ref", "regex": "(a+)+$"},
            "xml": {"xpath": "//id/text()"},
            "xml_attr": {"xpath": "/*/@kind"},
            "field": {"form": "payload"},
            "header": {"header": "X-GitHub-Event", "max_length": 8},
            "query": {"query": "ref"},
            "path": {"path": True, "regex": "^/(\\w+)"},
        }.items()
    }
)
TEMPLATES = [
    Template(text)
    for text in (
        "com.example.{header.X-GitHub-Event|default:none}.{vars.matched}",
        "{$.repository.full_name|default:}",
        "{$..id}",
        "{tenant}/{id}/{vars.deep_ids}{{literal}}",
        "{query.ref|default:x}",
    )
]
FILTER = FilterConfig.model_validate(
    {
        "types": ["com.example.*", "dev.hookgate.*"],
        "match": "any",
        "conditions": [
            {"var": "matched", "fullmatch": "main|release/.+"},
            {"var": "header", "regex": "(x+x+)+y"},
            {"var": "deep_ids", "glob": "a*"},
            {"not": {"var": "path", "prefix": "dependabot/"}},
            {"any": [{"var": "query", "in": ["a", "b"]}, {"all": [{"var": "xml", "exists": True}]}]},
        ],
    }
).build()

shaping_headers = st.dictionaries(
    st.sampled_from(["X-GitHub-Event", "X-Ref", "Content-Type", "X-Other"]), header_values, max_size=4
)
queries = st.dictionaries(st.sampled_from(["ref", "x"]), st.text(max_size=20), max_size=2)


@PROPERTY
@given(
    body=bodies_any,
    content_type=content_types(),
    headers=shaping_headers,
    query=queries,
    path=st.text(max_size=30),
    event_type=st.text(max_size=30),
)
def test_any_request_shapes_or_is_invalid(
    body: bytes, content_type: str, headers: dict[str, str], query: dict[str, str], path: str, event_type: str
) -> None:
    parsed = parse_or_invalid(body, content_type)
    try:
        variables = VARIABLES.extract(RequestParts(CIMultiDict(headers), MultiDict(query), path, parsed))
    except InvalidBody:
        return  # a body too deep for a JSONPath: the request gets 400 invalid_body
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in variables.items())
    values = TemplateValues({"type": event_type, "tenant": "t", "id": "i"}, variables, headers, query, parsed)
    for template in TEMPLATES:
        with contextlib.suppress(InvalidBody):  # a body too deep for the template's JSONPath
            assert isinstance(template.render(values), str)
    assert FILTER.ignore_reason(values) in (None, IGNORED_TYPE, IGNORED_CONDITION)
