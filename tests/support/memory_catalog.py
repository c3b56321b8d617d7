"""An in-memory :class:`~hookgate.gateway.catalog.model.TriggerCatalog`, for unit tests of the admin API.

It keeps the protocol's rules (YAML triggers read-only, validation by the config model with errors
naming the field, generated ids and secrets returned once, secrets never shown) without Kafka.
"""

from __future__ import annotations

import copy
import secrets
import typing
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from hookgate.core.config import format_path, user_path
from hookgate.gateway.catalog.model import (
    CatalogUnavailable,
    FieldError,
    InvalidTrigger,
    Issued,
    ReadOnlyTrigger,
    TriggerExists,
    TriggerView,
    UnknownTrigger,
)
from hookgate.gateway.config import TriggerConfig
from hookgate.gateway.verify.registry import VerifyConfig

_SECRET_KEYS = frozenset({"secrets", "tokens", "verify_token"})


def _preset_secret_fields() -> dict[str, str]:
    """Each preset's name -> the list field that holds its secrets (``secrets`` or ``tokens``)."""
    union = typing.get_args(VerifyConfig)[0]
    out: dict[str, str] = {}
    for model in typing.get_args(union):
        names = typing.get_args(model.model_fields["type"].annotation)
        for key in ("secrets", "tokens"):
            if key in model.model_fields:
                for name in names:
                    out[name] = key
    return out


PRESET_SECRETS = _preset_secret_fields()


def strip_secrets(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: strip_secrets(v) for k, v in node.items() if k not in _SECRET_KEYS}
    if isinstance(node, list):
        return [strip_secrets(v) for v in node]
    return node


