"""What a replica serves from YAML and runtime triggers: the conflict rule, rotation timing on an
injected clock, views without secrets, and the registry swap."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from structlog.testing import capture_logs

from hookgate.core.settings import KafkaSettings, TopicSettings
from hookgate.gateway.catalog.kafka import KafkaTriggerCatalog
from hookgate.gateway.catalog.live import LiveTriggers
from hookgate.gateway.catalog.model import CatalogUnavailable
from hookgate.gateway.catalog.record import Rotation, TriggerRecord
from hookgate.gateway.catalog.reload import install_trigger_reload, reload_triggers
from hookgate.gateway.catalog.settings import CatalogSettings
from hookgate.gateway.catalog.spec import RuntimeRules, new_trigger_id, validate
from hookgate.gateway.config import TriggerConfig
from hookgate.gateway.triggers import TriggerRegistry

T0 = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)


def spec(name: str, secret: str = "s1", tid: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": tid or new_trigger_id(),
        "name": name,
        "tenant": "acme",
        "verify": {"type": "github", "secrets": [secret]},
        **extra,
    }


def runtime(name: str, created: datetime = T0, **kw: Any) -> TriggerRecord:
    rotation = kw.pop("rotation", None)
    data = spec(name, **kw)
    return TriggerRecord(data["id"], data, "enabled", created, created, rotation)


def secrets_of(config: TriggerConfig) -> list[str]:
    return [s.get_secret_value() for s in config.verify.secrets]  # type: ignore[union-attr]


def test_yaml_wins_on_id_and_name_and_the_earliest_runtime_trigger_on_a_name() -> None:
    yaml_cfg = validate(spec("gh"))
    live = LiveTriggers([yaml_cfg])
    same_id = TriggerRecord(yaml_cfg.id, spec("other", tid=yaml_cfg.id), "enabled", T0, T0)
    same_name = runtime("gh")
    first = runtime("dup", T0)
    second = runtime("dup", T0 + timedelta(seconds=1))
    for r in (same_id, same_name, second, first):
        live.put(r)
    served = live.served(T0)
    assert [c.id for c in served] == [yaml_cfg.id, first.id]
    assert live.name_owner("dup") == first.id
    view = live.view(yaml_cfg.id, T0)
    assert view is not None
    assert view.origin == "yaml"  # the YAML definition is the one listed for the id


def test_rotation_overlap_ends_on_time_by_the_clock() -> None:
    ends = T0 + timedelta(seconds=60)
    rec = runtime("gh", secret="new", rotation=Rotation(("verify", "secrets"), ("old",), ends))
    live = LiveTriggers([])
    live.put(rec)
    assert secrets_of(live.served(T0)[0]) == ["new", "old"]
    assert live.next_expiry(T0) == ends
    assert secrets_of(live.served(ends - timedelta(milliseconds=1))[0]) == ["new", "old"]
    assert secrets_of(live.served(ends)[0]) == ["new"]
    assert live.next_expiry(ends) is None
    view = live.view(rec.id, T0)
    assert view is not None
    assert view.rotation_ends_at == ends
    late = live.view(rec.id, ends)
    assert late is not None
    assert late.rotation_ends_at is None


def test_views_hold_no_secret_and_carry_the_url() -> None:
    yaml_cfg = validate(spec("y", secret="yaml-secret", websub={"verify_token": "yaml-token"}))
    live = LiveTriggers([yaml_cfg], base_url="https://hooks.example.com/in")
    rec = runtime("r", secret="runtime-secret", rotation=Rotation(("verify", "secrets"), ("prev",), T0 + timedelta(1)))
    live.put(rec)
    views = live.views(T0)
    assert len(views) == 2
    text = repr(views)
    for secret in ("yaml-secret", "yaml-token", "runtime-secret", "prev"):
        assert secret not in text
    by_origin = {v.origin: v for v in views}
    assert by_origin["runtime"].url == f"https://hooks.example.com/in/hooks/{rec.id}"
    assert by_origin["runtime"].preset == "github"
    assert by_origin["yaml"].config["verify"] == {"type": "github"}
    assert live.views(T0, tenant="nobody") == []
    assert [v.id for v in live.views(T0, preset="github")] == sorted(v.id for v in views)
    assert LiveTriggers([yaml_cfg]).views(T0)[0].url is None


def test_registry_swaps_whole_sets_and_reuses_unchanged_triggers() -> None:
    a, b = validate(spec("a")), validate(spec("b"))
    registry = TriggerRegistry([a], TopicSettings(prefix="p"), 1024)
    compiled_a = registry.get(a.id)
    assert compiled_a is not None
    registry.replace([a, b])
    assert registry.get(a.id) is compiled_a
    assert registry.get(b.id) is not None
    disabled_b = b.model_copy(update={"enabled": False})
    changed_a = validate(spec("a", secret="s2", tid=a.id))
    registry.replace([changed_a, disabled_b])
    assert registry.get(b.id) is None  # disabled answers like unknown
    now_a = registry.get(a.id)
    assert now_a is not None
    assert now_a is not compiled_a
    assert now_a.config == changed_a
    registry.replace([])
    assert len(registry) == 0


def disabled_catalog(yaml_triggers: list[TriggerConfig], applied: list[list[str]]) -> KafkaTriggerCatalog:
    async def apply(configs: list[TriggerConfig]) -> bool:
        applied.append([c.name for c in configs])
        return True

    catalog = KafkaTriggerCatalog(KafkaSettings(), CatalogSettings(enabled=False), yaml_triggers, apply=apply)
    return catalog


async def test_a_catalog_that_does_not_follow_lists_yaml_and_refuses_writes() -> None:
    catalog = disabled_catalog([validate(spec("y"))], [])
    assert catalog.readiness() == (True, {})
    assert [v.name for v in catalog.list()] == ["y"]
    with pytest.raises(CatalogUnavailable, match="enabled: false"):
        await catalog.create(spec("new"))


def write_config(path: Path, triggers: list[dict[str, Any]] | str) -> None:
    path.write_text(triggers if isinstance(triggers, str) else yaml.safe_dump({"triggers": triggers}))


async def test_yaml_reload_applies_valid_files_and_keeps_the_old_set_otherwise(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    applied: list[list[str]] = []
    catalog = disabled_catalog([validate(spec("a"))], applied)
    write_config(path, [spec("a"), spec("b")])
    with capture_logs() as logs:
        assert await reload_triggers(path, catalog, reason="file_changed")
    assert applied[-1] == ["a", "b"]
    done = next(e for e in logs if e["event"] == "triggers_reloaded")
    assert done["added"] == ["b"]
    assert done["removed"] == []

    bad = spec("c")
    bad["verify"] = {"type": "github"}
    for content, words in [
        ([bad], "triggers[0].verify.secrets"),
        ([spec("c", mehtods=["GET"])], "triggers[0].mehtods: unknown key"),
        ("triggers: [\n", "not valid YAML"),
    ]:
        write_config(path, content)
        with capture_logs() as logs:
            assert not await reload_triggers(path, catalog)
        failed = next(e for e in logs if e["event"] == "triggers_reload_failed")
        assert words in failed["error"]
        assert failed["outcome"] == "kept_previous"
        assert [t.name for t in catalog.yaml] == ["a", "b"]
    assert len(applied) == 1


async def test_trigger_reload_on_sighup_and_on_file_change(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    a, b = spec("a"), spec("b")
    write_config(path, [a])
    applied: list[list[str]] = []
    catalog = disabled_catalog([], applied)
    stop = asyncio.Event()

    async def until(done: Callable[[], bool]) -> None:
        async with asyncio.timeout(10):
            while True:
                if done():
                    return
                await asyncio.sleep(0.01)

    with capture_logs() as logs:
        task = install_trigger_reload(path, catalog, stop, interval=0.05)
        await until(lambda: any(e["event"] == "trigger_reload_ready" for e in logs))
        os.kill(os.getpid(), signal.SIGHUP)  # the handler is installed: this reloads, it does not kill
        await until(lambda: applied[-1:] == [["a"]])
        write_config(path, [a, b])  # the file watch notices the new content
        await until(lambda: applied[-1:] == [["a", "b"]])
        stop.set()
        await asyncio.wait_for(task, 5)
    assert [e["reason"] for e in logs if e["event"] == "triggers_reloaded"] == ["signal", "file_changed"]


def test_a_stored_runtime_trigger_breaking_the_rules_is_not_served() -> None:
    live = LiveTriggers([], rules=RuntimeRules("p._"))
    bad = runtime("bad", topic="p._triggers")
    good = runtime("good")
    live.put(bad)
    live.put(good)
    with capture_logs() as logs:
        assert [c.name for c in live.served(T0)] == ["good"]
    assert any(e["event"] == "runtime_trigger_invalid" and e["trigger_id"] == bad.id for e in logs)
