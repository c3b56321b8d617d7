"""A runtime trigger as stored in ``{prefix}._triggers``: the record and its JSON codec.

The record key is the trigger id; the value is JSON::

    {"v": 1, "id": "...", "state": "enabled", "created_at": "...Z", "updated_at": "...Z",
     "spec": {...the spec without its secret fields...},
     "rotation": {"field": ["verify", "secrets"], "ends_at": "...Z"} | null,
     "sealed": {"key": "<key id>", "nonce": "<b64>", "data": "<b64>"} | null}

``sealed`` is AES-GCM over ``{"fields": [[path, value], ...], "previous": [...]}``: the values of the
spec's secret fields and, during a rotation, the secrets it replaced. Nothing secret is in clear text.
A tombstone (value ``None``) is a deleted trigger.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import orjson

from hookgate.gateway.catalog.crypto import KeyRing, Sealed, SealError
from hookgate.gateway.catalog.model import State
from hookgate.gateway.catalog.spec import Path, get_path, secret_fields, set_path, validate, without
from hookgate.gateway.config import TriggerConfig

VERSION = 1


class RecordError(Exception):
    """A stored record cannot be read: not the format, or its secrets do not open."""


@dataclass(frozen=True, slots=True)
class Rotation:
    """A rotation in its overlap: ``previous`` (the replaced secrets of ``field``) stay valid until ``ends_at``."""

    field: Path
    previous: tuple[str, ...]
    ends_at: datetime

    def active(self, now: datetime) -> bool:
        return now < self.ends_at


@dataclass(frozen=True, slots=True)
class TriggerRecord:
    """A runtime trigger: its spec (secrets included, in memory only), state, times and rotation."""

    id: str
    spec: dict[str, Any]
    state: State
    created_at: datetime
    updated_at: datetime
    rotation: Rotation | None = None
    key_id: str | None = None  # the key the stored record is sealed with (None: it holds no secret)

    @property
    def name(self) -> str:
        return str(self.spec.get("name", ""))

    @property
    def tenant(self) -> str:
        return str(self.spec.get("tenant", ""))

    def effective_spec(self, now: datetime) -> dict[str, Any]:
        """The spec as served at ``now``: its state as ``enabled``, plus the replaced secrets while the
        rotation's overlap lasts (the new secret first)."""
        spec: dict[str, Any] = copy.deepcopy(self.spec)
        spec["enabled"] = self.state == "enabled"
        rot = self.rotation
        if rot is not None and rot.active(now):
            current = get_path(spec, rot.field)
            if isinstance(current, list):
                set_path(spec, rot.field, [*current, *(p for p in rot.previous if p not in current)])
        return spec

    def config(self, now: datetime) -> TriggerConfig:
        """The validated trigger as served at ``now``."""
        return validate(self.effective_spec(now))

    def with_changes(self, **changes: Any) -> TriggerRecord:
        return replace(self, **changes)


def encode(record: TriggerRecord, keys: KeyRing) -> bytes:
    """The record's stored value; secrets sealed with the active key, bound to the trigger id."""
    paths = secret_fields(validate(record.spec), record.spec)
    public = without(record.spec, paths)
    previous = list(record.rotation.previous) if record.rotation is not None else []
    sealed: Sealed | None = None
    if paths or previous:
        plain = {"fields": [[list(p), get_path(record.spec, p)] for p in paths], "previous": previous}
        try:
            sealed = keys.seal(orjson.dumps(plain), record.id)
        except SealError as exc:
            raise RecordError(str(exc)) from None
    rot = record.rotation
    value = {
        "v": VERSION,
        "id": record.id,
        "state": record.state,
        "created_at": _time(record.created_at),
        "updated_at": _time(record.updated_at),
        "spec": public,
        "rotation": {"field": list(rot.field), "ends_at": _time(rot.ends_at)} if rot is not None else None,
        "sealed": sealed.to_json() if sealed is not None else None,
    }
    return orjson.dumps(value)


def decode(key: bytes | None, value: bytes, keys: KeyRing) -> TriggerRecord:
    """A stored value back into a record (secrets opened); ``RecordError`` when it cannot be read."""
    try:
        data = orjson.loads(value)
        if not isinstance(data, dict) or data.get("v") != VERSION:
            raise RecordError(f"unknown record version {data.get('v') if isinstance(data, dict) else None!r}")
        tid = str(data["id"])
        if key is not None and key.decode("utf-8", "replace") != tid:
            raise RecordError("record key and id differ")
        spec = data["spec"]
        if not isinstance(spec, dict):
            raise RecordError("spec: expected a mapping")
        previous: list[str] = []
        key_id = None
        if data.get("sealed") is not None:
            sealed = Sealed.from_json(data["sealed"])
            key_id = sealed.key_id
            plain = orjson.loads(keys.open(sealed, tid))
            for path, secret in plain["fields"]:
                if not set_path(spec, tuple(path), secret):
                    raise RecordError(f"sealed field {path} has no place in the spec")
            previous = [str(p) for p in plain.get("previous", [])]
        rotation = None
        if data.get("rotation") is not None:
            rot = data["rotation"]
            rotation = Rotation(tuple(rot["field"]), tuple(previous), _parse_time(rot["ends_at"]))
        state = data["state"]
        if state not in ("enabled", "disabled"):
            raise RecordError(f"state: {state!r}")
        return TriggerRecord(
            id=tid,
            spec=spec,
            state=state,
            created_at=_parse_time(data["created_at"]),
            updated_at=_parse_time(data["updated_at"]),
            rotation=rotation,
            key_id=key_id,
        )
    except SealError as exc:
        raise RecordError(str(exc)) from None
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise RecordError(f"not a trigger record ({type(exc).__name__}: {exc})") from None


def _time(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_time(text: Any) -> datetime:
    if not isinstance(text, str):
        raise TypeError("expected a time")
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
