"""What the gateway loads only when it needs it (issue 10: its peak RSS).

Each check runs in a fresh interpreter: in the test process every module is long imported by other tests,
so ``sys.modules`` here would prove nothing.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEY = base64.b64encode(os.urandom(32)).decode()

# What `hookgate gateway` imports before it serves: the CLI, the config, the app (built, not started).
PRELUDE = f"""
import json, sys
import hookgate.cli.main
from hookgate.core.config import load_model
from hookgate.gateway.config import GatewayConfig
from hookgate.gateway.http.app import CATALOG, create_app

def config(triggers, **gateway):
    data = {{
        "gateway": {{"listen": {{"host": "127.0.0.1", "port": 0}}, **gateway}},
        "kafka": {{"bootstrap_servers": "127.0.0.1:9", "topics": {{"prefix": "lazy"}}}},
        "triggers": triggers,
    }}
    return load_model(GatewayConfig, data, "<test>", env={{}})

GITHUB = {{"id": "a" * 32, "name": "gh", "tenant": "acme", "verify": {{"type": "github", "secrets": ["s3cret"]}}}}
ENCRYPTED = {{"catalog": {{"encryption": {{"keys": {{"k1": "{KEY}"}}}}}}}}

ARGS = json.loads(sys.argv[1])

def loaded(*names):
    return sorted(n for n in names if n in sys.modules)
