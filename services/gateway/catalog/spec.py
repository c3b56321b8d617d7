"""Runtime trigger specs: validation by the YAML model, secret fields, generated ids and secrets.

A spec is the trigger mapping exactly as YAML would hold it. It is validated by
:class:`~hookgate.gateway.config.TriggerConfig` itself, so the errors are the YAML ones, naming the field
(``verify.secrets``). Two things differ from a YAML file: nothing is interpolated (``${ENV}`` stays
literal text), and a secret given as ``file:/path`` is refused, since it would read a file of the
gateway's on behalf of whoever called the API.

Secret fields are found from the validated model, not from a list: every field whose value is typed
:data:`~hookgate.core.config.Secret` (``verify.secrets``, ``verify.tokens``, ``websub.verify_token``,
public keys, passwords) is one, wherever it sits.
"""

from __future__ import annotations

import base64
import copy
import secrets
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import BaseModel, SecretStr, ValidationError

from hookgate.core.config import format_path, user_path
from hookgate.gateway.catalog.model import FieldError, InvalidTrigger
from hookgate.gateway.config import TriggerConfig
from hookgate.gateway.verify.registry import VerifyConfig, canonical_name

Path = tuple[str | int, ...]
"""A key path into a spec: ``("verify", "secrets")``."""

ROTATABLE = ("secrets", "tokens")
"""The ``verify`` list fields a rotation replaces (HMAC presets sign with ``secrets``, token presets
compare ``tokens``); all entries of the list are accepted, which is what makes the overlap work."""

_WHSEC_PRESETS = frozenset({"standard_webhooks", "svix"})
_FILE_SENTINEL = "\x00hookgate-file-reference"


def new_trigger_id() -> str:
    """A new unguessable trigger id (about 192 random bits, URL-safe): what ``hookgate gen-id`` prints.

    It starts with a letter or digit: an id starting with ``-`` would read as an option on a command
    line (``hookgate triggers show -x...``). Drawing again costs under 0.05 bits of the 192.
    """
    while (trigger_id := secrets.token_urlsafe(24))[0] in "-_":
        pass
    return trigger_id


def new_secret(preset: str) -> str:
    """A fresh secret in the preset's format: ``whsec_``+base64 for Standard Webhooks and Svix, else
    256 random bits URL-safe."""
    if canonical_name(preset) in _WHSEC_PRESETS:
        return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    return secrets.token_urlsafe(32)


def _preset_models() -> dict[str, type[BaseModel]]:
    union = typing.get_args(VerifyConfig)[0]
    out: dict[str, type[BaseModel]] = {}
    for model in typing.get_args(union):
        for name in typing.get_args(model.model_fields["type"].annotation):
            out[name] = model
    return out


PRESETS = _preset_models()
"""Every preset name -> its config model."""


def preset_of(spec: Mapping[str, Any]) -> str | None:
    verify = spec.get("verify")
    kind = verify.get("type") if isinstance(verify, Mapping) else None
    return canonical_name(kind) if isinstance(kind, str) else None


def generated_secret_field(spec: Mapping[str, Any]) -> str | None:
    """The ``verify`` field a secret is generated into when the spec leaves it out, or None.

    A preset whose list of secrets or tokens is required gets one; Standard Webhooks and Svix (whose
    ``secrets`` are optional beside ``public_keys``) get one when they have neither.
    """
    preset = preset_of(spec)
    model = PRESETS.get(preset) if preset is not None else None
    verify = spec.get("verify")
    if model is None or not isinstance(verify, Mapping):
        return None
    for name in ROTATABLE:
        field = model.model_fields.get(name)
        if field is None or verify.get(name):
            continue
        if field.is_required() or (preset in _WHSEC_PRESETS and not verify.get("public_keys")):
            return name
    return None


