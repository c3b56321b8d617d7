"""Reload the gateway's YAML ``triggers:`` without a restart: on SIGHUP, and when the file changes
(``gateway.reload_interval_seconds``), with the loop the consumer's workflow reload uses
(:mod:`hookgate.core.reload`).

A reload re-reads and validates the whole file; only its ``triggers:`` are applied (the other sections
take a restart). Anything wrong keeps the triggers in force and logs why, naming the key path.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from hookgate.core.config import ConfigError, load_yaml
from hookgate.core.logging import get_logger
from hookgate.core.reload import watch_file
from hookgate.gateway.catalog.kafka import KafkaTriggerCatalog
from hookgate.gateway.config import GatewayConfig

log = get_logger("hookgate.gateway")


async def reload_triggers(path: Path, catalog: KafkaTriggerCatalog, *, reason: str = "signal") -> bool:
    """Load ``path`` and serve its triggers; False (old set kept, error logged) when the file is invalid."""
    try:
        config = load_yaml(GatewayConfig, path)
    except ConfigError as exc:
        log.error("triggers_reload_failed", reason=reason, outcome="kept_previous", error=str(exc))
        return False
    for warning in config.startup_warnings():
        log.warning(warning.event, trigger=warning.trigger, key=warning.key, message=warning.message)
    before = {t.name for t in catalog.yaml}
    await catalog.set_yaml(config.triggers)
    after = [t.name for t in config.triggers]
    shadowed = sorted(t.name for t in catalog.runtime_shadowed())
    log.info(
        "triggers_reloaded",
        reason=reason,
        outcome="applied",
        triggers=after,
        added=sorted(set(after) - before),
        removed=sorted(before - set(after)),
        **({"shadowed_runtime": shadowed} if shadowed else {}),
    )
    return True


def install_trigger_reload(
    path: Path, catalog: KafkaTriggerCatalog, stop: asyncio.Event, *, interval: float | None = None
) -> asyncio.Task[None]:
    """Reload ``path``'s triggers on SIGHUP (and every ``interval`` s when it changed) until ``stop``."""
    return watch_file(
        path,
        lambda reason: reload_triggers(path, catalog, reason=reason),
        stop,
        interval=interval,
        name="trigger-reload",
    )
