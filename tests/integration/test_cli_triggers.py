"""``hookgate triggers`` as a user runs it (a subprocess), against a live admin app (in-memory catalog)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from hookgate.admin.api import create_admin_app
from tests.support.admin import ACME_TOKEN, ADMIN_TOKEN, admin_in_thread, admin_settings
from tests.support.cli import hookgate
from tests.support.memory_catalog import MemoryCatalog
from tests.support.memory_inspector import MemoryInspector

YAML_ID = "yaml-trigger-00000000000001"


@pytest.fixture
def admin_url() -> Iterator[str]:
    yaml = {"id": YAML_ID, "name": "static", "tenant": "acme", "verify": {"type": "none"}}
    catalog = MemoryCatalog(yaml=[yaml], public_base_url="https://hooks.example.com")
    with admin_in_thread(create_admin_app(admin_settings(), catalog, MemoryInspector())) as url:
        yield url


async def test_trigger_lifecycle_through_the_cli(admin_url: str, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(ADMIN_TOKEN + "\n")
    auth = ["--admin-url", admin_url, "--token", f"file:{token_file}"]

    code, out, _ = await hookgate("triggers", "create", "--name", "gh", "--tenant", "acme", "-p", "github", *auth)
    assert code == 0
    assert "secret:" in out
    assert "shown this once" in out
    assert "url:              https://hooks.example.com/hooks/" in out

    spec = tmp_path / "bearer.yaml"
    spec.write_text("name: tok\ntenant: acme\nverify:\n  type: bearer\n")
    code, out, _ = await hookgate("triggers", "create", "-f", str(spec), "--json", *auth)
    assert code == 0
    created = json.loads(out)
    tid = created["trigger"]["id"]
    assert created["secret"]

    code, out, _ = await hookgate("triggers", "list", *auth)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "NAME", "TENANT", "PRESET", "STATE", "ORIGIN", "URL"]
    assert len(lines) == 4
    assert any(tid in line and "bearer" in line and "runtime" in line for line in lines)
    assert any(YAML_ID in line and "yaml" in line for line in lines)

    code, out, _ = await hookgate("triggers", "list", "--preset", "bearer", "--json", *auth)
    assert [t["id"] for t in json.loads(out)] == [tid]

    code, out, err = await hookgate("triggers", "disable", "--json", *auth, "--", tid)
    assert code == 0, err
    assert json.loads(out)["state"] == "disabled"
    code, out, _ = await hookgate("triggers", "enable", *auth, "--", tid)
    assert code == 0
    assert "enabled" in out

    code, out, _ = await hookgate(
        "triggers",
        "update",
        "--set",
        "rate_limit.per_second=5",
        "--set",
        "rate_limit.burst=10",
        "--json",
        *auth,
        "--",
        tid,
    )
    assert code == 0
    assert json.loads(out)["config"]["rate_limit"]["per_second"] == 5

    code, out, _ = await hookgate("triggers", "show", *auth, "--", tid)
    assert code == 0
    assert "per_second: 5" in out
    assert created["secret"] not in out

    code, out, _ = await hookgate("triggers", "rotate", "--grace-seconds", "60", "--json", *auth, "--", tid)
    rotated = json.loads(out)
    assert code == 0
    assert rotated["secret"] not in (None, created["secret"])

    code, out, _ = await hookgate("triggers", "delete", *auth, "--", tid)
    assert (code, out.strip()) == (0, f"deleted {tid}")

    code, out, _ = await hookgate("triggers", "reseal", *auth)
    assert (code, out.strip()) == (0, "resealed 0 runtime trigger record(s) under the active key")
    code, out, _ = await hookgate("triggers", "reseal", "--json", *auth)
    assert (code, json.loads(out)) == (0, {"records": 0})


async def test_exit_codes(admin_url: str) -> None:
    admin = ["--admin-url", admin_url, "--token", ADMIN_TOKEN]
    acme = ["--admin-url", admin_url, "--token", ACME_TOKEN]
    code, _, err = await hookgate("triggers", "show", "no-such-trigger-00000000001", *admin)
    assert code == 3
    assert "not_found" in err
    code, _, err = await hookgate("triggers", "disable", *admin, "--", YAML_ID)
    assert code == 4
    assert "read_only_trigger" in err
    code, _, err = await hookgate("triggers", "create", "--name", "x", "--tenant", "acme", "-p", "nope", *admin)
    assert code == 2
    assert "verify" in err
    code, _, err = await hookgate("triggers", "create", "--name", "x", "--tenant", "globex", "-p", "github", *acme)
    assert code == 6
    assert "forbidden_tenant" in err
    code, _, err = await hookgate("triggers", "reseal", *acme)
    assert code == 6
    assert "admin_only" in err
    code, _, err = await hookgate("triggers", "list", "--admin-url", admin_url, "--token", "wrong-token")
    assert code == 6
    assert "unauthorized" in err
    code, _, err = await hookgate("triggers", "list", "--admin-url", "http://127.0.0.1:9", "--token", "t")
    assert code == 5
    assert "cannot reach" in err
