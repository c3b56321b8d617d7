"""``hookgate gateway``, ``consumer``, ``gen-id``, ``check-config``.

``send``, ``tail``, ``inspect`` and ``replay`` live in their own modules and are registered here.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated

import typer

from hookgate.cli import inspect_event, replay, send, tail
from hookgate.core.config import ConfigError, load_yaml
from hookgate.core.logging import configure_logging
from hookgate.core.runtime import run

app = typer.Typer(no_args_is_help=True, add_completion=False, help="hookgate: Kafka-backed webhook gateway.")

ConfigOpt = Annotated[
    Path,
    typer.Option("--config", "-c", envvar="HOOKGATE_CONFIG", help="YAML config file", show_default=False),
]


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(2)


@app.command()
def gateway(config: ConfigOpt) -> None:
    """Run the webhook gateway."""
    from hookgate.gateway.config import GatewayConfig
    from hookgate.gateway.http.app import serve

    try:
        cfg = load_yaml(GatewayConfig, config)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    configure_logging(cfg.gateway.log_level)
    raise typer.Exit(run(lambda stop: serve(cfg, stop)))


@app.command()
def consumer(
    config: ConfigOpt,
    handlers: Annotated[
        list[str] | None,
        typer.Option(
            "--handlers",
            help="Python handlers to run beside the YAML workflows: package.module:consumer (repeatable)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run a consumer group that fans events out to workflows (SIGHUP reloads workflows:)."""
    from hookgate.consumer.app import serve
    from hookgate.consumer.config import ConsumerConfig
    from hookgate.consumer.workflows.sdk import collect, load_consumer

    try:
        cfg = load_yaml(ConsumerConfig, config)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    try:
        extra = collect(load_consumer(spec) for spec in handlers or ())
    except ValueError as exc:
        raise _fail(str(exc)) from None
    configure_logging(cfg.consumer.log_level)
    raise typer.Exit(run(lambda stop: serve(cfg, stop, extra_workflows=extra, config_path=config)))


@app.command("gen-id")
def gen_id() -> None:
    """Print a new unguessable trigger id (192 random bits, URL-safe)."""
    typer.echo(secrets.token_urlsafe(24))


@app.command("check-config")
def check_config(
    config: ConfigOpt,
    kind: Annotated[
        str | None,
        typer.Option("--kind", help="gateway or consumer (default gateway; consumer with --handlers or --gateway)"),
    ] = None,
    handlers: Annotated[
        list[str] | None,
        typer.Option(
            "--handlers",
            help="Consumer: also import these Python handlers (package.module:consumer, repeatable) and check them",
            show_default=False,
        ),
    ] = None,
    gateway_config: Annotated[
        Path | None,
        typer.Option(
            "--gateway",
            help="Consumer: the gateway's config; every vars.NAME a match uses must be extracted by a trigger",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Validate a config file and exit non-zero naming every bad key (consumer: also its handlers)."""
    from hookgate.consumer.config import ConsumerConfig
    from hookgate.gateway.config import GatewayConfig

    resolved = kind or ("consumer" if handlers or gateway_config else "gateway")
    if resolved not in ("gateway", "consumer"):
        raise _fail("--kind must be gateway or consumer")
    if resolved == "gateway" and (handlers or gateway_config):
        raise _fail("--handlers and --gateway check a consumer: use --kind consumer")
    if resolved == "consumer" and (handlers or gateway_config):
        from hookgate.cli.check_handlers import check
        from hookgate.cli.errors import CliError

        try:
            report = check(config, handlers or (), gateway_config)
        except CliError as exc:
            raise _fail(str(exc)) from None
        typer.echo(f"{config}: {len(report.workflows)} workflow(s)")
        for declared in report.workflows:
            typer.echo(declared.line())
        if report.problems:
            for problem in report.problems:
                typer.echo(f"error: {problem}", err=True)
            raise typer.Exit(2)
        typer.echo(f"{config}: ok")
        return
    try:
        load_yaml(GatewayConfig if resolved == "gateway" else ConsumerConfig, config)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"{config}: ok")


app.command("send")(send.send)
app.command("tail")(tail.tail)
app.command("inspect")(inspect_event.inspect_event)
app.command("replay")(replay.replay)


def main() -> None:
    app(prog_name="hookgate")


if __name__ == "__main__":  # pragma: no cover
    main()
