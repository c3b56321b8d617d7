from __future__ import annotations

import uuid

import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary
from cloudevents.core.formats.json import JSONFormat

from hookgate.core.envelope import Envelope, EnvelopeError, new_event_id, valid_extension_name

EVENT = Envelope(
    id="d-1",
    source="/hookgate/github",
    type="com.github.push",
    data=b'{"a": 1}\n',
    time="2026-11-27T10:00:00.123Z",
    subject="refs/heads/main",
    datacontenttype="application/json; charset=utf-8",
    extensions={"tenant": "acme", "trigger": "github", "vars": '{"ref": "main"}'},
)


def test_round_trip_through_record_headers() -> None:
    back = Envelope.from_record(EVENT.to_headers(), EVENT.data)
    assert back == EVENT
    assert back.variables == {"ref": "main"}


def test_the_cloudevents_sdk_reads_our_records() -> None:
    msg = KafkaMessage(headers=dict(EVENT.to_headers()), key=b"acme", value=EVENT.data)
    ce = from_binary(msg, JSONFormat())
    assert ce.get_id() == "d-1"
    assert ce.get_type() == "com.github.push"
    assert ce.get_source() == "/hookgate/github"
    assert ce.get_subject() == "refs/heads/main"
    assert ce.get_datacontenttype() == "application/json; charset=utf-8"
    assert ce.get_extension("tenant") == "acme"
    assert ce.get_data() == {"a": 1}  # the SDK decodes JSON data; the record value itself is byte-exact


def test_decoding_reads_names_in_any_case_ignores_other_headers_and_keeps_extensions_apart() -> None:
    headers = [
        ("CE_ID", b"d-2"),
        ("ce_Source", b"/s"),
        ("ce_type", b"t"),
        ("ce_specversion", b"1.0"),
        ("Content-Type", b"text/plain"),
        ("ce_datacontenttype", b"application/json"),  # the content-type header wins
        ("ce_dataschema", b"https://example.com/schema"),  # a core attribute, not an extension
        ("ce_tenant", b"acme"),
        ("ce_", b"nameless"),
        ("hookgate_workflow", b"deploy"),
        ("traceparent", b"00-abc"),
    ]
    for _ in range(2):  # the second time from the remembered names
        event = Envelope.from_record(headers, None)
        assert (event.id, event.source, event.type, event.data) == ("d-2", "/s", "t", b"")
        assert event.datacontenttype == "text/plain"
        assert (event.time, event.subject) == (None, None)
        assert event.extensions == {"tenant": "acme"}
    without_type = [h for h in headers if h[0] != "Content-Type"]
    assert Envelope.from_record(without_type, b"").datacontenttype == "application/json"
    with pytest.raises(EnvelopeError, match=r"missing CloudEvents attribute\(s\): id, type$"):
        Envelope.from_record([h for h in headers if h[0] not in ("CE_ID", "ce_type")], b"")
    with pytest.raises(EnvelopeError, match="CE_ID is not UTF-8"):
        Envelope.from_record([("CE_ID", b"\xff"), *headers[1:]], b"")


def test_missing_required_attribute_is_an_error() -> None:
    headers = [(k, v) for k, v in EVENT.to_headers() if k != "ce_source"]
    with pytest.raises(EnvelopeError, match="source"):
        Envelope.from_record(headers, b"")


def test_wrong_specversion_is_an_error() -> None:
    headers = [(k, b"0.3" if k == "ce_specversion" else v) for k, v in EVENT.to_headers()]
    with pytest.raises(EnvelopeError, match="specversion"):
        Envelope.from_record(headers, b"")


@pytest.mark.parametrize(("name", "ok"), [("tenant", True), ("vars2", True), ("Tenant", False), ("a_b", False)])
def test_extension_names_follow_the_spec(name: str, ok: bool) -> None:
    assert valid_extension_name(name) is ok


def test_generated_event_ids_are_canonical_random_uuids() -> None:
    ids = [new_event_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text  # lower-case, hyphenated: what str(uuid.uuid4()) gives
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
    # every variant nibble (8, 9, a, b) occurs: the variant bits are set, the other two stay random
    assert {text[19] for text in ids} == set("89ab")
