"""What a replica serves: the YAML triggers and the runtime ones it has read, merged by the conflict rule.

The rule: YAML wins. A runtime trigger whose id or name is a YAML trigger's is not served (the catalog
refuses to create one; a YAML reload can still add such an id later, and then shadows it). Between two
runtime triggers of one name (two replicas raced), the one created first is served. The state is pure:
the Kafka follower feeds it records and asks it for the configs to serve at a given time.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hookgate.core.logging import get_logger
from hookgate.gateway.catalog.model import InvalidTrigger, TriggerView
from hookgate.gateway.catalog.record import TriggerRecord
from hookgate.gateway.catalog.spec import RuntimeRules, preset_of, secret_fields, validate, without
from hookgate.gateway.config import TriggerConfig
from hookgate.gateway.verify.registry import canonical_name

log = get_logger("hookgate.gateway.catalog")


def public_config(config: TriggerConfig) -> dict[str, Any]:
    """A YAML trigger's settings as a mapping, every secret field removed."""
    data = config.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return without(data, secret_fields(config, data))


@dataclass(slots=True)
class _Compiled:
    record: TriggerRecord
    overlapping: bool
    config: TriggerConfig | None


@dataclass
class LiveTriggers:
    """The YAML triggers, the runtime records, and the configs they give at a time."""

    yaml: list[TriggerConfig] = field(default_factory=list)
    base_url: str | None = None
    rules: RuntimeRules | None = None  # a runtime trigger breaking these is not served (stored by an old version)
    runtime: dict[str, TriggerRecord] = field(default_factory=dict)
    _compiled: dict[str, _Compiled] = field(default_factory=dict)
    # Public configs (secrets removed) by id, with what they were made from: listing many triggers
    # must not validate every spec again.
    _public: dict[str, tuple[object, dict[str, Any]]] = field(default_factory=dict)

    def set_yaml(self, triggers: Iterable[TriggerConfig]) -> None:
        self.yaml = list(triggers)

    def put(self, record: TriggerRecord) -> None:
        self.runtime[record.id] = record

    def remove(self, trigger_id: str) -> None:
        self.runtime.pop(trigger_id, None)
        self._compiled.pop(trigger_id, None)
        self._public.pop(trigger_id, None)

    def _public_of(self, source: TriggerConfig | TriggerRecord) -> dict[str, Any]:
        cached = self._public.get(source.id)
        if cached is not None and cached[0] is source:
            public = cached[1]
        else:
            public = public_config(source) if isinstance(source, TriggerConfig) else _public_spec(source)
            self._public[source.id] = (source, public)
        return copy.deepcopy(public)  # a caller may change its view; the cache stays as it was

    @property
    def yaml_ids(self) -> set[str]:
        return {t.id for t in self.yaml}

    def name_owner(self, name: str) -> str | None:
        """The id of the trigger served under ``name`` (YAML first, then the earliest runtime one)."""
        for t in self.yaml:
            if t.name == name:
                return t.id
        for r in sorted(self.runtime.values(), key=lambda r: (r.created_at, r.id)):
            if r.name == name:
                return r.id
        return None

    def _config(self, record: TriggerRecord, now: datetime) -> TriggerConfig | None:
        overlapping = record.rotation is not None and record.rotation.active(now)
        cached = self._compiled.get(record.id)
        if cached is not None and cached.record is record and cached.overlapping == overlapping:
            return cached.config
        try:
            config: TriggerConfig | None = record.config(now)
            if config is not None and self.rules is not None:
                self.rules.check(config)
        except InvalidTrigger as exc:  # e.g. stored by a newer version with a setting this one lacks
            log.error("runtime_trigger_invalid", trigger_id=record.id, error=str(exc))
            config = None
        self._compiled[record.id] = _Compiled(record, overlapping, config)
        return config

    def served(self, now: datetime) -> list[TriggerConfig]:
        """Every trigger config to serve at ``now``: the YAML ones, then the runtime ones the rule keeps."""
        out = list(self.yaml)
        ids = {t.id for t in self.yaml}
        names = {t.name for t in self.yaml}
        for record in sorted(self.runtime.values(), key=lambda r: (r.created_at, r.id)):
            if record.id in ids or record.name in names:
                continue
            config = self._config(record, now)
            if config is None:
                continue
            ids.add(config.id)
            names.add(config.name)
            out.append(config)
        return out

    def next_expiry(self, now: datetime) -> datetime | None:
        """When the next rotation overlap ends (its replaced secrets are to be dropped), if any."""
        ends = [r.rotation.ends_at for r in self.runtime.values() if r.rotation is not None and r.rotation.active(now)]
        return min(ends, default=None)

    def url(self, trigger_id: str) -> str | None:
        return f"{self.base_url}/hooks/{trigger_id}" if self.base_url else None

    def view(self, trigger_id: str, now: datetime) -> TriggerView | None:
        """The trigger as the API shows it (YAML wins on an id in both); None when unknown."""
        for t in self.yaml:
            if t.id == trigger_id:
                return self._yaml_view(t)
        record = self.runtime.get(trigger_id)
        return self.record_view(record, now) if record is not None else None

    def views(self, now: datetime, *, tenant: str | None = None, preset: str | None = None) -> list[TriggerView]:
        yaml_ids = self.yaml_ids
        out = [self._yaml_view(t) for t in self.yaml]
        out += [self.record_view(r, now) for r in self.runtime.values() if r.id not in yaml_ids]
        want = canonical_name(preset) if preset is not None else None
        return sorted(
            (v for v in out if (tenant is None or v.tenant == tenant) and (want is None or v.preset == want)),
            key=lambda v: v.id,
        )

    def _yaml_view(self, t: TriggerConfig) -> TriggerView:
        return TriggerView(
            id=t.id,
            name=t.name,
            tenant=t.tenant,
            preset=t.verify.type,
            state="enabled" if t.enabled else "disabled",
            origin="yaml",
            url=self.url(t.id),
            config=self._public_of(t),
        )

    def record_view(self, r: TriggerRecord, now: datetime) -> TriggerView:
        rot = r.rotation
        return TriggerView(
            id=r.id,
            name=r.name,
            tenant=r.tenant,
            preset=preset_of(r.spec) or "",
            state=r.state,
            origin="runtime",
            url=self.url(r.id),
            config=self._public_of(r),
            created_at=r.created_at,
            updated_at=r.updated_at,
            rotation_ends_at=rot.ends_at if rot is not None and rot.active(now) else None,
        )


def _public_spec(record: TriggerRecord) -> dict[str, Any]:
    """The record's spec without its secret fields; nothing at all if it no longer validates (nothing is
    then known to be safe to show)."""
    try:
        return without(record.spec, secret_fields(validate(record.spec), record.spec))
    except InvalidTrigger:
        return {}
