"""The trigger record codec: secrets sealed with AES-GCM under a named key, readable while the key is listed."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from hookgate.core.config import ConfigError, load_model
from hookgate.gateway.catalog.crypto import KeyRing
from hookgate.gateway.catalog.record import RecordError, Rotation, TriggerRecord, decode, encode
from hookgate.gateway.catalog.spec import new_trigger_id
from hookgate.gateway.config import GatewayConfig

NOW = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
SECRET = "hmac-secret-" + os.urandom(6).hex()
TOKEN = "websub-" + os.urandom(6).hex()
OLD = "replaced-" + os.urandom(6).hex()


def key() -> bytes:
    return os.urandom(32)


def record(tid: str | None = None, rotation: Rotation | None = None) -> TriggerRecord:
    tid = tid or new_trigger_id()
    spec = {
        "id": tid,
        "name": "gh",
        "tenant": "acme",
        "verify": {"type": "github", "secrets": [SECRET]},
        "websub": {"verify_token": TOKEN},
    }
    return TriggerRecord(tid, spec, "enabled", NOW, NOW + timedelta(seconds=1), rotation)


def test_round_trip_and_no_secret_in_the_stored_bytes() -> None:
    keys = KeyRing({"k1": key()}, "k1")
    rot = Rotation(("verify", "secrets"), (OLD,), NOW + timedelta(minutes=5))
    original = record(rotation=rot)
    value = encode(original, keys)
    for secret in (SECRET, TOKEN, OLD):
        assert secret.encode() not in value
    stored = orjson.loads(value)
    assert stored["spec"]["verify"] == {"type": "github"}
    assert stored["sealed"]["key"] == "k1"
    assert stored["rotation"] == {"field": ["verify", "secrets"], "ends_at": "2026-12-02T01:05:00.000Z"}
    back = decode(original.id.encode(), value, keys)
    assert back.spec == original.spec
    assert back.rotation == rot
    assert back.created_at == original.created_at
    assert back.updated_at == original.updated_at
    assert back.key_id == "k1"


def test_old_records_stay_readable_while_their_key_is_listed() -> None:
    k1, k2 = key(), key()
    old_value = encode(record(), KeyRing({"k1": k1}, "k1"))
    rotated = KeyRing({"k1": k1, "k2": k2}, "k2")
    back = decode(None, old_value, rotated)
    assert back.key_id == "k1"
    assert orjson.loads(encode(back, rotated))["sealed"]["key"] == "k2"  # a rewrite seals with the active key
    with pytest.raises(RecordError, match="'k1' is not listed"):
        decode(None, old_value, KeyRing({"k2": k2}, "k2"))
    with pytest.raises(RecordError, match="wrong key"):
        decode(None, old_value, KeyRing({"k1": k2}, "k1"))


def test_a_sealed_value_is_bound_to_its_trigger() -> None:
    keys = KeyRing({"k1": key()}, "k1")
    a, b = record(), record()
    stored_a, stored_b = orjson.loads(encode(a, keys)), orjson.loads(encode(b, keys))
    stored_b["sealed"] = stored_a["sealed"]  # a's secrets pasted into b's record
    with pytest.raises(RecordError):
        decode(None, orjson.dumps(stored_b), keys)
    with pytest.raises(RecordError, match="key and id"):
        decode(b"another-id", encode(a, keys), keys)


def test_records_without_secrets_need_no_key_and_secrets_need_one() -> None:
    tid = new_trigger_id()
    plain = TriggerRecord(
        tid, {"id": tid, "name": "n", "tenant": "t", "verify": {"type": "none"}}, "disabled", NOW, NOW
    )
    value = encode(plain, KeyRing({}, None))
    assert orjson.loads(value)["sealed"] is None
    assert decode(None, value, KeyRing({}, None)).state == "disabled"
    with pytest.raises(RecordError, match="no encryption key"):
        encode(record(), KeyRing({}, None))


@pytest.mark.parametrize("value", [b"not json", b"[]", b'{"v": 99}', b'{"v": 1, "id": "x"}'])
def test_damaged_records_are_a_record_error(value: bytes) -> None:
    with pytest.raises(RecordError):
        decode(None, value, KeyRing({}, None))


def test_rotation_overlap_in_the_effective_spec() -> None:
    rot = Rotation(("verify", "secrets"), (OLD,), NOW + timedelta(seconds=30))
    r = record(rotation=rot)
    assert r.effective_spec(NOW)["verify"]["secrets"] == [SECRET, OLD]
    assert r.effective_spec(NOW + timedelta(seconds=29.999))["verify"]["secrets"] == [SECRET, OLD]
    assert r.effective_spec(NOW + timedelta(seconds=30))["verify"]["secrets"] == [SECRET]
    assert r.spec["verify"]["secrets"] == [SECRET]


def test_encryption_settings_errors_name_the_key_path() -> None:
    good = base64.b64encode(key()).decode()

    def load(encryption: object) -> GatewayConfig:
        return load_model(GatewayConfig, {"gateway": {"catalog": {"encryption": encryption}}}, "gw.yaml", env={})

    with pytest.raises(ConfigError, match=r"gateway\.catalog\.encryption\.keys\.k1: .*32 random bytes"):
        load({"keys": {"k1": base64.b64encode(b"short").decode()}})
    with pytest.raises(ConfigError, match=r"gateway\.catalog\.encryption: .*active_key: 'k3' is not one of keys"):
        load({"keys": {"k1": good}, "active_key": "k3"})
    with pytest.raises(ConfigError, match=r"gateway\.catalog\.encryption: .*active_key: required"):
        load({"keys": {"k1": good, "k2": good}})
    env_key = load_model(
        GatewayConfig,
        {"gateway": {"catalog": {"encryption": {"keys": {"k1": "${CATALOG_KEY}"}}}}},
        "gw.yaml",
        env={"CATALOG_KEY": good},
    )
    assert env_key.gateway.catalog.encryption.active == "k1"
    assert KeyRing.from_settings(env_key.gateway.catalog.encryption).key_ids == ["k1"]