"""


def run(body: str, *args: str) -> dict[str, object]:
    """Run ``body`` after :data:`PRELUDE` in a fresh interpreter (``args`` as ``ARGS``); it prints one JSON
    object as its last line."""
    script = PRELUDE + textwrap.dedent(body)
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_a_gateway_with_an_encryption_key_loads_cryptography_only_to_seal_or_open() -> None:
    out = run(
        """
        app = create_app(config([GITHUB], **ENCRYPTED))
        keys = app[CATALOG]._keys
        before = loaded("cryptography")
        from hookgate.gateway.catalog.crypto import Sealed
        sealed = keys.seal(b"the secret", "tid")
        after_seal = loaded("cryptography")
        opened = keys.open(Sealed.from_json(sealed.to_json()), "tid").decode()
        print(json.dumps({"key_ids": keys.key_ids, "before": before, "after_seal": after_seal, "opened": opened}))
        """
    )
    assert out == {"key_ids": ["k1"], "before": [], "after_seal": ["cryptography"], "opened": "the secret"}


def test_a_record_with_sealed_secrets_opens_in_a_fresh_process() -> None:
    out = run(
        """
        from datetime import UTC, datetime
        from hookgate.gateway.catalog.crypto import KeyRing, SealError
        from hookgate.gateway.catalog.record import TriggerRecord, decode, encode
        from hookgate.gateway.catalog.settings import EncryptionSettings

        keys = KeyRing.from_settings(EncryptionSettings.model_validate({"keys": {"k1": ARGS[0]}}))
        now = datetime.now(UTC)
        spec = {"id": "b" * 32, "name": "gh", "tenant": "acme", "verify": {"type": "github", "secrets": ["s3cret"]}}
        plain = encode(TriggerRecord("b" * 32, {**spec, "verify": {"type": "none"}}, "enabled", now, now), keys)
        after_plain = loaded("cryptography")
        value = encode(TriggerRecord("b" * 32, spec, "enabled", now, now), keys)
        record = decode(b"b" * 32, value, keys)
        try:
            decode(b"b" * 32, value, KeyRing({"k1": bytes(32)}, "k1"))
            wrong = "opened"
        except Exception as exc:
            wrong = type(exc).__name__
        print(json.dumps({"after_plain": after_plain, "secrets": record.spec["verify"]["secrets"],
                          "key_id": record.key_id, "in_clear": b"s3cret" in value, "wrong_key": wrong,
                          "after": loaded("cryptography")}))
        """,
        KEY,
    )
    assert out == {
        "after_plain": [],  # a record without secrets is written without sealing anything
        "secrets": ["s3cret"],
        "key_id": "k1",
        "in_clear": False,
        "wrong_key": "RecordError",
        "after": ["cryptography"],
    }


def test_a_public_key_trigger_loads_cryptography_when_its_key_is_read() -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes_raw().hex()
    signature = private.sign(b"1700000000{}").hex()
    out = run(
        """
        from hookgate.gateway.verify.public_key import ed25519_hex, verifies
        before = loaded("cryptography")
        def discord(key):
            return {"id": "c" * 32, "name": "dc", "tenant": "acme", "verify": {"type": "discord", "public_keys": [key]}}
        try:
            config([discord("not hex")])
            error = ""
        except Exception as exc:
            error = str(exc)
        config([discord(ARGS[0])]).triggers[0].verify.build()
        key = ed25519_hex(ARGS[0])
        print(json.dumps({"before": before, "after": loaded("cryptography"), "error": error,
                          "good": verifies(key, bytes.fromhex(ARGS[1]), b"1700000000{}"),
                          "bad": verifies(key, bytes(64), b"1700000000{}")}))
        """,
        public,
        signature,
    )
    assert out["before"] == []
    assert out["after"] == ["cryptography"]
    assert "triggers[0].verify" in str(out["error"])
    assert "not a hex Ed25519 public key" in str(out["error"])
    assert (out["good"], out["bad"]) == (True, False)


def test_a_bad_encryption_key_length_still_fails_when_the_ring_is_built() -> None:
    out = run(
        """
        from hookgate.gateway.catalog.crypto import KeyRing
        try:
            KeyRing({"k1": b"short"}, "k1")
            error = ""
        except ValueError as exc:
            error = str(exc)
        print(json.dumps({"error": error, "loaded": loaded("cryptography")}))
        """
    )
    assert out == {"error": "AESGCM key must be 128, 192, or 256 bits.", "loaded": []}


TOOLS = ["hookgate.cli.inspect_event", "hookgate.cli.replay", "hookgate.cli.send", "hookgate.cli.tail"]


def test_hookgate_gateway_does_not_import_the_operator_tools(tmp_path: Path) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text("gateway: {listne: {port: 8080}}\nkafka: {bootstrap_servers: 127.0.0.1:9}\ntriggers: []\n")
    out = run(
        """
        import contextlib, io
        from hookgate.cli.main import app
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            try:
                app(["gateway", "-c", ARGS[0]], prog_name="hookgate")
            except SystemExit as exc:
                code = exc.code
        gateway = loaded(*ARGS[1:])
        with contextlib.redirect_stdout(io.StringIO()) as shown:
            try:
                app(["--help"], prog_name="hookgate")
            except SystemExit:
                pass
        print(json.dumps({"code": code, "error": err.getvalue(), "gateway": gateway, "help": loaded(*ARGS[1:]),
                          "listed": "replay" in shown.getvalue()}))
        """,
        str(config),
        *TOOLS,
    )
    assert out["code"] == 2
    assert "gateway.listne" in str(out["error"])  # the gateway command ran, as before
    assert out["gateway"] == []
    assert out["help"] == TOOLS  # the command list needs them
    assert out["listed"] is True


def test_a_tool_command_is_found_without_listing_first() -> None:
    out = run(
        """
        import contextlib, io
        from hookgate.cli.main import app
        with contextlib.redirect_stdout(io.StringIO()) as shown:
            try:
                app(["send", "--help"], prog_name="hookgate")
            except SystemExit as exc:
                code = exc.code
        print(json.dumps({"code": code, "usage": "Usage: hookgate send" in shown.getvalue(),
                          "loaded": loaded(*ARGS)}))
        """,
        *TOOLS,
    )
    assert out == {"code": 0, "usage": True, "loaded": TOOLS}


def test_lxml_loads_with_the_first_xml_body_or_an_xpath_variable() -> None:
    out = run(
        """
        from hookgate.gateway.shaping.bodies import InvalidBody, media_type, parse_body
        from hookgate.gateway.shaping.extract import Extractor, RequestParts, VariableConfig
        app = create_app(config([GITHUB]))
        after_app = loaded("lxml")
        parse_body(b'{"zen": 1}', media_type("application/json"))
        after_json = loaded("lxml")
        xml = parse_body(b'<order id="42"><item>pen</item></order>', media_type("application/xml"))
        after_xml = loaded("lxml")
        try:
            parse_body(b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', media_type("application/xml"))
            dtd = "parsed"
        except InvalidBody as exc:
            dtd = str(exc)
        extractor = Extractor({"id": VariableConfig.model_validate({"xpath": "/order/@id"}),
                               "item": VariableConfig.model_validate({"xpath": "/order/item"})})
        print(json.dumps({"after_app": after_app, "after_json": after_json, "after_xml": after_xml,
                          "root": xml.xml.tag, "dtd": dtd, "vars": extractor.extract(RequestParts(body=xml))}))
        """
    )
    assert out == {
        "after_app": [],
        "after_json": [],
        "after_xml": ["lxml"],
        "root": "order",
        "dtd": "XML with a document type declaration (DTD or entities) is not accepted.",
        "vars": {"id": "42", "item": "pen"},
    }


def test_an_xpath_variable_is_compiled_when_the_config_is_validated() -> None:
    out = run(
        """
        trigger = {**GITHUB, "variables": {"id": {"xpath": "/order/@@id"}}}
        try:
            config([trigger])
            error = ""
        except Exception as exc:
            error = str(exc)
        print(json.dumps({"error": error, "loaded": loaded("lxml")}))
        """
    )
    assert "triggers[0].variables.id" in str(out["error"])
    assert "xpath does not compile" in str(out["error"])
    assert out["loaded"] == ["lxml"]
