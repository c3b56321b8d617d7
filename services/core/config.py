"""Declarative configuration: YAML plus environment, validated at start-up.

Every string in a config file may reference the environment as ``${NAME}`` (or ``${NAME:-default}``);
``$${`` is a literal ``${``. Secret fields (one type, :data:`Secret`, for every secret-like value:
secrets, tokens, passwords, public keys) additionally accept ``file:/path`` to read a mounted secret.
Validation errors name the file, the key path as the user wrote it (``triggers[2].verify.secrets[0]``)
and what was expected; they never echo values, because the values may be secrets.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, SecretStr, ValidationError

from hookgate.core.regex import Regex as Regex  # the config type for regular expressions lives with RE2

# ``$${`` first: leftmost-first alternation makes it the escape wherever it starts.
_ENV_REF = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

M = TypeVar("M", bound=BaseModel)


class ConfigError(Exception):
    """A configuration file could not be loaded; the message names the file and the key path."""


class StrictModel(BaseModel):
    """Base for every config section: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def read_secret(value: str) -> str:
    """A literal secret, or the contents of ``file:/path`` (trailing newline dropped).

    Raises :class:`ValueError` naming the file when it cannot be read. Config files and the CLI's
    ``--secret`` share this, so ``file:`` means the same thing everywhere.
    """
    if value.startswith("file:"):
        path = Path(value[len("file:") :])
        try:
            return path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ValueError(f"cannot read secret file {path}: {exc.strerror}") from None
    return value


def _resolve_secret(value: Any) -> Any:
    return read_secret(value) if isinstance(value, str) else value


Secret = Annotated[SecretStr, BeforeValidator(_resolve_secret)]
"""A secret value: literal, ``${ENV}`` or ``file:/path``; hidden from repr and logs.

Every secret-like field is this type, refined where its text has a format (a public key, a ``whsec_``
secret) by :func:`secret_format`, so ``file:`` works for all of them alike."""


def secret_format(check: Callable[[str], object]) -> AfterValidator:
    """Refine :data:`Secret` to text of a format: ``Annotated[Secret, secret_format(parse_key)]``.

    ``check`` gets the resolved text (after ``${ENV}`` and ``file:``) and raises ``ValueError`` when
    it is not of the format; the error names the key, never the value.
    """

    def validate(value: SecretStr) -> SecretStr:
        check(value.get_secret_value())
        return value

    return AfterValidator(validate)


def format_path(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic error location as ``a.b[2].c``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "<root>"


def interpolate_env(node: Any, env: Mapping[str, str], path: tuple[int | str, ...] = ()) -> Any:
    """Replace ``${NAME}`` / ``${NAME:-default}`` in every string of a parsed YAML tree; ``$${`` gives ``${``."""
    if isinstance(node, dict):
        return {k: interpolate_env(v, env, (*path, str(k))) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate_env(v, env, (*path, i)) for i, v in enumerate(node)]
    if isinstance(node, str) and "${" in node:

        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name is None:  # the $${ escape
                return "${"
            if name in env:
                return env[name]
            if default is not None:
                return default
            raise ConfigError(f"{format_path(path)}: environment variable {name} is not set")

        return _ENV_REF.sub(sub, node)
    return node


def user_path(loc: tuple[int | str, ...], data: Any, *, missing: bool = False) -> tuple[int | str, ...]:
    """An error location as the keys the user wrote in ``data``, the tree that was validated.

    pydantic adds parts that are no keys: the tag of a discriminated union (the preset name in
    ``triggers[0].verify.sendgrid.public_keys``), the member of a plain union (``body.str``) and
    validator wrappers (``function-after[...]``). Walking ``data`` tells them apart: a string part that
    names no key of the mapping at that point is one of them, except the last part of a ``missing``
    error, which names the key the user left out.
    """
    out: list[int | str] = []
    node: Any = data
    for i, part in enumerate(loc):
        if _has(node, part):
            out.append(part)
            node = node[part]
        elif missing and i == len(loc) - 1:
            out.append(part)
        elif isinstance(part, int):  # an index into something this walk cannot see: keep it
            out.append(part)
            node = None
    return tuple(out)


def _has(node: Any, part: int | str) -> bool:
    """Whether ``part`` is a key of ``node`` (a mapping) or an index into it (a list)."""
    if isinstance(node, Mapping):
        return part in node
    return isinstance(part, int) and isinstance(node, list | tuple) and -len(node) <= part < len(node)


def validation_message(source: str, exc: ValidationError, data: Any = None) -> str:
    """One line per problem: ``source: key.path: what was expected``; input values are never shown.

    With ``data`` (the tree that was validated) the key paths are the ones the user wrote, see
    :func:`user_path`.
    """
    lines = [f"{source}: invalid configuration ({exc.error_count()} problem(s))"]
    for err in exc.errors(include_input=False, include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        if data is not None:
            loc = user_path(loc, data, missing=err["type"] == "missing")
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"  {format_path(loc)}: {msg}")
    return "\n".join(lines)


def load_model(model: type[M], data: Any, source: str, env: Mapping[str, str] | None = None) -> M:
    """Validate an already-parsed tree (after ``${ENV}`` interpolation) into ``model``."""
    try:
        data = interpolate_env(data if data is not None else {}, os.environ if env is None else env)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(validation_message(source, exc, data)) from None


def load_yaml(model: type[M], path: str | Path, env: Mapping[str, str] | None = None) -> M:
    """Read a YAML file and validate it into ``model``; every failure is a :class:`ConfigError`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config file: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where is not None else ""
        raise ConfigError(f"{p}: not valid YAML{at}: {getattr(exc, 'problem', exc)}") from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{p}: the top level must be a mapping of keys")
    return load_model(model, data, str(p), env)
