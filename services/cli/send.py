"""``hookgate send``: POST a test webhook to a trigger URL, signed as a given sender would sign it."""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Annotated, Literal

import orjson
import typer

from hookgate.cli.errors import CliError, exit_with
from hookgate.cli.signing import PRESET_NAMES, HmacSpec, SignRequest, sign
from hookgate.core import config
from hookgate.gateway.verify.registry import canonical_name

Encoding = Literal["hex", "base64"]


def read_secret(value: str) -> str:
    """A literal secret, or ``file:/path`` (trailing newline dropped), as in config files."""
    try:
        return config.read_secret(value)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def read_body(data: str | None, data_file: str | None, delivery_id: str, event: str | None) -> bytes:
    """``--data``, ``--data-file`` (``-`` = stdin) or a small JSON test event."""
    if data is not None and data_file is not None:
        raise CliError("use either --data or --data-file, not both")
    if data is not None:
        return data.encode()
    if data_file == "-":
        return sys.stdin.buffer.read()
    if data_file is not None:
        try:
            return Path(data_file).read_bytes()
        except OSError as exc:
            raise CliError(f"cannot read {data_file}: {exc.strerror}") from None
    doc = {"id": delivery_id, "type": event or "test", "hookgate": "test event", "sent_at": time.time()}
    return orjson.dumps(doc)


def parse_headers(values: list[str]) -> dict[str, str]:
    """``-H 'Name: value'`` pairs."""
    out: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise CliError(f"--header {item!r}: expected 'Name: value'")
        out[name.strip()] = value.strip()
    return out


def build_request(
    url: str,
    preset: str,
    secret: str,
    body: bytes,
    *,
    content_type: str,
    delivery_id: str,
    timestamp: int,
    event: str | None,
    spec: HmacSpec | None,
    extra: dict[str, str],
) -> urllib.request.Request:
    """The signed request (not yet sent); ``preset`` as in the gateway config (``-`` for ``_`` accepted)."""
    if not url.startswith(("http://", "https://")):
        raise CliError(f"{url!r} is not an http(s) URL")
    if canonical_name(preset) not in PRESET_NAMES:
        raise CliError(f"unknown preset {preset!r}; expected one of {', '.join(PRESET_NAMES)}")
    preset = canonical_name(preset)
    if preset not in ("none",) and not secret:
        raise CliError(f"--preset {preset} needs --secret (or HOOKGATE_SEND_SECRET)")
    req = SignRequest(body=body, secret=secret, delivery_id=delivery_id, timestamp=timestamp, event=event, url=url)
    try:
        signed = sign(preset, req, spec)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    headers = {"Content-Type": content_type, "User-Agent": "hookgate-send/1", **signed, **extra}
    return urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310  # http(s) checked


def send(
    url: Annotated[str, typer.Argument(help="Trigger URL, e.g. http://127.0.0.1:8080/hooks/<id>")],
    preset: Annotated[str, typer.Option("--preset", "-p", help=f"Sign as: {', '.join(PRESET_NAMES)}")] = "github",
    secret: Annotated[
        str,
        typer.Option("--secret", "-s", envvar="HOOKGATE_SEND_SECRET", help="Secret, or file:/path", show_default=False),
    ] = "",
    data: Annotated[str | None, typer.Option("--data", "-d", help="Body text")] = None,
    data_file: Annotated[str | None, typer.Option("--data-file", help="Body file; - reads stdin")] = None,
    content_type: Annotated[str, typer.Option("--content-type")] = "application/json",
    event: Annotated[str | None, typer.Option("--event", "-e", help="Event name (X-GitHub-Event, ...)")] = None,
    delivery_id: Annotated[str | None, typer.Option("--id", help="Delivery id (default: a fresh UUID)")] = None,
    timestamp: Annotated[int | None, typer.Option("--timestamp", help="Unix seconds to sign (default: now)")] = None,
    header: Annotated[list[str] | None, typer.Option("--header", "-H", help="Extra 'Name: value'")] = None,
    hmac_header: Annotated[str, typer.Option(help="hmac: signature header")] = "X-Signature",
    hmac_algorithm: Annotated[str, typer.Option(help="hmac: sha1, sha256 or sha512")] = "sha256",
    hmac_encoding: Annotated[str, typer.Option(help="hmac: hex or base64")] = "hex",
    hmac_prefix: Annotated[str, typer.Option(help="hmac: signature prefix, e.g. sha256=")] = "",
    hmac_template: Annotated[str, typer.Option(help="hmac: signed content, e.g. {timestamp}.{body}")] = "{body}",
    hmac_timestamp_header: Annotated[str | None, typer.Option(help="hmac: timestamp header")] = None,
    hmac_id_header: Annotated[str | None, typer.Option(help="hmac: delivery id header")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the request instead of sending it")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the reply")] = 15.0,
) -> None:
    """Send a test webhook to a trigger URL, signed like PRESET; exits 0 on a 2xx reply."""
    try:
        if hmac_algorithm not in ("sha1", "sha256", "sha512"):
            raise CliError("--hmac-algorithm must be sha1, sha256 or sha512")
        if hmac_encoding not in ("hex", "base64"):
            raise CliError("--hmac-encoding must be hex or base64")
        spec = HmacSpec(
            header=hmac_header,
            algorithm=hmac_algorithm,  # type: ignore[arg-type]  # checked above
            encoding=hmac_encoding,  # type: ignore[arg-type]
            prefix=hmac_prefix,
            template=hmac_template,
            timestamp_header=hmac_timestamp_header,
            id_header=hmac_id_header,
        )
        did = delivery_id or str(uuid.uuid4())
        body = read_body(data, data_file, did, event)
        request = build_request(
            url,
            preset,
            read_secret(secret),
            body,
            content_type=content_type,
            delivery_id=did,
            timestamp=timestamp if timestamp is not None else int(time.time()),
            event=event,
            spec=spec,
            extra=parse_headers(header or []),
        )
        if dry_run:
            typer.echo(f"POST {request.full_url}")
            for name, value in request.header_items():
                typer.echo(f"{name}: {value}")
            typer.echo("")
            typer.echo(body.decode(errors="replace"))
            return
        status, reply = post(request, timeout)
    except CliError as exc:
        raise exit_with(exc) from None
    typer.echo(f"HTTP {status} {reply.decode(errors='replace')}".rstrip())
    if not 200 <= status < 300:
        raise typer.Exit(1)


def post(request: urllib.request.Request, timeout: float) -> tuple[int, bytes]:
    """Send; an HTTP error status is a reply, not an exception. Unreachable URLs are a CliError."""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310  # scheme checked
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CliError(f"cannot reach {request.full_url}: {reason}", code=1) from None
