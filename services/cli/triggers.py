"""``hookgate triggers create|list|show|update|disable|enable|delete|rotate``: the admin API from a shell.

The admin API's URL comes from ``--admin-url`` or ``HOOKGATE_ADMIN_URL``, the token from ``--token`` or
``HOOKGATE_ADMIN_TOKEN`` (``file:/path`` reads it from a file). Output is a human table by default and
the API's JSON with ``--json``. Exit codes (:data:`EXIT_CODES`, documented in docs/admin.md):

====  ==========================================================================
0     done
1     any other failure (an unexpected answer)
2     usage: bad options, an unreadable spec file, or a spec/body the API refused (400, 413, 415, 422)
3     not found (404): no such trigger, or one of another tenant
4     conflict (409): a YAML (read-only) trigger, or the id or name exists already
5     unavailable: the admin API cannot be reached, or answered 503 (Kafka); retry
6     not allowed: the token is missing or wrong (401), or may not do this (403)
====  ==========================================================================
"""

from __future__ import annotations

import asyncio
import ssl
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import aiohttp
import orjson
import typer
import yaml

from hookgate.cli.errors import CliError, exit_with
from hookgate.core import config

OK, FAILED, USAGE, NOT_FOUND, CONFLICT, UNAVAILABLE, NOT_ALLOWED = 0, 1, 2, 3, 4, 5, 6
EXIT_CODES: Mapping[int, str] = {
    OK: "done",
    FAILED: "any other failure",
    USAGE: "usage error, or a spec or body the API refused (400, 413, 415, 422)",
    NOT_FOUND: "not found (404)",
    CONFLICT: "conflict (409): read-only YAML trigger, or the id or name exists",
    UNAVAILABLE: "admin API unreachable, or 503 (Kafka unavailable); retry",
    NOT_ALLOWED: "token missing or wrong (401), or not allowed (403)",
}
TIMEOUT_SECONDS = 30.0

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Manage triggers through the gateway's admin API (docs/admin.md). A trigger id that begins with '-' "
    "goes after '--', last: hookgate triggers show -- -6Yx... Exit codes: "
    + "; ".join(f"{code} {text}" for code, text in EXIT_CODES.items())
    + ".",
)


def exit_code(status: int) -> int:
    """The exit code of an admin API answer's HTTP status."""
    if status < 400:
        return OK
    if status in (400, 413, 415, 422):
        return USAGE
    if status == 404:
        return NOT_FOUND
    if status == 409:
        return CONFLICT
    if status in (401, 403):
        return NOT_ALLOWED
    if status in (502, 503, 504):
        return UNAVAILABLE
    return FAILED


# --------------------------------------------------------------------------------------------- options

UrlOpt = Annotated[
    str | None,
    typer.Option(
        "--admin-url", envvar="HOOKGATE_ADMIN_URL", help="The admin API, e.g. https://gw:8081", show_default=False
    ),
]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="HOOKGATE_ADMIN_TOKEN",
        help="Admin or tenant token; file:/path reads it from a file",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the API's JSON (for scripts)")]
CaOpt = Annotated[
    str | None,
    typer.Option("--cacert", envvar="HOOKGATE_ADMIN_CACERT", help="CA bundle of the admin API's certificate"),
]
CertOpt = Annotated[
    str | None,
    typer.Option("--cert", envvar="HOOKGATE_ADMIN_CERT", help="Client certificate (PEM), for mTLS"),
]
KeyOpt = Annotated[
    str | None, typer.Option("--key", envvar="HOOKGATE_ADMIN_KEY", help="Client certificate's key (PEM), for mTLS")
]
IdArg = Annotated[
    str, typer.Argument(help="The trigger id (one that begins with '-': last, after '--')", show_default=False)
]
SpecOpt = Annotated[
    str | None,
    typer.Option(
        "--file", "-f", help="The trigger mapping as in YAML (a YAML or JSON file; - reads stdin)", show_default=False
    ),
]