def json_copy(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``spec`` as plain JSON data; ``InvalidTrigger`` when it is not JSON."""
    try:
        data = orjson.loads(orjson.dumps(spec))
    except (TypeError, orjson.JSONEncodeError):
        raise InvalidTrigger([FieldError("<root>", "expected a JSON mapping")]) from None
    if not isinstance(data, dict):
        raise InvalidTrigger([FieldError("<root>", "expected a mapping of keys")])
    return data


def validate(spec: Mapping[str, Any]) -> TriggerConfig:
    """``spec`` validated by the YAML trigger model; ``InvalidTrigger`` with one error per problem.

    A secret written ``file:/path`` is refused before anything reads the file.
    """
    masked = _mask_files(spec)
    config = _validate(masked)
    refused = [
        FieldError(format_path(path), "file: references are read from the YAML file only; give the value")
        for path in secret_fields(config, masked)
        if _mentions_file(_at(masked, path))
    ]
    if refused:
        raise InvalidTrigger(refused)
    return config if masked == spec else _validate(spec)


def _validate(spec: Mapping[str, Any]) -> TriggerConfig:
    try:
        return TriggerConfig.model_validate(spec)
    except ValidationError as exc:
        errors = []
        for err in exc.errors(include_input=False, include_url=False):
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            loc = user_path(loc, spec, missing=err["type"] == "missing")
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            errors.append(FieldError(format_path(loc), msg))
        raise InvalidTrigger(errors) from None


def _mask_files(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _mask_files(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_mask_files(v) for v in node]
    if isinstance(node, str) and node.startswith("file:"):
        return _FILE_SENTINEL
    return node


def _mentions_file(node: Any) -> bool:
    if isinstance(node, dict):
        return any(_mentions_file(v) for v in node.values())
    if isinstance(node, list):
        return any(_mentions_file(v) for v in node)
    return isinstance(node, str) and node == _FILE_SENTINEL


def secret_fields(config: BaseModel, spec: Mapping[str, Any]) -> list[Path]:
    """The key paths in ``spec`` of every field whose validated value is a secret (or a list or mapping
    of secrets), in the order the model declares them."""
    return list(_secret_fields(config, spec, ()))


def _secret_fields(model: BaseModel, raw: Any, at: Path) -> Iterator[Path]:
    if not isinstance(raw, Mapping):
        return
    for name, field in type(model).model_fields.items():
        key = field.alias or name
        if key not in raw:
            continue
        yield from _value_fields(getattr(model, name), raw[key], (*at, key))


def _value_fields(value: Any, raw: Any, at: Path) -> Iterator[Path]:
    if _is_secret(value):
        yield at
    elif isinstance(value, BaseModel):
        yield from _secret_fields(value, raw, at)
    elif isinstance(value, list | tuple) and isinstance(raw, list):
        for i, (v, r) in enumerate(zip(value, raw, strict=False)):
            yield from _value_fields(v, r, (*at, i))
    elif isinstance(value, Mapping) and isinstance(raw, Mapping):
        for k, v in value.items():
            if k in raw:
                yield from _value_fields(v, raw[k], (*at, k))


def _is_secret(value: Any) -> bool:
    if isinstance(value, SecretStr):
        return True
    if isinstance(value, list | tuple) and value:
        return all(isinstance(v, SecretStr) for v in value)
    if isinstance(value, Mapping) and value:
        return all(isinstance(v, SecretStr) for v in value.values())
    return False


def _at(node: Any, path: Path) -> Any:
    for part in path:
        node = node[part]
    return node


def get_path(spec: Mapping[str, Any], path: Path) -> Any:
    """The value at ``path``, or None when any part is missing."""
    node: Any = spec
    for part in path:
        in_map = isinstance(node, Mapping) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if not (in_map or in_list):
            return None
        node = node[part]
    return node


def set_path(spec: dict[str, Any], path: Path, value: Any) -> bool:
    """Set ``path`` in ``spec`` (its parents must exist); False when they do not."""
    parent = get_path(spec, path[:-1])
    last = path[-1]
    if isinstance(parent, dict) and isinstance(last, str):
        parent[last] = value
        return True
    if isinstance(parent, list) and isinstance(last, int) and 0 <= last < len(parent):
        parent[last] = value
        return True
    return False


def without(spec: Mapping[str, Any], paths: list[Path]) -> dict[str, Any]:
    """A copy of ``spec`` with the fields at ``paths`` removed; a secret inside a list of other values
    leaves a ``None`` in its place, so that the other entries keep their indices."""
    out = copy.deepcopy(dict(spec))
    for path in paths:
        parent = get_path(out, path[:-1])
        last = path[-1]
        if isinstance(parent, dict) and last in parent:
            del parent[last]
        elif isinstance(parent, list) and isinstance(last, int) and 0 <= last < len(parent):
            parent[last] = None
    return out


@dataclass(frozen=True, slots=True)
class RuntimeRules:
    """What a runtime trigger must also respect beyond its own model (a YAML file is checked for these by
    :class:`~hookgate.gateway.config.GatewayConfig` and by whoever writes it; an API caller is not).

    - its ``topic`` is no internal topic (``{prefix}._*``): a trigger writing webhook bodies into the
      trigger topic could define triggers, into a dedupe changelog or the audit topic forge their records;
    - ``client_cert_subjects`` needs the gateway terminating mTLS (``gateway.tls.client_ca``).
    """

    internal_prefix: str
    client_ca: bool = False

    def problems(self, config: TriggerConfig) -> list[FieldError]:
        errors = []
        if config.topic is not None and config.topic.startswith(self.internal_prefix):
            errors.append(FieldError("topic", f"internal topics ({self.internal_prefix}*) take no events"))
        if config.client_cert_subjects and not self.client_ca:
            errors.append(
                FieldError("client_cert_subjects", "needs gateway.tls.client_ca (the gateway terminating mTLS)")
            )
        return errors

    def check(self, config: TriggerConfig) -> TriggerConfig:
        """``config``, or ``InvalidTrigger`` naming each rule it breaks."""
        errors = self.problems(config)
        if errors:
            raise InvalidTrigger(errors)
        return config
