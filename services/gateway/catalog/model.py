"""The trigger catalog's public shape: what the admin API, the CLI and the inspector see of a trigger.

The catalog merges the triggers of the YAML file (read-only) with the runtime ones kept in the
compacted ``{prefix}._triggers`` topic. Its implementation follows that topic; this module is only the
contract, so that the admin API can be built and unit-tested against an in-memory catalog.

Rules every implementation keeps:

- an id present in YAML cannot be created, changed, disabled, rotated or deleted through the catalog
  (:class:`ReadOnlyTrigger`, HTTP 409); YAML triggers are listed with ``origin="yaml"``;
- ``spec`` is the trigger mapping exactly as YAML would hold it, validated by the same model
  (:class:`~hookgate.gateway.config.TriggerConfig`), with errors naming the field;
- nothing secret is ever returned, except the secret :meth:`TriggerCatalog.create` or
  :meth:`TriggerCatalog.rotate` generated, once;
- a write returns once this replica applies it (read-your-writes on the replica that wrote).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

Origin = Literal["yaml", "runtime"]
State = Literal["enabled", "disabled"]


@dataclass(frozen=True, slots=True)
class TriggerView:
    """A trigger as the API shows it; ``config`` is its spec with every secret removed."""

    id: str
    name: str
    tenant: str
    preset: str
    state: State
    origin: Origin
    url: str | None  # the public URL (``public_base_url`` + ``/hooks/<id>``), None when no base URL is set
    config: Mapping[str, Any]
    created_at: datetime | None = None  # None for YAML triggers
    updated_at: datetime | None = None
    rotation_ends_at: datetime | None = None  # when a secret replaced by a rotation stops being accepted


@dataclass(frozen=True, slots=True)
class Issued:
    """A trigger with the secret generated for it, shown this once (None for presets without one)."""

    trigger: TriggerView
    secret: str | None


@dataclass(frozen=True, slots=True)
class FieldError:
    """One validation error: the field path as the user wrote it (``verify.secrets[0]``) and why."""

    path: str
    message: str


class CatalogError(Exception):
    """A catalog operation refused; the admin API maps each subclass to one status."""


class UnknownTrigger(CatalogError):
    """No such trigger (404). Also what a tenant sees for another tenant's trigger."""


class ReadOnlyTrigger(CatalogError):
    """The trigger is defined in YAML (409)."""


class TriggerExists(CatalogError):
    """A trigger with this id or this name already exists (409)."""


@dataclass
class InvalidTrigger(CatalogError):
    """The spec fails validation (422)."""

    errors: Sequence[FieldError] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(f"{e.path}: {e.message}" for e in self.errors)


class CatalogUnavailable(CatalogError):
    """Kafka did not acknowledge the write in time (503); nothing changed."""


class TriggerCatalog(Protocol):
    """Read and change triggers. Reads are local (the replica's view); writes go through Kafka."""

    def list(self, *, tenant: str | None = None, preset: str | None = None) -> list[TriggerView]:
        """Every trigger (YAML and runtime), sorted by id, optionally of one tenant and/or preset."""
        ...

    def get(self, trigger_id: str) -> TriggerView | None: ...

    async def create(self, spec: Mapping[str, Any]) -> Issued:
        """Create a runtime trigger. ``id`` is generated when absent; so is the secret of a preset that
        needs one (``verify.secrets`` / ``verify.tokens`` absent), returned in :class:`Issued`."""
        ...

    async def update(self, trigger_id: str, spec: Mapping[str, Any]) -> TriggerView:
        """Replace a runtime trigger's spec; secrets absent from ``spec`` are kept."""
        ...

    async def set_enabled(self, trigger_id: str, enabled: bool) -> TriggerView: ...

    async def delete(self, trigger_id: str) -> None: ...

    async def rotate(self, trigger_id: str, *, grace_seconds: int) -> Issued:
        """A new secret, returned once; the old one is accepted for ``grace_seconds`` more, by every replica."""
        ...

    async def reseal(self) -> int:
        """Re-encrypt every runtime record sealed with a key other than the active one (after the encryption
        keys were rotated, so that the old key can be dropped); returns how many records were rewritten."""
        ...