@dataclass(frozen=True, slots=True)
class Target:
    """Where the admin API is and how to reach it."""

    url: str
    token: str
    cacert: str | None = None
    cert: str | None = None
    key: str | None = None

    @classmethod
    def of(
        cls,
        url: str | None,
        token: str | None,
        cacert: str | None = None,
        cert: str | None = None,
        key: str | None = None,
    ) -> Target:
        if not url:
            raise CliError("the admin API's URL is needed: --admin-url or HOOKGATE_ADMIN_URL", USAGE)
        if not url.startswith(("http://", "https://")):
            raise CliError(f"--admin-url {url!r}: expected an http(s) URL", USAGE)
        if not token:
            raise CliError("a token is needed: --token or HOOKGATE_ADMIN_TOKEN (file:/path reads a file)", USAGE)
        try:
            secret = config.read_secret(token).strip()
        except ValueError as exc:
            raise CliError(f"--token: {exc}", USAGE) from None
        if (cert is None) != (key is None):
            raise CliError("--cert and --key go together (the client certificate and its key)", USAGE)
        return cls(url=url.rstrip("/"), token=secret, cacert=cacert, cert=cert, key=key)

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.url.startswith("https://"):
            return None
        try:
            ctx = ssl.create_default_context(cafile=self.cacert)
            if self.cert is not None:
                ctx.load_cert_chain(self.cert, self.key)
        except (OSError, ssl.SSLError) as exc:
            raise CliError(f"TLS set-up: {exc}", USAGE) from None
        return ctx


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: Any  # the JSON body, None when empty


async def call(
    target: Target, method: str, path: str, body: Any = None, query: Mapping[str, str] | None = None
) -> Answer:
    """One admin API request; an unreachable API is :data:`UNAVAILABLE`, a non-JSON answer :data:`FAILED`."""
    headers = {"Authorization": f"Bearer {target.token}", "Accept": "application/json"}
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.request(
                method,
                target.url + path,
                params=dict(query or {}),
                data=orjson.dumps(body) if body is not None else None,
                headers={**headers, "Content-Type": "application/json"} if body is not None else headers,
                ssl=target.ssl_context() or True,
            ) as response,
        ):
            raw = await response.read()
            status = response.status
    except (aiohttp.ClientConnectionError, TimeoutError) as exc:
        raise CliError(
            f"cannot reach the admin API at {target.url}: {exc or type(exc).__name__}", UNAVAILABLE
        ) from None
    except aiohttp.ClientError as exc:
        raise CliError(f"admin API request failed: {exc}", FAILED) from None
    if not raw:
        return Answer(status, None)
    try:
        return Answer(status, orjson.loads(raw))
    except orjson.JSONDecodeError:
        raise CliError(f"the admin API answered {status} with a body that is not JSON", FAILED) from None


def checked(answer: Answer) -> Any:
    """The body of a successful answer; a :class:`CliError` with the API's message and exit code otherwise."""
    if answer.status < 400:
        return answer.body
    body = answer.body if isinstance(answer.body, dict) else {}
    message = str(body.get("message") or f"HTTP {answer.status}")
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        message += "".join(f"\n  {e.get('path')}: {e.get('message')}" for e in errors if isinstance(e, dict))
    code = body.get("error", "error")
    raise CliError(f"{code}: {message}", exit_code(answer.status))


def run(target: Target, method: str, path: str, body: Any = None, query: Mapping[str, str] | None = None) -> Any:
    return checked(asyncio.run(call(target, method, path, body, query)))