class MemoryCatalog:
    """Triggers in a dict; ``yaml`` ones read-only. Set ``unavailable`` to make writes fail with 503."""

    def __init__(self, yaml: list[Mapping[str, Any]] | None = None, public_base_url: str | None = None) -> None:
        self.public_base_url = public_base_url
        self.unavailable = False
        self.reseals = 0  # reseal() calls
        self._yaml: dict[str, dict[str, Any]] = {}
        self._runtime: dict[str, dict[str, Any]] = {}
        self._meta: dict[str, dict[str, Any]] = {}
        for spec in yaml or []:
            self._validate(dict(spec))
            self._yaml[spec["id"]] = copy.deepcopy(dict(spec))

    # ------------------------------------------------------------------------------------------ reads

    def list(self, *, tenant: str | None = None, preset: str | None = None) -> list[TriggerView]:
        views = [self._view(i) for i in sorted({*self._yaml, *self._runtime})]
        return [v for v in views if (tenant is None or v.tenant == tenant) and (preset is None or v.preset == preset)]

    def get(self, trigger_id: str) -> TriggerView | None:
        if trigger_id in self._yaml or trigger_id in self._runtime:
            return self._view(trigger_id)
        return None

    def spec(self, trigger_id: str) -> dict[str, Any]:
        """The stored spec, secrets included (tests check what was kept)."""
        return copy.deepcopy(self._runtime[trigger_id])

    # ----------------------------------------------------------------------------------------- writes

    async def create(self, spec: Mapping[str, Any]) -> Issued:
        data = copy.deepcopy(dict(spec))
        data.setdefault("id", secrets.token_urlsafe(24))
        secret = self._fill_secret(data)
        self._validate(data)
        if data["id"] in self._yaml:
            raise ReadOnlyTrigger(data["id"])
        if data["id"] in self._runtime or any(s["name"] == data["name"] for s in self._all()):
            raise TriggerExists(data["id"])
        self._check_available()
        now = datetime.now(UTC)
        self._runtime[data["id"]] = data
        self._meta[data["id"]] = {"created_at": now, "updated_at": now, "rotation_ends_at": None}
        return Issued(trigger=self._view(data["id"]), secret=secret)

    async def update(self, trigger_id: str, spec: Mapping[str, Any]) -> TriggerView:
        old = self._writable(trigger_id)
        data = copy.deepcopy(dict(spec))
        data["id"] = trigger_id
        verify = data.get("verify")
        old_verify = old.get("verify", {})
        if isinstance(verify, dict) and verify.get("type") == old_verify.get("type"):
            for key in ("secrets", "tokens"):
                if key in old_verify and key not in verify:
                    verify[key] = old_verify[key]
        self._validate(data)
        if any(s["name"] == data["name"] and s["id"] != trigger_id for s in self._all()):
            raise TriggerExists(trigger_id)
        self._check_available()
        self._runtime[trigger_id] = data
        self._meta[trigger_id]["updated_at"] = datetime.now(UTC)
        return self._view(trigger_id)

    async def set_enabled(self, trigger_id: str, enabled: bool) -> TriggerView:
        self._writable(trigger_id)
        self._check_available()
        self._runtime[trigger_id]["enabled"] = enabled
        self._meta[trigger_id]["updated_at"] = datetime.now(UTC)
        return self._view(trigger_id)

    async def delete(self, trigger_id: str) -> None:
        self._writable(trigger_id)
        self._check_available()
        del self._runtime[trigger_id]
        del self._meta[trigger_id]

    async def rotate(self, trigger_id: str, *, grace_seconds: int) -> Issued:
        spec = self._writable(trigger_id)
        self._check_available()
        verify = spec["verify"]
        key = PRESET_SECRETS.get(verify.get("type", ""))
        if key is None:
            return Issued(trigger=self._view(trigger_id), secret=None)
        secret = secrets.token_urlsafe(32)
        verify[key] = [secret, *verify.get(key, [])[:1]]
        self._meta[trigger_id]["rotation_ends_at"] = datetime.now(UTC) + timedelta(seconds=grace_seconds)
        return Issued(trigger=self._view(trigger_id), secret=secret)

    async def reseal(self) -> int:
        """Nothing is sealed in memory; counts the calls (for the admin API's tests)."""
        self._check_available()
        self.reseals += 1
        return 0

    # -------------------------------------------------------------------------------------- internals

    def _all(self) -> list[dict[str, Any]]:
        return [*self._yaml.values(), *self._runtime.values()]

    def _check_available(self) -> None:
        if self.unavailable:
            raise CatalogUnavailable("kafka did not acknowledge")

    def _writable(self, trigger_id: str) -> dict[str, Any]:
        if trigger_id in self._yaml:
            raise ReadOnlyTrigger(trigger_id)
        if trigger_id not in self._runtime:
            raise UnknownTrigger(trigger_id)
        return self._runtime[trigger_id]

    @staticmethod
    def _fill_secret(data: dict[str, Any]) -> str | None:
        verify = data.get("verify")
        if not isinstance(verify, dict) or not isinstance(verify.get("type"), str):
            return None
        key = PRESET_SECRETS.get(verify["type"].replace("-", "_"))
        if key is None or key in verify:
            return None
        secret = secrets.token_urlsafe(32)
        verify[key] = [secret]
        return secret

    @staticmethod
    def _validate(data: dict[str, Any]) -> None:
        try:
            TriggerConfig.model_validate(data)
        except ValidationError as exc:
            errors = []
            for err in exc.errors(include_input=False, include_url=False):
                loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
                loc = user_path(loc, data, missing=err["type"] == "missing")
                msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
                errors.append(FieldError(path=format_path(loc), message=msg))
            raise InvalidTrigger(errors) from None

    def _view(self, trigger_id: str) -> TriggerView:
        origin = "yaml" if trigger_id in self._yaml else "runtime"
        spec = self._yaml.get(trigger_id) or self._runtime[trigger_id]
        meta = self._meta.get(trigger_id, {})
        base = self.public_base_url
        return TriggerView(
            id=trigger_id,
            name=spec["name"],
            tenant=spec["tenant"],
            preset=str(spec["verify"]["type"]).replace("-", "_"),
            state="enabled" if spec.get("enabled", True) else "disabled",
            origin=origin,
            url=f"{base}/hooks/{trigger_id}" if base else None,
            config=strip_secrets(spec),
            created_at=meta.get("created_at"),
            updated_at=meta.get("updated_at"),
            rotation_ends_at=meta.get("rotation_ends_at"),
        )