# --------------------------------------------------------------------------------------------- output


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    """Columns padded to their widest cell; the last column is not padded."""
    cells = [list(header), *[list(r) for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for row in cells:
        padded = [c.ljust(w) for c, w in zip(row[:-1], widths[:-1], strict=True)]
        lines.append("  ".join([*padded, row[-1]]).rstrip())
    return "\n".join(lines)


LIST_COLUMNS = ("ID", "NAME", "TENANT", "PRESET", "STATE", "ORIGIN", "URL")


def trigger_row(t: Mapping[str, Any]) -> list[str]:
    return [
        str(t.get("id", "")),
        str(t.get("name", "")),
        str(t.get("tenant", "")),
        str(t.get("preset", "")),
        str(t.get("state", "")),
        str(t.get("origin", "")),
        str(t.get("url") or "-"),
    ]


def trigger_details(t: Mapping[str, Any], secret: str | None = None) -> str:
    """One trigger as ``key: value`` lines, its config as YAML below them."""
    rows = [
        ["id", str(t.get("id"))],
        ["name", str(t.get("name"))],
        ["tenant", str(t.get("tenant"))],
        ["preset", str(t.get("preset"))],
        ["state", str(t.get("state"))],
        ["origin", str(t.get("origin"))],
        ["url", str(t.get("url") or "- (no public_base_url configured)")],
        ["created", str(t.get("created_at") or "-")],
        ["updated", str(t.get("updated_at") or "-")],
    ]
    if t.get("rotation_ends_at"):
        rows.append(["old secret until", str(t["rotation_ends_at"])])
    out = "\n".join(f"{k + ':':<17} {v}" for k, v in rows)
    if secret is not None:
        out += f"\n{'secret:':<17} {secret}\n  (shown this once: store it now, the API never shows it again)"
    config_text = yaml.safe_dump(t.get("config") or {}, sort_keys=False).rstrip()
    return out + "\nconfig:\n" + "\n".join(f"  {line}" for line in config_text.splitlines())


def emit(as_json: bool, data: Any, human: str) -> None:
    typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() if as_json else human)


# ----------------------------------------------------------------------------------------------- specs


def read_spec(source: str) -> dict[str, Any]:
    """A trigger mapping from a YAML or JSON file (``-``: stdin)."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {source}: {exc.strerror}", USAGE) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        raise CliError(f"{source}: not valid YAML or JSON", USAGE) from None
    if not isinstance(data, dict):
        raise CliError(f"{source}: expected the trigger mapping (name:, tenant:, verify: ...)", USAGE)
    return data


def build_spec(
    source: str | None, name: str | None, tenant: str | None, preset: str | None, sets: Sequence[str]
) -> dict[str, Any]:
    """The mapping of ``--file``, with ``--name``/``--tenant``/``--preset``/``--set key.path=value`` over it."""
    spec = read_spec(source) if source is not None else {}
    if name is not None:
        spec["name"] = name
    if tenant is not None:
        spec["tenant"] = tenant
    if preset is not None:
        verify = spec.get("verify")
        spec["verify"] = {**(verify if isinstance(verify, dict) else {}), "type": preset}
    for item in sets:
        path, sep, raw = item.partition("=")
        if not sep or not path:
            raise CliError(f"--set {item!r}: expected key.path=value", USAGE)
        node = spec
        keys = path.split(".")
        for key in keys[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise CliError(f"--set {item!r}: {key} is not a mapping", USAGE)
            node = child
        node[keys[-1]] = yaml.safe_load(raw) if raw else ""
    if not spec:
        raise CliError("give the trigger: --file spec.yaml, or --name, --tenant and --preset", USAGE)
    return spec


# -------------------------------------------------------------------------------------------- commands


def _target(url: str | None, token: str | None, cacert: str | None, cert: str | None, key: str | None) -> Target:
    return Target.of(url, token, cacert, cert, key)


@app.command("create")
def create(
    file: SpecOpt = None,
    name: Annotated[str | None, typer.Option("--name", help="The trigger's name")] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Its tenant (a tenant token: its own)")] = None,
    preset: Annotated[str | None, typer.Option("--preset", "-p", help="verify.type: github, stripe, ...")] = None,
    sets: Annotated[list[str] | None, typer.Option("--set", help="key.path=value over the spec (repeatable)")] = None,
    admin_url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    cacert: CaOpt = None,
    cert: CertOpt = None,
    key: KeyOpt = None,
) -> None:
    """Create a runtime trigger; prints its URL and its generated secret (shown once).

    Example:

        hookgate triggers create --name acme-github --tenant acme --preset github

        hookgate triggers create -f trigger.yaml --json
    """
    try:
        target = _target(admin_url, token, cacert, cert, key)
        data = run(target, "POST", "/admin/triggers", build_spec(file, name, tenant, preset, sets or []))
    except CliError as exc:
        raise exit_with(exc) from None
    emit(as_json, data, trigger_details(data["trigger"], data.get("secret")))


@app.command("list")
def list_(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant's triggers")] = None,
    preset: Annotated[str | None, typer.Option("--preset", "-p", help="Only this verify preset")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most this many (default: all)")] = None,
    admin_url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    cacert: CaOpt = None,
    cert: CertOpt = None,
    key: KeyOpt = None,
) -> None:
    """List triggers (YAML ones are read-only), following the API's pages.

    Example:

        hookgate triggers list --tenant acme --preset github
    """
    try:
        target = _target(admin_url, token, cacert, cert, key)
        items: list[Any] = []
        cursor: str | None = None
        while limit is None or len(items) < limit:
            query = {k: v for k, v in (("tenant", tenant), ("preset", preset), ("cursor", cursor)) if v}
            page = run(target, "GET", "/admin/triggers", query={**query, "limit": "500"})
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                break
    except CliError as exc:
        raise exit_with(exc) from None
    items = items[:limit] if limit is not None else items
    emit(as_json, items, table([trigger_row(t) for t in items], LIST_COLUMNS) if items else "no triggers")


@app.command("show")
def show(
    trigger_id: IdArg,
    admin_url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    cacert: CaOpt = None,
    cert: CertOpt = None,
    key: KeyOpt = None,
) -> None:
    """Show one trigger: state, URL, and its config without secrets.

    Example:

        hookgate triggers show 3q2-7Yx0kK1b4dVnW9cZaQeLmPzR
    """
    try:
        data = run(_target(admin_url, token, cacert, cert, key), "GET", f"/admin/triggers/{_quote(trigger_id)}")
    except CliError as exc:
        raise exit_with(exc) from None
    emit(as_json, data, trigger_details(data))


@app.command("update")
def update(
    trigger_id: IdArg,
    file: SpecOpt = None,
    sets: Annotated[list[str] | None, typer.Option("--set", help="key.path=value over the spec (repeatable)")] = None,
    admin_url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    cacert: CaOpt = None,
    cert: CertOpt = None,
    key: KeyOpt = None,
) -> None:
    """Replace a runtime trigger's mapping (secrets left out are kept); without --file: --set on the current one.

    Example:

        hookgate triggers update 3q2-7Yx0kK1b4dVnW9cZaQeLmPzR --set rate_limit.per_second=20 --set rate_limit.burst=40
    """
    try:
        target = _target(admin_url, token, cacert, cert, key)
        path = f"/admin/triggers/{_quote(trigger_id)}"
        if file is None:
            if not sets:
                raise CliError("give the new mapping (--file) or changes (--set key.path=value)", USAGE)
            current = run(target, "GET", path)["config"]
            spec = build_spec(None, None, None, None, sets)
            spec = _merge(current, spec)
        else:
            spec = build_spec(file, None, None, None, sets or [])
        data = run(target, "PUT", path, spec)
    except CliError as exc:
        raise exit_with(exc) from None
    emit(as_json, data, trigger_details(data))


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _state_command(enabled: bool) -> Any:
    verb = "enable" if enabled else "disable"

    def command(
        trigger_id: IdArg,
        admin_url: UrlOpt = None,
        token: TokenOpt = None,
        as_json: JsonOpt = False,
        cacert: CaOpt = None,
        cert: CertOpt = None,
        key: KeyOpt = None,
    ) -> None:
        try:
            data = run(
                _target(admin_url, token, cacert, cert, key), "POST", f"/admin/triggers/{_quote(trigger_id)}/{verb}"
            )
        except CliError as exc:
            raise exit_with(exc) from None
        emit(as_json, data, table([trigger_row(data)], LIST_COLUMNS))

    what = "Enable a disabled runtime trigger." if enabled else "Disable a runtime trigger: its URL answers 404."
    command.__doc__ = f"""{what}

    Example:

        hookgate triggers {verb} 3q2-7Yx0kK1b4dVnW9cZaQeLmPzR
    """
    return command


app.command("disable")(_state_command(False))
app.command("enable")(_state_command(True))


@app.command("delete")
def delete(
    trigger_id: IdArg,
    admin_url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    cacert: CaOpt = None,
    cert: CertOpt = None,
    key: KeyOpt = None,
) -> None:
    """Delete a runtime trigger (on every replica; its URL then answers 404).

    Example:

        hookgate triggers delete 3q2-7Yx0kK1b4dVnW9cZaQeLmPzR
    """
    try:
        run(_target(admin_url, token, cacert, cert, key), "DELETE", f"/admin/triggers/{_quote(trigger_id)}")
    except CliError as exc:
        raise exit_with(exc) from None
    emit(as_json, {"deleted": trigger_id}, f"deleted {trigger_id}")


@app.command("rotate")
def rotate(
    trigger_id: IdArg,
    grace_seconds: Annotated[
        int, typer.Option("--grace-seconds", min=0, help="How long the old secret is still accepted")
    ] = 3600,
    admin_url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    cacert: CaOpt = None,
    cert: CertOpt = None,
    key: KeyOpt = None,
) -> None:
    """Generate a new secret (shown once); the old one keeps working for --grace-seconds.

    Example:

        hookgate triggers rotate 3q2-7Yx0kK1b4dVnW9cZaQeLmPzR --grace-seconds 600
    """
    try:
        data = run(
            _target(admin_url, token, cacert, cert, key),
            "POST",
            f"/admin/triggers/{_quote(trigger_id)}/rotate",
            {"grace_seconds": grace_seconds},
        )
    except CliError as exc:
        raise exit_with(exc) from None
    emit(as_json, data, trigger_details(data["trigger"], data.get("secret")))


@app.command("reseal")
def reseal(
    admin_url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    cacert: CaOpt = None,
    cert: CertOpt = None,
    key: KeyOpt = None,
) -> None:
    """Re-encrypt every runtime trigger's secrets under the active encryption key (admin token only).

    After adding a new key to gateway.catalog.encryption and making it active_key, run this once; the old
    key can be removed from the config when it reports its records.

    Example:

        hookgate triggers reseal
    """
    try:
        data = run(_target(admin_url, token, cacert, cert, key), "POST", "/admin/reseal")
    except CliError as exc:
        raise exit_with(exc) from None
    emit(as_json, data, f"resealed {data['records']} runtime trigger record(s) under the active key")


def _quote(segment: str) -> str:
    return quote(segment, safe="")
